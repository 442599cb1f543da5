//! Trade and refund states as WeChat reports them, and which changes between them are legal.
//!
//! Both enums keep an `Unknown(String)` variant so a value WeChat adds tomorrow still parses;
//! no transition into or out of an unknown state is ever allowed automatically.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `trade_state` of an order (v3 query / notification; v2 `trade_state`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TradeState {
    /// Not paid yet; payable until it expires or is closed.
    NotPay,
    /// The payer is entering a password (micropay).
    UserPaying,
    /// Paid.
    Success,
    /// Closed by the merchant or by expiry; cannot be paid.
    Closed,
    /// Revoked (micropay only).
    Revoked,
    /// Payment failed (micropay only).
    PayError,
    /// A refund was started on a paid order.
    Refund,
    /// A value this version does not know.
    Unknown(String),
}

impl TradeState {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::NotPay => "NOTPAY",
            Self::UserPaying => "USERPAYING",
            Self::Success => "SUCCESS",
            Self::Closed => "CLOSED",
            Self::Revoked => "REVOKED",
            Self::PayError => "PAYERROR",
            Self::Refund => "REFUND",
            Self::Unknown(s) => s,
        }
    }

    /// Parses the wire spelling; anything else becomes `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "NOTPAY" => Self::NotPay,
            "USERPAYING" => Self::UserPaying,
            "SUCCESS" => Self::Success,
            "CLOSED" => Self::Closed,
            "REVOKED" => Self::Revoked,
            "PAYERROR" => Self::PayError,
            "REFUND" => Self::Refund,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// True while the payer may still pay: the order needs watching.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::NotPay | Self::UserPaying)
    }

    /// True when money was received (including orders that were later refunded).
    pub fn is_paid(&self) -> bool {
        matches!(self, Self::Success | Self::Refund)
    }

    /// True when no further payment can happen.
    pub fn is_final(&self) -> bool {
        !self.is_pending() && !matches!(self, Self::Unknown(_))
    }

    /// Whether WeChat can move an order from `self` to `next`.
    ///
    /// Same-state is allowed (duplicate notifications are normal). Paid is never undone
    /// except into `REFUND`; closed, revoked and failed orders never become paid.
    pub fn can_transition_to(&self, next: &TradeState) -> bool {
        use TradeState::*;
        if self == next {
            return !matches!(self, Unknown(_));
        }
        matches!(
            (self, next),
            (NotPay, UserPaying | Success | Closed | PayError | Revoked)
                | (UserPaying, NotPay | Success | Closed | PayError | Revoked)
                | (Success, Refund)
        )
    }
}

impl fmt::Display for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TradeState::{}", self.as_str())
    }
}

/// Refund status: `status` in refund responses, `refund_status` in refund notifications.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Accepted and being processed.
    Processing,
    /// The money was returned.
    Success,
    /// Closed without refunding.
    Closed,
    /// The payer's account could not receive it; needs manual handling.
    Abnormal,
    /// A value this version does not know.
    Unknown(String),
}

impl RefundStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Processing => "PROCESSING",
            Self::Success => "SUCCESS",
            Self::Closed => "CLOSED",
            Self::Abnormal => "ABNORMAL",
            Self::Unknown(s) => s,
        }
    }

    /// Parses the wire spelling; anything else becomes `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "PROCESSING" => Self::Processing,
            "SUCCESS" => Self::Success,
            "CLOSED" => Self::Closed,
            "ABNORMAL" => Self::Abnormal,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// True when the refund has reached an outcome.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Success | Self::Closed)
    }

    /// Whether a refund can move from `self` to `next`. `ABNORMAL` can still be resolved
    /// (re-issued to another account) into `SUCCESS` or `CLOSED`.
    pub fn can_transition_to(&self, next: &RefundStatus) -> bool {
        use RefundStatus::*;
        if self == next {
            return !matches!(self, Unknown(_));
        }
        matches!(
            (self, next),
            (Processing, Success | Closed | Abnormal) | (Abnormal, Success | Closed | Processing)
        )
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefundStatus::{}", self.as_str())
    }
}

macro_rules! wire_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}
wire_serde!(TradeState);
wire_serde!(RefundStatus);

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn parse_round_trip_and_unknown() {
        for s in [
            "NOTPAY",
            "USERPAYING",
            "SUCCESS",
            "CLOSED",
            "REVOKED",
            "PAYERROR",
            "REFUND",
        ] {
            assert_eq!(TradeState::parse(s).as_str(), s);
        }
        assert_eq!(
            TradeState::parse("ACCEPT"),
            TradeState::Unknown("ACCEPT".into())
        );
        let j: RefundStatus = serde_json::from_str("\"NEWTHING\"").unwrap();
        assert_eq!(j, RefundStatus::Unknown("NEWTHING".into()));
    }

    #[test]
    fn transitions() {
        use TradeState::*;
        assert!(NotPay.can_transition_to(&Success));
        assert!(Success.can_transition_to(&Success));
        assert!(Success.can_transition_to(&Refund));
        assert!(!Success.can_transition_to(&NotPay));
        assert!(!Closed.can_transition_to(&Success));
        assert!(!NotPay.can_transition_to(&Refund));
        assert!(!Unknown("X".into()).can_transition_to(&Unknown("X".into())));
        assert!(RefundStatus::Processing.can_transition_to(&RefundStatus::Success));
        assert!(!RefundStatus::Success.can_transition_to(&RefundStatus::Processing));
    }
}
