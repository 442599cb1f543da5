//! The shared simulator value every handler works on.
//!
//! `Sim` is a cheap clone (an `Arc`) holding the immutable configuration, the mutable
//! [`World`], the signing identities (which rotate) and the fault plan.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use wxpay_core::keys::{Certificate, PublicKey};

use crate::bill_file::BillFile;
use crate::config::{AppConfig, MerchantConfig, SigningMode, SimConfig};
use crate::crypto::{MerchantCert, ResponseSigner};
use crate::error::SimError;
use crate::faults::Faults;
use crate::state::{SavedSigningMode, World};

/// A platform certificate the simulator holds (with its key).
#[derive(Debug, Clone)]
pub struct PlatformIdentity {
    /// Signer (serial = certificate serial).
    pub signer: ResponseSigner,
    /// The certificate `/v3/certificates` lists.
    pub certificate: Certificate,
}

/// Which keys sign, and in which mode.
#[derive(Debug, Clone)]
pub struct Signing {
    /// Current mode.
    pub mode: SigningMode,
    /// All platform certificates still listed, oldest first.
    pub platforms: Vec<PlatformIdentity>,
    /// Index into `platforms` of the one that signs.
    pub active: usize,
    /// WeChat Pay public-key signer (serial = `PUB_KEY_ID_…`).
    pub public_key: ResponseSigner,
}

impl Signing {
    /// The signer for responses and notifications in the current mode.
    pub fn current(&self) -> ResponseSigner {
        if self.mode.signs_with_public_key() {
            return self.public_key.clone();
        }
        match self.platforms.get(self.active) {
            Some(p) => p.signer.clone(),
            None => self.public_key.clone(),
        }
    }
}

/// A merchant with its parsed certificates.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// Configuration.
    pub config: MerchantConfig,
    /// Accepted API certificates.
    pub certs: Vec<MerchantCert>,
}

/// Shared state of a running simulator.
pub struct SimInner {
    /// Configuration as loaded.
    pub config: SimConfig,
    /// Merchants by mchid.
    pub merchants: BTreeMap<String, Merchant>,
    /// Apps by appid.
    pub apps: BTreeMap<String, AppConfig>,
    /// Signing identities.
    pub signing: Mutex<Signing>,
    /// Orders, refunds, codes, deliveries.
    pub world: Mutex<World>,
    /// Armed faults.
    pub faults: Mutex<Faults>,
    /// Base URL once bound.
    pub base_url: OnceLock<String>,
    /// Base URL of the mutual-TLS listener once bound.
    pub tls_base_url: OnceLock<String>,
    /// HTTP client for notifications and mode-one callbacks.
    pub http: reqwest::Client,
    /// Fires when the simulator shuts down (stops notification tasks).
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Bill files handed out, by download token.
    pub bills: Mutex<BTreeMap<String, BillFile>>,
    /// Seconds added to the clock the bill endpoints judge readiness by (control API):
    /// lets a test ask for "yesterday's" bill of orders it just made.
    pub bill_clock_offset: std::sync::atomic::AtomicI64,
}

/// Cheap handle to the shared state.
#[derive(Clone)]
pub struct Sim(pub Arc<SimInner>);

impl std::ops::Deref for Sim {
    type Target = SimInner;
    fn deref(&self) -> &SimInner {
        &self.0
    }
}

/// Locks a mutex, recovering the data if a previous holder panicked (the world stays usable).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    now_ms() / 1000
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Sim {
    /// Builds the shared state from a configuration (loads and parses all key material).
    pub fn build(config: SimConfig, world: World) -> Result<Self, SimError> {
        let base = config.base_dir.clone();
        let material = |what: &str, detail: String| SimError::Material {
            what: what.to_owned(),
            detail,
        };
        let platform_key = config.platform.key.load(&base)?;
        let platform_cert = config.platform.cert.load(&base)?;
        let mut platforms = vec![platform_identity(&platform_key, &platform_cert)?];
        for (key, cert) in &world.rotated_platforms {
            platforms.push(platform_identity(key, cert)?);
        }
        let pk_pem = config.public_key.private_key.load(&base)?;
        let public_key = ResponseSigner::from_pem(&pk_pem, config.public_key.id.clone())
            .map_err(|e| material("public_key.private_key", e.to_string()))?;
        let mut merchants = BTreeMap::new();
        for m in &config.merchants {
            let mut certs = Vec::new();
            for c in &m.certs {
                let pem = c.load(&base)?;
                certs.push(
                    MerchantCert::from_pem(&pem).map_err(|e| {
                        material(&format!("merchant {} cert", m.mchid), e.to_string())
                    })?,
                );
            }
            merchants.insert(
                m.mchid.clone(),
                Merchant {
                    config: m.clone(),
                    certs,
                },
            );
        }
        let apps = config
            .apps
            .iter()
            .map(|a| (a.appid.clone(), a.clone()))
            .collect();
        let mut world = world;
        for m in &config.merchants {
            world
                .balances
                .entry(m.mchid.clone())
                .or_insert(m.refund_balance_fen);
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| SimError::Config(format!("http client: {e}")))?;
        // The configured certificate signs unless the control API chose another one
        // (a rotation with `activate: false` only lists the new certificate).
        let active = world
            .active_platform
            .as_deref()
            .and_then(|serial| {
                platforms
                    .iter()
                    .position(|p| p.signer.serial().eq_ignore_ascii_case(serial))
            })
            .unwrap_or(0);
        let signing = Signing {
            mode: SavedSigningMode::effective(world.signing_mode, config.signing_mode),
            platforms,
            active,
            public_key,
        };
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Ok(Sim(Arc::new(SimInner {
            config,
            merchants,
            apps,
            signing: Mutex::new(signing),
            world: Mutex::new(world),
            faults: Mutex::new(Faults::default()),
            base_url: OnceLock::new(),
            tls_base_url: OnceLock::new(),
            http,
            shutdown,
            bills: Mutex::new(BTreeMap::new()),
            bill_clock_offset: std::sync::atomic::AtomicI64::new(0),
        })))
    }

    /// The base URL the simulator is reachable at.
    pub fn base_url(&self) -> String {
        self.config
            .public_base_url
            .clone()
            .or_else(|| self.base_url.get().cloned())
            .unwrap_or_else(|| "http://127.0.0.1".to_owned())
    }

    /// The merchant certificate key for `(mchid, serial)`.
    pub fn merchant_key(&self, mchid: &str, serial: &str) -> Option<PublicKey> {
        let m = self.merchants.get(mchid)?;
        m.certs
            .iter()
            .find(|c| c.serial.eq_ignore_ascii_case(serial))
            .map(|c| c.key.clone())
    }

    /// The current response signer.
    pub fn signer(&self) -> ResponseSigner {
        lock(&self.signing).current()
    }

    /// Persists the world when a state file is configured (errors are logged, not fatal).
    ///
    /// A no-op once shutdown has begun: [`crate::RunningSim::shutdown`] writes the final
    /// state, and a task still finishing afterwards (a notification attempt in flight) must
    /// not overwrite the file a restarted simulator is already using.
    pub fn persist(&self) {
        if *self.shutdown.borrow() {
            return;
        }
        self.write_state_file();
    }

    /// Writes the state file unconditionally (the final write at shutdown).
    pub fn write_state_file(&self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let path = self.config.base_dir.join(path);
        let snapshot = lock(&self.world).clone();
        if let Err(e) = snapshot.save(&path) {
            tracing::warn!(error = %e, "could not write the state file");
        }
    }
}

/// Parses a platform key + certificate pair.
pub fn platform_identity(key_pem: &str, cert_pem: &str) -> Result<PlatformIdentity, SimError> {
    let material = |detail: String| SimError::Material {
        what: "platform".into(),
        detail,
    };
    let certificate = Certificate::from_pem(cert_pem).map_err(|e| material(e.to_string()))?;
    let serial = certificate.serial().canonical().to_owned();
    let signer = ResponseSigner::from_pem(key_pem, serial).map_err(|e| material(e.to_string()))?;
    if signer.public_key() != certificate.public_key() {
        return Err(material(
            "platform key does not match the platform certificate".into(),
        ));
    }
    Ok(PlatformIdentity {
        signer,
        certificate,
    })
}
