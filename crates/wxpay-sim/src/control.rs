//! The control API under `/__sim/…` (JSON): what a payer, WeChat's back office or a test
//! does to the simulated world. [`SimControl`] offers the same operations in-process.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use wxpay_core::{RefundStatus, TradeState};

use crate::client::{ConfigCall, PayCall, PayReply};
use crate::config::SigningMode;
use crate::error::SimError;
use crate::faults::{FaultSpec, Faults, NotifyFaults, ENDPOINTS};
use crate::lifecycle::{self, find_order, LifecycleError};
use crate::mode_one::{ModeOneError, ScanOutcome, ScanRequest};
use crate::sim::{lock, platform_identity, Sim};
use crate::state::{order_key, Delivery, ModeOneExchange, Order, Refund, SavedSigningMode};

/// Why a control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Lifecycle refusal (not found, wrong state, ambiguous).
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// Bad input to the control API.
    #[error("{0}")]
    BadRequest(String),
    /// The code, token or ticket named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A new platform identity could not be generated or read back.
    #[error("{0}")]
    Keys(#[source] SimError),
    /// The key-generation task did not finish (it panicked or was cancelled).
    #[error("{0}")]
    KeyTask(#[source] tokio::task::JoinError),
    /// An answer did not serialise.
    #[error("{0}")]
    Encode(#[source] serde_json::Error),
    /// A v2 mode-one scan was refused (the URL) or failed (the merchant's callback reply).
    #[error(transparent)]
    ModeOne(#[from] ModeOneError),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::Lifecycle(
                LifecycleError::OrderNotFound | LifecycleError::RefundNotFound,
            ) => StatusCode::NOT_FOUND,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Lifecycle(_) => StatusCode::CONFLICT,
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::Keys(_) | ControlError::KeyTask(_) | ControlError::Encode(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ControlError::ModeOne(e) => {
                let status = StatusCode::from_u16(e.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = json!({ "error": e.to_string(), "reason": e.reason_code() });
                return (status, Json(body)).into_response();
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// In-process control handle.
#[derive(Clone)]
pub struct SimControl {
    sim: Sim,
}

impl SimControl {
    /// Wraps the shared state.
    pub fn new(sim: Sim) -> Self {
        Self { sim }
    }

    fn key(&self, mchid: Option<&str>, out_trade_no: &str) -> Result<String, ControlError> {
        Ok(find_order(&lock(&self.sim.world), mchid, out_trade_no)?)
    }

    /// One order.
    pub fn order(&self, mchid: Option<&str>, out_trade_no: &str) -> Result<Order, ControlError> {
        let key = self.key(mchid, out_trade_no)?;
        lock(&self.sim.world)
            .orders
            .get(&key)
            .cloned()
            .ok_or(ControlError::Lifecycle(LifecycleError::OrderNotFound))
    }

    /// The payer pays (queues TRANSACTION.SUCCESS / the v2 pay notification).
    pub fn pay(
        &self,
        mchid: Option<&str>,
        out_trade_no: &str,
        openid: Option<&str>,
    ) -> Result<Order, ControlError> {
        let key = self.key(mchid, out_trade_no)?;
        Ok(lifecycle::pay(&self.sim, &key, openid)?)
    }

    /// Applies `pay | cancel | fail | hold | expire | expire-link` to an order (`expire`
    /// closes it at its `time_expire`; `expire-link` only ages an H5 order's `h5_url`).
    pub fn order_action(
        &self,
        mchid: Option<&str>,
        out_trade_no: &str,
        action: &str,
        openid: Option<&str>,
    ) -> Result<Order, ControlError> {
        let key = self.key(mchid, out_trade_no)?;
        let sim = &self.sim;
        Ok(match action {
            "pay" => lifecycle::pay(sim, &key, openid)?,
            "cancel" => lifecycle::payer_cancels(sim, &key)?,
            "fail" => lifecycle::set_unpaid_state(sim, &key, TradeState::PayError)?,
            "hold" => lifecycle::set_unpaid_state(sim, &key, TradeState::UserPaying)?,
            "expire" => lifecycle::expire(sim, &key)?,
            "expire-link" => lifecycle::expire_h5_link(sim, &key)?,
            other => {
                return Err(ControlError::BadRequest(format!(
                    "unknown order action {other:?}"
                )))
            }
        })
    }

    /// Applies `succeed | fail | abnormal` to a refund.
    pub fn refund_action(
        &self,
        mchid: Option<&str>,
        out_refund_no: &str,
        action: &str,
    ) -> Result<Refund, ControlError> {
        let outcome = match action {
            "succeed" => RefundStatus::Success,
            "fail" | "close" => RefundStatus::Closed,
            "abnormal" => RefundStatus::Abnormal,
            other => {
                return Err(ControlError::BadRequest(format!(
                    "unknown refund action {other:?}"
                )))
            }
        };
        let key = {
            let world = lock(&self.sim.world);
            match mchid {
                Some(m) => order_key(m, out_refund_no),
                None => world
                    .refunds
                    .iter()
                    .find(|(_, r)| r.out_refund_no == out_refund_no)
                    .map(|(k, _)| k.clone())
                    .ok_or(LifecycleError::RefundNotFound)?,
            }
        };
        Ok(lifecycle::finish_refund(&self.sim, &key, outcome)?)
    }

    /// Mints a mini-program login code (what `wx.login()` would return).
    pub fn mint_login_code(
        &self,
        appid: &str,
        openid: Option<String>,
    ) -> Result<(String, String), ControlError> {
        crate::login::mint_code(&self.sim, appid, openid, None, None)
            .map_err(ControlError::BadRequest)
    }

    /// Mints a mini-program login code of a user WeChat rates high-risk: code2Session
    /// answers 40226 (login intercepted) for it.
    pub fn mint_blocked_login_code(
        &self,
        appid: &str,
        openid: Option<String>,
    ) -> Result<(String, String), ControlError> {
        crate::login::mint_code_for(&self.sim, appid, openid, None, None, true)
            .map_err(ControlError::BadRequest)
    }

    /// Mints an OAuth web-authorisation code.
    pub fn mint_oauth_code(
        &self,
        appid: &str,
        openid: Option<String>,
        scope: Option<String>,
    ) -> Result<(String, String), ControlError> {
        let scope = Some(scope.unwrap_or_else(|| "snsapi_base".into()));
        crate::login::mint_code(&self.sim, appid, openid, None, scope)
            .map_err(ControlError::BadRequest)
    }

    /// Ages a login or OAuth code past its five-minute life.
    pub fn expire_login_code(&self, code: &str) -> Result<(), ControlError> {
        crate::login::expire_code(&self.sim, code).map_err(ControlError::NotFound)
    }

    /// Ages an access token to the end of its two-hour life (42001 from then on).
    pub fn expire_access_token(&self, access_token: &str) -> Result<(), ControlError> {
        crate::login::expire_token(&self.sim, access_token).map_err(ControlError::NotFound)
    }

    /// Another service fetches a new access token for `appid`, long enough ago that the
    /// grace period of the earlier tokens is over: they answer 40001 from now on. Returns
    /// the new token.
    pub fn refresh_token_elsewhere(&self, appid: &str) -> Result<String, ControlError> {
        crate::login::refresh_token_elsewhere(&self.sim, appid).map_err(ControlError::NotFound)
    }

    /// Ages an app's `jsapi_ticket` past its two-hour life.
    pub fn expire_ticket(&self, appid: &str) -> Result<(), ControlError> {
        crate::login::expire_ticket(&self.sim, appid).map_err(ControlError::NotFound)
    }

    /// Every notification delivery with the merchant's replies.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.sim.world).deliveries.clone()
    }

    /// A payer scans a v2 mode-one (static product) QR: the URL's sign is checked, the
    /// merchant's callback is called and its signed `prepay_id` accepted (and paid with
    /// `pay`). The exchange is recorded whatever the outcome.
    pub async fn mode_one_scan(&self, request: ScanRequest) -> Result<ScanOutcome, ControlError> {
        Ok(crate::mode_one::scan(&self.sim, request).await?)
    }

    /// Every mode-one scan with the callback sent and the merchant's reply.
    pub fn mode_one_exchanges(&self) -> Vec<ModeOneExchange> {
        lock(&self.sim.world).mode_one.clone()
    }

    /// Plays WeChat's client for a page's pay call: checks the bundle and its `paySign`,
    /// then applies the payer's choice (see [`crate::client`]).
    pub fn client_pay(&self, call: &PayCall) -> Result<PayReply, ControlError> {
        crate::client::pay(&self.sim, call).map_err(ControlError::BadRequest)
    }

    /// Checks a page's `wx.config` against the app's current `jsapi_ticket`.
    pub fn client_config(&self, call: &ConfigCall) -> Value {
        crate::client::config(&self.sim, call)
    }

    /// Arms a counted API fault.
    pub fn arm_fault(&self, spec: FaultSpec) -> Result<(), ControlError> {
        if spec.endpoint != "*" && !ENDPOINTS.contains(&spec.endpoint.as_str()) {
            return Err(ControlError::BadRequest(format!(
                "unknown endpoint {:?}",
                spec.endpoint
            )));
        }
        if spec.kind.is_v3_only() && !spec.endpoint.starts_with("v3.") {
            return Err(ControlError::BadRequest(format!(
                "{:?} applies to v3 endpoints only, not {:?}",
                spec.kind, spec.endpoint
            )));
        }
        if spec.kind.damages_file() && spec.endpoint != "v3.billdownload" {
            return Err(ControlError::BadRequest(format!(
                "{:?} applies to v3.billdownload only",
                spec.kind
            )));
        }
        lock(&self.sim.faults).arm(spec);
        Ok(())
    }

    /// Sets constant latency for an endpoint (0 removes it).
    pub fn set_latency(&self, endpoint: &str, ms: u64) {
        let mut f = lock(&self.sim.faults);
        if ms == 0 {
            f.latency_ms.remove(endpoint);
        } else {
            f.latency_ms.insert(endpoint.to_owned(), ms);
        }
    }

    /// Arms notification faults (adds to what is armed).
    pub fn notify_faults(&self, n: NotifyFaults) {
        let mut f = lock(&self.sim.faults);
        f.notify.duplicate += n.duplicate;
        f.notify.drop += n.drop;
        f.notify.reorder += n.reorder;
        f.notify.probe += n.probe;
        if n.delay_ms.is_some() {
            f.notify.delay_ms = n.delay_ms;
        }
        if let Some(origin) = n.mirror_to {
            f.notify.mirror_to = Some(origin).filter(|o| !o.is_empty());
        }
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        *lock(&self.sim.faults) = Faults::default();
    }

    /// Switches the signing mode (kept in the state file).
    pub fn set_signing_mode(&self, mode: SigningMode) {
        lock(&self.sim.signing).mode = mode;
        lock(&self.sim.world).signing_mode = Some(SavedSigningMode {
            mode,
            configured: self.sim.config.signing_mode,
        });
        self.sim.persist();
    }

    /// Issues a new platform certificate; with `activate` it signs from now on (the old one
    /// stays listed in `/v3/certificates`). Returns the new serial.
    pub async fn rotate_platform(&self, activate: bool) -> Result<String, ControlError> {
        let identity = tokio::task::spawn_blocking(|| {
            crate::universe::CertAuthority::generate().and_then(|ca| ca.issue_platform())
        })
        .await
        .map_err(ControlError::KeyTask)?
        .map_err(ControlError::Keys)?;
        let platform =
            platform_identity(&identity.key_pem, &identity.cert_pem).map_err(ControlError::Keys)?;
        let serial = platform.signer.serial().to_owned();
        {
            let mut signing = lock(&self.sim.signing);
            signing.platforms.push(platform);
            if activate {
                signing.active = signing.platforms.len() - 1;
            }
        }
        {
            let mut world = lock(&self.sim.world);
            world
                .rotated_platforms
                .push((identity.key_pem, identity.cert_pem));
            if activate {
                world.active_platform = Some(serial.clone());
            }
        }
        self.sim.persist();
        Ok(serial)
    }

    /// Makes the platform certificate with `serial` the signing one.
    pub fn activate_platform(&self, serial: &str) -> Result<(), ControlError> {
        let mut signing = lock(&self.sim.signing);
        let idx = signing
            .platforms
            .iter()
            .position(|p| p.signer.serial().eq_ignore_ascii_case(serial))
            .ok_or_else(|| ControlError::BadRequest(format!("no platform certificate {serial}")))?;
        signing.active = idx;
        let chosen = signing.platforms[idx].signer.serial().to_owned();
        drop(signing);
        lock(&self.sim.world).active_platform = Some(chosen);
        self.sim.persist();
        Ok(())
    }

    /// A refund made by hand in the merchant platform (商户平台), not through the API: it
    /// succeeds at once and no notification is sent (none was asked for), so only the bill
    /// tells the merchant's server about it.
    pub fn portal_refund(&self, body: &PortalRefund) -> Result<Refund, ControlError> {
        let order = self.order(body.mchid.as_deref(), &body.out_trade_no)?;
        let new = lifecycle::NewRefund {
            mchid: order.mchid.clone(),
            out_trade_no: Some(order.out_trade_no.clone()),
            transaction_id: None,
            out_refund_no: body.out_refund_no.clone(),
            refund: body.refund,
            total: order.total,
            reason: Some("商户平台退款".into()),
            notify_url: None,
            funds_account: None,
            api: crate::state::ApiVersion::V3,
        };
        let (refund, _) = lifecycle::create_refund(&self.sim, new)
            .map_err(|r| ControlError::BadRequest(format!("refund refused: {r:?}")))?;
        let key = order_key(&refund.mchid, &refund.out_refund_no);
        Ok(lifecycle::finish_refund(
            &self.sim,
            &key,
            RefundStatus::Success,
        )?)
    }

    /// Moves the clock the bill endpoints judge readiness by `offset_secs` from real time.
    pub fn set_bill_clock_offset(&self, offset_secs: i64) {
        self.sim
            .bill_clock_offset
            .store(offset_secs, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets a merchant's refundable balance (fen).
    pub fn set_balance(&self, mchid: &str, fen: u64) {
        lock(&self.sim.world).balances.insert(mchid.to_owned(), fen);
        self.sim.persist();
    }
}

/// A refund made in the merchant platform (`POST /__sim/portal-refunds`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct PortalRefund {
    /// Merchant (optional when the order number is unique).
    #[serde(default)]
    pub mchid: Option<String>,
    /// The order.
    pub out_trade_no: String,
    /// The refund's number.
    pub out_refund_no: String,
    /// Amount in fen.
    pub refund: u64,
}

#[derive(Debug, Deserialize)]
struct BillClockBody {
    offset_secs: i64,
}

#[derive(Debug, Deserialize)]
struct MchidQuery {
    mchid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PayBody {
    openid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CodeBody {
    appid: String,
    openid: Option<String>,
    scope: Option<String>,
    /// A high-risk user's code (40226 at code2Session); login codes only.
    #[serde(default)]
    blocked: bool,
}

#[derive(Debug, Deserialize)]
struct LatencyBody {
    endpoint: String,
    ms: u64,
}

#[derive(Debug, Default, Deserialize)]
struct RotateBody {
    #[serde(default)]
    activate: bool,
}

#[derive(Debug, Deserialize)]
struct ModeBody {
    mode: SigningMode,
}

#[derive(Debug, Deserialize)]
struct BalanceBody {
    mchid: String,
    fen: u64,
}

type Reply = Result<Json<Value>, ControlError>;

/// An optional JSON body: empty (whatever the content type says) means the defaults.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ControlError::BadRequest(format!("body: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Reply {
    serde_json::to_value(v)
        .map(Json)
        .map_err(ControlError::Encode)
}

/// Routes, nested under `/__sim`.
pub fn router() -> Router<Sim> {
    Router::new()
        .route("/health", get(|| async { Json(json!({ "ok": true })) }))
        .route("/orders", get(list_orders))
        .route("/orders/{out_trade_no}", get(get_order))
        .route("/orders/{out_trade_no}/{action}", post(order_action))
        .route("/refunds", get(list_refunds))
        .route("/refunds/{out_refund_no}/{action}", post(refund_action))
        .route("/login/code", post(login_code))
        .route("/oauth/code", post(oauth_code))
        .route("/login/codes/{code}/expire", post(expire_code))
        .route("/tokens/{access_token}/expire", post(expire_token))
        .route("/tickets/{appid}/expire", post(expire_ticket))
        .route("/apps/{appid}/refresh-token", post(refresh_token))
        .route("/notifications", get(notifications))
        .route("/mode-one", get(mode_one_exchanges))
        .route("/mode-one/scan", post(mode_one_scan))
        .route("/apps", get(list_apps))
        .route("/client/pay", post(client_pay))
        .route("/client/config", post(client_config))
        .route(
            "/faults",
            get(list_faults).post(arm_fault).delete(clear_faults),
        )
        .route("/faults/latency", post(latency))
        .route("/faults/notify", post(notify_faults))
        .route("/platform/rotate", post(rotate))
        .route("/platform/activate/{serial}", post(activate))
        .route("/signing-mode", post(signing_mode))
        .route("/balance", post(balance))
        .route("/portal-refunds", post(portal_refund))
        .route("/bill-clock", post(bill_clock))
}

async fn list_orders(State(sim): State<Sim>) -> Reply {
    let orders: Vec<Order> = lock(&sim.world).orders.values().cloned().collect();
    to_json(&orders)
}

async fn get_order(
    State(sim): State<Sim>,
    Path(otn): Path<String>,
    Query(q): Query<MchidQuery>,
) -> Reply {
    to_json(&SimControl::new(sim).order(q.mchid.as_deref(), &otn)?)
}

async fn order_action(
    State(sim): State<Sim>,
    Path((otn, action)): Path<(String, String)>,
    Query(q): Query<MchidQuery>,
    body: Bytes,
) -> Reply {
    let body: PayBody = optional_json(&body)?;
    to_json(&SimControl::new(sim).order_action(
        q.mchid.as_deref(),
        &otn,
        &action,
        body.openid.as_deref(),
    )?)
}

async fn list_refunds(State(sim): State<Sim>) -> Reply {
    let refunds: Vec<Refund> = lock(&sim.world).refunds.values().cloned().collect();
    to_json(&refunds)
}

async fn refund_action(
    State(sim): State<Sim>,
    Path((orn, action)): Path<(String, String)>,
    Query(q): Query<MchidQuery>,
) -> Reply {
    to_json(&SimControl::new(sim).refund_action(q.mchid.as_deref(), &orn, &action)?)
}

async fn login_code(State(sim): State<Sim>, Json(b): Json<CodeBody>) -> Reply {
    let control = SimControl::new(sim);
    let (code, openid) = if b.blocked {
        control.mint_blocked_login_code(&b.appid, b.openid)?
    } else {
        control.mint_login_code(&b.appid, b.openid)?
    };
    Ok(Json(json!({ "code": code, "openid": openid })))
}

async fn oauth_code(State(sim): State<Sim>, Json(b): Json<CodeBody>) -> Reply {
    let (code, openid) = SimControl::new(sim).mint_oauth_code(&b.appid, b.openid, b.scope)?;
    Ok(Json(json!({ "code": code, "openid": openid })))
}

async fn expire_code(State(sim): State<Sim>, Path(code): Path<String>) -> Reply {
    SimControl::new(sim).expire_login_code(&code)?;
    Ok(Json(json!({ "ok": true })))
}

async fn expire_token(State(sim): State<Sim>, Path(token): Path<String>) -> Reply {
    SimControl::new(sim).expire_access_token(&token)?;
    Ok(Json(json!({ "ok": true })))
}

async fn refresh_token(State(sim): State<Sim>, Path(appid): Path<String>) -> Reply {
    let token = SimControl::new(sim).refresh_token_elsewhere(&appid)?;
    Ok(Json(
        json!({ "access_token": token, "expires_in": crate::login::TOKEN_TTL }),
    ))
}

async fn expire_ticket(State(sim): State<Sim>, Path(appid): Path<String>) -> Reply {
    SimControl::new(sim).expire_ticket(&appid)?;
    Ok(Json(json!({ "ok": true })))
}

async fn notifications(State(sim): State<Sim>) -> Reply {
    to_json(&SimControl::new(sim).deliveries())
}

async fn mode_one_exchanges(State(sim): State<Sim>) -> Reply {
    to_json(&SimControl::new(sim).mode_one_exchanges())
}

async fn mode_one_scan(State(sim): State<Sim>, body: Bytes) -> Reply {
    let request: ScanRequest = serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("body: {e}")))?;
    to_json(&SimControl::new(sim).mode_one_scan(request).await?)
}

/// The configured apps (appid and kind, never the secret): what a stand-in for a
/// mini-program or Official Account page needs to know about itself.
async fn list_apps(State(sim): State<Sim>) -> Reply {
    let apps: Vec<Value> = sim
        .apps
        .values()
        .map(|a| json!({ "appid": a.appid, "kind": a.kind }))
        .collect();
    Ok(Json(Value::Array(apps)))
}

async fn client_pay(State(sim): State<Sim>, body: Bytes) -> Reply {
    let call: PayCall = serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("body: {e}")))?;
    to_json(&SimControl::new(sim).client_pay(&call)?)
}

async fn client_config(State(sim): State<Sim>, body: Bytes) -> Reply {
    let call: ConfigCall = serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("body: {e}")))?;
    Ok(Json(SimControl::new(sim).client_config(&call)))
}

async fn list_faults(State(sim): State<Sim>) -> Reply {
    let faults = lock(&sim.faults).clone();
    to_json(&faults)
}

async fn arm_fault(State(sim): State<Sim>, Json(spec): Json<FaultSpec>) -> Reply {
    SimControl::new(sim).arm_fault(spec)?;
    Ok(Json(json!({ "ok": true })))
}

async fn clear_faults(State(sim): State<Sim>) -> Reply {
    SimControl::new(sim).clear_faults();
    Ok(Json(json!({ "ok": true })))
}

async fn latency(State(sim): State<Sim>, Json(b): Json<LatencyBody>) -> Reply {
    SimControl::new(sim).set_latency(&b.endpoint, b.ms);
    Ok(Json(json!({ "ok": true })))
}

async fn notify_faults(State(sim): State<Sim>, Json(b): Json<NotifyFaults>) -> Reply {
    SimControl::new(sim).notify_faults(b);
    Ok(Json(json!({ "ok": true })))
}

async fn rotate(State(sim): State<Sim>, body: Bytes) -> Reply {
    let activate = optional_json::<RotateBody>(&body)?.activate;
    let serial = SimControl::new(sim).rotate_platform(activate).await?;
    Ok(Json(json!({ "serial": serial, "active": activate })))
}

async fn activate(State(sim): State<Sim>, Path(serial): Path<String>) -> Reply {
    SimControl::new(sim).activate_platform(&serial)?;
    Ok(Json(json!({ "ok": true })))
}

async fn signing_mode(State(sim): State<Sim>, Json(b): Json<ModeBody>) -> Reply {
    SimControl::new(sim).set_signing_mode(b.mode);
    Ok(Json(json!({ "mode": b.mode })))
}

async fn balance(State(sim): State<Sim>, Json(b): Json<BalanceBody>) -> Reply {
    SimControl::new(sim).set_balance(&b.mchid, b.fen);
    Ok(Json(json!({ "ok": true })))
}

async fn portal_refund(State(sim): State<Sim>, Json(b): Json<PortalRefund>) -> Reply {
    to_json(&SimControl::new(sim).portal_refund(&b)?)
}

async fn bill_clock(State(sim): State<Sim>, Json(b): Json<BillClockBody>) -> Reply {
    SimControl::new(sim).set_bill_clock_offset(b.offset_secs);
    Ok(Json(json!({ "ok": true })))
}
