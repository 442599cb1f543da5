//! `api.weixin.qq.com` calls: mini-program login (`code2Session`, protocol D), web
//! authorisation (OAuth code → openid), access token and JS-SDK ticket (protocol C).
//!
//! These answers are not signed; they travel over TLS from WeChat's host. Codes are single
//! use and fetching a token revokes the previous one, so none of these is retried blindly.

use serde::de::DeserializeOwned;
use wxpay_core::open::{self, AccessToken, JsapiTicket, OAuthAccessToken};

use super::transport::Transport;
use super::{Idempotency, UpstreamError};
use crate::secret::Secret;

/// A successful `code2Session`, its session key kept secret.
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

    /// `GET path?query`, decoded into the core's message `T`; a non-zero `errcode` (or an
    /// HTTP error) is [`UpstreamError::Business`] with the errcode as its code.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> Result<T, UpstreamError> {
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
        let refusal = |errcode: i64, errmsg: String| UpstreamError::Business {
            status: raw.status,
            code: errcode.to_string(),
            message: errmsg,
        };
        match open::read_answer::<T>(&raw.body) {
            Ok(Err(refused)) => Err(refusal(refused.errcode, refused.errmsg)),
            Ok(Ok(_)) | Err(_) if raw.status >= 400 => {
                Err(refusal(i64::from(raw.status), String::new()))
            }
            Ok(Ok(answer)) => Ok(answer),
            Err(err) => Err(UpstreamError::Decode(err)),
        }
    }

    /// `GET /sns/jscode2session`.
    pub async fn code2session(
        &self,
        appid: &str,
        secret: &Secret<String>,
        code: &str,
    ) -> Result<CodeSession, UpstreamError> {
        let answer: open::CodeSession = self
            .get(
                open::CODE2SESSION,
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
            openid: answer.openid,
            unionid: answer.unionid,
            session_key: Secret::new(answer.session_key),
        })
    }

    /// `GET /sns/oauth2/access_token`: web authorisation code → openid.
    pub async fn oauth_openid(
        &self,
        appid: &str,
        secret: &Secret<String>,
        code: &str,
    ) -> Result<(String, Option<String>), UpstreamError> {
        let answer: OAuthAccessToken = self
            .get(
                open::OAUTH2_ACCESS_TOKEN,
                &[
                    ("appid", appid),
                    ("secret", secret.expose()),
                    ("code", code),
                    ("grant_type", "authorization_code"),
                ],
                Idempotency::Once,
            )
            .await?;
        Ok((answer.openid, answer.unionid))
    }

    /// `GET /cgi-bin/token`: a new access token (revokes the previous one after a grace period).
    pub async fn access_token(
        &self,
        appid: &str,
        secret: &Secret<String>,
    ) -> Result<Expiring, UpstreamError> {
        let answer: AccessToken = self
            .get(
                open::TOKEN,
                &[
                    ("grant_type", "client_credential"),
                    ("appid", appid),
                    ("secret", secret.expose()),
                ],
                Idempotency::Once,
            )
            .await?;
        Ok(Expiring {
            value: Secret::new(answer.access_token),
            expires_in: answer.expires_in,
        })
    }

    /// `GET /cgi-bin/ticket/getticket?type=jsapi`.
    pub async fn jsapi_ticket(&self, access_token: &str) -> Result<Expiring, UpstreamError> {
        let answer: JsapiTicket = self
            .get(
                open::GET_TICKET,
                &[("access_token", access_token), ("type", "jsapi")],
                Idempotency::Idempotent,
            )
            .await?;
        Ok(Expiring {
            value: Secret::new(answer.ticket),
            expires_in: answer.expires_in,
        })
    }
}
