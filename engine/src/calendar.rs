//! Civil-date arithmetic shared by both backends (proleptic Gregorian, as Python's `datetime`).

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
pub const PG_EPOCH_DAYS: i64 = 10_957;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A point in time split into the fields Python's constructors take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
}

/// Split microseconds since 1970-01-01T00:00 into civil fields.
pub fn civil_from_unix_micros(micros: i64) -> CivilDateTime {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second, micro) = split_time_of_day(of_day);
    CivilDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micro,
    }
}

/// Hours, minutes, seconds and microseconds of a time of day given in microseconds.
pub fn split_time_of_day(micros: i64) -> (u32, u32, u32, u32) {
    let micro = (micros % MICROS_PER_SECOND) as u32;
    let seconds = micros / MICROS_PER_SECOND;
    (
        (seconds / 3600) as u32,
        ((seconds / 60) % 60) as u32,
        (seconds % 60) as u32,
        micro,
    )
}

/// Python's datetime supports years 1..=9999 only.
pub fn python_year(year: i64) -> Option<i32> {
    if (1..=9999).contains(&year) {
        Some(year as i32)
    } else {
        None
    }
}

/// ISO-8601 text as stored in SQLite: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn format_datetime(civil: &CivilDateTime) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second
    );
    if civil.micro != 0 {
        text.push_str(&format!(".{:06}", civil.micro));
    }
    text
}

/// `HH:MM:SS[.ffffff]` for a time of day in microseconds.
pub fn format_time(micros: i64) -> String {
    let (hour, minute, second, micro) = split_time_of_day(micros);
    let mut text = format!("{hour:02}:{minute:02}:{second:02}");
    if micro != 0 {
        text.push_str(&format!(".{micro:06}"));
    }
    text
}

/// `+HH:MM` for an offset east of UTC in seconds.
pub fn format_offset(offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_a_wide_range() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y as i32, m, d), days);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn negative_micros_split_correctly() {
        let civil = civil_from_unix_micros(-1);
        assert_eq!((civil.year, civil.month, civil.day), (1969, 12, 31));
        assert_eq!(
            (civil.hour, civil.minute, civil.second, civil.micro),
            (23, 59, 59, 999_999)
        );
        assert_eq!(format_datetime(&civil), "1969-12-31 23:59:59.999999");
        assert_eq!(format_offset(-5 * 3600 - 30 * 60), "-05:30");
    }
}
