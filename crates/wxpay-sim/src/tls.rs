//! The mutual-TLS listener for `/secapi/pay/refund` (API v2 refunds need the merchant's
//! API certificate as a TLS client certificate, as on WeChat's side).
//!
//! Client certificates must chain to the configured CA (rustls `WebPkiClientVerifier`);
//! the refund handler then checks that the presented certificate belongs to `mch_id`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::post;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::error::SimError;
use crate::sim::Sim;
use crate::v2::ClientCert;

fn material(detail: impl std::fmt::Display) -> SimError {
    SimError::Material {
        what: "tls".into(),
        detail: detail.to_string(),
    }
}

/// Builds the rustls server configuration that requires a client certificate.
pub fn server_config(sim: &Sim, tls: &TlsConfig) -> Result<ServerConfig, SimError> {
    let base = &sim.config.base_dir;
    let ca_pem = tls.ca_cert.load(base)?;
    let chain_pem = tls.server_cert.load(base)?;
    let key_pem = tls.server_key.load(base)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(material)?).map_err(material)?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(material)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(material)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(material)?;
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(material)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(material)
}

/// Binds and serves the mutual-TLS listener until the simulator shuts down.
pub async fn start(sim: Sim, tls: &TlsConfig) -> Result<(SocketAddr, JoinHandle<()>), SimError> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&sim, tls)?));
    let listener = TcpListener::bind(&tls.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: tls.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: tls.listen.clone(),
        source,
    })?;
    let router = Router::new()
        .route(wxpay_core::v2::paths::REFUND, post(crate::v2::refund))
        .with_state(sim.clone());
    let mut shutdown = sim.shutdown.subscribe();
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.changed() => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls_stream) = acceptor.accept(stream).await else {
                    return;
                };
                let serial = tls_stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(|der| wxpay_core::keys::Certificate::from_der(der.as_ref()).ok())
                    .map(|c| c.serial().as_str().to_ascii_uppercase());
                let service = match serial {
                    Some(serial) => router.layer(Extension(ClientCert { serial })),
                    None => router,
                };
                let served = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls_stream), TowerToHyperService::new(service))
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "mutual-TLS connection ended with an error");
                }
            });
        }
    });
    Ok((addr, task))
}
