//! Typed values: amounts in fen, the byte-limited texts, and `time_expire`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Amounts are positive integers in fen (分).
    #[error("amount must be a positive integer number of fen, got {0}")]
    Amount(i64),
    /// A text field is longer than WeChat allows, counted in UTF-8 bytes.
    #[error("{field} is {len} bytes of UTF-8; WeChat allows at most {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A text field is empty but required.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A control character would break XML or the signed message.
    #[error("{field} contains a control character at byte {at}")]
    Control {
        /// Which field.
        field: &'static str,
        /// Byte offset.
        at: usize,
    },
    /// `time_expire` is not RFC 3339 with an explicit offset.
    #[error("time_expire must be RFC 3339 with an offset like 2018-06-08T10:34:56+08:00: {0}")]
    Time(String),
}

/// An amount in fen (分): WeChat carries amounts as positive JSON integers, never decimals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u64);

impl Amount {
    /// The largest amount accepted: WeChat's `total` is a 32-bit signed integer.
    pub const MAX_FEN: u64 = i32::MAX as u64;

    /// Accepts 1..=`MAX_FEN` fen.
    pub fn from_fen(fen: i64) -> Result<Self, ValueError> {
        if fen <= 0 || fen as u64 > Self::MAX_FEN {
            return Err(ValueError::Amount(fen));
        }
        Ok(Self(fen as u64))
    }

    /// The value in fen.
    pub fn fen(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({} fen)", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        Self::from_fen(n).map_err(serde::de::Error::custom)
    }
}

fn check_text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), ValueError> {
    if required && value.is_empty() {
        return Err(ValueError::Empty(field));
    }
    if value.len() > max {
        return Err(ValueError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    if let Some((at, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(ValueError::Control { field, at });
    }
    Ok(())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $required:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The limit in UTF-8 bytes.
            pub const MAX_BYTES: usize = $max;

            /// Checks the byte limit and refuses control characters.
            pub fn new(value: impl Into<String>) -> Result<Self, ValueError> {
                let value = value.into();
                check_text($field, &value, $max, $required)?;
                Ok(Self(value))
            }

            /// The text as sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_value!(
    /// The order description shown in the payer's bill: v3 `description` string(127).
    Description,
    "description",
    127,
    true
);
text_value!(
    /// Merchant data echoed back in queries and notifications: `attach` string(128).
    Attach,
    "attach",
    128,
    false
);

/// `time_expire`: an RFC 3339 instant with an explicit offset, e.g. `2018-06-08T10:34:56+08:00`.
///
/// Keeps the original text because it is part of a signed body and must be echoed exactly.
#[derive(Clone, PartialEq, Eq)]
pub struct TimeExpire {
    text: String,
    at: OffsetDateTime,
}

impl TimeExpire {
    /// Parses WeChat's profile of RFC 3339, `yyyy-MM-DDTHH:mm:ss+TIMEZONE`: seconds, no
    /// fraction, an upper-case `T`, and `±HH:MM` (a trailing `Z` is accepted as +00:00).
    /// WeChat refuses the looser RFC 3339 forms, so they are refused here, before a prepay.
    pub fn parse(text: impl Into<String>) -> Result<Self, ValueError> {
        let text = text.into();
        let b = text.as_bytes();
        let shape_ok = b.get(10) == Some(&b'T')
            && match b.len() {
                25 => matches!(b[19], b'+' | b'-'),
                20 => b[19] == b'Z',
                _ => false,
            };
        if !shape_ok {
            return Err(ValueError::Time(format!(
                "{text:?} is not yyyy-MM-DDTHH:mm:ss+08:00 (seconds, no fraction, upper-case T)"
            )));
        }
        let at =
            OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| ValueError::Time(e.to_string()))?;
        Ok(Self { text, at })
    }

    /// Formats `unix_seconds` at the given offset (WeChat uses +08:00), without fractions.
    pub fn from_unix(unix_seconds: i64, offset_hours: i8) -> Result<Self, ValueError> {
        let offset = time::UtcOffset::from_hms(offset_hours, 0, 0)
            .map_err(|e| ValueError::Time(e.to_string()))?;
        let at = OffsetDateTime::from_unix_timestamp(unix_seconds)
            .map_err(|e| ValueError::Time(e.to_string()))?
            .to_offset(offset);
        let text = format_rfc3339_seconds(at);
        Ok(Self { text, at })
    }

    /// Unix seconds.
    pub fn unix_seconds(&self) -> i64 {
        self.at.unix_timestamp()
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A Unix time as API v3 prints times (`success_time`, `create_time`, `effective_time`, a
/// notification's `create_time`): RFC 3339 in Beijing time, `2018-06-08T10:34:56+08:00`.
pub fn format_beijing_rfc3339(unix_seconds: i64) -> Result<String, ValueError> {
    TimeExpire::from_unix(unix_seconds, 8).map(|t| t.text)
}

/// `2018-06-08T10:34:56+08:00`: RFC 3339 without fractional seconds, as WeChat prints times.
pub fn format_rfc3339_seconds(at: OffsetDateTime) -> String {
    let (h, m, _) = at.offset().as_hms();
    let sign = if at.offset().is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        sign,
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

impl fmt::Debug for TimeExpire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeExpire({:?})", self.text)
    }
}

impl Serialize for TimeExpire {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for TimeExpire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn amounts_are_positive_fen() {
        assert_eq!(Amount::from_fen(100).unwrap().fen(), 100);
        assert!(Amount::from_fen(0).is_err());
        assert!(Amount::from_fen(-1).is_err());
        assert!(Amount::from_fen(i64::from(i32::MAX) + 1).is_err());
        assert_eq!(Amount::from_fen(12345).unwrap().to_string(), "123.45");
        assert!(serde_json::from_str::<Amount>("1.5").is_err());
        assert!(serde_json::from_str::<Amount>("\"100\"").is_err());
    }

    #[test]
    fn description_limit_is_in_bytes() {
        assert!(Description::new("a".repeat(127)).is_ok());
        assert!(Description::new("a".repeat(128)).is_err());
        // 43 CJK characters = 129 bytes
        assert!(matches!(
            Description::new("形".repeat(43)),
            Err(ValueError::TooLong { len: 129, .. })
        ));
        assert!(Description::new("").is_err());
        assert!(Attach::new("").is_ok());
        assert!(Description::new("a\nb").is_err());
    }

    #[test]
    fn time_expire_round_trip() {
        let t = TimeExpire::parse("2018-06-08T10:34:56+08:00").unwrap();
        assert_eq!(t.unix_seconds(), 1528425296);
        let u = TimeExpire::from_unix(1528425296, 8).unwrap();
        assert_eq!(u.as_str(), "2018-06-08T10:34:56+08:00");
        assert_eq!(
            format_beijing_rfc3339(1528425296).unwrap(),
            "2018-06-08T10:34:56+08:00"
        );
        assert!(format_beijing_rfc3339(i64::MAX).is_err());
        assert!(TimeExpire::parse("2018-06-08 10:34:56").is_err());
        assert!(TimeExpire::parse("2018-06-08T10:34:56").is_err());
        assert!(TimeExpire::parse("2018-06-08T02:34:56Z").is_ok());
        // RFC 3339 allows these; WeChat's yyyy-MM-DDTHH:mm:ss+TIMEZONE does not.
        assert!(TimeExpire::parse("2018-06-08T10:34:56.123+08:00").is_err());
        assert!(TimeExpire::parse("2018-06-08t10:34:56+08:00").is_err());
        assert!(TimeExpire::parse("2018-06-08T10:34:56+0800").is_err());
        assert!(TimeExpire::parse("2018-06-08T10:34:56+08:0").is_err());
    }
}
