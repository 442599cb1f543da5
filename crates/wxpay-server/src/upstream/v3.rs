//! The API v3 client: signed requests, verified responses, platform certificates.
//!
//! Every request carries an `Authorization` header made by the core from the merchant key;
//! every 2xx answer (204s included) must carry a valid `Wechatpay-*` signature or it is
//! treated as forged. An error answer that carries a signature must verify too; one with no
//! `Wechatpay-*` header at all is how WeChat refuses a request whose own signature it could
//! not verify (401 `SIGN_ERROR`, A.3), so it becomes [`UpstreamError::UnsignedError`]: its
//! code is reported, and callers change no state on it (the official Go SDK likewise looks
//! at the status first and verifies only 2xx answers). The verification keys live in one
//! [`Verifier`] shared with the
//! notification handlers: the WeChat Pay public key (public-key mode), the platform
//! certificates from `/v3/certificates` (certificate mode), or both during a switch-over.
//! An unknown certificate serial triggers one rate-limited certificate refresh, which is how
//! a rotation is followed without a failed request. Responses and notifications spend
//! separate refresh budgets: anyone can POST a notification with a made-up serial, but only
//! WeChat answers our own calls, so a flood of forged notifications can delay a genuine
//! notification (answered 401 "retry later"; WeChat retries it 15 s, 15 s, 30 s, 3 min …
//! later, past the throttle window, and any refresh meanwhile installs the new certificate)
//! but can never make an API call fail. Besides, [`V3Client::refresh_loop`] downloads the
//! certificates before the newest one expires.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wxpay_core::keys::{Certificate, PrivateKey, PublicKey};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::authorization::{Authorization, RequestParts};
use wxpay_core::v3::certificates::{self, CertificatesError};
use wxpay_core::v3::models::ErrorBody;
use wxpay_core::v3::paths::{self, Endpoint};
use wxpay_core::v3::verify::{SignedHeaders, Verifier, VerifyError};
use wxpay_core::{MchId, SerialNo};

use super::transport::{RawResponse, Transport};
use super::{Idempotency, UpstreamError};
use crate::clock::Clock;
use crate::config::VerifyMode;

/// Do not hit `/v3/certificates` more often than this because of unknown serials (per
/// source: responses and notifications each have their own budget).
const MIN_REFRESH_INTERVAL_SECS: i64 = 30;

/// The scheduled refresh starts once the newest platform certificate expires within this.
/// WeChat issues the successor well before (A.4), so a day leaves many attempts.
pub const CERTIFICATE_EXPIRY_MARGIN_SECS: i64 = 24 * 3600;

/// How often the refresh loop looks at the certificates' expiry (at most; a shorter
/// configured interval wins).
const REFRESH_CHECK_SECS: u64 = 600;

/// Whether the scheduled refresh should download the platform certificates at `now`: none
/// is held, the newest expires within `margin_secs`, or `interval_secs` have passed since
/// the last successful scheduled refresh. A pure function of its inputs, so the schedule is
/// tested without a clock or a network.
pub fn certificate_refresh_due(
    newest_not_after: Option<i64>,
    last_refresh: i64,
    now: i64,
    interval_secs: i64,
    margin_secs: i64,
) -> bool {
    match newest_not_after {
        None => true,
        Some(not_after) if not_after.saturating_sub(now) <= margin_secs => true,
        Some(_) => now.saturating_sub(last_refresh) >= interval_secs,
    }
}

/// Who presented a serial the verifier does not know; each has its own refresh budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SerialSource {
    /// An answer to one of our calls (only WeChat can produce it).
    Response,
    /// A notification (anyone can POST one).
    Notification,
}

/// The merchant's identity for API v3.
pub struct MerchantIdentity {
    /// 商户号.
    pub mchid: MchId,
    /// Merchant API certificate serial.
    pub serial: SerialNo,
    /// Merchant API private key.
    pub key: Arc<PrivateKey>,
    /// APIv3 key.
    pub apiv3_key: ApiV3Key,
}

/// The v3 client.
pub struct V3Client {
    transport: Transport,
    /// Signs requests and judges answers' timestamps (the server's clock).
    clock: Clock,
    merchant: MerchantIdentity,
    mode: VerifyMode,
    verifier: RwLock<Verifier>,
    last_response_refresh: tokio::sync::Mutex<i64>,
    last_notification_refresh: tokio::sync::Mutex<i64>,
}

/// The headers WeChat adds to an answer it signs.
const SIGNATURE_HEADERS: [&str; 4] = [
    "wechatpay-signature",
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-serial",
];

/// Whether an answer carries any of WeChat's signature headers (then it must verify).
fn carries_signature(headers: &reqwest::header::HeaderMap) -> bool {
    SIGNATURE_HEADERS
        .iter()
        .any(|name| headers.contains_key(*name))
}

/// WeChat's code and message in an error answer (`HTTP_<status>` when the body has none).
fn error_body(raw: &RawResponse) -> ErrorBody {
    serde_json::from_slice(&raw.body)
        .unwrap_or_else(|_| ErrorBody::new(format!("HTTP_{}", raw.status), ""))
}

/// An error answer as the caller sees it: [`UpstreamError::Business`] once its signature
/// verified, [`UpstreamError::UnsignedError`] when it carries none.
fn error_answer(raw: &RawResponse, verified: bool) -> UpstreamError {
    let ErrorBody { code, message, .. } = error_body(raw);
    if verified {
        UpstreamError::Business {
            status: raw.status,
            code,
            message,
        }
    } else {
        UpstreamError::UnsignedError {
            status: raw.status,
            code,
            message,
        }
    }
}

fn header_lookup(headers: &reqwest::header::HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl V3Client {
    /// A client; in public-key / both modes `public_key` must be given.
    pub fn new(
        transport: Transport,
        merchant: MerchantIdentity,
        mode: VerifyMode,
        public_key: Option<(SerialNo, PublicKey)>,
        clock: Clock,
    ) -> Self {
        let mut verifier = Verifier::new();
        if mode != VerifyMode::Certificate {
            if let Some((id, key)) = public_key {
                verifier.add_public_key(id, key);
            }
        }
        Self {
            transport,
            merchant,
            mode,
            clock,
            verifier: RwLock::new(verifier),
            last_response_refresh: tokio::sync::Mutex::new(i64::MIN / 2),
            last_notification_refresh: tokio::sync::Mutex::new(i64::MIN / 2),
        }
    }

    /// The merchant id.
    pub fn mchid(&self) -> &MchId {
        &self.merchant.mchid
    }

    /// The merchant key, for signing client invocation parameters.
    pub fn signer(&self) -> &PrivateKey {
        &self.merchant.key
    }

    /// The APIv3 key, for decrypting notification resources.
    pub fn apiv3_key(&self) -> &ApiV3Key {
        &self.merchant.apiv3_key
    }

    /// The verification mode.
    pub fn mode(&self) -> VerifyMode {
        self.mode
    }

    /// Adds or replaces the WeChat Pay public key (switching to public-key mode at run time).
    pub fn add_public_key(&self, id: SerialNo, key: PublicKey) {
        if let Ok(mut verifier) = self.verifier.write() {
            verifier.add_public_key(id, key);
        }
    }

    fn verify_now(
        &self,
        headers: &SignedHeaders,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        match self.verifier.read() {
            Ok(verifier) => verifier.verify(headers, body, now),
            Err(_) => Err(VerifyError::UnknownSerial(
                headers.serial.as_str().to_owned(),
            )),
        }
    }

    /// Verifies a notification signature. An unknown certificate serial (not a
    /// `PUB_KEY_ID_…`) in certificate/both mode refreshes the certificates at most once per
    /// [`MIN_REFRESH_INTERVAL_SECS`] and retries; within the window it stays unknown and the
    /// caller answers "retry later" (WeChat retries failed notifications).
    pub async fn verify(
        &self,
        headers: &SignedHeaders,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        self.verify_from(SerialSource::Notification, headers, body, now)
            .await
    }

    async fn verify_from(
        &self,
        source: SerialSource,
        headers: &SignedHeaders,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        match self.verify_now(headers, body, now) {
            Err(VerifyError::UnknownSerial(serial))
                if self.mode != VerifyMode::PublicKey && !headers.serial.is_public_key_id() =>
            {
                if let Err(err) = self.refresh_certificates_throttled(source, now).await {
                    tracing::warn!(error = %err, "certificate refresh after unknown serial failed");
                    return Err(VerifyError::UnknownSerial(serial));
                }
                self.verify_now(headers, body, now)
            }
            other => other,
        }
    }

    async fn refresh_certificates_throttled(
        &self,
        source: SerialSource,
        now: i64,
    ) -> Result<usize, UpstreamError> {
        let budget = match source {
            SerialSource::Response => &self.last_response_refresh,
            SerialSource::Notification => &self.last_notification_refresh,
        };
        let mut last = budget.lock().await;
        if now - *last < MIN_REFRESH_INTERVAL_SECS {
            return Ok(0);
        }
        *last = now;
        drop(last);
        self.refresh_certificates().await
    }

    /// Downloads `/v3/certificates`, decrypts every certificate with the APIv3 key, checks
    /// the response signature with one of them (the bootstrap rule of A.4) and installs them.
    pub async fn refresh_certificates(&self) -> Result<usize, UpstreamError> {
        let raw = self
            .send_signed(
                Method::GET,
                paths::CERTIFICATES,
                Vec::new(),
                Idempotency::Idempotent,
            )
            .await?;
        if raw.status != 200 {
            // Nothing here is used as a certificate; the code tells the operator why (a wrong
            // merchant serial or key is an unsigned 401 SIGN_ERROR).
            return Err(UpstreamError::CertificatesRefused {
                status: raw.status,
                code: error_body(&raw).code,
            });
        }
        let headers = SignedHeaders::from_lookup(header_lookup(&raw.headers)).map_err(|err| {
            let reason = err.reason_code();
            UpstreamError::rejected(err, reason)
        })?;
        let now = self.clock.now();
        // Checked against the downloaded set plus the keys already trusted.
        let trusted = self.verifier.read().ok().map(|v| v.clone());
        let certificates = certificates::verify_and_decrypt(
            &raw.body,
            &headers,
            now,
            &self.merchant.apiv3_key,
            trusted.as_ref(),
        )
        .map_err(|err| match err {
            CertificatesError::Verify(err) => {
                let reason = err.reason_code();
                UpstreamError::rejected(err, reason)
            }
            other => UpstreamError::Certificates(other),
        })?;
        let count = certificates.len();
        if let Ok(mut verifier) = self.verifier.write() {
            for certificate in certificates {
                verifier.add_certificate(certificate);
            }
            verifier.prune_expired(now);
        }
        self.transport.metrics().certificate_refresh();
        tracing::info!(count, "platform certificates installed");
        Ok(count)
    }

    /// Signs and sends one request; returns the raw answer (any status below 500).
    async fn send_signed(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        idempotency: Idempotency,
    ) -> Result<RawResponse, UpstreamError> {
        let build = |base: &str| {
            let timestamp = self.clock.now();
            let nonce = crate::ids::nonce().map_err(|e| UpstreamError::build("nonce", e))?;
            let parts = RequestParts {
                method: method.as_str(),
                canonical_url: path,
                timestamp,
                nonce: &nonce,
                body: &body,
            };
            let auth = Authorization::sign(
                &*self.merchant.key,
                &self.merchant.mchid,
                &self.merchant.serial,
                &parts,
            )
            .map_err(|e| UpstreamError::build("Authorization header", e))?;
            let mut request = self
                .transport
                .http()
                .request(method.clone(), format!("{base}{path}"))
                .header("Authorization", auth.to_header_value())
                .header("Accept", "application/json")
                .header(
                    "User-Agent",
                    concat!("wxpay-server/", env!("CARGO_PKG_VERSION")),
                );
            if !body.is_empty() {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            Ok(request)
        };
        self.transport.send(idempotency, build).await
    }

    /// Sends a signed request and verifies the answer's signature. A verified 2xx is
    /// returned; a verified 4xx becomes [`UpstreamError::Business`]; a 4xx without any
    /// signature header becomes [`UpstreamError::UnsignedError`] (A.3); anything else that
    /// does not verify is [`UpstreamError::Unverified`]. Every v3 call the server makes is
    /// keyed by the merchant's own number, so all of them may be repeated.
    pub async fn send<B: Serialize>(
        &self,
        endpoint: &Endpoint,
        body: Option<&B>,
    ) -> Result<RawResponse, UpstreamError> {
        let bytes = match body {
            Some(value) => serde_json::to_vec(value).map_err(UpstreamError::Decode)?,
            None => Vec::new(),
        };
        let method = match endpoint.method() {
            paths::Method::Get => Method::GET,
            paths::Method::Post => Method::POST,
        };
        let path = endpoint.canonical_url();
        let raw = self
            .send_signed(method, &path, bytes, Idempotency::Idempotent)
            .await?;
        let success = (200..300).contains(&raw.status);
        if !success && !carries_signature(&raw.headers) {
            return Err(error_answer(&raw, false));
        }
        let headers = SignedHeaders::from_lookup(header_lookup(&raw.headers)).map_err(|err| {
            let reason = err.reason_code();
            UpstreamError::rejected(err, reason)
        })?;
        self.verify_from(
            SerialSource::Response,
            &headers,
            &raw.body,
            self.clock.now(),
        )
        .await
        .map_err(|err| {
            let reason = err.reason_code();
            UpstreamError::rejected(err, reason)
        })?;
        if success {
            return Ok(raw);
        }
        Err(error_answer(&raw, true))
    }

    /// `GET` of `endpoint`, its verified answer decoded into the core's model.
    pub async fn get<T: DeserializeOwned>(&self, endpoint: &Endpoint) -> Result<T, UpstreamError> {
        let raw = self.send(endpoint, None::<&()>).await?;
        serde_json::from_slice(&raw.body).map_err(UpstreamError::Decode)
    }

    /// `POST` of `body` to `endpoint`, its verified answer decoded into the core's model.
    pub async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        endpoint: &Endpoint,
        body: &B,
    ) -> Result<T, UpstreamError> {
        let raw = self.send(endpoint, Some(body)).await?;
        serde_json::from_slice(&raw.body).map_err(UpstreamError::Decode)
    }

    /// Downloads a bill file: a signed `GET` of `download_url`'s path and query, sent to
    /// the configured hosts. The file answer carries no signature (WeChat does not sign
    /// files); its integrity is checked by the caller against the signed answer's SHA1.
    /// An error answer is reported by its code, unauthenticated.
    pub async fn download(&self, download_url: &str) -> Result<Vec<u8>, UpstreamError> {
        let url = reqwest::Url::parse(download_url)
            .map_err(|e| UpstreamError::build("download_url", e))?;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let raw = self
            .send_signed(Method::GET, &path, Vec::new(), Idempotency::Idempotent)
            .await?;
        if raw.status != 200 {
            return Err(error_answer(&raw, false));
        }
        Ok(raw.body.to_vec())
    }

    /// How many platform keys (certificates or the public key) answers can be verified with.
    pub fn verification_keys(&self) -> usize {
        self.verifier.read().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether the verifier currently knows `serial`.
    pub fn knows_serial(&self, serial: &SerialNo) -> bool {
        self.verifier
            .read()
            .map(|v| v.contains(serial))
            .unwrap_or(false)
    }

    /// The latest `notAfter` among the platform certificates held.
    pub fn newest_certificate_expiry(&self) -> Option<i64> {
        self.verifier
            .read()
            .ok()?
            .certificates()
            .map(Certificate::not_after)
            .max()
    }

    /// Runs [`Self::refresh_certificates`] until the process ends, whenever
    /// [`certificate_refresh_due`] says so: every `interval`, and more often (every check,
    /// at most 10 min apart) once the newest certificate is within
    /// [`CERTIFICATE_EXPIRY_MARGIN_SECS`] of expiry or a refresh failed, so an expiring
    /// certificate is replaced before responses signed by its successor arrive.
    pub async fn refresh_loop(self: Arc<Self>, interval: Duration) {
        if self.mode == VerifyMode::PublicKey {
            return;
        }
        let check = interval.min(Duration::from_secs(REFRESH_CHECK_SECS));
        let interval_secs = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
        // Start-up has just downloaded them.
        let mut last_refresh = self.clock.now();
        loop {
            tokio::time::sleep(check).await;
            let now = self.clock.now();
            if !certificate_refresh_due(
                self.newest_certificate_expiry(),
                last_refresh,
                now,
                interval_secs,
                CERTIFICATE_EXPIRY_MARGIN_SECS,
            ) {
                continue;
            }
            match self.refresh_certificates().await {
                Ok(_) => last_refresh = now,
                Err(err) => {
                    tracing::warn!(error = %crate::error::error_chain(&err), "scheduled certificate refresh failed")
                }
            }
        }
    }
}

impl std::fmt::Debug for V3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V3Client")
            .field("mchid", &self.merchant.mchid)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn the_scheduled_refresh_follows_the_interval_while_certificates_are_far_from_expiry() {
        let now = 1_700_000_000;
        let far = Some(now + 300 * DAY);
        assert!(!certificate_refresh_due(
            far,
            now - HOUR,
            now,
            12 * HOUR,
            DAY
        ));
        assert!(certificate_refresh_due(
            far,
            now - 12 * HOUR,
            now,
            12 * HOUR,
            DAY
        ));
    }

    #[test]
    fn an_expiring_or_missing_certificate_is_refreshed_at_once() {
        let now = 1_700_000_000;
        // Refreshed a minute ago, but the newest certificate expires within the margin.
        assert!(certificate_refresh_due(
            Some(now + 23 * HOUR),
            now - 60,
            now,
            12 * HOUR,
            DAY
        ));
        assert!(certificate_refresh_due(
            Some(now - 1),
            now - 60,
            now,
            12 * HOUR,
            DAY
        ));
        assert!(!certificate_refresh_due(
            Some(now + 25 * HOUR),
            now - 60,
            now,
            12 * HOUR,
            DAY
        ));
        // None held (or all pruned): download.
        assert!(certificate_refresh_due(None, now - 60, now, 12 * HOUR, DAY));
        // Extreme inputs do not overflow.
        assert!(certificate_refresh_due(
            Some(i64::MIN),
            i64::MAX,
            i64::MAX,
            i64::MAX,
            DAY
        ));
        assert!(!certificate_refresh_due(
            Some(i64::MAX),
            i64::MAX,
            i64::MIN,
            i64::MAX,
            DAY
        ));
    }
}
