//! H5 payment (MWEB, mobile browsers outside WeChat): the page navigates to `h5_url` (v3) or
//! `mweb_url` (v2), optionally with `&redirect_url=<percent-encoded>` appended
//! (protocol reference B.7).
//!
//! The client cannot verify a signature here, so it checks what it can: the cashier host is
//! one of WeChat's (a compromised or buggy merchant API must not be able to send the payer to
//! an arbitrary page dressed up as a cashier), and the return page is an http(s) URL.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::invoke::{InvokeError, Surface, UrlProblem};

/// WeChat's H5 cashier hosts, as they appear in `h5_url` / `mweb_url`
/// (`https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…&package=…`).
pub const WECHAT_H5_HOSTS: &[&str] = &["wx.tenpay.com"];

/// Exactly what JavaScript's `encodeURIComponent` leaves alone, so a URL built here is
/// byte-identical to one the JS adapters would build.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Which hosts an `h5_url` may point at.
///
/// The default is WeChat's cashier over https. The simulator serves its cashier page from
/// its own address, so tests and the demo configure that host (and may allow plain http
/// for `127.0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H5HostPolicy {
    hosts: Vec<String>,
    allow_http: bool,
}

impl Default for H5HostPolicy {
    fn default() -> Self {
        Self::wechat()
    }
}

impl H5HostPolicy {
    /// WeChat's own cashier hosts, https only.
    pub fn wechat() -> Self {
        Self {
            hosts: WECHAT_H5_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
            allow_http: false,
        }
    }

    /// Replaces the host list. An entry is a host (`wx.tenpay.com`, matched on any port) or
    /// `host:port` (`127.0.0.1:8081`, matched on that port only); matching ignores ASCII case.
    pub fn with_hosts<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            hosts: hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
            allow_http: false,
        }
    }

    /// Also accepts `http://` cashier URLs (a local simulator). Never for production.
    pub fn allowing_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// The configured hosts.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Checks an `h5_url` / `mweb_url`: absolute https (or http if allowed) URL, no user
    /// info, host on the list.
    pub fn check(&self, h5_url: &str) -> Result<(), UrlProblem> {
        let expected = if self.allow_http {
            "https or http"
        } else {
            "https"
        };
        let parts = split_absolute(h5_url)?;
        let scheme_ok = parts.scheme == "https" || (self.allow_http && parts.scheme == "http");
        if !scheme_ok {
            return Err(UrlProblem::Scheme {
                found: parts.scheme,
                expected,
            });
        }
        let authority = parts.authority.to_ascii_lowercase();
        let host = host_of(&authority);
        if self.hosts.iter().any(|h| *h == authority || *h == host) {
            Ok(())
        } else {
            Err(UrlProblem::HostNotAllowed { host: authority })
        }
    }
}

/// Builds the navigation target: `h5_url` with `redirect_url=<encodeURIComponent(return)>`
/// appended (`&` if the URL has a query, `?` otherwise, before any `#fragment`).
///
/// `redirect_url` must be an absolute http(s) URL; WeChat sends the payer there after the
/// cashier closes or after about five seconds, whatever happened, so the page behind it must
/// query the order rather than assume success.
pub fn h5_redirect_url(
    h5_url: &str,
    redirect_url: Option<&str>,
    policy: &H5HostPolicy,
) -> Result<String, InvokeError> {
    let bad = |field: &'static str, problem: UrlProblem| InvokeError::InvalidUrl {
        surface: Surface::H5,
        field,
        problem,
    };
    policy.check(h5_url).map_err(|p| bad("h5_url", p))?;
    let Some(redirect) = redirect_url else {
        return Ok(h5_url.to_owned());
    };
    check_http_url(redirect).map_err(|p| bad("redirect_url", p))?;

    let (base, fragment) = match h5_url.find('#') {
        Some(i) => h5_url.split_at(i),
        None => (h5_url, ""),
    };
    let query = base.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("redirect_url"))
    {
        return Err(bad("h5_url", UrlProblem::RedirectAlreadyPresent));
    }
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let encoded = utf8_percent_encode(redirect, URI_COMPONENT);
    Ok(format!("{base}{separator}redirect_url={encoded}{fragment}"))
}

/// An absolute http(s) URL with a host and no user info.
pub(crate) fn check_http_url(value: &str) -> Result<(), UrlProblem> {
    let parts = split_absolute(value)?;
    if parts.scheme != "https" && parts.scheme != "http" {
        return Err(UrlProblem::Scheme {
            found: parts.scheme,
            expected: "https or http",
        });
    }
    Ok(())
}

pub(crate) struct UrlParts<'a> {
    /// Lower-cased scheme.
    pub scheme: String,
    /// `host[:port]` as written.
    pub authority: &'a str,
}

/// Splits `scheme://authority…` without a full URL parser: enough to compare hosts, and
/// strict enough (no whitespace, no user info, no empty host) to refuse look-alike tricks.
pub(crate) fn split_absolute(value: &str) -> Result<UrlParts<'_>, UrlProblem> {
    if value.is_empty() {
        return Err(UrlProblem::Empty);
    }
    if let Some(at) = value.find(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(UrlProblem::Whitespace { at });
    }
    let not_absolute = || UrlProblem::NotAbsolute {
        value: value.to_owned(),
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(not_absolute)?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(not_absolute());
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return Err(UrlProblem::UserInfo);
    }
    if host_of(authority).is_empty() {
        return Err(UrlProblem::NoHost);
    }
    Ok(UrlParts {
        scheme: scheme.to_ascii_lowercase(),
        authority,
    })
}

/// The host part of `host[:port]` (IPv6 literals keep their brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => &authority[..=i],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _port)) => host,
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const H5: &str = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx20161110163838f231619da20804912345&package=1037687096";

    #[test]
    fn appends_encoded_redirect_like_encode_uri_component() {
        let url = h5_redirect_url(
            H5,
            Some("https://www.wechatpay.com.cn"),
            &H5HostPolicy::default(),
        )
        .expect("ok");
        assert_eq!(
            url,
            format!("{H5}&redirect_url=https%3A%2F%2Fwww.wechatpay.com.cn")
        );
        let url = h5_redirect_url(
            H5,
            Some("https://shop.example/r?o=1&x=a b*(~)'!"),
            &H5HostPolicy::default(),
        );
        // a space is whitespace: refused before encoding
        assert!(matches!(
            url,
            Err(InvokeError::InvalidUrl {
                field: "redirect_url",
                ..
            })
        ));
        let url = h5_redirect_url(
            H5,
            Some("https://shop.example/r?o=1&x=支*(~)'!"),
            &H5HostPolicy::default(),
        )
        .expect("ok");
        assert!(url.ends_with(
            "redirect_url=https%3A%2F%2Fshop.example%2Fr%3Fo%3D1%26x%3D%E6%94%AF*(~)'!"
        ));
    }

    #[test]
    fn without_redirect_returns_h5_url_unchanged() {
        assert_eq!(
            h5_redirect_url(H5, None, &H5HostPolicy::default()).expect("ok"),
            H5
        );
    }

    #[test]
    fn separator_and_fragment() {
        let p = H5HostPolicy::default();
        let u = h5_redirect_url("https://wx.tenpay.com/pay", Some("https://a.example/"), &p)
            .expect("ok");
        assert_eq!(
            u,
            "https://wx.tenpay.com/pay?redirect_url=https%3A%2F%2Fa.example%2F"
        );
        let u = h5_redirect_url(
            "https://wx.tenpay.com/pay?x=1#top",
            Some("http://a.example"),
            &p,
        )
        .expect("ok");
        assert_eq!(
            u,
            "https://wx.tenpay.com/pay?x=1&redirect_url=http%3A%2F%2Fa.example#top"
        );
    }

    #[test]
    fn refuses_foreign_hosts_and_tricks() {
        let p = H5HostPolicy::default();
        let host_err = |u: &str| p.check(u).err();
        assert!(matches!(
            host_err("https://evil.example/checkmweb"),
            Some(UrlProblem::HostNotAllowed { .. })
        ));
        assert!(matches!(
            host_err("https://wx.tenpay.com.evil.example/"),
            Some(UrlProblem::HostNotAllowed { .. })
        ));
        assert!(matches!(
            host_err("https://wx.tenpay.com@evil.example/"),
            Some(UrlProblem::UserInfo)
        ));
        assert!(matches!(
            host_err("http://wx.tenpay.com/"),
            Some(UrlProblem::Scheme { .. })
        ));
        assert!(matches!(
            host_err("javascript:alert(1)"),
            Some(UrlProblem::NotAbsolute { .. })
        ));
        assert!(matches!(
            host_err("https:///path"),
            Some(UrlProblem::NoHost)
        ));
        assert!(matches!(host_err(""), Some(UrlProblem::Empty)));
        assert_eq!(p.check("HTTPS://WX.TENPAY.COM/x"), Ok(()));
        assert_eq!(p.check("https://wx.tenpay.com:443/x"), Ok(()));
    }

    #[test]
    fn redirect_must_be_http() {
        let p = H5HostPolicy::default();
        let e = h5_redirect_url(H5, Some("javascript://x/%0aalert(1)"), &p);
        assert!(matches!(
            e,
            Err(InvokeError::InvalidUrl {
                field: "redirect_url",
                problem: UrlProblem::Scheme { .. },
                ..
            })
        ));
        let e = h5_redirect_url(H5, Some("/relative"), &p);
        assert!(matches!(
            e,
            Err(InvokeError::InvalidUrl {
                problem: UrlProblem::NotAbsolute { .. },
                ..
            })
        ));
        let e = h5_redirect_url(
            &format!("{H5}&redirect_url=x"),
            Some("https://a.example"),
            &p,
        );
        assert!(matches!(
            e,
            Err(InvokeError::InvalidUrl {
                problem: UrlProblem::RedirectAlreadyPresent,
                ..
            })
        ));
    }

    #[test]
    fn simulator_policy() {
        let p = H5HostPolicy::with_hosts(["127.0.0.1:8081"]).allowing_http(true);
        assert_eq!(
            p.check("http://127.0.0.1:8081/cashier/h5?prepay_id=wx1"),
            Ok(())
        );
        assert!(p.check("http://127.0.0.1:9999/cashier").is_err());
        assert!(p.check("https://wx.tenpay.com/x").is_err());
        let any_port = H5HostPolicy::with_hosts(["LOCALHOST"]);
        assert_eq!(any_port.check("https://localhost:3000/c"), Ok(()));
        assert!(matches!(
            any_port.check("http://localhost:3000/c"),
            Err(UrlProblem::Scheme { .. })
        ));
    }
}
