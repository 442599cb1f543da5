//! The v2 time formats, always Beijing time (UTC+8) on the wire with no offset written:
//! `yyyyMMddHHmmss` for orders (`time_start`, `time_expire`, `time_end`) and
//! `yyyy-MM-dd HH:mm:ss` for refunds (`refund_success_time_$n`, the refund notification's
//! `success_time`).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The offset v2 times are written in: China Standard Time, UTC+8.
pub const BEIJING_OFFSET_SECONDS: i32 = 8 * 3600;

/// Why a v2 time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2TimeError {
    /// Not 14 ASCII digits.
    #[error("v2 time must be 14 digits yyyyMMddHHmmss, got {0:?}")]
    Format(String),
    /// Digits that name no calendar instant (month 13, 25 o'clock, …).
    #[error("v2 time {0:?} is not a valid date and time")]
    Range(String),
    /// The Unix time is outside the years 0000–9999.
    #[error("unix time {0} cannot be written as yyyyMMddHHmmss")]
    OutOfRange(i64),
}

fn beijing() -> UtcOffset {
    // 8 hours is a valid offset, so the fallback is never taken.
    UtcOffset::from_whole_seconds(BEIJING_OFFSET_SECONDS).unwrap_or(UtcOffset::UTC)
}

/// Formats Unix seconds as `yyyyMMddHHmmss` in Beijing time.
pub fn format_v2_time(unix_seconds: i64) -> Result<String, V2TimeError> {
    let at = OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map_err(|_| V2TimeError::OutOfRange(unix_seconds))?
        .to_offset(beijing());
    if !(0..=9999).contains(&at.year()) {
        return Err(V2TimeError::OutOfRange(unix_seconds));
    }
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    ))
}

/// Formats Unix seconds as `yyyy-MM-dd HH:mm:ss` in Beijing time, the refund messages'
/// form.
pub fn format_v2_datetime(unix_seconds: i64) -> Result<String, V2TimeError> {
    let compact = format_v2_time(unix_seconds)?;
    let d = |from: usize, to: usize| &compact[from..to];
    Ok(format!(
        "{}-{}-{} {}:{}:{}",
        d(0, 4),
        d(4, 6),
        d(6, 8),
        d(8, 10),
        d(10, 12),
        d(12, 14)
    ))
}

/// Parses `yyyy-MM-dd HH:mm:ss` (Beijing time) into Unix seconds.
pub fn parse_v2_datetime(text: &str) -> Result<i64, V2TimeError> {
    let b = text.as_bytes();
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return Err(V2TimeError::Format(text.to_owned()));
    }
    let compact: String = text.chars().filter(char::is_ascii_digit).collect();
    if compact.len() != 14 {
        return Err(V2TimeError::Format(text.to_owned()));
    }
    parse_v2_time(&compact).map_err(|e| match e {
        V2TimeError::Range(_) => V2TimeError::Range(text.to_owned()),
        _ => V2TimeError::Format(text.to_owned()),
    })
}

/// Parses `yyyyMMddHHmmss` (Beijing time) into Unix seconds.
pub fn parse_v2_time(text: &str) -> Result<i64, V2TimeError> {
    let b = text.as_bytes();
    if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
        return Err(V2TimeError::Format(text.to_owned()));
    }
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let range = || V2TimeError::Range(text.to_owned());
    let month = Month::try_from(num(4, 6) as u8).map_err(|_| range())?;
    let date =
        Date::from_calendar_date(num(0, 4) as i32, month, num(6, 8) as u8).map_err(|_| range())?;
    let time = Time::from_hms(num(8, 10) as u8, num(10, 12) as u8, num(12, 14) as u8)
        .map_err(|_| range())?;
    Ok(PrimitiveDateTime::new(date, time)
        .assume_offset(beijing())
        .unix_timestamp())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn known_instants() {
        // 2025-01-01T08:00:00+08:00 is 1735689600 (the vector set's `now`).
        assert_eq!(parse_v2_time("20250101080000"), Ok(1_735_689_600));
        assert_eq!(format_v2_time(1_735_689_600).unwrap(), "20250101080000");
        assert_eq!(format_v2_time(0).unwrap(), "19700101080000");
    }

    #[test]
    fn refund_datetime_form() {
        assert_eq!(
            format_v2_datetime(1_735_689_600).unwrap(),
            "2025-01-01 08:00:00"
        );
        assert_eq!(parse_v2_datetime("2025-01-01 08:00:00"), Ok(1_735_689_600));
        assert!(matches!(
            parse_v2_datetime("20250101080000"),
            Err(V2TimeError::Format(_))
        ));
        assert!(matches!(
            parse_v2_datetime("2025-01-01T08:00:00"),
            Err(V2TimeError::Format(_))
        ));
        assert!(matches!(
            parse_v2_datetime("2025-13-01 08:00:00"),
            Err(V2TimeError::Range(_))
        ));
        assert!(format_v2_datetime(i64::MAX).is_err());
    }

    #[test]
    fn refuses_bad_text() {
        assert!(matches!(
            parse_v2_time("2025010108000"),
            Err(V2TimeError::Format(_))
        ));
        assert!(matches!(
            parse_v2_time("2025-01-01 08:00"),
            Err(V2TimeError::Format(_))
        ));
        assert!(matches!(
            parse_v2_time("20251301080000"),
            Err(V2TimeError::Range(_))
        ));
        assert!(matches!(
            parse_v2_time("20250230080000"),
            Err(V2TimeError::Range(_))
        ));
        assert!(matches!(
            parse_v2_time("20250101240000"),
            Err(V2TimeError::Range(_))
        ));
        assert!(format_v2_time(i64::MAX).is_err());
    }
}
