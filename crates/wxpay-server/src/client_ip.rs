//! Which address a request came from, for rate limits and H5 `payer_client_ip`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

use crate::state::SharedState;

/// The client's IP: from the configured trusted proxy header when set, else the socket peer.
/// Never from a header the operator did not declare trusted.
///
/// A list header (`X-Forwarded-For: client, proxy1, proxy2`) is read from the right: every
/// hop appends the address it saw, so only the right-most entry was written by our trusted
/// proxy; everything left of it came from the client and may be forged (a forged address
/// would dodge the login and admin-token limits and lie in H5 `payer_client_ip`). With
/// several header lines, the last one is the proxy's. A single-value header (`X-Real-IP`)
/// is its own right-most entry.
pub fn client_ip(
    state: &SharedState,
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
) -> Option<IpAddr> {
    state
        .settings
        .server
        .trusted_proxy_header
        .as_deref()
        .and_then(|name| proxy_header_ip(headers, name))
        .or_else(|| peer.map(|ConnectInfo(addr)| addr.ip()))
}

/// The right-most address of the last `name` header line (see [`client_ip`]).
fn proxy_header_ip(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(name: &'static str, lines: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(name, HeaderValue::from_static(line));
        }
        map
    }

    #[test]
    fn a_forwarded_list_is_read_from_the_right() {
        let ip = |lines: &[&'static str]| {
            proxy_header_ip(&headers("x-forwarded-for", lines), "x-forwarded-for")
        };
        assert_eq!(
            ip(&["198.51.100.1, 203.0.113.7"]),
            "203.0.113.7".parse().ok()
        );
        assert_eq!(
            ip(&["198.51.100.1", "10.0.0.1,203.0.113.8"]),
            "203.0.113.8".parse().ok(),
            "the proxy's own header line is the last one"
        );
        assert_eq!(ip(&["2001:db8::1"]), "2001:db8::1".parse().ok());
        assert_eq!(ip(&["203.0.113.7, not-an-ip"]), None);
        assert_eq!(ip(&[]), None);
    }

    #[test]
    fn a_single_value_header_is_taken_as_is() {
        let map = headers("x-real-ip", &[" 203.0.113.9 "]);
        assert_eq!(
            proxy_header_ip(&map, "x-real-ip"),
            "203.0.113.9".parse().ok()
        );
    }
}
