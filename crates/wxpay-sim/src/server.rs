//! The simulator as a value: [`Simulator::start`] binds (port 0 works), serves, and hands
//! back a [`RunningSim`] that knows its URL and shuts down cleanly.

use std::net::SocketAddr;

use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wxpay_core::open;
use wxpay_core::v2::paths;

use crate::config::SimConfig;
use crate::control::SimControl;
use crate::error::SimError;
use crate::sim::Sim;
use crate::state::World;
use crate::{control, login, pages, v2, v3};

/// Entry point.
pub struct Simulator;

/// A simulator that is serving.
pub struct RunningSim {
    sim: Sim,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    task: JoinHandle<()>,
    tls_task: Option<JoinHandle<()>>,
}

/// The HTTP routes (plain listener).
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/v3/{*rest}", any(v3::dispatch))
        .route(open::CODE2SESSION, get(login::jscode2session))
        .route(open::OAUTH2_ACCESS_TOKEN, get(login::oauth2_access_token))
        .route(open::TOKEN, get(login::token))
        .route(open::GET_TICKET, get(login::getticket))
        .route("/cgi-bin/mmpayweb-bin/checkmweb", get(pages::h5_cashier))
        .route(
            "/__sim/cashier/{prepay_id}/{action}",
            post(pages::cashier_action),
        )
        .route("/__sim/scan", get(pages::scan_page))
        .route(paths::UNIFIED_ORDER, post(v2::unifiedorder))
        .route(paths::ORDER_QUERY, post(v2::orderquery))
        .route(paths::CLOSE_ORDER, post(v2::closeorder))
        .route(paths::REFUND_QUERY, post(v2::refundquery))
        .route(paths::REFUND, post(v2::refund_without_certificate))
        .nest("/__sim", control::router())
        .fallback(v3::not_found)
        .with_state(sim)
}

impl Simulator {
    /// Loads state (when a state file is configured), binds, and starts serving.
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let world = match &config.state_file {
            Some(path) => World::load(&config.base_dir.join(path))?,
            None => World::default(),
        };
        let listen = config.listen.clone();
        let tls_config = config.tls.clone();
        let sim = Sim::build(config, world)?;
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: listen.clone(),
            source,
        })?;
        let _ = sim.base_url.set(format!("http://{addr}"));
        let app = router(sim.clone());
        let mut shutdown = sim.shutdown.subscribe();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        let (tls_addr, tls_task) = match tls_config {
            Some(tls) => {
                let (addr, task) = crate::tls::start(sim.clone(), &tls).await?;
                let _ = sim.tls_base_url.set(format!("https://{addr}"));
                (Some(addr), Some(task))
            }
            None => (None, None),
        };
        for key in processing_refunds(&sim) {
            crate::lifecycle::schedule_auto_success(&sim, key);
        }
        let resumed = crate::notify::resume_pending(&sim);
        if resumed > 0 {
            tracing::info!(resumed, "resumed pending notification deliveries");
        }
        Ok(RunningSim {
            sim,
            addr,
            tls_addr,
            task,
            tls_task,
        })
    }
}

/// Refunds still PROCESSING (restarted auto-completion after loading a state file).
fn processing_refunds(sim: &Sim) -> Vec<String> {
    crate::sim::lock(&sim.world)
        .refunds
        .iter()
        .filter(|(_, r)| r.status == wxpay_core::RefundStatus::Processing)
        .map(|(k, _)| k.clone())
        .collect()
}

impl RunningSim {
    /// `http://127.0.0.1:PORT` — give this to the merchant as WeChat's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT` of the mutual-TLS listener (v2 refunds), when configured.
    pub fn tls_base_url(&self) -> Option<String> {
        self.tls_addr.map(|a| format!("https://{a}"))
    }

    /// In-process control handle (the same operations as the `/__sim` HTTP API).
    pub fn control(&self) -> SimControl {
        SimControl::new(self.sim.clone())
    }

    /// Stops serving, stops notification retries and writes the state file.
    pub async fn shutdown(self) {
        let _ = self.sim.shutdown.send(true);
        let _ = self.task.await;
        if let Some(t) = self.tls_task {
            t.abort();
            let _ = t.await;
        }
        self.sim.write_state_file();
    }

    /// Waits until the server task ends (used by the binary; ends on Ctrl-C via `shutdown`).
    pub async fn wait_for_ctrl_c(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.shutdown().await;
    }
}
