//! Messages of WeChat's open-platform host (`api.weixin.qq.com`) that a payment flow needs:
//! mini-program login (`code2Session`, protocol D), web authorisation (OAuth code →
//! openid), the access token and the JS-SDK ticket (protocol C).
//!
//! These answers carry no signature and report a failure as HTTP 200 with a non-zero
//! `errcode`, so [`read_answer`] looks at `errcode` before reading the success shape.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `GET` mini-program login: `appid`, `secret`, `js_code`, `grant_type=authorization_code`.
pub const CODE2SESSION: &str = "/sns/jscode2session";
/// `GET` web authorisation: `appid`, `secret`, `code`, `grant_type=authorization_code`.
pub const OAUTH2_ACCESS_TOKEN: &str = "/sns/oauth2/access_token";
/// `GET` access token: `grant_type=client_credential`, `appid`, `secret`.
pub const TOKEN: &str = "/cgi-bin/token";
/// `GET` JS-SDK ticket: `access_token`, `type=jsapi`.
pub const GET_TICKET: &str = "/cgi-bin/ticket/getticket";

/// Lifetime WeChat gives tokens and tickets when an answer leaves `expires_in` out.
pub const DEFAULT_EXPIRES_IN: i64 = 7200;

/// A refusal: `{"errcode":40029,"errmsg":"invalid code rid: …"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("errcode {errcode}: {errmsg}")]
pub struct OpenError {
    /// Non-zero on failure (`-1` busy, `40029` bad code, `45011` rate limit, …).
    pub errcode: i64,
    /// WeChat's message, with a request id.
    #[serde(default)]
    pub errmsg: String,
}

/// A successful `code2Session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSession {
    /// The user's openid under the mini-program.
    pub openid: String,
    /// The session key (server side only; never sent to the client).
    pub session_key: String,
    /// UnionID, when the mini-program is bound to an open-platform account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// A successful web authorisation (`/sns/oauth2/access_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthAccessToken {
    /// The web authorisation token (not the app's access token).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// Token to renew it.
    pub refresh_token: String,
    /// The user's openid under the Official Account.
    pub openid: String,
    /// `snsapi_base` or `snsapi_userinfo`.
    pub scope: String,
    /// `1` when the page was opened as a snapshot (朋友圈快照页) and the openid is virtual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_snapshotuser: Option<i64>,
    /// UnionID when bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// A successful `/cgi-bin/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The app's access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    #[serde(default = "default_expires_in")]
    pub expires_in: i64,
}

/// A successful `/cgi-bin/ticket/getticket?type=jsapi` (which also says `errcode: 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiTicket {
    /// `0`.
    #[serde(default)]
    pub errcode: i64,
    /// `ok`.
    #[serde(default)]
    pub errmsg: String,
    /// The ticket the JS-SDK signature is made with.
    pub ticket: String,
    /// Its lifetime in seconds.
    #[serde(default = "default_expires_in")]
    pub expires_in: i64,
}

fn default_expires_in() -> i64 {
    DEFAULT_EXPIRES_IN
}

/// Reads an answer: `Ok(Err(_))` when it carries a non-zero `errcode`, `Ok(Ok(_))` with the
/// success shape otherwise, `Err(_)` when it is neither.
pub fn read_answer<T: DeserializeOwned>(
    body: &[u8],
) -> Result<Result<T, OpenError>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    let refused = value
        .get("errcode")
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|code| code != 0);
    if refused {
        return serde_json::from_value(value).map(Err);
    }
    serde_json::from_value(value).map(Ok)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn an_errcode_is_a_refusal_and_zero_is_success() {
        let refused =
            read_answer::<CodeSession>(br#"{"errcode":40029,"errmsg":"invalid code rid: 1"}"#)
                .expect("json");
        assert_eq!(refused.map_err(|e| e.errcode), Err(40029));
        let ok = read_answer::<CodeSession>(br#"{"openid":"o1","session_key":"k=="}"#)
            .expect("json")
            .expect("success");
        assert_eq!((ok.openid.as_str(), ok.unionid), ("o1", None));
        let ticket = read_answer::<JsapiTicket>(
            br#"{"errcode":0,"errmsg":"ok","ticket":"t","expires_in":7200}"#,
        )
        .expect("json")
        .expect("success");
        assert_eq!(ticket.ticket, "t");
        let token = read_answer::<AccessToken>(br#"{"access_token":"a"}"#)
            .expect("json")
            .expect("success");
        assert_eq!(token.expires_in, DEFAULT_EXPIRES_IN);
        assert!(read_answer::<CodeSession>(br#"{"openid":"o1"}"#).is_err());
        assert!(read_answer::<CodeSession>(b"<html>").is_err());
    }
}
