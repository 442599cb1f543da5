//! Where a payer pays (the channel) and through which API version the prepay went: what
//! decides the prepay kind, the app, the client parameters' shape, and the API a refund must
//! go back through.

use std::fmt;

use wxpay_core::v3::models::PrepayKind;

/// Where the payer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A mini-program (`wx.requestPayment`).
    MiniProgram,
    /// An Official Account page in WeChat's browser (`WeixinJSBridge`).
    Jsapi,
    /// An Official Account page using the JS-SDK's `wx.chooseWXPay`.
    Jssdk,
    /// A native mobile app (OpenSDK).
    App,
    /// A mobile browser outside WeChat (redirect to WeChat's cashier).
    H5,
    /// A desktop page showing a QR code.
    Native,
}

impl Channel {
    /// Every channel, in the order the API documents them.
    pub const ALL: [Channel; 6] = [
        Self::MiniProgram,
        Self::Jsapi,
        Self::Jssdk,
        Self::H5,
        Self::Native,
        Self::App,
    ];

    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniProgram => "miniprogram",
            Self::Jsapi => "jsapi",
            Self::Jssdk => "jssdk",
            Self::App => "app",
            Self::H5 => "h5",
            Self::Native => "native",
        }
    }

    /// Reads a channel name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The prepay endpoint this channel pays through.
    pub fn prepay_kind(self) -> PrepayKind {
        match self {
            Self::MiniProgram | Self::Jsapi | Self::Jssdk => PrepayKind::Jsapi,
            Self::App => PrepayKind::App,
            Self::H5 => PrepayKind::H5,
            Self::Native => PrepayKind::Native,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The WeChat Pay API generation a prepay (and so its refunds) goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    /// API v3: JSON, RSA signatures.
    #[default]
    V3,
    /// API v2: XML, MD5 / HMAC-SHA256 with the API v2 key.
    V2,
}

impl ApiVersion {
    /// `v3` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V3 => "v3",
            Self::V2 => "v2",
        }
    }

    /// Reads `v3` or `v2`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::V3, Self::V2]
            .into_iter()
            .find(|v| v.as_str() == name)
    }
}

/// A channel and the API version its prepay went through, as the store records them
/// (`jsapi`, `jsapi.v2`): a v3 prepay is never reused for a v2 request (their client
/// parameters differ), and a refund goes back through the API that took the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrepayRoute {
    /// Where the payer pays.
    pub channel: Channel,
    /// Which API took the prepay.
    pub api: ApiVersion,
}

/// The suffix a v2 route carries in the store.
const V2_SUFFIX: &str = ".v2";

impl PrepayRoute {
    /// `channel` through `api`.
    pub fn new(channel: Channel, api: ApiVersion) -> Self {
        Self { channel, api }
    }

    /// The stored form.
    pub fn to_stored(self) -> String {
        match self.api {
            ApiVersion::V3 => self.channel.as_str().to_owned(),
            ApiVersion::V2 => format!("{}{V2_SUFFIX}", self.channel),
        }
    }

    /// Reads the stored form; `None` for a value this version never writes.
    pub fn from_stored(stored: &str) -> Option<Self> {
        match stored.strip_suffix(V2_SUFFIX) {
            Some(channel) => Channel::parse(channel).map(|c| Self::new(c, ApiVersion::V2)),
            None => Channel::parse(stored).map(|c| Self::new(c, ApiVersion::V3)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_read_back_what_they_store() {
        for channel in Channel::ALL {
            for api in [ApiVersion::V3, ApiVersion::V2] {
                let route = PrepayRoute::new(channel, api);
                assert_eq!(PrepayRoute::from_stored(&route.to_stored()), Some(route));
            }
        }
        assert_eq!(
            PrepayRoute::new(Channel::Jsapi, ApiVersion::V2).to_stored(),
            "jsapi.v2"
        );
        assert_eq!(
            PrepayRoute::from_stored("native"),
            Some(PrepayRoute::new(Channel::Native, ApiVersion::V3))
        );
        assert_eq!(PrepayRoute::from_stored("card"), None);
        assert_eq!(PrepayRoute::from_stored("card.v2"), None);
        assert_eq!(Channel::Jssdk.prepay_kind(), PrepayKind::Jsapi);
        assert_eq!(ApiVersion::parse("v4"), None);
    }
}
