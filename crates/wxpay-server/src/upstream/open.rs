//! `api.weixin.qq.com` calls: mini-program login (`code2Session`, protocol D), web
//! authorisation (OAuth code → openid), access token and JS-SDK ticket (protocol C).
//!
//! These answers are not signed; they travel over TLS from WeChat's host. Codes are single
//! use and fetching a token revokes the previous one, so none of these is retried blindly.

use serde::Deserialize;

use super::transport::Transport;
use super::{Idempotency, UpstreamError};
use crate::secret::Secret;

/// A successful `code2Session`.
#[derive(Debug, Clone)]
pub struct CodeSession {
    /// The user's openid under the mini-program.
    pub openid: String,
    /// UnionID if bound.
    pub unionid: Option<String>,
    /// Server-side only.
    pub session_key: Secret<String>,
}

/// A credential with its lifetime.
#[derive(Debug, Clone)]
pub struct Expiring {
    /// The token or ticket.
    pub value: Secret<String>,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

#[derive(Deserialize)]
struct OpenAnswer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<String>,
    access_token: Option<String>,
    ticket: Option<String>,
    expires_in: Option<i64>,
}

/// Client of the open-platform API host.
#[derive(Debug, Clone)]
pub struct OpenClient {
    transport: Transport,
}

impl OpenClient {
    /// A client over `transport` (base URL: `api.weixin.qq.com` or the simulator).
    pub fn new(transport: Transport) -> Self {
        Self { transport }
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> Result<OpenAnswer, UpstreamError> {
        let raw = self
            .transport
            .send(idempotency, |base| {
                Ok(self
                    .transport
                    .http()
                    .get(format!("{base}{path}"))
                    .query(query))
            })
            .await?;
        let answer: OpenAnswer =
            serde_json::from_slice(&raw.body).map_err(UpstreamError::Decode)?;
        if answer.errcode != 0 || raw.status >= 400 {
            return Err(UpstreamError::Business {
                status: raw.status,
                code: answer.errcode.to_string(),
                message: answer.errmsg,
            });
        }
        Ok(answer)
    }

    fn missing(field: &str) -> UpstreamError {
        UpstreamError::Business {
            status: 200,
            code: "MISSING_FIELD".into(),
            message: format!("no {field} in answer"),
        }
    }

    /// `GET /sns/jscode2session`.
    pub async fn code2session(
        &self,
        appid: &str,
        secret: &Secret<String>,
        code: &str,
    ) -> Result<CodeSession, UpstreamError> {
        let answer = self
            .get(
                "/sns/jscode2session",
                &[
                    ("appid", appid),
                    ("secret", secret.expose()),
                    ("js_code", code),
                    ("grant_type", "authorization_code"),
                ],
                Idempotency::Once,
            )
            .await?;
        Ok(CodeSession {
            openid: answer.openid.ok_or_else(|| Self::missing("openid"))?,
            unionid: answer.unionid,
            session_key: Secret::new(
                answer
                    .session_key
                    .ok_or_else(|| Self::missing("session_key"))?,
            ),
        })
    }

    /// `GET /sns/oauth2/access_token`: web authorisation code → openid.
    pub async fn oauth_openid(
        &self,
        appid: &str,
        secret: &Secret<String>,
        code: &str,
    ) -> Result<(String, Option<String>), UpstreamError> {
        let answer = self
            .get(
                "/sns/oauth2/access_token",
                &[
                    ("appid", appid),
                    ("secret", secret.expose()),
                    ("code", code),
                    ("grant_type", "authorization_code"),
                ],
                Idempotency::Once,
            )
            .await?;
        Ok((
            answer.openid.ok_or_else(|| Self::missing("openid"))?,
            answer.unionid,
        ))
    }

    /// `GET /cgi-bin/token`: a new access token (revokes the previous one after a grace period).
    pub async fn access_token(
        &self,
        appid: &str,
        secret: &Secret<String>,
    ) -> Result<Expiring, UpstreamError> {
        let answer = self
            .get(
                "/cgi-bin/token",
                &[
                    ("grant_type", "client_credential"),
                    ("appid", appid),
                    ("secret", secret.expose()),
                ],
                Idempotency::Once,
            )
            .await?;
        Ok(Expiring {
            value: Secret::new(
                answer
                    .access_token
                    .ok_or_else(|| Self::missing("access_token"))?,
            ),
            expires_in: answer.expires_in.unwrap_or(7200),
        })
    }

    /// `GET /cgi-bin/ticket/getticket?type=jsapi`.
    pub async fn jsapi_ticket(&self, access_token: &str) -> Result<Expiring, UpstreamError> {
        let answer = self
            .get(
                "/cgi-bin/ticket/getticket",
                &[("access_token", access_token), ("type", "jsapi")],
                Idempotency::Idempotent,
            )
            .await?;
        Ok(Expiring {
            value: Secret::new(answer.ticket.ok_or_else(|| Self::missing("ticket"))?),
            expires_in: answer.expires_in.unwrap_or(7200),
        })
    }
}
