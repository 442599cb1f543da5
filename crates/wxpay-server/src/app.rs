//! The application as a value: build from [`Settings`], bind (port 0 allowed), expose the
//! port, run until stopped, shut down gracefully.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use wxpay_core::keys::{PrivateKey, PublicKey};
use wxpay_core::v2::sign::{ApiV2Key, SignType as V2SignType};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::models::NotifyUrlError;
use wxpay_core::{MchId, SerialNo};

use crate::admin_token::AdminToken;
use crate::clock::Clock;
use crate::config::{AppCredentials, MerchantSettings, Settings, VerifyMode};
use crate::metrics::Metrics;
use crate::secret::SecretError;
use crate::state::{AppIdentity, AppState, MerchantApps, NotifyUrls, RateLimiter, SharedState};
use crate::store::{Product, StoreError};
use crate::upstream::open::OpenClient;
use crate::upstream::transport::Transport;
use crate::upstream::v2::V2Client;
use crate::upstream::v3::{MerchantIdentity, V3Client};
use crate::upstream::UpstreamError;
use crate::{api, error, notify, notify_v2, worker};

/// Start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A secret could not be loaded.
    #[error("secret")]
    Secret(#[from] SecretError),
    /// A key or id in the configuration is invalid.
    #[error("invalid merchant configuration: {what}")]
    Merchant {
        /// The setting.
        what: &'static str,
        /// Why it was refused.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Public-key mode without the key.
    #[error("invalid merchant configuration: public-key mode needs public_key_id and public_key")]
    PublicKeyMissing,
    /// The store could not be opened or migrated.
    #[error("store")]
    Store(#[from] StoreError),
    /// `server.admin_token` is unusable.
    #[error("invalid server.admin_token")]
    AdminToken(#[from] crate::admin_token::AdminTokenError),
    /// The listener could not be bound.
    #[error("cannot bind {addr}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("http client")]
    Http(#[source] reqwest::Error),
    /// Initial certificate download failed.
    #[error("platform certificates")]
    Certificates(#[source] UpstreamError),
    /// Neither a `[merchant]` section nor the demo was asked for: a merchant's configuration
    /// that lost its `[merchant]` must not quietly become a demo that confirms simulated
    /// payments and hands out an admin token.
    #[error(
        "no [merchant] section: configure the merchant account (see examples/server/wxpay-server.toml), \
         or run the local demo on the built-in simulator with --demo (demo = true)"
    )]
    NoMerchant,
    /// `demo = true` (`--demo`) beside a `[merchant]` section: the demo never talks to WeChat.
    #[error("demo = true (--demo) and a [merchant] section together: the demo never talks to WeChat; remove one of them")]
    DemoWithMerchant,
    /// The demo was asked for but could not start.
    #[cfg(feature = "embedded-sim")]
    #[error("the demo cannot start")]
    Demo(#[from] crate::embedded::DemoError),
    /// The demo was asked for, but this build has no embedded simulator.
    #[error("the demo cannot start: this build has no embedded simulator (feature embedded-sim)")]
    NoEmbeddedSimulator,
    /// `server.public_url` (or the `http://host:port` it defaults to) cannot be a
    /// `notify_url` WeChat accepts: WeChat requires HTTPS on a public host (A.8).
    #[error("server.public_url {url} cannot receive WeChat's notifications")]
    PublicUrl {
        /// The public URL.
        url: String,
        /// Why WeChat would refuse the `notify_url`s built on it.
        #[source]
        source: NotifyUrlError,
    },
}

/// Refuses a `public_url` WeChat would refuse as notification base: every `notify_url` built
/// on it must pass the core's [`wxpay_core::v3::models::NotifyUrl`] rule (HTTPS unless the host is loopback). Checked
/// at start-up, so a plain-HTTP public address fails here rather than at every prepay.
/// `private_hosts` are accepted over plain HTTP (the embedded simulator's own host).
pub fn check_public_url(
    public_url: &str,
    private_hosts: &[&str],
) -> Result<NotifyUrls, StartError> {
    NotifyUrls::under(public_url, private_hosts).map_err(|source| StartError::PublicUrl {
        url: public_url.to_owned(),
        source,
    })
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: SharedState,
    port: u16,
    stop_tx: tokio::sync::watch::Sender<bool>,
    /// Held so that a stop sent before [`Application::run_until_stopped`] subscribes is
    /// stored rather than refused for want of a receiver.
    stop_rx: tokio::sync::watch::Receiver<bool>,
    #[cfg(feature = "embedded-sim")]
    embedded: Option<crate::embedded::EmbeddedSim>,
}

fn app_identity(creds: &Option<AppCredentials>) -> Result<Option<AppIdentity>, StartError> {
    creds
        .as_ref()
        .map(|c| {
            Ok(AppIdentity {
                appid: c.appid.clone(),
                secret: c.secret.as_ref().map(|s| s.load()).transpose()?,
            })
        })
        .transpose()
}

fn build_v3(
    settings: &Settings,
    merchant: &MerchantSettings,
    http: reqwest::Client,
    metrics: &Arc<Metrics>,
    clock: Clock,
) -> Result<V3Client, StartError> {
    fn bad<E: std::error::Error + Send + Sync + 'static>(what: &'static str, e: E) -> StartError {
        StartError::Merchant {
            what,
            source: Box::new(e),
        }
    }
    let key = PrivateKey::from_pkcs8_pem(merchant.private_key.load()?.expose())
        .map_err(|e| bad("private_key", e))?;
    let apiv3_key =
        ApiV3Key::new(merchant.apiv3_key.load()?.expose()).map_err(|e| bad("apiv3_key", e))?;
    let identity = MerchantIdentity {
        mchid: MchId::new(merchant.mchid.clone()).map_err(|e| bad("mchid", e))?,
        serial: SerialNo::new(merchant.serial_no.clone()).map_err(|e| bad("serial_no", e))?,
        key: Arc::new(key),
        apiv3_key,
    };
    let public_key = match (&merchant.public_key_id, &merchant.public_key) {
        (Some(id), Some(source)) => {
            let id = SerialNo::new(id.clone()).map_err(|e| bad("public_key_id", e))?;
            let key =
                PublicKey::from_pem(source.load()?.expose()).map_err(|e| bad("public_key", e))?;
            Some((id, key))
        }
        _ if merchant.verify_mode != VerifyMode::Certificate => {
            return Err(StartError::PublicKeyMissing)
        }
        _ => None,
    };
    let up = &settings.upstream;
    let mut bases = vec![up.base_url.clone()];
    bases.extend(up.failover_url());
    let transport = Transport::new(
        http,
        bases,
        up.max_retries,
        Duration::from_millis(up.backoff_ms),
    )
    .with_max_response_bytes(up.max_response_bytes)
    .with_metrics(metrics.clone());
    Ok(V3Client::new(
        transport,
        identity,
        merchant.verify_mode,
        public_key,
        clock,
    ))
}

fn build_v2(
    settings: &Settings,
    merchant: &MerchantSettings,
    http: reqwest::Client,
    metrics: &Arc<Metrics>,
) -> Result<Option<V2Client>, StartError> {
    let Some(key_source) = &merchant.apiv2_key else {
        return Ok(None);
    };
    fn bad<E: std::error::Error + Send + Sync + 'static>(what: &'static str, e: E) -> StartError {
        StartError::Merchant {
            what,
            source: Box::new(e),
        }
    }
    let key =
        ApiV2Key::new(key_source.load()?.expose().as_str()).map_err(|e| bad("apiv2_key", e))?;
    let sign_type = match merchant.apiv2_sign_type.as_deref() {
        None => V2SignType::HmacSha256,
        Some(name) => V2SignType::parse(name).map_err(|e| bad("apiv2_sign_type", e))?,
    };
    let mode_one_sign_type = match merchant.apiv2_mode_one_sign_type.as_deref() {
        None => V2SignType::Md5,
        Some(name) => V2SignType::parse(name).map_err(|e| bad("apiv2_mode_one_sign_type", e))?,
    };
    let mchid = MchId::new(merchant.mchid.clone()).map_err(|e| bad("mchid", e))?;
    let up = &settings.upstream;
    let backoff = Duration::from_millis(up.backoff_ms);
    let mut bases = vec![up.base_url.clone()];
    bases.extend(up.failover_url());
    let plain = Transport::new(http, bases.clone(), up.max_retries, backoff)
        .with_max_response_bytes(up.max_response_bytes)
        .with_metrics(metrics.clone());
    let secure = match &merchant.client_cert_pem {
        Some(source) => {
            let root = up.tls_root_pem.as_ref().map(|r| r.load()).transpose()?;
            let client = crate::upstream::v2::mutual_tls_client(
                source.load()?.expose(),
                root.as_ref().map(|r| r.expose().as_str()),
                Duration::from_millis(up.timeout_ms),
            )
            .map_err(|e| bad("client_cert_pem", e))?;
            let secure_bases = match &up.secapi_base_url {
                Some(url) => vec![url.clone()],
                None => bases,
            };
            Some(
                Transport::new(client, secure_bases, up.max_retries, backoff)
                    .with_max_response_bytes(up.max_response_bytes)
                    .with_metrics(metrics.clone()),
            )
        }
        None => None,
    };
    Ok(Some(
        V2Client::new(plain, secure, mchid, key, sign_type)
            .with_mode_one_sign_type(mode_one_sign_type),
    ))
}

async fn fallback_page() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><meta charset=utf-8><title>wxpay-server</title>",
        "<h1>wxpay-server</h1><p>The merchant API is running. See <a href=/openapi.json>/openapi.json</a>.</p>"
    ))
}

impl Application {
    /// Builds everything and binds the listener. With `demo` set (and no `[merchant]`),
    /// starts the embedded simulator (feature `embedded-sim`) and uses its generated test
    /// universe; without it a `[merchant]` section is required.
    #[cfg_attr(not(feature = "embedded-sim"), allow(unused_mut))]
    pub async fn build(mut settings: Settings) -> Result<Self, StartError> {
        if settings.demo && settings.merchant.is_some() {
            return Err(StartError::DemoWithMerchant);
        }
        #[cfg(feature = "embedded-sim")]
        let embedded = if settings.demo {
            Some(crate::embedded::EmbeddedSim::start(&mut settings).await?)
        } else {
            None
        };
        #[cfg(not(feature = "embedded-sim"))]
        if settings.demo {
            return Err(StartError::NoEmbeddedSimulator);
        }
        let merchant = settings.merchant.clone().ok_or(StartError::NoMerchant)?;

        // Checked before anything is opened: a weak or unreadable token must stop the start.
        let admin_token = settings
            .server
            .admin_token
            .as_ref()
            .map(|source| source.load())
            .transpose()?
            .map(|token| AdminToken::new(&token))
            .transpose()?;
        if admin_token.is_none() {
            tracing::warn!("no server.admin_token: refunds through the API are disabled");
        }

        let store = crate::store::open(
            &settings.database.url,
            settings.database.max_connections,
            settings.database.synchronous,
        )
        .await?;
        let products: Vec<Product> = settings
            .products
            .iter()
            .map(|p| Product {
                id: p.id.clone(),
                name: p.name.clone(),
                price_fen: p.price_fen,
            })
            .collect();
        store.upsert_products(&products).await?;

        let http = crate::upstream::transport::client_builder()
            .timeout(Duration::from_millis(settings.upstream.timeout_ms))
            .connect_timeout(Duration::from_millis(
                settings.upstream.timeout_ms.min(5_000),
            ))
            .build()
            .map_err(StartError::Http)?;
        let metrics = Arc::new(Metrics::default());
        let clock = Clock::system();
        let v3 = Arc::new(build_v3(
            &settings,
            &merchant,
            http.clone(),
            &metrics,
            clock.clone(),
        )?);
        let v2 = build_v2(&settings, &merchant, http.clone(), &metrics)?.map(Arc::new);
        if merchant.verify_mode != VerifyMode::PublicKey {
            v3.refresh_certificates()
                .await
                .map_err(StartError::Certificates)?;
        }
        let open_transport = Transport::new(
            http,
            vec![settings.upstream.open_api_base_url.clone()],
            settings.upstream.max_retries,
            Duration::from_millis(settings.upstream.backoff_ms),
        )
        .with_max_response_bytes(settings.upstream.max_response_bytes)
        .with_metrics(metrics.clone());
        let apps = MerchantApps {
            miniprogram: app_identity(&merchant.miniprogram)?,
            official_account: app_identity(&merchant.official_account)?,
            app: app_identity(&merchant.app)?,
        };

        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let public_url = settings
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}", settings.server.host))
            .trim_end_matches('/')
            .to_owned();
        // The embedded simulator accepts its own server's plain-HTTP host (as WeChat accepts
        // one over a private line), so the demo's notify_urls may use it too.
        #[cfg(feature = "embedded-sim")]
        let private_host = embedded
            .is_some()
            .then(|| crate::embedded::notify_host(&settings.server));
        #[cfg(not(feature = "embedded-sim"))]
        let private_host: Option<String> = None;
        let notify_urls = check_public_url(&public_url, &Vec::from_iter(private_host.as_deref()))?;

        let limits = crate::limits::Limits::new(&settings.limits);
        let state: SharedState = Arc::new(AppState {
            store,
            v3,
            v2,
            open: OpenClient::new(open_transport),
            apps,
            settings,
            public_url,
            notify_urls,
            clock,
            login_limiter: RateLimiter::default(),
            admin_token,
            admin_failures: RateLimiter::default(),
            credential_refresh: tokio::sync::Mutex::new(()),
            limits,
            metrics,
        });
        #[cfg(feature = "embedded-sim")]
        let demo_routes = embedded.as_ref().map(|sim| sim.demo_routes());
        #[cfg(not(feature = "embedded-sim"))]
        let demo_routes = None;
        let router = router(state.clone(), demo_routes);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        Ok(Self {
            listener,
            router,
            state,
            port,
            stop_tx,
            stop_rx,
            #[cfg(feature = "embedded-sim")]
            embedded,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests inspect the store through it).
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// The embedded simulator's base URL, when one was started.
    pub fn simulator_url(&self) -> Option<String> {
        #[cfg(feature = "embedded-sim")]
        if let Some(sim) = &self.embedded {
            return Some(sim.base_url());
        }
        None
    }

    /// The admin token the embedded defaults generated (none configured), for printing.
    pub fn demo_admin_token(&self) -> Option<&crate::secret::Secret<String>> {
        #[cfg(feature = "embedded-sim")]
        if let Some(sim) = &self.embedded {
            return sim.generated_admin_token();
        }
        None
    }

    /// A handle that stops the server gracefully when sent `true` (also before
    /// [`Application::run_until_stopped`] is called).
    pub fn stop_handle(&self) -> tokio::sync::watch::Sender<bool> {
        self.stop_tx.clone()
    }

    /// Serves until Ctrl-C / SIGTERM or the stop handle fires, then drains: the listener
    /// is closed at once (new connections are refused), idle keep-alive connections are
    /// closed, and requests in progress (notifications included) finish and are answered,
    /// for at most `server.shutdown_grace_secs`; connections still open then are dropped.
    /// The worker stops between passes; a pass in progress gets at most
    /// `server.shutdown_grace_secs` more to finish, then it is abandoned (every change it
    /// makes is one store transaction, and its leases run out for the next instance).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let worker = state.settings.worker.enabled.then(|| {
            let interval = Duration::from_secs(state.settings.worker.interval_secs.max(1));
            tokio::spawn(worker::run(state.clone(), interval, self.stop_rx.clone()))
        });
        let refresh = Duration::from_secs(state.settings.upstream.certificate_refresh_secs.max(60));
        let refresher = tokio::spawn(state.v3.clone().refresh_loop(refresh));
        // Every stop source ends up as `true` on the watch, which also starts the grace clock.
        let (stop_rx, stop_tx) = (self.stop_rx.clone(), self.stop_tx.clone());
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop_signal(stop_rx).await;
            let _ = stop_tx.send(true);
        });
        let grace = Duration::from_secs(state.settings.server.shutdown_grace_secs);
        let mut stopping = self.stop_rx.clone();
        let result = tokio::select! {
            result = serve.into_future() => result,
            () = async {
                if stopping.wait_for(|stopped| *stopped).await.is_err() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still open after the shutdown grace period; dropping them");
                Ok(())
            }
        };
        let _ = self.stop_tx.send(true);
        refresher.abort();
        if let Some(worker) = worker {
            // A pass stuck on a slow upstream call must not hold a restart.
            let abort = worker.abort_handle();
            match tokio::time::timeout(grace, worker).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(error = %err, "reconciliation worker ended abnormally")
                }
                Err(_) => {
                    abort.abort();
                    tracing::warn!(
                        grace_secs = grace.as_secs(),
                        "reconciliation pass still running after the shutdown grace period; abandoned"
                    );
                }
            }
        }
        #[cfg(feature = "embedded-sim")]
        if let Some(sim) = self.embedded {
            sim.shutdown().await;
        }
        result
    }
}

/// Resolves on the first of: the stop value turning `true` (one sent before this was
/// polled counts), Ctrl-C, or SIGTERM (unix). A signal handler that cannot be installed is
/// logged and ignored rather than taken as a stop.
async fn stop_signal(mut stop: tokio::sync::watch::Receiver<bool>) {
    let requested = async move {
        // An error means every sender is gone: nobody can ask any more, so wait for signals.
        if stop.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = requested => {}
        _ = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// All routes, plus `extra` routes (the embedded demo's) under the same layers.
pub fn router(state: SharedState, extra: Option<Router>) -> Router {
    let limit = state.settings.server.body_limit_bytes;
    let mut router = Router::new()
        .route("/healthz", get(api::operations::healthz))
        .route("/readyz", get(api::operations::readyz))
        .route("/metrics", get(api::operations::metrics))
        .route("/openapi.json", get(api::openapi::document))
        .route("/api/login/miniprogram", post(api::auth::login_miniprogram))
        .route("/api/login/oauth", post(api::auth::login_oauth))
        .route("/api/logout", post(api::auth::logout))
        .route("/api/products", get(api::orders::list_products))
        .route("/api/orders", post(api::orders::create_order))
        .route("/api/orders/{out_trade_no}", get(api::orders::get_order))
        .route("/api/orders/{out_trade_no}/pay", post(api::orders::pay))
        .route(
            "/api/orders/{out_trade_no}/close",
            post(api::orders::close_order),
        )
        .route(
            "/api/orders/{out_trade_no}/refunds",
            post(api::refunds::create_refund),
        )
        .route(
            "/api/refunds/{out_refund_no}",
            get(api::refunds::get_refund),
        )
        .route("/api/admin/attention", get(api::attention::list))
        .route(
            "/api/admin/reconciliations",
            get(api::reconciliations::list).post(api::reconciliations::run),
        )
        .route(
            "/api/admin/reconciliations/{date}",
            get(api::reconciliations::of_date),
        )
        .route(
            "/api/admin/orders/{out_trade_no}/attention/resolve",
            post(api::attention::resolve),
        )
        .route(
            "/api/admin/orders/{out_trade_no}",
            get(api::merchant::order),
        )
        .route("/api/jssdk/config", get(api::jssdk::config))
        .route("/api/native/mode-one-url", get(api::mode_one::mode_one_url))
        .route("/notify/v3/pay", post(notify::v3_pay))
        .route("/notify/v3/refund", post(notify::v3_refund))
        .route("/notify/v2/pay", post(notify_v2::v2_pay))
        .route("/notify/v2/refund", post(notify_v2::v2_refund))
        .route(
            "/notify/v2/native-callback",
            post(notify_v2::native_callback),
        );
    router = match state
        .settings
        .server
        .static_dir
        .clone()
        .filter(|d| d.is_dir())
    {
        Some(dir) => router.fallback_service(tower_http::services::ServeDir::new(dir)),
        None => router.route("/", get(fallback_page)),
    };
    let guarded = state.clone();
    router
        .with_state(state)
        .merge(extra.unwrap_or_default())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        // Failure budgets of the notification endpoints (inside the shape: its 429 keeps the
        // handler's WeChat-shaped body).
        .layer(axum::middleware::from_fn_with_state(
            guarded,
            crate::notify_guard::limit_failures,
        ))
        // Outside the body limit, so its 413 is reshaped too (in WeChat's shape on the
        // notification endpoints).
        .layer(axum::middleware::from_fn(error::error_shape))
        .layer(TraceLayer::new_for_http())
}
