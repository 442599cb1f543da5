//! API v2 client: flat XML bodies signed with the API v2 key (MD5 or HMAC-SHA256), and
//! `/secapi/` calls (refund) over mutual TLS with the merchant's API certificate.
//!
//! v2 answers have two levels (protocol reference, part E): `return_code` FAIL means the
//! request itself was refused (bad sign, bad field) and carries no signature;
//! `return_code` SUCCESS answers are signed, and `result_code` FAIL inside them is a
//! business refusal with an `err_code`. Signed answers are verified with the same key
//! before any field is used, exactly like v3 answers are, and with the sign type of the
//! request: WeChat's answers do not name it (protocol.md E.4).

use std::collections::BTreeMap;

use wxpay_core::v2::sign::{sign_request_into, verify, ApiV2Key, SignType};
use wxpay_core::v2::{paths, xml};
use wxpay_core::MchId;

use super::transport::Transport;
use super::{Idempotency, UpstreamError};

/// A v2 message: field name → value.
pub type Fields = BTreeMap<String, String>;

/// The API v2 side of the merchant: key, sign type and the two transports.
pub struct V2Client {
    plain: Transport,
    secure: Option<Transport>,
    mchid: MchId,
    key: ApiV2Key,
    sign_type: SignType,
    mode_one_sign_type: SignType,
}

impl std::fmt::Debug for V2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Client")
            .field("mchid", &self.mchid)
            .field("sign_type", &self.sign_type)
            .field("mode_one_sign_type", &self.mode_one_sign_type)
            .field("mutual_tls", &self.secure.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds the reqwest client that presents the merchant certificate (`apiclient_cert.pem`
/// followed by `apiclient_key.pem`, one PEM buffer) and, when given, trusts an extra root
/// (the simulator's private CA; WeChat's real hosts chain to public roots).
pub fn mutual_tls_client(
    identity_pem: &str,
    extra_root_pem: Option<&str>,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, UpstreamError> {
    let identity = reqwest::Identity::from_pem(identity_pem.as_bytes())
        .map_err(|e| UpstreamError::build("client certificate", e))?;
    let mut builder = super::transport::client_builder()
        .use_rustls_tls()
        .identity(identity)
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)));
    if let Some(root) = extra_root_pem {
        let cert = reqwest::Certificate::from_pem(root.as_bytes())
            .map_err(|e| UpstreamError::build("root certificate", e))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| UpstreamError::build("mutual-TLS client", e))
}

impl V2Client {
    /// A client for `mchid`. `secure` is the mutual-TLS transport for `/secapi/` paths;
    /// without it refunds are refused locally.
    pub fn new(
        plain: Transport,
        secure: Option<Transport>,
        mchid: MchId,
        key: ApiV2Key,
        sign_type: SignType,
    ) -> Self {
        Self {
            plain,
            secure,
            mchid,
            key,
            sign_type,
            mode_one_sign_type: SignType::Md5,
        }
    }

    /// Sets the sign type of the scan-pay mode-one callback and reply (MD5 unless told).
    pub fn with_mode_one_sign_type(mut self, sign_type: SignType) -> Self {
        self.mode_one_sign_type = sign_type;
        self
    }

    /// The API v2 key (notification verification, `req_info` decryption, paySign).
    pub fn key(&self) -> &ApiV2Key {
        &self.key
    }

    /// The sign type used for requests and client parameters.
    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }

    /// The sign type of the mode-one callback WeChat sends and of the merchant's reply.
    pub fn mode_one_sign_type(&self) -> SignType {
        self.mode_one_sign_type
    }

    /// The merchant id.
    pub fn mchid(&self) -> &MchId {
        &self.mchid
    }

    /// Whether refunds can be sent (a client certificate is configured).
    pub fn has_mutual_tls(&self) -> bool {
        self.secure.is_some()
    }

    /// Signs a request built from the core's model (which names `appid`, `mch_id` and
    /// `nonce_str`): sets `sign_type` and `sign`.
    pub fn sign(&self, fields: &mut Fields) {
        fields.remove("sign");
        sign_request_into(fields, &self.key, self.sign_type);
    }

    /// Sends a signed request to `path` and returns the verified answer's fields when both
    /// `return_code` and `result_code` are SUCCESS.
    pub async fn call(
        &self,
        path: &str,
        mut fields: Fields,
        idempotency: Idempotency,
    ) -> Result<Fields, UpstreamError> {
        self.sign(&mut fields);
        let body =
            xml::to_xml(fields.iter()).map_err(|e| UpstreamError::build("v2 XML body", e))?;
        let transport = if paths::needs_client_certificate(path) {
            self.secure
                .as_ref()
                .ok_or_else(|| UpstreamError::NoClientCertificate)?
        } else {
            &self.plain
        };
        let raw = transport
            .send(idempotency, |base| {
                Ok(transport
                    .http()
                    .post(format!("{base}{path}"))
                    .header("content-type", "text/xml; charset=utf-8")
                    .body(body.clone()))
            })
            .await?;
        self.read_answer(raw.status, &raw.body)
    }

    /// Parses, checks and verifies one answer body.
    pub fn read_answer(&self, status: u16, body: &[u8]) -> Result<Fields, UpstreamError> {
        let fields = xml::parse(body, xml::DEFAULT_MAX_LEN).map_err(UpstreamError::DecodeXml)?;
        let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
        if get("return_code") != "SUCCESS" {
            return Err(UpstreamError::Business {
                status,
                code: "FAIL".into(),
                message: get("return_msg").to_owned(),
            });
        }
        // The answer is signed with the algorithm this client's requests use.
        verify(&fields, &self.key, self.sign_type).map_err(|e| {
            let reason = e.reason_code();
            UpstreamError::rejected(e, reason)
        })?;
        if get("mch_id") != self.mchid.as_str() {
            return Err(UpstreamError::mismatch("mch_id_mismatch"));
        }
        if get("result_code") != "SUCCESS" {
            return Err(UpstreamError::Business {
                status,
                code: get("err_code").to_owned(),
                message: get("err_code_des").to_owned(),
            });
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wxpay_core::v2::sign::sign_into;

    use super::*;

    fn client() -> V2Client {
        let transport = Transport::new(
            reqwest::Client::new(),
            vec!["http://127.0.0.1:9".into()],
            0,
            Duration::from_millis(1),
        );
        V2Client::new(
            transport,
            None,
            MchId::new("1900000109").expect("mchid"),
            ApiV2Key::new("0123456789abcdef0123456789abcdef").expect("key"),
            SignType::HmacSha256,
        )
    }

    fn signed_answer(client: &V2Client, extra: &[(&str, &str)]) -> Fields {
        let mut f = Fields::new();
        f.insert("return_code".into(), "SUCCESS".into());
        f.insert("result_code".into(), "SUCCESS".into());
        f.insert("mch_id".into(), "1900000109".into());
        for (k, v) in extra {
            f.insert((*k).into(), (*v).into());
        }
        sign_into(&mut f, client.key(), SignType::HmacSha256);
        f
    }

    fn body(f: &Fields) -> Vec<u8> {
        xml::to_xml(f.iter()).expect("xml").into_bytes()
    }

    #[test]
    fn a_signed_success_answer_is_returned_and_a_tampered_one_refused() {
        let c = client();
        let ok = signed_answer(&c, &[("prepay_id", "wx201410272009395522657a690389285100")]);
        let fields = c.read_answer(200, &body(&ok)).expect("verified");
        assert_eq!(
            fields.get("prepay_id").map(String::as_str),
            Some("wx201410272009395522657a690389285100")
        );
        let mut tampered = ok.clone();
        tampered.insert("prepay_id".into(), "wx_other".into());
        assert!(matches!(
            c.read_answer(200, &body(&tampered)),
            Err(UpstreamError::Unverified { .. })
        ));
    }

    #[test]
    fn an_hmac_answer_without_sign_type_verifies_and_an_md5_one_does_not() {
        // WeChat answers an HMAC-SHA256 request with an HMAC-SHA256 sign and no sign_type.
        let c = client();
        let ok = signed_answer(&c, &[("prepay_id", "wx201410272009395522657a690389285100")]);
        assert!(!ok.contains_key("sign_type"));
        assert!(c.read_answer(200, &body(&ok)).is_ok());
        let mut md5 = ok.clone();
        md5.remove("sign");
        sign_into(&mut md5, c.key(), SignType::Md5);
        assert!(matches!(
            c.read_answer(200, &body(&md5)),
            Err(UpstreamError::Unverified { reason, .. }) if reason == "sign_type_mismatch"
        ));
    }

    #[test]
    fn return_fail_and_result_fail_become_business_errors() {
        let c = client();
        let mut fail = Fields::new();
        fail.insert("return_code".into(), "FAIL".into());
        fail.insert("return_msg".into(), "签名错误".into());
        match c.read_answer(200, &body(&fail)) {
            Err(UpstreamError::Business { code, message, .. }) => {
                assert_eq!(code, "FAIL");
                assert_eq!(message, "签名错误");
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut biz = signed_answer(&c, &[("err_code", "ORDERPAID")]);
        biz.insert("result_code".into(), "FAIL".into());
        biz.remove("sign");
        sign_into(&mut biz, c.key(), SignType::HmacSha256);
        match c.read_answer(200, &body(&biz)) {
            Err(UpstreamError::Business { code, .. }) => assert_eq!(code, "ORDERPAID"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_request_is_signed_so_that_the_core_verifies_it() {
        let c = client();
        let mut f = Fields::new();
        f.insert("out_trade_no".into(), "T1".into());
        f.insert("sign".into(), "stale".into());
        c.sign(&mut f);
        assert_eq!(f.get("sign_type").map(String::as_str), Some("HMAC-SHA256"));
        assert_eq!(verify(&f, c.key(), SignType::HmacSha256), Ok(()));
    }
}
