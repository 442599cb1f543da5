//! The demo (`demo = true`, `wxpay-server --demo`): run the simulator in-process with a
//! freshly generated test universe and point the server at it (the README's main job, and
//! the test harness). Never started without being asked for.
//!
//! Only here, never with a real `[merchant]`, the server also answers
//! `POST /api/demo/oauth-code`: a demo page has no WeChat to log in through, so this mints
//! the OAuth code WeChat's authorisation redirect would have carried. The page then logs in
//! through the ordinary `POST /api/login/oauth`, so the real code exchange still runs.
//!
//! Refunds need the merchant's admin credential (`server.admin_token`). Unless one is
//! configured, a random one is generated at start, printed next to the URL, and handed out
//! by `POST /api/demo/admin-token` so the demo's admin view can refund. That route hands a
//! credential to anyone who asks, which is only acceptable because the money here is the
//! simulator's; it never exists with a real `[merchant]`.

use std::path::PathBuf;

use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use wxpay_sim::config::AppKind;
use wxpay_sim::control::SimControl;
use wxpay_sim::server::{RunningSim, Simulator};
use wxpay_sim::universe::Universe;

use crate::config::{AppCredentials, MerchantSettings, ServerSettings, Settings, VerifyMode};
use crate::error::{AppError, InternalError};
use crate::secret::{Secret, SecretSource};

/// Seconds after which the embedded simulator completes a refund on its own (WeChat takes
/// minutes to days; the demo should show "refunded" while the payer is still looking).
const DEMO_REFUND_SECONDS: u64 = 3;

/// The simulator started for the embedded defaults.
pub struct EmbeddedSim {
    running: RunningSim,
    /// The official account's appid (the demo's OAuth codes are minted for it).
    oauth_appid: Option<String>,
    /// The mini-program's appid (the demo's `wx.login` codes are minted for it).
    miniprogram_appid: Option<String>,
    /// The admin token generated at start (`None` when `server.admin_token` was configured:
    /// an operator's own credential is never handed out).
    generated_admin_token: Option<Secret<String>>,
}

fn inline(value: &str) -> SecretSource {
    SecretSource::Inline(Secret::new(value.to_owned()))
}

/// The merchant settings matching `universe` (all secrets inline), in `mode`.
pub fn merchant_settings(universe: &Universe, mode: VerifyMode) -> MerchantSettings {
    let app = |kind: AppKind, with_secret: bool| {
        universe
            .apps
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| AppCredentials {
                appid: a.appid.clone(),
                secret: with_secret.then(|| inline(a.secret.expose())),
            })
    };
    MerchantSettings {
        mchid: universe.mchid.clone(),
        serial_no: universe.merchant.serial.clone(),
        private_key: inline(&universe.merchant.key_pem),
        apiv3_key: inline(universe.apiv3_key.expose()),
        apiv2_key: Some(inline(universe.apiv2_key.expose())),
        verify_mode: mode,
        public_key_id: Some(universe.public_key_id.clone()),
        public_key: Some(inline(&universe.public_key_pem)),
        client_cert_pem: Some(inline(&format!(
            "{}\n{}",
            universe.merchant.cert_pem, universe.merchant.key_pem
        ))),
        apiv2_sign_type: None,
        apiv2_mode_one_sign_type: None,
        miniprogram: app(AppKind::MiniProgram, true),
        official_account: app(AppKind::OfficialAccount, true),
        app: app(AppKind::App, false),
    }
}

/// The host the server's `notify_url`s name: that of `public_url`, else the bound host. The
/// embedded simulator treats it as a private-line host (plain HTTP accepted, as WeChat
/// accepts it over a 专线), so a demo reached on a LAN address is still notified; no real
/// WeChat is involved, and with a real `[merchant]` the server refuses such a `public_url`
/// at start-up.
pub(crate) fn notify_host(server: &ServerSettings) -> String {
    server
        .public_url
        .as_deref()
        .and_then(|url| reqwest::Url::parse(url).ok())
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| server.host.clone())
}

/// Points `settings` at a simulator listening on `base_url`.
pub fn point_at(settings: &mut Settings, base_url: &str) {
    settings.upstream.base_url = base_url.to_owned();
    settings.upstream.failover_base_url = None;
    settings.upstream.open_api_base_url = base_url.to_owned();
}

/// Points v2 `/secapi/` calls at the simulator's mutual-TLS listener and trusts its CA.
pub fn point_secapi_at(settings: &mut Settings, universe: &Universe, running: &RunningSim) {
    settings.upstream.secapi_base_url = running.tls_base_url();
    settings.upstream.tls_root_pem = Some(inline(&universe.ca.cert_pem));
}

/// Why the embedded simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulator's universe or listener.
    #[error("the simulator could not start")]
    Simulator(#[from] wxpay_sim::error::SimError),
    /// No randomness for the generated admin token.
    #[error("no entropy for the admin token")]
    Entropy(#[source] getrandom::Error),
}

impl EmbeddedSim {
    /// Generates a universe, starts the simulator on a free port and fills `settings`.
    pub async fn start(settings: &mut Settings) -> Result<Self, DemoError> {
        let universe = Universe::generate()?;
        let mut sim_config = universe.sim_config();
        sim_config.refund_auto_success_seconds = Some(DEMO_REFUND_SECONDS);
        sim_config.private_line_notify_hosts = vec![notify_host(&settings.server)];
        let running = Simulator::start(sim_config).await?;
        let merchant = merchant_settings(&universe, VerifyMode::Certificate);
        let oauth_appid = merchant.official_account.as_ref().map(|a| a.appid.clone());
        let miniprogram_appid = merchant.miniprogram.as_ref().map(|a| a.appid.clone());
        settings.merchant = Some(merchant);
        point_at(settings, &running.base_url());
        point_secapi_at(settings, &universe, &running);
        let generated_admin_token = match settings.server.admin_token {
            Some(_) => None,
            None => {
                let token = crate::ids::session_token().map_err(DemoError::Entropy)?;
                settings.server.admin_token = Some(inline(&token));
                Some(Secret::new(token))
            }
        };
        if settings.server.static_dir.is_none() {
            // From the repository root (scripts/run.sh), else from the source tree this
            // binary was built in, so `cargo run` from a crate folder still finds the demo.
            let built_in = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/h5/dist");
            settings.server.static_dir = [PathBuf::from("examples/h5/dist"), built_in.into()]
                .into_iter()
                .find(|demo| demo.is_dir());
        }
        Ok(Self {
            running,
            oauth_appid,
            miniprogram_appid,
            generated_admin_token,
        })
    }

    /// Demo-only routes (see the module docs). `POST /api/demo/admin-token` answers
    /// `{"admin_token"}` (the generated one; 403 `admin_token_configured` when the operator
    /// configured their own). The others each answer `{"code","appid","simulator_url"}`
    /// with a fresh single-use code for a new payer: `POST /api/demo/oauth-code` (what WeChat's
    /// OAuth redirect carries; log in at `/api/login/oauth`) and `POST /api/demo/login-code`
    /// (what `wx.login()` returns in a mini-program; log in at `/api/login/miniprogram`).
    pub fn demo_routes(&self) -> Router {
        let simulator_url = self.running.base_url();
        let (control, appid, url) = (
            self.running.control(),
            self.oauth_appid.clone(),
            simulator_url.clone(),
        );
        let oauth = post(move || demo_code(control, appid, url, CodeKind::OAuth));
        let (control, appid) = (self.running.control(), self.miniprogram_appid.clone());
        let login = post(move || demo_code(control, appid, simulator_url, CodeKind::Login));
        let token = self.generated_admin_token.clone();
        let admin = post(move || demo_admin_token(token));
        Router::new()
            .route("/api/demo/oauth-code", oauth)
            .route("/api/demo/login-code", login)
            .route("/api/demo/admin-token", admin)
    }

    /// The admin token generated at start, when none was configured (printed by the binary).
    pub fn generated_admin_token(&self) -> Option<&Secret<String>> {
        self.generated_admin_token.as_ref()
    }

    /// The simulator's base URL.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Stops the simulator.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// Which login a demo code is for.
#[derive(Clone, Copy)]
enum CodeKind {
    /// Official-account web authorisation (WeChat's browser).
    OAuth,
    /// Mini-program `wx.login()`.
    Login,
}

async fn demo_admin_token(
    token: Option<Secret<String>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let token = token.ok_or_else(|| {
        AppError::forbidden(
            "admin_token_configured",
            "server.admin_token is configured; the demo does not hand it out",
        )
    })?;
    Ok(Json(json!({ "admin_token": token.expose() })))
}

async fn demo_code(
    control: SimControl,
    appid: Option<String>,
    simulator_url: String,
    kind: CodeKind,
) -> Result<Json<serde_json::Value>, AppError> {
    let what = match kind {
        CodeKind::OAuth => "official account",
        CodeKind::Login => "mini-program",
    };
    let appid = appid.ok_or_else(|| {
        AppError::bad_request("login_not_configured", format!("no {what} is configured"))
    })?;
    let minted = match kind {
        CodeKind::OAuth => control.mint_oauth_code(&appid, None, None),
        CodeKind::Login => control.mint_login_code(&appid, None),
    };
    let (code, _openid) = minted.map_err(|e| InternalError::Demo(e.into()))?;
    Ok(Json(json!({
        "code": code,
        "appid": appid,
        "simulator_url": simulator_url,
    })))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::app::Application;
    use crate::config::Settings;

    /// The demo code logs in through the ordinary OAuth route, once.
    #[tokio::test]
    async fn demo_oauth_code_logs_in_through_the_real_exchange() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            demo: true,
            ..Settings::default()
        };
        settings.server.port = 0;
        settings.worker.enabled = false;
        settings.database.url = format!("sqlite://{}", dir.path().join("demo.db").display());
        let app = Application::build(settings)
            .await
            .expect("embedded defaults");
        assert!(app.simulator_url().is_some());
        let app_token = app.demo_admin_token().map(|t| t.expose().clone());
        let url = format!("http://127.0.0.1:{}", app.port());
        let stop = app.stop_handle();
        let server = tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::new();

        let minted: Value = http
            .post(format!("{url}/api/demo/oauth-code"))
            .send()
            .await
            .expect("demo route")
            .json()
            .await
            .expect("json");
        let code = minted["code"].as_str().expect("code").to_owned();
        assert!(minted["simulator_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")));

        let login = |code: String| {
            http.post(format!("{url}/api/login/oauth"))
                .json(&serde_json::json!({ "code": code }))
                .send()
        };
        let first = login(code.clone()).await.expect("login");
        assert_eq!(first.status(), 200);
        let session: Value = first.json().await.expect("json");
        assert!(session["token"].as_str().is_some_and(|t| !t.is_empty()));
        // Single-use, like WeChat's: the same code again is refused.
        let again = login(code).await.expect("second login");
        assert_eq!(again.status(), 400);

        let minted: Value = http
            .post(format!("{url}/api/demo/login-code"))
            .send()
            .await
            .expect("demo login-code route")
            .json()
            .await
            .expect("json");
        let mp = http
            .post(format!("{url}/api/login/miniprogram"))
            .json(&serde_json::json!({ "code": minted["code"] }))
            .send()
            .await
            .expect("mini-program login");
        assert_eq!(mp.status(), 200);

        // The generated admin token is what the refund route accepts.
        let printed = app_token.expect("a token is generated when none is configured");
        let handed: Value = http
            .post(format!("{url}/api/demo/admin-token"))
            .send()
            .await
            .expect("demo admin-token route")
            .json()
            .await
            .expect("json");
        assert_eq!(handed["admin_token"].as_str(), Some(printed.as_str()));
        let refund = |token: Option<&str>| {
            let mut request = http
                .post(format!("{url}/api/orders/WX0000000000NOSUCHORDER/refunds"))
                .json(&serde_json::json!({ "amount_fen": 1 }));
            if let Some(token) = token {
                request = request.header("x-admin-token", token);
            }
            request.send()
        };
        assert_eq!(refund(None).await.expect("refund").status(), 403);
        assert_eq!(
            refund(Some(&printed)).await.expect("refund").status(),
            404,
            "past the admin check, the unknown order is reported"
        );

        let _ = stop.send(true);
        let _ = server.await;
    }
}
