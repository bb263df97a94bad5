//! Byte sizes as Prometheus's configuration writes them (`body_size_limit: 10MB`): Go's
//! `units.Base2Bytes`, where `KB` and `KiB` both mean 1024 bytes, a size may be a sum of
//! parts (`1GB512MB`), parts may have fractions (`1.5MB`), and `0` needs no unit.
//! Printed back as Go does: parts in IEC units, largest first (`1KiB512B`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes; `0` (or less) means no limit where it is a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub i64);

/// Unit prefixes by power of 1024, as Go's `units` package lists them.
const PREFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];

impl ByteSize {
    /// Parses `s` as Go's `units.ParseBase2Bytes` does, with its error texts: with IEC
    /// units (`KiB`) throughout, else with the older ones (`KB`) throughout.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        parse_with(s, true).or_else(|_| parse_with(s, false))
    }
}

fn parse_with(s: &str, iec: bool) -> Result<ByteSize, String> {
    let invalid = || format!("units: invalid {s}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(ByteSize(0));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
        let int_len = digits(rest);
        let mut part: f64 = rest[..int_len].parse().unwrap_or(0.0);
        rest = &rest[int_len..];
        let mut frac_len = 0;
        if let Some(after) = rest.strip_prefix('.') {
            frac_len = digits(after);
            if frac_len > 0 {
                let frac: f64 = after[..frac_len].parse().unwrap_or(0.0);
                part += frac / 10f64.powi(frac_len as i32);
            }
            rest = &after[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .bytes()
            .take_while(|c| *c != b'.' && !c.is_ascii_digit())
            .count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let power =
            unit_power(unit, iec).ok_or_else(|| format!("units: unknown unit {unit} in {s}"))?;
        total += part * 1024f64.powi(power);
    }
    if neg {
        total = -total;
    }
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&total) {
        return Err(format!("units: overflow parsing unit {s}"));
    }
    Ok(ByteSize(total as i64))
}

/// The power of 1024 of `unit`: `B`, and `KiB` … `EiB` when `iec`, else `KB` … `EB`.
fn unit_power(unit: &str, iec: bool) -> Option<i32> {
    if unit == "B" {
        return Some(0);
    }
    let prefix = unit.strip_suffix(if iec { "iB" } else { "B" })?;
    PREFIXES[1..]
        .iter()
        .position(|p| *p == prefix)
        .map(|i| i as i32 + 1)
}

impl std::fmt::Display for ByteSize {
    /// Go's `Base2Bytes.String`: `0B`, `10MiB`, `1KiB512B`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut n = self.0;
        let mut parts: Vec<String> = Vec::new();
        for (i, prefix) in PREFIXES.iter().enumerate() {
            if n % 1024 != 0 || (i == 0 && n == 0) {
                let suffix = if i == 0 { "B" } else { "iB" };
                parts.push(format!("{}{prefix}{suffix}", n % 1024));
            }
            n /= 1024;
            if n == 0 {
                break;
            }
        }
        parts.reverse();
        f.write_str(&parts.concat())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go_units_does() {
        for (text, want) in [
            ("0", 0),
            ("0B", 0),
            ("512B", 512),
            ("1KB", 1024),
            ("1KiB", 1024),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("1.5MB", 3 << 19),
            (".5KB", 512),
            ("1GB512MB", (1 << 30) + (512 << 20)),
            ("2EB", 2 << 60),
            ("+1KB", 1024),
            ("-1KB", -1024),
        ] {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(want)), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_units_refuses_with_its_texts() {
        for (text, err) in [
            ("", "units: invalid "),
            ("10", "units: unknown unit  in 10"),
            ("MB", "units: invalid MB"),
            ("1.MB.", "units: invalid 1.MB."),
            ("10mb", "units: unknown unit mb in 10mb"),
            ("10KiBB", "units: unknown unit KiBB in 10KiBB"),
            // One kind of unit throughout, as Go tries one table, then the other.
            ("1KiB1KB", "units: unknown unit KiB in 1KiB1KB"),
            ("9EB", "units: overflow parsing unit 9EB"),
        ] {
            assert_eq!(ByteSize::parse(text), Err(err.to_string()), "{text}");
        }
    }

    #[test]
    fn prints_as_go_does() {
        for (n, text) in [
            (0, "0B"),
            (512, "512B"),
            (1024, "1KiB"),
            (1536, "1KiB512B"),
            (10 << 20, "10MiB"),
            ((1 << 30) + 1, "1GiB1B"),
        ] {
            assert_eq!(ByteSize(n).to_string(), text);
        }
    }
}
