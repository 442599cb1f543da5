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

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use reqwest::header::HeaderMap;

use super::{retry_delay, should_fail_over, AttemptResult, Idempotency, UpstreamError};
use crate::metrics::{endpoint_label, Metrics};

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

/// Largest answer body read unless [`Transport::with_max_response_bytes`] says otherwise.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Sends requests to a list of base URLs (primary first).
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    bases: Vec<String>,
    max_retries: u32,
    backoff: Duration,
    max_response_bytes: usize,
    metrics: Arc<Metrics>,
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
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The same transport counting its calls in `metrics` (the server's `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where this transport counts its calls.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The same transport reading answer bodies of at most `limit` bytes.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
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
            // Built first so the call can be labelled by its endpoint (never its values).
            let (client, request) = build(&base)?.build_split();
            let request = request.map_err(transport_error)?;
            let endpoint = endpoint_label(request.method().as_str(), request.url());
            let started = Instant::now();
            let outcome = client.execute(request).await;
            self.metrics.upstream_call(
                &endpoint,
                outcome.as_ref().ok().map(|r| r.status().as_u16()),
                started.elapsed(),
            );
            let (result, failure) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    match read_capped(response, self.max_response_bytes).await {
                        Ok(Body::TooLarge) => {
                            return Err(UpstreamError::BodyTooLarge {
                                limit: self.max_response_bytes,
                            })
                        }
                        Ok(Body::Read(body)) if status < 500 && status != 429 => {
                            return Ok(RawResponse {
                                status,
                                headers,
                                body,
                                base,
                            });
                        }
                        Ok(Body::Read(_)) => (
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

/// An answer body, or the news that it is over the limit.
enum Body {
    /// The whole body.
    Read(Bytes),
    /// Larger than the limit (by its `Content-Length`, or once that much has arrived).
    TooLarge,
}

/// Reads `response`'s body, stopping as soon as it is known to exceed `limit` bytes, so a
/// broken or hostile upstream cannot make the server buffer an unbounded answer.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Body, reqwest::Error> {
    let declared = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(Body::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(Body::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Read(Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A chunked answer without `Content-Length` is cut off at the limit, not buffered.
    #[tokio::test]
    async fn a_chunked_answer_over_the_limit_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.expect("head");
            let chunk = vec![b' '; 4096];
            // Far more than the limit; the client hangs up long before the end.
            for _ in 0..256 {
                let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                if socket.write_all(&frame).await.is_err() {
                    return;
                }
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
        });
        let transport = Transport::new(
            reqwest::Client::new(),
            vec![format!("http://{addr}")],
            0,
            Duration::from_millis(1),
        )
        .with_max_response_bytes(10_000);
        let answer = transport
            .send(Idempotency::Idempotent, |base| {
                Ok(transport.http().get(format!("{base}/v3/anything")))
            })
            .await;
        assert!(
            matches!(answer, Err(UpstreamError::BodyTooLarge { limit: 10_000 })),
            "{answer:?}"
        );
        server.abort();
    }
}
