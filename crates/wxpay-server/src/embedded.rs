//! Embedded defaults: run the simulator in-process with a freshly generated test universe
//! and point the server at it (the README's main job, and the test harness).

use std::path::PathBuf;

use wxpay_sim::config::AppKind;
use wxpay_sim::server::{RunningSim, Simulator};
use wxpay_sim::universe::Universe;

use crate::app::StartError;
use crate::config::{AppCredentials, MerchantSettings, Settings, VerifyMode};
use crate::secret::{Secret, SecretSource};

/// The simulator started for the embedded defaults.
pub struct EmbeddedSim {
    running: RunningSim,
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
        miniprogram: app(AppKind::MiniProgram, true),
        official_account: app(AppKind::OfficialAccount, true),
        app: app(AppKind::App, false),
    }
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

impl EmbeddedSim {
    /// Generates a universe, starts the simulator on a free port and fills `settings`.
    pub async fn start(settings: &mut Settings) -> Result<Self, StartError> {
        let universe = Universe::generate().map_err(|e| StartError::NoMerchant(e.to_string()))?;
        let running = Simulator::start(universe.sim_config())
            .await
            .map_err(|e| StartError::NoMerchant(e.to_string()))?;
        settings.merchant = Some(merchant_settings(&universe, VerifyMode::Certificate));
        point_at(settings, &running.base_url());
        point_secapi_at(settings, &universe, &running);
        if settings.server.static_dir.is_none() {
            let demo = PathBuf::from("examples/h5/dist");
            if demo.is_dir() {
                settings.server.static_dir = Some(demo);
            }
        }
        Ok(Self { running })
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
