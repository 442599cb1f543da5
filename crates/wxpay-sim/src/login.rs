//! Login and JS-SDK endpoints of `api.weixin.qq.com`: `jscode2session`, OAuth web
//! authorisation, `cgi-bin/token` and the JS-SDK ticket (C, D).
//!
//! WeChat answers these with HTTP 200 and an `errcode`; so does the simulator. Codes are
//! minted through the control API (standing in for `wx.login()` and the OAuth redirect),
//! are single-use and live five minutes.
//!
//! Lifetimes (codes 5 min, tokens and tickets 2 h) are *not* multiplied by `time_scale`:
//! `expires_in` is printed in the responses and merchants cache by it, so a scaled life
//! would contradict what the simulator says. Tests reach the expiry paths by ageing a
//! code, token or ticket through the control API ([`expire_code`], [`expire_token`],
//! [`expire_ticket`]). Only the grace period of a replaced token is scaled.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use wxpay_core::open::{self, CodeSession, JsapiTicket, OAuthAccessToken, OpenError};

use crate::config::AppKind;
use crate::faults::FaultKind;
use crate::ids::random_alnum;
use crate::sim::{lock, now_ms, now_unix, Sim};
use crate::state::{AccessToken, LoginCode};

/// Codes expire five minutes after minting.
pub const CODE_TTL: i64 = 300;
/// Tokens and tickets live two hours.
pub const TOKEN_TTL: i64 = 7200;

/// An answer in the core's open-platform model, as the JSON WeChat sends.
fn answer<T: Serialize>(message: &T) -> Json<Value> {
    // The messages are plain strings and numbers: serialising them cannot fail.
    Json(serde_json::to_value(message).unwrap_or_default())
}

fn err(code: i64, msg: &str) -> Json<Value> {
    answer(&OpenError {
        errcode: code,
        errmsg: format!("{msg} rid: {}", random_alnum(8).to_ascii_lowercase()),
    })
}

/// Applies latency and counted faults to a login endpoint; returns an early answer.
async fn fault(sim: &Sim, endpoint: &str) -> Option<Json<Value>> {
    let (latency, fault) = {
        let mut f = lock(&sim.faults);
        (f.latency(endpoint), f.take(endpoint))
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let fault = fault?;
    match fault.kind {
        FaultKind::RateLimited => Some(err(
            45011,
            "api minute-quota reach limit  mustslower  retry next minute",
        )),
        FaultKind::Timeout | FaultKind::Latency => {
            tokio::time::sleep(std::time::Duration::from_millis(
                fault.delay_ms.unwrap_or(10_000),
            ))
            .await;
            (fault.kind == FaultKind::Timeout).then(|| err(-1, "system error"))
        }
        FaultKind::SignTest => None,
        _ => Some(err(-1, "system error")),
    }
}

/// Checks appid + secret (constant time); the app must be of one of `kinds`.
fn check_app(
    sim: &Sim,
    q: &HashMap<String, String>,
    kinds: &[AppKind],
) -> Result<String, Json<Value>> {
    let appid = q
        .get("appid")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err(41002, "appid missing"))?;
    let secret = q
        .get("secret")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err(41004, "appsecret missing"))?;
    let app = sim
        .apps
        .get(appid)
        .ok_or_else(|| err(40013, "invalid appid"))?;
    if !kinds.contains(&app.kind) {
        return Err(err(40013, "invalid appid (wrong kind of app for this API)"));
    }
    if !bool::from(app.secret.expose().as_bytes().ct_eq(secret.as_bytes())) {
        return Err(err(40125, "invalid appsecret"));
    }
    Ok(appid.clone())
}

/// Counts a call toward the per-app, per-minute limit; `false` means over the limit.
fn within_rate(sim: &Sim, appid: &str) -> bool {
    let minute = now_unix() / 60;
    let mut world = lock(&sim.world);
    world.login_calls.retain(|(_, m), _| *m >= minute - 1);
    let count = world
        .login_calls
        .entry((appid.to_owned(), minute))
        .or_insert(0);
    *count += 1;
    *count <= sim.config.login_rate_limit_per_minute
}

/// Consumes a code: 40029 unknown/expired/other app/other kind, 40163 already used, 40226
/// a blocked (high-risk) user's code, which is refused whatever the number of tries.
fn take_code(sim: &Sim, appid: &str, code: &str, oauth: bool) -> Result<LoginCode, Json<Value>> {
    let mut world = lock(&sim.world);
    let entry = world
        .codes
        .get_mut(code)
        .ok_or_else(|| err(40029, "invalid code"))?;
    if entry.appid != appid
        || entry.scope.is_some() != oauth
        || now_unix().saturating_sub(entry.created_at) > CODE_TTL
    {
        return Err(err(40029, "invalid code"));
    }
    if entry.blocked {
        return Err(err(40226, "high risk user, login intercepted"));
    }
    if entry.used {
        return Err(err(40163, "code been used"));
    }
    entry.used = true;
    Ok(entry.clone())
}

/// `GET /sns/jscode2session` (mini-program login).
pub async fn jscode2session(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if let Some(early) = fault(&sim, "login.jscode2session").await {
        return early;
    }
    let appid = match check_app(&sim, &q, &[AppKind::MiniProgram]) {
        Ok(a) => a,
        Err(e) => return e,
    };
    if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return err(40002, "invalid grant_type");
    }
    let Some(js_code) = q.get("js_code").filter(|s| !s.is_empty()) else {
        return err(41008, "missing code");
    };
    if !within_rate(&sim, &appid) {
        return err(
            45011,
            "api minute-quota reach limit  mustslower  retry next minute",
        );
    }
    let code = match take_code(&sim, &appid, js_code, false) {
        Ok(c) => c,
        Err(e) => return e,
    };
    sim.persist();
    answer(&CodeSession {
        openid: code.openid,
        session_key: format!("{}==", random_alnum(22)),
        unionid: code.unionid,
    })
}

/// `GET /sns/oauth2/access_token` (WeChat-browser web authorisation).
pub async fn oauth2_access_token(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if let Some(early) = fault(&sim, "login.oauth2").await {
        return early;
    }
    let appid = match check_app(&sim, &q, &[AppKind::OfficialAccount]) {
        Ok(a) => a,
        Err(e) => return e,
    };
    if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return err(40002, "invalid grant_type");
    }
    let Some(code) = q.get("code").filter(|s| !s.is_empty()) else {
        return err(41008, "missing code");
    };
    if !within_rate(&sim, &appid) {
        return err(
            45011,
            "api minute-quota reach limit  mustslower  retry next minute",
        );
    }
    let code = match take_code(&sim, &appid, code, true) {
        Ok(c) => c,
        Err(e) => return e,
    };
    sim.persist();
    answer(&OAuthAccessToken {
        access_token: random_alnum(86),
        expires_in: TOKEN_TTL,
        refresh_token: random_alnum(86),
        openid: code.openid,
        scope: code.scope.unwrap_or_else(|| "snsapi_base".into()),
        is_snapshotuser: Some(0),
        unionid: code.unionid,
    })
}

/// `GET /cgi-bin/token`: a new token; earlier ones of the app keep working only for the
/// grace period (this is what breaks merchants refreshing from several servers).
pub async fn token(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if let Some(early) = fault(&sim, "login.token").await {
        return early;
    }
    if q.get("grant_type").map(String::as_str) != Some("client_credential") {
        return err(40002, "invalid grant_type");
    }
    let appid = match check_app(&sim, &q, &[AppKind::OfficialAccount, AppKind::MiniProgram]) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let grace_ms = i64::try_from(
        sim.config
            .scaled(sim.config.token_grace_seconds as f64)
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let token = issue_token(&sim, &appid, grace_ms);
    answer(&open::AccessToken {
        access_token: token,
        expires_in: TOKEN_TTL,
    })
}

/// Issues a new access token for `appid`; the app's earlier tokens keep working for at most
/// `grace_ms` more.
fn issue_token(sim: &Sim, appid: &str, grace_ms: i64) -> String {
    let now = now_ms();
    let token = random_alnum(136);
    {
        let mut world = lock(&sim.world);
        for t in world.tokens.values_mut().filter(|t| t.appid == appid) {
            t.valid_until_ms = t.valid_until_ms.min(now.saturating_add(grace_ms));
        }
        world
            .tokens
            .retain(|_, t| t.valid_until_ms > now - 86_400_000);
        world.tokens.insert(
            token.clone(),
            AccessToken {
                appid: appid.to_owned(),
                issued_at: now / 1000,
                valid_until_ms: now + TOKEN_TTL * 1000,
            },
        );
    }
    sim.persist();
    token
}

/// Another service of the merchant fetched a new access token for `appid` (and its grace
/// period is over): every token issued before answers 40001 from now on. Returns the new
/// token, which that other service holds.
pub fn refresh_token_elsewhere(sim: &Sim, appid: &str) -> Result<String, String> {
    match sim.apps.get(appid) {
        Some(app) if matches!(app.kind, AppKind::OfficialAccount | AppKind::MiniProgram) => {
            Ok(issue_token(sim, appid, 0))
        }
        Some(_) => Err(format!("appid {appid} has no access token (an APP appid)")),
        None => Err(format!("unknown appid {appid}")),
    }
}

/// `GET /cgi-bin/ticket/getticket?access_token=…&type=jsapi`.
pub async fn getticket(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if let Some(early) = fault(&sim, "login.ticket").await {
        return early;
    }
    let Some(access_token) = q.get("access_token").filter(|s| !s.is_empty()) else {
        return err(41001, "access_token missing");
    };
    if q.get("type").map(String::as_str) != Some("jsapi") {
        return err(40097, "invalid args (type must be jsapi)");
    }
    let now = now_ms();
    let mut world = lock(&sim.world);
    let Some(t) = world.tokens.get(access_token).cloned() else {
        return err(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    };
    if now >= t.valid_until_ms {
        let replaced =
            t.issued_at.saturating_add(TOKEN_TTL).saturating_mul(1000) > t.valid_until_ms;
        return if replaced {
            err(
                40001,
                "invalid credential, access_token is invalid or not latest",
            )
        } else {
            err(42001, "access_token expired")
        };
    }
    let current = world.tickets.get(&t.appid).cloned();
    let ticket = match current {
        Some((ticket, issued)) if now_unix().saturating_sub(issued) < TOKEN_TTL => ticket,
        _ => {
            let ticket = random_alnum(86);
            world
                .tickets
                .insert(t.appid.clone(), (ticket.clone(), now_unix()));
            ticket
        }
    };
    drop(world);
    sim.persist();
    answer(&JsapiTicket {
        errcode: 0,
        errmsg: "ok".into(),
        ticket,
        expires_in: TOKEN_TTL,
    })
}

/// Mints a single-use code for `appid` (login when `scope` is `None`, OAuth otherwise).
pub fn mint_code(
    sim: &Sim,
    appid: &str,
    openid: Option<String>,
    unionid: Option<String>,
    scope: Option<String>,
) -> Result<(String, String), String> {
    mint_code_for(sim, appid, openid, unionid, scope, false)
}

/// [`mint_code`] for a user WeChat rates high-risk when `blocked`: exchanging the code
/// answers 40226.
pub fn mint_code_for(
    sim: &Sim,
    appid: &str,
    openid: Option<String>,
    unionid: Option<String>,
    scope: Option<String>,
    blocked: bool,
) -> Result<(String, String), String> {
    let app = sim
        .apps
        .get(appid)
        .ok_or_else(|| format!("unknown appid {appid}"))?;
    let wanted = if scope.is_some() {
        AppKind::OfficialAccount
    } else {
        AppKind::MiniProgram
    };
    if app.kind != wanted {
        return Err(format!("appid {appid} is not a {wanted:?}"));
    }
    let openid = openid.unwrap_or_else(|| format!("o{}", random_alnum(27)));
    let code = format!("0{}", random_alnum(31));
    {
        let mut world = lock(&sim.world);
        match world.openids.get(&openid) {
            Some(owner) if owner != appid => {
                return Err(format!(
                    "openid {openid} belongs to appid {owner}: an openid is issued per app"
                ))
            }
            Some(_) => {}
            None => {
                world.openids.insert(openid.clone(), appid.to_owned());
            }
        }
        world.codes.insert(
            code.clone(),
            LoginCode {
                appid: appid.to_owned(),
                openid: openid.clone(),
                unionid,
                created_at: now_unix(),
                used: false,
                scope,
                blocked,
            },
        );
    }
    sim.persist();
    Ok((code, openid))
}

/// Whether `openid` was issued for `appid` (through a login or OAuth code). A user has one
/// openid per app, so an openid of another app, or one the simulator never issued, belongs
/// to no app a prepay could name: WeChat answers `appid和openid不匹配`. Codes minted before
/// the simulator kept [`World::openids`](crate::state::World) count too (older state files).
pub fn openid_belongs_to(sim: &Sim, openid: &str, appid: &str) -> bool {
    let world = lock(&sim.world);
    match world.openids.get(openid) {
        Some(owner) => owner == appid,
        None => world
            .codes
            .values()
            .any(|c| c.openid == openid && c.appid == appid),
    }
}

/// Ages a login or OAuth code past its five minutes (the next exchange answers 40029).
pub fn expire_code(sim: &Sim, code: &str) -> Result<(), String> {
    {
        let mut world = lock(&sim.world);
        let entry = world
            .codes
            .get_mut(code)
            .ok_or_else(|| "unknown code".to_owned())?;
        entry.created_at = now_unix() - CODE_TTL - 1;
    }
    sim.persist();
    Ok(())
}

/// Ages an access token to the end of its two hours, as if issued that long ago: it then
/// answers 42001 (expired), not 40001 (replaced).
pub fn expire_token(sim: &Sim, access_token: &str) -> Result<(), String> {
    {
        let mut world = lock(&sim.world);
        let token = world
            .tokens
            .get_mut(access_token)
            .ok_or_else(|| "unknown access_token".to_owned())?;
        token.issued_at = now_unix() - TOKEN_TTL - 1;
        token.valid_until_ms = token
            .issued_at
            .saturating_add(TOKEN_TTL)
            .saturating_mul(1000);
    }
    sim.persist();
    Ok(())
}

/// Ages an app's `jsapi_ticket` past its two hours: the next `getticket` issues a new one
/// and `wx.config` signed with the old one no longer verifies.
pub fn expire_ticket(sim: &Sim, appid: &str) -> Result<(), String> {
    {
        let mut world = lock(&sim.world);
        let ticket = world
            .tickets
            .get_mut(appid)
            .ok_or_else(|| format!("no jsapi_ticket issued for {appid}"))?;
        ticket.1 = now_unix() - TOKEN_TTL - 1;
    }
    sim.persist();
    Ok(())
}
