//! The JS-SDK `wx.config` signature for Official Account web pages (protocol.md section C).
//!
//! A page inside WeChat must call `wx.config` before `wx.chooseWXPay`; the server signs the
//! page URL with the cached `jsapi_ticket` so that WeChat knows the page belongs to the
//! Official Account. The ticket stays on the server; only the signature leaves it.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Why a `wx.config` signature could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsSdkError {
    /// A value would change the meaning of `string1` (it contains `&`), or is empty.
    #[error("{field} must be non-empty and must not contain '&' or control characters")]
    BadValue {
        /// Which input (`jsapi_ticket`, `noncestr`, `url`).
        field: &'static str,
    },
}

/// Drops `#` and everything after it: WeChat signs the page URL without its fragment, while
/// the query string stays.
pub fn url_without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

fn check(field: &'static str, value: &str) -> Result<(), JsSdkError> {
    if value.is_empty() || value.contains('&') || value.chars().any(char::is_control) {
        return Err(JsSdkError::BadValue { field });
    }
    Ok(())
}

/// Returns `(string1, signature)`: `string1` is
/// `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` with raw (not URL-encoded) values, and
/// `signature` is the lower-case hex SHA-1 of it. Any `#fragment` of `url` is dropped first.
///
/// A `&` inside the ticket or nonce would let one field impersonate another, so it is
/// refused; `&` inside the URL's query is legitimate and kept, since `url` is the last field.
pub fn config_signature(
    jsapi_ticket: &str,
    noncestr: &str,
    timestamp: u64,
    url: &str,
) -> Result<(String, String), JsSdkError> {
    check("jsapi_ticket", jsapi_ticket)?;
    check("noncestr", noncestr)?;
    let url = url_without_fragment(url);
    if url.is_empty() || url.chars().any(char::is_control) {
        return Err(JsSdkError::BadValue { field: "url" });
    }
    let string1 =
        format!("jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}");
    let digest = Sha1::digest(string1.as_bytes());
    let signature = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((string1, signature))
}

/// What the server returns to a page for `wx.config({...})`. Field names are the JS ones
/// (`appId`, `nonceStr`, `jsApiList`); note `nonceStr` here versus `noncestr` in `string1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WxConfig {
    /// The Official Account appid.
    pub app_id: String,
    /// The signed timestamp, in seconds; a JSON number as `wx.config` expects.
    pub timestamp: u64,
    /// The signed nonce.
    pub nonce_str: String,
    /// Lower-case hex SHA-1 from [`config_signature`].
    pub signature: String,
    /// The JS APIs the page will use, e.g. `["chooseWXPay"]`.
    pub js_api_list: Vec<String>,
}

impl WxConfig {
    /// Signs `url` and assembles the config object in one step.
    pub fn sign(
        app_id: impl Into<String>,
        jsapi_ticket: &str,
        nonce_str: impl Into<String>,
        timestamp: u64,
        url: &str,
        js_api_list: Vec<String>,
    ) -> Result<Self, JsSdkError> {
        let nonce_str = nonce_str.into();
        let (_, signature) = config_signature(jsapi_ticket, &nonce_str, timestamp, url)?;
        Ok(Self {
            app_id: app_id.into(),
            timestamp,
            nonce_str,
            signature,
            js_api_list,
        })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const TICKET: &str =
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

    #[test]
    fn official_example_and_fragment() {
        let (s1, sig) = config_signature(
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value",
        )
        .unwrap();
        assert!(s1.ends_with("&timestamp=1414587457&url=http://mp.weixin.qq.com?params=value"));
        assert_eq!(sig, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        let (_, with_fragment) = config_signature(
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value#/pay?x=1",
        )
        .unwrap();
        assert_eq!(with_fragment, sig);
    }

    #[test]
    fn refuses_ambiguous_values() {
        assert!(config_signature("a&b", "n", 1, "http://x").is_err());
        assert!(config_signature(TICKET, "", 1, "http://x").is_err());
        assert!(config_signature(TICKET, "n", 1, "#only-fragment").is_err());
        assert!(config_signature(TICKET, "n", 1, "http://x/?a=1&b=2").is_ok());
    }

    #[test]
    fn wx_config_json_shape() {
        let c = WxConfig::sign(
            "wxd930ea5d5a258f4f",
            TICKET,
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com",
            vec!["chooseWXPay".into()],
        )
        .unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["appId"], "wxd930ea5d5a258f4f");
        assert_eq!(v["timestamp"], 1414587457);
        assert_eq!(v["nonceStr"], "Wm3WZYTPz0wzccnW");
        assert_eq!(v["signature"], "f4d90daf4b3bca3078ab155816175ba34c443a7b");
        assert_eq!(v["jsApiList"][0], "chooseWXPay");
    }
}
