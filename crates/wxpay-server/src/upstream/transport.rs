//! One HTTP exchange with retries, backoff and failover between a primary and a backup host.
//!
//! The caller builds the request per attempt (a v3 request is re-signed with a fresh
//! timestamp and nonce each time) and gets back the raw status, headers and body bytes,
//! which is what signature verification needs.
//!
//! Some URLs carry secrets: login, OAuth and the access-token refresh send the AppSecret in
//! the query (WeChat's API asks for it there), the ticket call the access token. So a
//! transport error keeps no URL (reqwest's error would print it in `Display` and `Debug`,
//! straight into an ERROR log line), and upstream clients never follow a redirect, which
//! would hand the query to whatever host the answer names.

use std::time::Duration;

use axum::body::Bytes;
use reqwest::header::HeaderMap;

use super::{retry_delay, should_fail_over, AttemptResult, Idempotency, UpstreamError};

/// The builder of every upstream HTTP client: redirects are not followed (WeChat's APIs
/// answer in place; a redirect would resend a secret-bearing URL to another host).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

/// A raw answer: status, headers and the exact body bytes.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes, unmodified.
    pub body: Bytes,
    /// The base URL that answered.
    pub base: String,
}

/// Sends requests to a list of base URLs (primary first).
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    bases: Vec<String>,
    max_retries: u32,
    backoff: Duration,
}

impl Transport {
    /// A transport over `bases` (at least one) using `http`.
    pub fn new(
        http: reqwest::Client,
        bases: Vec<String>,
        max_retries: u32,
        backoff: Duration,
    ) -> Self {
        let bases = bases
            .into_iter()
            .map(|b| b.trim_end_matches('/').to_owned())
            .collect();
        Self {
            http,
            bases,
            max_retries,
            backoff,
        }
    }

    /// The HTTP client (for callers building requests).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends the request built by `build(base)` until it gets a final answer. 5xx and 429
    /// answers, timeouts and connect errors are retried or failed over per
    /// [`retry_delay`] / [`should_fail_over`]; anything else is returned as is.
    pub async fn send<F>(
        &self,
        idempotency: Idempotency,
        build: F,
    ) -> Result<RawResponse, UpstreamError>
    where
        F: Fn(&str) -> Result<reqwest::RequestBuilder, UpstreamError>,
    {
        let mut host = 0usize;
        let mut attempt = 0u32;
        loop {
            let base = self
                .bases
                .get(host)
                .or_else(|| self.bases.first())
                .cloned()
                .unwrap_or_default();
            let outcome = build(&base)?.send().await;
            let (result, failure) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) if status < 500 && status != 429 => {
                            return Ok(RawResponse {
                                status,
                                headers,
                                body,
                                base,
                            });
                        }
                        Ok(_) => (
                            AttemptResult::Status(status),
                            UpstreamError::Unavailable { status },
                        ),
                        Err(err) => (AttemptResult::TimedOut, transport_error(err)),
                    }
                }
                Err(err) if err.is_connect() => {
                    (AttemptResult::ConnectFailed, transport_error(err))
                }
                Err(err) => (AttemptResult::TimedOut, transport_error(err)),
            };
            tracing::warn!(base = %base, attempt, ?result, "upstream attempt failed");
            if should_fail_over(result, idempotency) && host + 1 < self.bases.len() {
                host += 1;
                attempt += 1;
                if attempt > self.max_retries + 1 {
                    return Err(failure);
                }
                continue;
            }
            match retry_delay(result, attempt, idempotency, self.max_retries, self.backoff) {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(failure),
            }
        }
    }
}

/// A transport failure without the URL it was for (the query may hold a secret).
fn transport_error(err: reqwest::Error) -> UpstreamError {
    UpstreamError::Transport(err.without_url())
}
