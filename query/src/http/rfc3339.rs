//! RFC 3339 timestamps in and out, as Go's `time.Parse(time.RFC3339Nano, ..)` and
//! `Time.Format(time.RFC3339Nano)` do. Hand-written to avoid a date-time dependency for two
//! conversions.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// Parses `2006-01-02T15:04:05.999999999Z07:00` into Unix nanoseconds (as i128: four-digit
/// years reach beyond i64 nanoseconds).
pub(crate) fn parse_nanos(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let min = digits(&b[14..16])?;
    let sec = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix(b".").or_else(|| rest.strip_prefix(b",")) {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Go keeps nanoseconds and drops further digits.
        for (i, d) in frac[..n].iter().enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i128::from(d - b'0');
            }
        }
        for _ in n..9 {
            nanos *= 10;
        }
        rest = &frac[n..];
    }
    let offset_secs = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Formats Unix milliseconds in UTC like Go's `RFC3339Nano` (trailing zeros of the fraction
/// dropped, `Z` for UTC).
pub(crate) fn format_millis(t_ms: i64) -> String {
    let secs = t_ms.div_euclid(1000);
    let ms = t_ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if ms != 0 {
        let frac = format!("{ms:03}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_offsets_and_fractions() {
        assert_eq!(parse_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_nanos("2015-07-01T20:10:51.781Z"),
            Some(1_435_781_451_781_000_000)
        );
        assert_eq!(
            parse_nanos("2015-07-01T22:10:51.781+02:00"),
            Some(1_435_781_451_781_000_000)
        );
        assert_eq!(parse_nanos("1969-12-31T23:59:59.5Z"), Some(-500_000_000));
        assert_eq!(parse_nanos("2024-02-29T00:00:00.123456789123Z"), {
            Some(1_709_164_800_123_456_789)
        });
    }

    #[test]
    fn rejects_what_go_rejects() {
        for s in [
            "",
            "2015-07-01",
            "2015-07-01T20:10:51",
            "2015-07-01 20:10:51Z",
            "2015-13-01T20:10:51Z",
            "2023-02-29T00:00:00Z",
            "2015-07-01T24:00:00Z",
            "2015-07-01T20:10:60Z",
            "2015-07-01T20:10:51.Z",
            "2015-07-01T20:10:51+0200",
            "x015-07-01T20:10:51Z",
        ] {
            assert_eq!(parse_nanos(s), None, "{s}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_millis(1_435_781_451_780), "2015-07-01T20:10:51.78Z");
        assert_eq!(format_millis(-500), "1969-12-31T23:59:59.5Z");
        for t in [
            0,
            1,
            -1,
            951_782_400_000,
            1_709_164_800_123,
            -62_135_596_800_000,
        ] {
            let s = format_millis(t);
            assert_eq!(parse_nanos(&s), Some(i128::from(t) * 1_000_000), "{s}");
        }
    }
}
