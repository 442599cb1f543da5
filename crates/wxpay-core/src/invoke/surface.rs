//! The client surfaces a payment can be started from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where the client starts the payment. Each surface has its own field names, and WeChat
/// rejects a bundle meant for another one, so validators are always told the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    /// Native mini-program `wx.requestPayment({timeStamp, nonceStr, package, signType, paySign})`.
    MiniProgram,
    /// uni-app built for mp-weixin: `uni.requestPayment({provider: 'wxpay', …})` with the
    /// `wx.requestPayment` fields at the top level.
    UniMpWeixin,
    /// uni-app App: `uni.requestPayment({provider: 'wxpay', orderInfo: {appid, partnerid, …}})`.
    UniApp,
    /// WeChat in-app browser: `WeixinJSBridge.invoke('getBrandWCPayRequest', {appId, timeStamp, …})`.
    WeixinJsBridge,
    /// WeChat in-app browser through the JS-SDK: `wx.chooseWXPay({timestamp, nonceStr, …})`.
    JsSdk,
    /// A native app through WeChat's OpenSDK `PayReq` (`appid, partnerid, prepayid, …`).
    App,
    /// Mobile browser outside WeChat: navigate to `h5_url` / `mweb_url`.
    H5,
    /// Desktop: render `code_url` as a QR code.
    Native,
}

impl Surface {
    /// Every surface, for tables and tests.
    pub const ALL: [Surface; 8] = [
        Surface::MiniProgram,
        Surface::UniMpWeixin,
        Surface::UniApp,
        Surface::WeixinJsBridge,
        Surface::JsSdk,
        Surface::App,
        Surface::H5,
        Surface::Native,
    ];

    /// The stable identifier used across the wasm boundary (`"mini-program"`, `"js-sdk"`, …).
    pub fn id(self) -> &'static str {
        match self {
            Surface::MiniProgram => "mini-program",
            Surface::UniMpWeixin => "uni-mp-weixin",
            Surface::UniApp => "uni-app",
            Surface::WeixinJsBridge => "weixin-js-bridge",
            Surface::JsSdk => "js-sdk",
            Surface::App => "app",
            Surface::H5 => "h5",
            Surface::Native => "native",
        }
    }

    /// Parses [`Surface::id`]; `None` for anything else.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The platform call as a developer knows it, used in error messages.
    pub fn call_name(self) -> &'static str {
        match self {
            Surface::MiniProgram => "wx.requestPayment",
            Surface::UniMpWeixin => "uni.requestPayment (mp-weixin)",
            Surface::UniApp => "uni.requestPayment orderInfo (App)",
            Surface::WeixinJsBridge => "WeixinJSBridge getBrandWCPayRequest",
            Surface::JsSdk => "wx.chooseWXPay",
            Surface::App => "OpenSDK PayReq (APP)",
            Surface::H5 => "H5 payment (h5_url)",
            Surface::Native => "Native payment (code_url)",
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call_name())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn ids_round_trip_and_match_serde() {
        for s in Surface::ALL {
            assert_eq!(Surface::from_id(s.id()), Some(s));
            let json = serde_json::to_string(&s).expect("serialize surface");
            assert_eq!(json, format!("\"{}\"", s.id()));
        }
        assert_eq!(Surface::from_id("miniprogram"), None);
    }
}
