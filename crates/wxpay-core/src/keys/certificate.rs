//! X.509 certificates: WeChat Pay platform certificates (平台证书) and merchant certificates.
//!
//! Only the facts the protocol needs are extracted: the serial (which `Wechatpay-Serial` and
//! `serial_no` name), the validity window and the RSA public key. Chain building is not
//! done: a platform certificate is trusted because it arrived AES-GCM-encrypted under the
//! APIv3 key (see [`crate::v3::certificates`]), not because of its issuer.

use std::fmt;

use rsa::pkcs8::der::pem::LineEnding;
use rsa::pkcs8::der::{Decode, DecodePem, Encode, EncodePem};

use super::{KeyError, PublicKey};
use crate::ids::SerialNo;

/// A parsed X.509 certificate with its RSA public key.
#[derive(Clone)]
pub struct Certificate {
    serial: SerialNo,
    subject: String,
    not_before: i64,
    not_after: i64,
    public_key: PublicKey,
    pem: String,
}

impl Certificate {
    /// Parses one PEM `CERTIFICATE` (surrounding whitespace is ignored; a missing final
    /// newline, as in decrypted `/v3/certificates` entries, is fine).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let cert = x509_cert::Certificate::from_pem(pem.trim()).map_err(KeyError::Der)?;
        Self::from_parsed(cert)
    }

    /// Parses one PEM certificate given as bytes, e.g. AES-GCM plaintext.
    pub fn from_pem_bytes(pem: &[u8]) -> Result<Self, KeyError> {
        Self::from_pem(std::str::from_utf8(pem).map_err(|_| KeyError::NotUtf8)?)
    }

    /// Parses a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = x509_cert::Certificate::from_der(der).map_err(KeyError::Der)?;
        Self::from_parsed(cert)
    }

    fn from_parsed(cert: x509_cert::Certificate) -> Result<Self, KeyError> {
        let tbs = &cert.tbs_certificate;
        let serial_hex = serial_to_hex(tbs.serial_number.as_bytes());
        // A serial is at most 20 octets (RFC 5280), so 40 hex digits always fit SerialNo's
        // 64-character limit; a longer one is a malformed certificate.
        let serial = SerialNo::new(serial_hex).map_err(|_| {
            KeyError::Der(rsa::pkcs8::der::Error::from(
                rsa::pkcs8::der::ErrorKind::Length {
                    tag: rsa::pkcs8::der::Tag::Integer,
                },
            ))
        })?;
        let spki_der = tbs
            .subject_public_key_info
            .to_der()
            .map_err(KeyError::Der)?;
        let public_key = PublicKey::from_spki_der(&spki_der)?;
        let not_before = unix_seconds(tbs.validity.not_before);
        let not_after = unix_seconds(tbs.validity.not_after);
        let subject = tbs.subject.to_string();
        let pem = cert.to_pem(LineEnding::LF).map_err(KeyError::Der)?;
        Ok(Self {
            serial,
            subject,
            not_before,
            not_after,
            public_key,
            pem,
        })
    }

    /// The serial as WeChat prints it: upper-case hex of the serial number without leading
    /// zeros (the form of `Wechatpay-Serial` and `serial_no`).
    pub fn serial(&self) -> &SerialNo {
        &self.serial
    }

    /// Subject in RFC 4514 form, e.g. `CN=Tenpay.com sign,...` (reversed RDN order).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Start of validity, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of validity, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// True once `now` is past `notAfter`: WeChat has rotated to a newer certificate and a
    /// signature naming this one should no longer be trusted.
    pub fn is_expired_at(&self, now: i64) -> bool {
        now > self.not_after
    }

    /// True when `now` lies inside `[notBefore, notAfter]`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        now >= self.not_before && now <= self.not_after
    }

    /// Seconds until expiry at `now` (negative once expired), so hosts can schedule a
    /// refresh of `/v3/certificates` before rotation.
    pub fn seconds_until_expiry(&self, now: i64) -> i64 {
        self.not_after.saturating_sub(now)
    }

    /// The certificate's RSA public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Canonical PEM (LF line endings, trailing newline), suitable for storage.
    pub fn pem(&self) -> &str {
        &self.pem
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("serial", &self.serial.as_str())
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// Upper-case hex of a big-endian integer, leading zero nibbles dropped, as Go's
/// `fmt.Sprintf("%X", cert.SerialNumber)` and Java's `BigInteger.toString(16)` print it.
fn serial_to_hex(bytes: &[u8]) -> String {
    let hex: String = super::hex_lower(bytes).to_ascii_uppercase();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        String::from("0")
    } else {
        trimmed.to_string()
    }
}

fn unix_seconds(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    // Self-signed test certificate from the wechatpay-go notify tests
    // (spec/vectors/go_test_wechatpay_cert.pem): serial D7CE59D1F522D701, a serial whose
    // DER form needs a leading 0x00 because its top bit is set.
    const GO_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJANfOWdH1ItcBMA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg1NTIzWhcNMzEwNDI1MDg1NTIzWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdP44r
zRwgg/wDVOI1Wz3XEDX28yXlMRXU4M9aczrp5YGZSb/OQOoL0/ngi2LxmJWiAMl3
2DotdGbtBMHQbMBMTjf/BpXeVsbdLk4bNuSU6oOAwtqIXmzsmZtSpTUUZPwy4lEz
uzRiFq9dzqXIw5OOmFMu2FJiiXL7yIrJs1+ZZTHB/uxNAxeWw7u2OGqU9BbvMEWZ
4eZLkgOKgGlAYO3BeljKVJy4EAdu2KTaIsfuvsXn8zcPBe1ai6E1RyK5ff9kHhW6
Njd6jOb5ZnB/C6AmLCTmrQIDAQABo1AwTjAdBgNVHQ4EFgQUAT9acfbpIXnXDOLc
Hj1L6l9d1vQwHwYDVR0jBBgwFoAUAT9acfbpIXnXDOLcHj1L6l9d1vQwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAGJL3bnY7qaSfgn6qtPIZRTm2GGlu
VN8uKC5bhUjQfHsX4rZu9dWHwcZlI8+EPsT4P0f8OuDnqNFRgZKl95kQzUr+sRbi
qxIoqGqs5rqnnRyumyF4Q3HzMrkyHOdgUM0cbOP7HExCdtxsijyl2pDfyMGD7gwK
M9T0M3ToLvLLbEZdbG4ozvUUr34yb55xQbYeYSnVF6i6ExLuXiaLsVRmLUKEHvP5
sztu7BZAXXJU39FKfPp8PrpFChTM7hsVmG4NDQ1oeN6+cdapj8uRTIeesNsUMvOl
yHIbxsROrp6iF7UjdmqG6/xbjMNq4dDZtU/vjcCNOgn8fsbxHUdxCIa3aw==
-----END CERTIFICATE-----";

    #[test]
    fn parses_serial_validity_and_key() {
        let cert = Certificate::from_pem(GO_CERT).expect("parse");
        assert_eq!(cert.serial().as_str(), "D7CE59D1F522D701");
        // notBefore 2021-04-27T08:55:23Z, notAfter 2031-04-25T08:55:23Z
        assert_eq!(cert.not_before(), 1_619_513_723);
        assert_eq!(cert.not_after(), 1_934_873_723);
        assert_eq!(cert.public_key().bits(), 2048);
        assert_eq!(cert.subject(), "O=Default Company Ltd,L=Default City,C=XX");
    }

    #[test]
    fn expiry_is_reported() {
        let cert = Certificate::from_pem(GO_CERT).expect("parse");
        assert!(!cert.is_expired_at(cert.not_after()));
        assert!(cert.is_expired_at(cert.not_after() + 1));
        assert!(cert.is_valid_at(cert.not_before()));
        assert!(!cert.is_valid_at(cert.not_before() - 1));
        assert_eq!(cert.seconds_until_expiry(cert.not_after() - 10), 10);
    }

    #[test]
    fn pem_round_trips_through_der() {
        let cert = Certificate::from_pem(GO_CERT).expect("parse");
        let again = Certificate::from_pem(cert.pem()).expect("reparse");
        assert_eq!(again.serial(), cert.serial());
        assert_eq!(again.public_key(), cert.public_key());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Certificate::from_pem("").is_err());
        assert!(Certificate::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .is_err());
        assert!(Certificate::from_der(&[0x30, 0x80]).is_err());
        assert!(matches!(
            Certificate::from_pem_bytes(&[0xff, 0xfe]),
            Err(KeyError::NotUtf8)
        ));
    }

    #[test]
    fn serial_hex_drops_leading_zeros() {
        assert_eq!(serial_to_hex(&[0x00, 0xd7, 0xce]), "D7CE");
        assert_eq!(serial_to_hex(&[0x0a, 0xbc]), "ABC");
        assert_eq!(serial_to_hex(&[0x00]), "0");
        assert_eq!(serial_to_hex(&[]), "0");
    }
}
