//! Payment and refund notifications (回调通知, protocol A.6–A.8).
//!
//! Order matters: verify the signature over the raw body first, then decrypt
//! `resource` with the APIv3 key. [`verify_and_decrypt`] does both; the pieces are public
//! for hosts that need them separately (e.g. to log a verified but undecryptable event).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::aead::{self, AeadError, ApiV3Key, ALGORITHM};
use super::verify::{SignedHeaders, Verifier, VerifyError};

/// Longest notification body parsed; real ones are a few KiB.
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Why a notification was refused.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The signature headers did not verify (reason code from [`VerifyError::reason_code`]).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The body is larger than [`MAX_BODY_LEN`].
    #[error("notification body of {len} bytes is too large")]
    TooLarge {
        /// Body length.
        len: usize,
    },
    /// The body is not the notification JSON shape.
    #[error("notification body is malformed: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The resource could not be decrypted (wrong APIv3 key, tampering, bad fields).
    #[error("resource decryption failed: {0}")]
    Decrypt(#[from] AeadError),
    /// The decrypted resource is not UTF-8 JSON of the expected type.
    #[error("decrypted resource is malformed: {0}")]
    Payload(#[source] serde_json::Error),
}

impl NotificationError {
    /// Stable reason code, shared with the test vectors and the wasm error codes.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Verify(e) => e.reason_code(),
            Self::TooLarge { .. } | Self::Malformed(_) => "malformed_body",
            Self::Decrypt(e) => e.reason_code(),
            Self::Payload(_) => "malformed_payload",
        }
    }
}

/// `event_type`. Keeps unknown values so a new event from WeChat never breaks parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `TRANSACTION.SUCCESS` (payment notifications are sent for success only).
    TransactionSuccess,
    /// `REFUND.SUCCESS`.
    RefundSuccess,
    /// `REFUND.ABNORMAL`: the refund could not reach the user's account.
    RefundAbnormal,
    /// `REFUND.CLOSED`.
    RefundClosed,
    /// Anything else, e.g. `TRANSACTION.FAIL`, `SECURITY_ECHO.SUCCESS`.
    Other(String),
}

impl EventType {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            Self::TransactionSuccess => "TRANSACTION.SUCCESS",
            Self::RefundSuccess => "REFUND.SUCCESS",
            Self::RefundAbnormal => "REFUND.ABNORMAL",
            Self::RefundClosed => "REFUND.CLOSED",
            Self::Other(s) => s,
        }
    }

    /// Maps the wire form; never fails.
    pub fn parse(s: &str) -> Self {
        match s {
            "TRANSACTION.SUCCESS" => Self::TransactionSuccess,
            "REFUND.SUCCESS" => Self::RefundSuccess,
            "REFUND.ABNORMAL" => Self::RefundAbnormal,
            "REFUND.CLOSED" => Self::RefundClosed,
            other => Self::Other(other.to_string()),
        }
    }

    /// True for the three refund outcomes (resource `original_type` = `refund`).
    pub fn is_refund(&self) -> bool {
        matches!(
            self,
            Self::RefundSuccess | Self::RefundAbnormal | Self::RefundClosed
        )
    }

    /// The resource's `original_type` (also its AEAD associated data) for the events
    /// above: `transaction` for payments, `refund` for refund outcomes.
    pub fn original_type(&self) -> Option<&'static str> {
        match self {
            Self::TransactionSuccess => Some("transaction"),
            Self::RefundSuccess | Self::RefundAbnormal | Self::RefundClosed => Some("refund"),
            Self::Other(_) => None,
        }
    }

    /// The `summary` WeChat sends with the events above (支付成功, 退款成功, 退款异常,
    /// 退款关闭); informative only, never to be parsed.
    pub fn summary(&self) -> Option<&'static str> {
        match self {
            Self::TransactionSuccess => Some("支付成功"),
            Self::RefundSuccess => Some("退款成功"),
            Self::RefundAbnormal => Some("退款异常"),
            Self::RefundClosed => Some("退款关闭"),
            Self::Other(_) => None,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read the string in place: only an unknown type is copied (into `Other`).
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EventType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event type string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<EventType, E> {
                Ok(EventType::parse(s))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// `resource`: an AEAD_AES_256_GCM-encrypted payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `transaction` or `refund` for the events above.
    #[serde(default)]
    pub original_type: String,
    /// Always `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// Base64 of ciphertext ‖ tag.
    pub ciphertext: String,
    /// AAD; may be empty (an empty AAD, not "no AAD").
    #[serde(default)]
    pub associated_data: String,
    /// 12-character nonce.
    pub nonce: String,
}

impl EncryptedResource {
    /// Encrypts `plaintext` as WeChat does (simulator side). `nonce` must be 12 fresh
    /// characters per message.
    pub fn encrypt(
        key: &ApiV3Key,
        original_type: &str,
        nonce: &str,
        associated_data: &str,
        plaintext: &[u8],
    ) -> Result<Self, AeadError> {
        Ok(Self {
            original_type: original_type.to_string(),
            algorithm: ALGORITHM.to_string(),
            ciphertext: aead::encrypt(key, nonce, associated_data, plaintext)?,
            associated_data: associated_data.to_string(),
            nonce: nonce.to_string(),
        })
    }

    /// Decrypts with the APIv3 key, refusing any algorithm but `AEAD_AES_256_GCM`.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<Vec<u8>, AeadError> {
        if self.algorithm != ALGORITHM {
            return Err(AeadError::UnsupportedAlgorithm(self.algorithm.clone()));
        }
        aead::decrypt(key, &self.nonce, &self.associated_data, &self.ciphertext)
    }
}

/// A notification body as WeChat POSTs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Event id (string(36)); the same id may be delivered several times.
    pub id: String,
    /// RFC 3339 creation time, e.g. `2015-05-20T13:29:35+08:00`.
    pub create_time: String,
    /// `encrypt-resource`.
    #[serde(default)]
    pub resource_type: String,
    /// What happened.
    pub event_type: EventType,
    /// Human summary, e.g. `支付成功`.
    #[serde(default)]
    pub summary: String,
    /// The encrypted payload.
    pub resource: EncryptedResource,
}

impl Notification {
    /// Parses the raw body (no verification: see [`verify_and_decrypt`]).
    pub fn parse(body: &[u8]) -> Result<Self, NotificationError> {
        if body.len() > MAX_BODY_LEN {
            return Err(NotificationError::TooLarge { len: body.len() });
        }
        serde_json::from_slice(body).map_err(NotificationError::Malformed)
    }

    /// Decrypts `resource` to its plaintext bytes.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<Vec<u8>, NotificationError> {
        Ok(self.resource.decrypt(key)?)
    }

    /// Decrypts `resource` and deserialises it (e.g. into the models' `Transaction`).
    pub fn decrypt_json<T: DeserializeOwned>(
        &self,
        key: &ApiV3Key,
    ) -> Result<T, NotificationError> {
        serde_json::from_slice(&self.decrypt(key)?).map_err(NotificationError::Payload)
    }

    /// Compact JSON body, as the simulator sends it (sign exactly these bytes).
    pub fn to_json(&self) -> String {
        // Serialising plain strings and a string-backed enum cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A verified, decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedNotification {
    /// The envelope.
    pub notification: Notification,
    /// The decrypted resource as UTF-8 JSON text.
    pub plaintext: String,
}

impl DecryptedNotification {
    /// Deserialises the plaintext (e.g. into `Transaction` or the refund payload).
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, NotificationError> {
        serde_json::from_str(&self.plaintext).map_err(NotificationError::Payload)
    }
}

/// Verifies the signature over the raw `body` at `now`, then parses and decrypts it (A.3,
/// A.6, A.7). Any error means: answer 4xx/5xx and let WeChat retry.
pub fn verify_and_decrypt(
    verifier: &Verifier,
    headers: &SignedHeaders,
    body: &[u8],
    now: i64,
    key: &ApiV3Key,
) -> Result<DecryptedNotification, NotificationError> {
    verifier.verify(headers, body, now)?;
    let notification = Notification::parse(body)?;
    let bytes = notification.decrypt(key)?;
    let plaintext = String::from_utf8(bytes).map_err(|e| {
        NotificationError::Payload(serde::de::Error::custom(format!(
            "resource is not UTF-8: {e}"
        )))
    })?;
    Ok(DecryptedNotification {
        notification,
        plaintext,
    })
}

/// Everything the simulator chooses when it emits a notification.
#[derive(Debug, Clone, Copy)]
pub struct NotificationParams<'a> {
    /// Event id.
    pub id: &'a str,
    /// RFC 3339 creation time.
    pub create_time: &'a str,
    /// The event.
    pub event_type: &'a EventType,
    /// Human summary (`支付成功`, `退款成功` ...).
    pub summary: &'a str,
    /// `transaction` or `refund`.
    pub original_type: &'a str,
    /// 12 fresh characters.
    pub nonce: &'a str,
    /// AAD (WeChat uses `transaction` / `refund` / empty).
    pub associated_data: &'a str,
}

/// Builds an encrypted notification (simulator side); serialise with
/// [`Notification::to_json`] and sign the result with [`SignedHeaders::sign`].
pub fn encrypt_notification(
    key: &ApiV3Key,
    params: &NotificationParams<'_>,
    plaintext: &[u8],
) -> Result<Notification, AeadError> {
    let resource = EncryptedResource::encrypt(
        key,
        params.original_type,
        params.nonce,
        params.associated_data,
        plaintext,
    )?;
    Ok(Notification {
        id: params.id.to_string(),
        create_time: params.create_time.to_string(),
        resource_type: String::from("encrypt-resource"),
        event_type: params.event_type.clone(),
        summary: params.summary.to_string(),
        resource,
    })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const KEY: &str = "1MuVBgXva0ChJanmKB0W5rtyYkOYB89G";

    fn params(event: &EventType) -> NotificationParams<'_> {
        NotificationParams {
            id: "EV-2018022511223320873",
            create_time: "2015-05-20T13:29:35+08:00",
            event_type: event,
            summary: "支付成功",
            original_type: "transaction",
            nonce: "fdasflkja484",
            associated_data: "transaction",
        }
    }

    #[test]
    fn event_types_round_trip_and_keep_unknown() {
        for s in [
            "TRANSACTION.SUCCESS",
            "REFUND.SUCCESS",
            "REFUND.ABNORMAL",
            "REFUND.CLOSED",
            "SECURITY_ECHO.SUCCESS",
        ] {
            let e = EventType::parse(s);
            assert_eq!(e.as_str(), s);
            let json = serde_json::to_string(&e).expect("ser");
            assert_eq!(serde_json::from_str::<EventType>(&json).expect("de"), e);
        }
        assert_eq!(EventType::parse("X.Y"), EventType::Other("X.Y".into()));
        assert!(EventType::RefundClosed.is_refund());
        assert!(!EventType::TransactionSuccess.is_refund());
        assert_eq!(
            EventType::TransactionSuccess.original_type(),
            Some("transaction")
        );
        assert_eq!(EventType::RefundAbnormal.original_type(), Some("refund"));
        assert_eq!(EventType::parse("X.Y").original_type(), None);
        assert_eq!(EventType::RefundClosed.summary(), Some("退款关闭"));
    }

    #[test]
    fn encrypt_then_parse_and_decrypt() {
        let key = ApiV3Key::new(KEY).expect("key");
        let event = EventType::TransactionSuccess;
        let n = encrypt_notification(&key, &params(&event), br#"{"trade_state":"SUCCESS"}"#)
            .expect("enc");
        let body = n.to_json();
        let parsed = Notification::parse(body.as_bytes()).expect("parse");
        assert_eq!(parsed, n);
        #[derive(Deserialize)]
        struct P {
            trade_state: String,
        }
        assert_eq!(
            parsed.decrypt_json::<P>(&key).expect("dec").trade_state,
            "SUCCESS"
        );
    }

    #[test]
    fn wrong_algorithm_and_key_are_decrypt_failures() {
        let key = ApiV3Key::new(KEY).expect("key");
        let event = EventType::RefundSuccess;
        let mut n = encrypt_notification(&key, &params(&event), b"{}").expect("enc");
        let other = ApiV3Key::new("0MuVBgXva0ChJanmKB0W5rtyYkOYB89G").expect("key");
        assert_eq!(
            n.decrypt(&other).map_err(|e| e.reason_code()),
            Err("decrypt_failed")
        );
        n.resource.algorithm = "AEAD_SM4_GCM".into();
        assert!(matches!(
            n.decrypt(&key),
            Err(NotificationError::Decrypt(AeadError::UnsupportedAlgorithm(
                _
            )))
        ));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert_eq!(
            Notification::parse(b"").map_err(|e| e.reason_code()),
            Err("malformed_body")
        );
        assert!(Notification::parse(b"{\"id\":1}").is_err());
        assert!(Notification::parse(&vec![b' '; MAX_BODY_LEN + 1]).is_err());
    }
}
