//! Which environment the client code runs in, and the payment channel that fits it
//! (frontends spec §3 and §8).
//!
//! Pure: the JS layer gathers the user agent and a few `typeof` checks into [`EnvHints`] and
//! passes them in. The order of the checks matters and follows the spec: the mini-program
//! logic layer and uni-app App have no `window`; a web-view inside a mini-program looks like
//! the WeChat browser but cannot pay; WeCom (企业微信) looks like WeChat but is excluded;
//! iPadOS Safari claims to be a Mac.

use serde::{Deserialize, Serialize};

use crate::invoke::Surface;

/// Facts only the JS runtime can observe. Every field defaults to "absent".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvHints {
    /// `typeof wx === 'object' && typeof wx.requestPayment === 'function'`. The JS-SDK's
    /// `wx` in a web page has no `requestPayment`, so this only holds in a mini-program.
    pub has_wx_request_payment: bool,
    /// `typeof window !== 'undefined'`.
    pub has_window: bool,
    /// `typeof plus === 'object'` (uni-app / 5+ App runtime).
    pub has_plus: bool,
    /// `typeof uni === 'object'`.
    pub has_uni: bool,
    /// `window.__wxjs_environment`, read after `WeixinJSBridgeReady` (`"miniprogram"` inside a
    /// mini-program web-view).
    pub wxjs_environment: Option<String>,
    /// `navigator.maxTouchPoints` (0 when unknown).
    pub max_touch_points: u32,
    /// uni-app's build-time `process.env.UNI_PLATFORM` (`"h5"`, `"mp-weixin"`, `"app"`,
    /// `"app-plus"`), when the caller knows it.
    pub uni_platform: Option<String>,
}

/// Where the code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    /// A WeChat mini-program's logic layer (native or uni-app mp-weixin).
    MiniProgram,
    /// An H5 page inside a mini-program `<web-view>`: cannot pay itself, must hand off to a
    /// native mini-program page.
    MiniProgramWebView,
    /// WeChat's in-app browser (公众号 pages): JSAPI.
    WeChatBrowser,
    /// Any other mobile browser (including WeCom): H5 payment.
    OtherMobileBrowser,
    /// A desktop browser: Native QR code.
    DesktopBrowser,
    /// uni-app App (logic layer on JavaScriptCore / V8): WeChat OpenSDK through `uni.requestPayment`.
    UniApp,
    /// Nothing recognisable (server-side rendering, tests, an unknown runtime).
    Unknown,
}

/// The payment channel (trade type) an environment should use by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// Mini-program payment (v3 JSAPI prepay with the mini-program appid) via `wx.requestPayment`.
    MiniProgram,
    /// JSAPI in the WeChat browser via `WeixinJSBridge`.
    Jsapi,
    /// H5 (MWEB) payment: navigate to `h5_url`.
    H5,
    /// Native: show `code_url` as a QR code.
    Native,
    /// APP payment through the OpenSDK.
    App,
    /// Navigate the mini-program to a native payment page (`wx.miniProgram.navigateTo`).
    WebViewHandoff,
}

impl Environment {
    /// The stable identifier used across the wasm boundary.
    pub fn id(self) -> &'static str {
        match self {
            Environment::MiniProgram => "mini-program",
            Environment::MiniProgramWebView => "mini-program-web-view",
            Environment::WeChatBrowser => "we-chat-browser",
            Environment::OtherMobileBrowser => "other-mobile-browser",
            Environment::DesktopBrowser => "desktop-browser",
            Environment::UniApp => "uni-app",
            Environment::Unknown => "unknown",
        }
    }

    /// The channel to use here, or `None` when nothing sensible can be chosen.
    pub fn default_channel(self) -> Option<Channel> {
        match self {
            Environment::MiniProgram => Some(Channel::MiniProgram),
            Environment::MiniProgramWebView => Some(Channel::WebViewHandoff),
            Environment::WeChatBrowser => Some(Channel::Jsapi),
            Environment::OtherMobileBrowser => Some(Channel::H5),
            Environment::DesktopBrowser => Some(Channel::Native),
            Environment::UniApp => Some(Channel::App),
            Environment::Unknown => None,
        }
    }
}

impl Channel {
    /// The stable identifier used across the wasm boundary.
    pub fn id(self) -> &'static str {
        match self {
            Channel::MiniProgram => "mini-program",
            Channel::Jsapi => "jsapi",
            Channel::H5 => "h5",
            Channel::Native => "native",
            Channel::App => "app",
            Channel::WebViewHandoff => "web-view-handoff",
        }
    }

    /// The client surface that starts a payment on this channel; `None` for the web-view
    /// hand-off, which navigates instead of paying. uni-app mp-weixin callers use
    /// [`Surface::UniMpWeixin`] instead of [`Surface::MiniProgram`].
    pub fn surface(self) -> Option<Surface> {
        match self {
            Channel::MiniProgram => Some(Surface::MiniProgram),
            Channel::Jsapi => Some(Surface::WeixinJsBridge),
            Channel::H5 => Some(Surface::H5),
            Channel::Native => Some(Surface::Native),
            Channel::App => Some(Surface::UniApp),
            Channel::WebViewHandoff => None,
        }
    }
}

/// Decides the environment from the user agent (if any) and the runtime hints.
pub fn detect(user_agent: Option<&str>, hints: &EnvHints) -> Environment {
    // 1. uni-app told us at build time.
    match hints.uni_platform.as_deref() {
        Some("mp-weixin") => return Environment::MiniProgram,
        Some("app") | Some("app-plus") => return Environment::UniApp,
        _ => {}
    }
    // 2. Logic layers without a DOM.
    if !hints.has_window {
        if hints.has_wx_request_payment {
            return Environment::MiniProgram;
        }
        if hints.has_plus || hints.has_uni {
            return Environment::UniApp;
        }
        return Environment::Unknown;
    }
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return Environment::Unknown;
    };
    // 3. A page inside a mini-program web-view (UA token from WeChat 7.0.0, or the bridge's flag).
    if is_mini_program_web_view(ua) || hints.wxjs_environment.as_deref() == Some("miniprogram") {
        return Environment::MiniProgramWebView;
    }
    // 4. WeChat's browser, but not WeCom.
    if contains_ignore_case(ua, "MicroMessenger") && !is_wecom(ua) {
        return Environment::WeChatBrowser;
    }
    // 5. Mobile or desktop. iPadOS Safari reports "Macintosh"; only touch points tell.
    if is_mobile_ua(ua) || (ua.contains("Macintosh") && hints.max_touch_points > 1) {
        Environment::OtherMobileBrowser
    } else {
        Environment::DesktopBrowser
    }
}

/// WeCom (企业微信): its UA carries `wxwork` next to `MicroMessenger`; its payment support
/// differs from WeChat's, so it is never treated as the WeChat browser.
pub fn is_wecom(user_agent: &str) -> bool {
    contains_ignore_case(user_agent, "wxwork")
}

/// The web-view marker is the token `miniProgram` (as WeChat writes it). Matched
/// case-sensitively because PC WeChat's ordinary browser UA carries `MiniProgramEnv/Windows`.
fn is_mini_program_web_view(ua: &str) -> bool {
    ua.match_indices("miniProgram")
        .any(|(i, m)| !ua[i + m.len()..].starts_with("Env"))
}

fn is_mobile_ua(ua: &str) -> bool {
    ["Android", "iPhone", "iPod", "iPad", "Mobile", "HarmonyOS"]
        .iter()
        .any(|t| contains_ignore_case(ua, t))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const WECHAT_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN";
    const WECHAT_ANDROID: &str = "Mozilla/5.0 (Linux; Android 13; PJD110 Build/TP1A.220905.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/1110017 MMWEBSDK/20230805 MMWEBID/2585 MicroMessenger/8.0.42.2460(0x28002A3B) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";
    const MP_WEBVIEW_ANDROID: &str = "Mozilla/5.0 (Linux; Android 12; M2012K11AC Build/SKQ1.211006.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20221011 MMWEBID/7230 MicroMessenger/8.0.30.2260(0x28001E3B) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef";
    const MP_WEBVIEW_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 15_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.20(0x18001442) NetType/WIFI Language/zh_CN miniProgram";
    const WECOM_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.10 MicroMessenger/7.0.1 Language/zh ColorScheme/Light";
    const WECOM_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 Safari/537.36 wxwork/4.1.16 (MicroMessenger/6.2) WindowsWechat";
    const PC_WECHAT: &str = "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090819) XWEB/8391 Flue MiniProgramEnv/Windows";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    const IPAD_DESKTOP_MODE: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
    const CHROME_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

    fn browser(touch: u32) -> EnvHints {
        EnvHints {
            has_window: true,
            max_touch_points: touch,
            ..EnvHints::default()
        }
    }

    #[test]
    fn user_agent_table() {
        let table: &[(&str, u32, Environment)] = &[
            (WECHAT_IOS, 5, Environment::WeChatBrowser),
            (WECHAT_ANDROID, 5, Environment::WeChatBrowser),
            (MP_WEBVIEW_ANDROID, 5, Environment::MiniProgramWebView),
            (MP_WEBVIEW_IOS, 5, Environment::MiniProgramWebView),
            (WECOM_IOS, 5, Environment::OtherMobileBrowser),
            (WECOM_WINDOWS, 0, Environment::DesktopBrowser),
            (PC_WECHAT, 0, Environment::WeChatBrowser),
            (SAFARI_IPHONE, 5, Environment::OtherMobileBrowser),
            (IPAD_DESKTOP_MODE, 5, Environment::OtherMobileBrowser),
            (IPAD_DESKTOP_MODE, 0, Environment::DesktopBrowser),
            (CHROME_DESKTOP, 0, Environment::DesktopBrowser),
            (CHROME_ANDROID, 5, Environment::OtherMobileBrowser),
        ];
        for (ua, touch, expected) in table {
            assert_eq!(detect(Some(ua), &browser(*touch)), *expected, "{ua}");
        }
    }

    #[test]
    fn wxjs_environment_flags_the_web_view() {
        let hints = EnvHints {
            wxjs_environment: Some("miniprogram".into()),
            ..browser(5)
        };
        assert_eq!(
            detect(Some(WECHAT_IOS), &hints),
            Environment::MiniProgramWebView
        );
        let hints = EnvHints {
            wxjs_environment: Some("browser".into()),
            ..browser(5)
        };
        assert_eq!(detect(Some(WECHAT_IOS), &hints), Environment::WeChatBrowser);
    }

    #[test]
    fn runtimes_without_window() {
        let mp = EnvHints {
            has_wx_request_payment: true,
            ..EnvHints::default()
        };
        assert_eq!(detect(None, &mp), Environment::MiniProgram);
        let uni_mp = EnvHints {
            has_wx_request_payment: true,
            has_uni: true,
            ..EnvHints::default()
        };
        assert_eq!(detect(None, &uni_mp), Environment::MiniProgram);
        let app = EnvHints {
            has_plus: true,
            has_uni: true,
            ..EnvHints::default()
        };
        assert_eq!(detect(None, &app), Environment::UniApp);
        assert_eq!(detect(None, &EnvHints::default()), Environment::Unknown);
        // jweixin's `wx` in a page has no requestPayment, and a page has a window.
        let page = EnvHints {
            has_wx_request_payment: true,
            ..browser(0)
        };
        assert_eq!(
            detect(Some(CHROME_DESKTOP), &page),
            Environment::DesktopBrowser
        );
        assert_eq!(detect(None, &browser(0)), Environment::Unknown);
        assert_eq!(detect(Some("  "), &browser(0)), Environment::Unknown);
    }

    #[test]
    fn uni_platform_wins() {
        let h = EnvHints {
            uni_platform: Some("mp-weixin".into()),
            ..EnvHints::default()
        };
        assert_eq!(detect(None, &h), Environment::MiniProgram);
        let h = EnvHints {
            uni_platform: Some("app-plus".into()),
            ..EnvHints::default()
        };
        assert_eq!(detect(None, &h), Environment::UniApp);
        let h = EnvHints {
            uni_platform: Some("h5".into()),
            ..browser(5)
        };
        assert_eq!(detect(Some(WECHAT_ANDROID), &h), Environment::WeChatBrowser);
    }

    #[test]
    fn channels() {
        assert_eq!(
            Environment::MiniProgram.default_channel(),
            Some(Channel::MiniProgram)
        );
        assert_eq!(
            Environment::MiniProgramWebView.default_channel(),
            Some(Channel::WebViewHandoff)
        );
        assert_eq!(
            Environment::WeChatBrowser.default_channel(),
            Some(Channel::Jsapi)
        );
        assert_eq!(
            Environment::OtherMobileBrowser.default_channel(),
            Some(Channel::H5)
        );
        assert_eq!(
            Environment::DesktopBrowser.default_channel(),
            Some(Channel::Native)
        );
        assert_eq!(Environment::UniApp.default_channel(), Some(Channel::App));
        assert_eq!(Environment::Unknown.default_channel(), None);
        assert_eq!(Channel::Jsapi.surface(), Some(Surface::WeixinJsBridge));
        assert_eq!(Channel::WebViewHandoff.surface(), None);
    }

    #[test]
    fn ids_match_serde() {
        for e in [
            Environment::MiniProgramWebView,
            Environment::WeChatBrowser,
            Environment::UniApp,
        ] {
            assert_eq!(
                serde_json::to_value(e).expect("ser"),
                serde_json::Value::from(e.id())
            );
        }
        for c in [
            Channel::WebViewHandoff,
            Channel::Jsapi,
            Channel::MiniProgram,
        ] {
            assert_eq!(
                serde_json::to_value(c).expect("ser"),
                serde_json::Value::from(c.id())
            );
        }
        let hints: EnvHints =
            serde_json::from_str(r#"{"hasWindow":true,"maxTouchPoints":5}"#).expect("de");
        assert_eq!(hints, browser(5));
    }
}
