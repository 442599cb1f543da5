//! Serde types for the API v3 bodies the toolkit sends and receives (protocol.md A.6, A.9,
//! A.12).
//!
//! Requests the merchant builds use the typed ids and values (`OutTradeNo`, `Amount`,
//! `Description`, …) so an invalid request cannot be built; optional fields are left out
//! of the JSON rather than sent as `null`. Responses are lenient where WeChat is: most
//! fields of a [`Transaction`] are optional because an unpaid order lacks them, unknown
//! fields are ignored, and open value sets keep an `Unknown(String)` variant.
//!
//! For the simulator, each request type also has a `from_json` that checks a raw JSON body
//! field by field and names the first offending field, so it can answer 400 `PARAM_ERROR`
//! the way WeChat does.

mod error;
mod json_fields;
mod prepay;
mod refund;
mod transaction;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use error::{error_code, ErrorBody, FieldError, ParamErrorDetail, ParamLocation};
pub use prepay::{
    GoodsDetail, H5Info, H5PrepayResponse, NativePrepayResponse, OrderDetail, Payer, PrepayAmount,
    PrepayIdResponse, PrepayKind, PrepayRequest, SceneInfo, SettleInfo, StoreInfo,
};
pub use refund::{
    FundsFrom, Refund, RefundAmount, RefundAmountRequest, RefundGoodsDetail,
    RefundNotificationAmount, RefundNotificationPayload, RefundReason, RefundRequest,
};
pub use transaction::{
    CloseRequest, Transaction, TransactionAmount, TransactionPayer, TransactionSceneInfo,
};

/// The only currency of domestic direct-merchant payments.
pub const CNY: &str = "CNY";

/// Why a notify URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyUrlError {
    /// Longer than WeChat's 255 characters.
    #[error("notify_url is {0} characters; WeChat allows at most 255")]
    TooLong(usize),
    /// Not `https://…` or `http://…` with a host.
    #[error("notify_url must be an absolute http(s) URL")]
    NotAbsolute,
    /// WeChat refuses notify URLs with a query string (A.8); use the path instead.
    #[error("notify_url must not carry a query string or fragment")]
    HasQuery,
    /// Whitespace or control characters.
    #[error("notify_url contains whitespace or a control character")]
    BadChar,
    /// Plain `http://` to a host that is not loopback: WeChat requires HTTPS on public
    /// hosts (A.8).
    #[error(
        "notify_url must use https:// (plain http is only for a loopback host), not http://{0}"
    )]
    PlainHttp(String),
}

/// `notify_url`: where WeChat POSTs payment and refund notifications (A.8).
///
/// An absolute URL without query string, at most 255 characters (the prepay limit; the
/// refund one is 256), and HTTPS: WeChat refuses plain `http://` on public hosts. The one
/// exception here is `http://` to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`),
/// which only a local simulator can be reached on. WeChat also delivers over plain HTTP to
/// a merchant connected by a private line (专线), to its NAT IP or private callback domain;
/// [`NotifyUrl::new_over_private_line`] models that.
///
/// This is the one place the rule lives: the server checks its `public_url` with it at
/// start-up, and the simulator refuses prepay, unified order and refund requests with it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NotifyUrl(String);

impl NotifyUrl {
    /// Length limit in characters.
    pub const MAX_LEN: usize = 255;

    /// Checks the rules above.
    pub fn new(value: impl Into<String>) -> Result<Self, NotifyUrlError> {
        Self::new_over_private_line(value, &[] as &[&str])
    }

    /// Like [`NotifyUrl::new`], also accepting plain `http://` to one of `private_hosts`
    /// (compared without case): the hosts a merchant reaches WeChat through a private line
    /// on.
    pub fn new_over_private_line<S: AsRef<str>>(
        value: impl Into<String>,
        private_hosts: &[S],
    ) -> Result<Self, NotifyUrlError> {
        let value = value.into();
        let len = value.chars().count();
        if len > Self::MAX_LEN {
            return Err(NotifyUrlError::TooLong(len));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NotifyUrlError::BadChar);
        }
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or(NotifyUrlError::NotAbsolute)?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(NotifyUrlError::NotAbsolute);
        }
        if rest.contains('?') || rest.contains('#') {
            return Err(NotifyUrlError::HasQuery);
        }
        if value.starts_with("http://") {
            let host = host_of(rest);
            let private = private_hosts
                .iter()
                .any(|h| h.as_ref().eq_ignore_ascii_case(host));
            if !private && !is_loopback_host(host) {
                return Err(NotifyUrlError::PlainHttp(host.to_owned()));
            }
        }
        Ok(Self(value))
    }

    /// The URL as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The host of `authority/path…` (the URL after its scheme): no user info, no port.
/// An IPv6 literal keeps its brackets.
fn host_of(rest: &str) -> &str {
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if host_port.starts_with('[') {
        return match host_port.find(']') {
            Some(end) => &host_port[..=end],
            None => host_port,
        };
    }
    host_port.split(':').next().unwrap_or_default()
}

/// `localhost` (and its subdomains), `127.0.0.0/8` or `[::1]`.
fn is_loopback_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return true;
    }
    if let Ok(v4) = lower.parse::<std::net::Ipv4Addr>() {
        return v4.is_loopback();
    }
    lower
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        .is_some_and(|v6| v6.is_loopback())
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotifyUrl({:?})", self.0)
    }
}

impl fmt::Display for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for NotifyUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NotifyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// `trade_type` as WeChat reports it (v3 `Transaction`, v2 unified order and queries).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TradeType {
    /// Official Account and mini-program payments.
    Jsapi,
    /// QR code (Native).
    Native,
    /// In-app (OpenSDK).
    App,
    /// H5 in a mobile browser (v3 prepays at `/h5`, but reports `MWEB`).
    Mweb,
    /// Payment code scanned by the merchant.
    Micropay,
    /// Face payment.
    Facepay,
    /// A value this version does not know.
    Unknown(String),
}

impl TradeType {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Jsapi => "JSAPI",
            Self::Native => "NATIVE",
            Self::App => "APP",
            Self::Mweb => "MWEB",
            Self::Micropay => "MICROPAY",
            Self::Facepay => "FACEPAY",
            Self::Unknown(s) => s,
        }
    }

    /// Parses the wire spelling; anything else becomes `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "JSAPI" => Self::Jsapi,
            "NATIVE" => Self::Native,
            "APP" => Self::App,
            "MWEB" => Self::Mweb,
            "MICROPAY" => Self::Micropay,
            "FACEPAY" => Self::Facepay,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for TradeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TradeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TradeType::{}", self.as_str())
    }
}

impl Serialize for TradeType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TradeType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn notify_url_rules() {
        assert!(NotifyUrl::new("https://www.weixin.qq.com/wxpay/pay.php").is_ok());
        assert!(NotifyUrl::new("http://127.0.0.1:8080/notify").is_ok());
        assert_eq!(
            NotifyUrl::new("https://a.example/n?x=1"),
            Err(NotifyUrlError::HasQuery)
        );
        assert_eq!(
            NotifyUrl::new("https://a.example/n#f"),
            Err(NotifyUrlError::HasQuery)
        );
        assert_eq!(
            NotifyUrl::new("ftp://a.example/n"),
            Err(NotifyUrlError::NotAbsolute)
        );
        assert_eq!(NotifyUrl::new("https://"), Err(NotifyUrlError::NotAbsolute));
        assert_eq!(NotifyUrl::new("/notify"), Err(NotifyUrlError::NotAbsolute));
        assert_eq!(
            NotifyUrl::new("https://a.example/ n"),
            Err(NotifyUrlError::BadChar)
        );
        let long = format!("https://a.example/{}", "x".repeat(240));
        assert!(matches!(
            NotifyUrl::new(long),
            Err(NotifyUrlError::TooLong(258))
        ));
    }

    #[test]
    fn notify_url_is_https_unless_loopback_or_a_private_line() {
        for local in [
            "http://127.0.0.1:8080/notify",
            "http://127.8.9.10/n",
            "http://localhost/n",
            "http://LOCALHOST:80/n",
            "http://pay.localhost/n",
            "http://[::1]:8080/n",
            "http://user@127.0.0.1/n",
        ] {
            assert!(NotifyUrl::new(local).is_ok(), "{local}");
        }
        for (public, host) in [
            ("http://pay.example.com/notify", "pay.example.com"),
            ("http://10.0.0.5:8080/n", "10.0.0.5"),
            ("http://0.0.0.0:8080/n", "0.0.0.0"),
            ("http://127.0.0.1@evil.example/n", "evil.example"),
            ("http://localhost.evil.example/n", "localhost.evil.example"),
            ("http://[::2]/n", "[::2]"),
        ] {
            assert_eq!(
                NotifyUrl::new(public),
                Err(NotifyUrlError::PlainHttp(host.into())),
                "{public}"
            );
        }
        assert!(NotifyUrl::new("https://pay.example.com/notify").is_ok());
        assert!(NotifyUrl::new_over_private_line("http://10.0.0.5:8080/n", &["10.0.0.5"]).is_ok());
        assert!(
            NotifyUrl::new_over_private_line("http://PAY.internal/n", &["pay.internal"]).is_ok()
        );
        assert_eq!(
            NotifyUrl::new_over_private_line("http://10.0.0.6/n", &["10.0.0.5"]),
            Err(NotifyUrlError::PlainHttp("10.0.0.6".into()))
        );
    }

    #[test]
    fn trade_type_keeps_unknown() {
        for s in ["JSAPI", "NATIVE", "APP", "MWEB", "MICROPAY", "FACEPAY"] {
            assert_eq!(TradeType::parse(s).as_str(), s);
        }
        let t: TradeType = serde_json::from_str("\"NEWPAY\"").unwrap();
        assert_eq!(t, TradeType::Unknown("NEWPAY".into()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"NEWPAY\"");
    }
}
