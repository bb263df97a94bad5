//! Calendar functions of Unix timestamps (UTC), as `time.Unix(sec, 0).UTC()` sees them.

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

pub(crate) fn date_fn(name: &str) -> fn(f64) -> f64 {
    fn parts(v: f64) -> Option<(i64, u32, u32, i64)> {
        if !v.is_finite() || v.abs() > 1e17 {
            return None;
        }
        let secs = v.trunc() as i64;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Some((y, m, d, sod))
    }
    match name {
        "day_of_month" => |v| parts(v).map_or(f64::NAN, |p| p.2 as f64),
        "day_of_week" => |v| {
            if !v.is_finite() || v.abs() > 1e17 {
                return f64::NAN;
            }
            let days = (v.trunc() as i64).div_euclid(86_400);
            // 1970-01-01 was a Thursday (4).
            (days + 4).rem_euclid(7) as f64
        },
        "day_of_year" => |v| {
            parts(v).map_or(f64::NAN, |(y, m, d, _)| {
                let before: u32 = (1..m).map(|mm| days_in(y, mm)).sum();
                (before + d) as f64
            })
        },
        "days_in_month" => |v| parts(v).map_or(f64::NAN, |(y, m, _, _)| days_in(y, m) as f64),
        "hour" => |v| parts(v).map_or(f64::NAN, |p| (p.3 / 3600) as f64),
        "minute" => |v| parts(v).map_or(f64::NAN, |p| (p.3 % 3600 / 60) as f64),
        "month" => |v| parts(v).map_or(f64::NAN, |p| p.1 as f64),
        _ => |v| parts(v).map_or(f64::NAN, |p| p.0 as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(date_fn("days_in_month")(951_782_400.0), 29.0); // 2000-02-29
        assert_eq!(date_fn("day_of_week")(0.0), 4.0);
    }
}
