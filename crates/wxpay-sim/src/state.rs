//! The simulator's world: orders, refunds, login codes, tokens and notification deliveries.
//!
//! Everything lives in one [`World`] behind a mutex; handlers take the lock briefly and
//! never across an `.await`. The world serialises to JSON so a state file can carry it
//! across restarts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use wxpay_core::v3::models::TradeType;
use wxpay_core::{RefundStatus, TradeState};

use crate::config::SigningMode;
use crate::error::SimError;

/// Which API created an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiVersion {
    /// JSON API v3.
    V3,
    /// XML API v2.
    V2,
}

/// An order (one `out_trade_no` of one merchant).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// Merchant.
    pub mchid: String,
    /// App id.
    pub appid: String,
    /// Merchant order number.
    pub out_trade_no: String,
    /// WeChat order number, assigned at payment.
    pub transaction_id: Option<String>,
    /// Current prepay id.
    pub prepay_id: String,
    /// Unix seconds the prepay id stops working (2 h).
    pub prepay_expires_at: i64,
    /// `JSAPI`, `APP`, `MWEB`, `NATIVE` (the core's type; stored as its wire spelling).
    pub trade_type: TradeType,
    /// Trade state.
    pub trade_state: TradeState,
    /// Human description of the state.
    pub trade_state_desc: String,
    /// Goods description.
    pub description: String,
    /// Total in fen.
    pub total: u64,
    /// Currency.
    pub currency: String,
    /// Where notifications go.
    pub notify_url: String,
    /// Merchant data echoed back once paid.
    pub attach: Option<String>,
    /// Unix seconds after which it can no longer be paid.
    pub time_expire: i64,
    /// Payer openid (given for JSAPI; assigned at payment otherwise).
    pub payer_openid: Option<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Payment time, unix seconds.
    pub success_time: Option<i64>,
    /// Canonical request used to detect a reused `out_trade_no` with different parameters.
    pub fingerprint: serde_json::Value,
    /// Sum of refunds not failed, in fen.
    pub refunded: u64,
    /// v2 or v3.
    pub api: ApiVersion,
    /// v2 sign type used at creation (`MD5` / `HMAC-SHA256`).
    #[serde(default)]
    pub v2_sign_type: Option<String>,
    /// H5: the `h5_url` issue time (for the 5-minute validity).
    #[serde(default)]
    pub h5_issued_at: Option<i64>,
    /// Payer client IP (H5).
    #[serde(default)]
    pub payer_client_ip: Option<String>,
    /// Native: the `code_url`.
    #[serde(default)]
    pub code_url: Option<String>,
}

/// A refund.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    /// Merchant.
    pub mchid: String,
    /// WeChat refund id.
    pub refund_id: String,
    /// Merchant refund number.
    pub out_refund_no: String,
    /// Order's merchant number.
    pub out_trade_no: String,
    /// Order's WeChat number.
    pub transaction_id: String,
    /// Refund amount in fen.
    pub refund: u64,
    /// Order total in fen.
    pub total: u64,
    /// Currency.
    pub currency: String,
    /// Status.
    pub status: RefundStatus,
    /// Reason.
    pub reason: Option<String>,
    /// Notification URL (refund notifications are sent only when set).
    pub notify_url: Option<String>,
    /// Funds account.
    pub funds_account: Option<String>,
    /// Created, unix seconds.
    pub created_at: i64,
    /// Succeeded, unix seconds.
    pub success_time: Option<i64>,
    /// Canonical request for idempotency.
    pub fingerprint: serde_json::Value,
    /// v2 or v3.
    pub api: ApiVersion,
}

/// A single-use login / OAuth code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginCode {
    /// App the code belongs to.
    pub appid: String,
    /// The user it identifies.
    pub openid: String,
    /// Unionid, when the app is bound to an Open Platform account.
    pub unionid: Option<String>,
    /// Minted at, unix seconds.
    pub created_at: i64,
    /// Already exchanged.
    pub used: bool,
    /// OAuth scope (`snsapi_base` / `snsapi_userinfo`) for web codes.
    pub scope: Option<String>,
    /// The user is one WeChat rates high-risk: code2Session intercepts the login (40226).
    #[serde(default)]
    pub blocked: bool,
}

/// An `access_token` of an app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    /// The app.
    pub appid: String,
    /// Issued at, unix seconds (scaled clock not applied).
    pub issued_at: i64,
    /// Works until (unix milliseconds); shortened to the grace period when replaced.
    pub valid_until_ms: i64,
}

/// One HTTP attempt of a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// Attempt number, from 1.
    pub number: u32,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// HTTP status of the merchant's reply (absent on a connection error or timeout).
    pub status: Option<u16>,
    /// Reply body (first 2 KiB).
    pub reply: String,
    /// Transport error.
    pub error: Option<String>,
    /// The attempt carried a `WECHATPAY/SIGNTEST/` probe signature.
    pub probe: bool,
    /// The merchant acknowledged it correctly.
    pub acknowledged: bool,
}

/// A notification and every attempt to deliver it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// Sequence number in this simulator.
    pub seq: u64,
    /// Notification id (`id` field for v3).
    pub id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, … or `V2.PAY` / `V2.REFUND`.
    pub event_type: String,
    /// Merchant.
    pub mchid: String,
    /// Merchant order number it concerns.
    pub out_trade_no: String,
    /// Refund number, for refund events.
    pub out_refund_no: Option<String>,
    /// Target URL.
    pub url: String,
    /// Exact body sent.
    pub body: String,
    /// Plaintext of the encrypted resource (for debugging; never sent).
    pub plaintext: String,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// `pending`, `acknowledged`, `gave_up`, `dropped`.
    pub status: String,
    /// This delivery is a duplicate sent on purpose.
    pub duplicate: bool,
}

impl Delivery {
    /// Whether this is an API v2 (XML) notification (`V2.PAY` / `V2.REFUND`).
    pub fn is_v2(&self) -> bool {
        self.event_type.starts_with("V2.")
    }
}

/// One scan of a v2 mode-one (static product) QR and the callback exchange it caused.
///
/// Kept so a test or a developer can see exactly what the merchant was sent and what it
/// answered, including scans refused before any callback was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeOneExchange {
    /// Sequence number among mode-one scans, from 1.
    pub seq: u64,
    /// Unix milliseconds of the scan.
    pub at_ms: i64,
    /// The scanned `code_url`.
    pub code_url: String,
    /// Merchant named by the URL (empty when the URL did not parse).
    pub mchid: String,
    /// `product_id` from the URL.
    pub product_id: String,
    /// The payer's openid sent in the callback.
    pub openid: String,
    /// Where the callback was posted (absent when refused before calling).
    pub callback_url: Option<String>,
    /// The signed XML posted to the merchant.
    pub request: Option<String>,
    /// HTTP status of the merchant's reply.
    pub reply_status: Option<u16>,
    /// The merchant's reply body (first 2 KiB).
    pub reply: Option<String>,
    /// `ok`, or the refusal's reason code.
    pub outcome: String,
    /// Human-readable refusal.
    pub error: Option<String>,
    /// The prepay id the merchant returned, once accepted.
    pub prepay_id: Option<String>,
    /// The order behind that prepay id, once accepted.
    pub out_trade_no: Option<String>,
}

/// Everything the simulator remembers.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct World {
    /// Orders keyed by `mchid/out_trade_no`.
    pub orders: BTreeMap<String, Order>,
    /// Refunds keyed by `mchid/out_refund_no`.
    pub refunds: BTreeMap<String, Refund>,
    /// Login and OAuth codes.
    pub codes: BTreeMap<String, LoginCode>,
    /// Access tokens by token value.
    pub tokens: BTreeMap<String, AccessToken>,
    /// JS-SDK tickets by app id (current ticket and its issue time).
    pub tickets: BTreeMap<String, (String, i64)>,
    /// Notification deliveries in creation order.
    pub deliveries: Vec<Delivery>,
    /// Next delivery sequence number.
    pub next_seq: u64,
    /// Refund balance per merchant, fen (initialised from config).
    pub balances: BTreeMap<String, u64>,
    /// Login calls per (appid, minute) for the `45011` rate limit.
    #[serde(skip)]
    pub login_calls: BTreeMap<(String, i64), u32>,
    /// v2 mode-one scans and their callback exchanges, oldest first.
    #[serde(default)]
    pub mode_one: Vec<ModeOneExchange>,
    /// Extra platform identities created by rotation (key PEM, cert PEM), newest last.
    #[serde(default)]
    pub rotated_platforms: Vec<(String, String)>,
    /// Serial of the platform certificate that signs, once chosen through the control API
    /// (rotation with `activate`, or `activate`); the configured certificate when absent.
    #[serde(default)]
    pub active_platform: Option<String>,
    /// The signing mode chosen through the control API.
    #[serde(default)]
    pub signing_mode: Option<SavedSigningMode>,
    /// The app each openid the simulator issued belongs to (openid → appid): an openid is
    /// per app, and a JSAPI prepay with another app's (or a never-issued) openid is refused.
    #[serde(default)]
    pub openids: BTreeMap<String, String>,
}

/// A signing mode set through the control API, with the configured mode it replaced.
///
/// On restart the saved mode wins only while the configuration still names the mode it
/// replaced: editing `signing_mode` in the file afterwards takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSigningMode {
    /// The mode set.
    pub mode: SigningMode,
    /// `signing_mode` of the configuration at the time.
    pub configured: SigningMode,
}

impl SavedSigningMode {
    /// The mode to sign in under a configuration naming `configured`.
    pub fn effective(saved: Option<Self>, configured: SigningMode) -> SigningMode {
        match saved {
            Some(s) if s.configured == configured => s.mode,
            _ => configured,
        }
    }
}

/// Key of an order in [`World::orders`].
pub fn order_key(mchid: &str, out_trade_no: &str) -> String {
    format!("{mchid}/{out_trade_no}")
}

impl World {
    /// Finds an order by its WeChat transaction id.
    pub fn order_by_transaction(&self, mchid: &str, transaction_id: &str) -> Option<&Order> {
        self.orders
            .values()
            .find(|o| o.mchid == mchid && o.transaction_id.as_deref() == Some(transaction_id))
    }

    /// Finds an order by prepay id (cashier pages).
    pub fn order_by_prepay(&self, prepay_id: &str) -> Option<&Order> {
        self.orders.values().find(|o| o.prepay_id == prepay_id)
    }

    /// Loads a state file, or an empty world when the file does not exist yet.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SimError::State {
                path: path.to_owned(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(SimError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the state file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), SimError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| SimError::State {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).map_err(|source| SimError::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, path).map_err(|source| SimError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_signing_mode_yields_to_an_edited_configuration() {
        let saved = Some(SavedSigningMode {
            mode: SigningMode::PublicKey,
            configured: SigningMode::Certificate,
        });
        assert_eq!(
            SavedSigningMode::effective(saved, SigningMode::Certificate),
            SigningMode::PublicKey
        );
        assert_eq!(
            SavedSigningMode::effective(saved, SigningMode::Both),
            SigningMode::Both
        );
        assert_eq!(
            SavedSigningMode::effective(None, SigningMode::Both),
            SigningMode::Both
        );
    }

    #[test]
    fn world_round_trips_through_a_state_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        assert!(World::load(&path)
            .expect("missing file is empty")
            .orders
            .is_empty());
        let mut world = World::default();
        world.tickets.insert("wx1".into(), ("t".into(), 5));
        world.save(&path).expect("save");
        let back = World::load(&path).expect("load");
        assert_eq!(back.tickets.get("wx1"), Some(&("t".to_string(), 5)));
        std::fs::write(&path, b"{not json").expect("write");
        assert!(World::load(&path).is_err());
        // A state file written before signing choices were saved still loads.
        std::fs::write(&path, br#"{"orders":{},"refunds":{},"codes":{},"tokens":{},"tickets":{},"deliveries":[],"next_seq":0,"balances":{}}"#)
            .expect("write");
        let old = World::load(&path).expect("old state file");
        assert_eq!(old.active_platform, None);
        assert_eq!(old.signing_mode, None);
        std::fs::write(&path, b"{not json").expect("write");
        assert!(World::load(&path).is_err());
    }
}
