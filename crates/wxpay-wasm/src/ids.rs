//! The identifier vocabularies of the core, as the TypeScript layer must spell them.
//!
//! TypeScript needs these ids as literal types (`Surface`, `Environment`, `CoreChannel`), so it
//! keeps them as `as const` lists in `js/src/core/ids.ts`. The lists here are the other half
//! of that contract: the wasm exports them (`coreIds("surfaces" | "environments" | "channels")`)
//! and a node test on the optimised module (`js/test/core-ids.test.mjs`) fails when the two
//! disagree. The Rust tests below tie these lists to the core's enums, so a variant added to
//! the core cannot be forgotten here either.

use wxpay_core::env::{Channel, Environment};
use wxpay_core::invoke::Surface;

/// Every environment `detectEnv` can return, in the core's declaration order.
pub const ENVIRONMENTS: [Environment; 7] = [
    Environment::MiniProgram,
    Environment::MiniProgramWebView,
    Environment::WeChatBrowser,
    Environment::OtherMobileBrowser,
    Environment::DesktopBrowser,
    Environment::UniApp,
    Environment::Unknown,
];

/// Every channel `defaultChannel` can return, in the core's declaration order.
pub const CHANNELS: [Channel; 6] = [
    Channel::MiniProgram,
    Channel::Jsapi,
    Channel::H5,
    Channel::Native,
    Channel::App,
    Channel::WebViewHandoff,
];

/// Comma-joined ids, the form in which the lists cross the boundary.
///
/// A loop rather than `join`, whose generic helper costs about 1 KB of wasm.
pub fn comma_joined(ids: impl Iterator<Item = &'static str>) -> String {
    let mut out = String::new();
    for id in ids {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(id);
    }
    out
}

/// The surface ids (`Surface::ALL`), comma-joined.
pub fn surface_ids() -> String {
    comma_joined(Surface::ALL.into_iter().map(Surface::id))
}

/// The environment ids, comma-joined.
pub fn environment_ids() -> String {
    comma_joined(ENVIRONMENTS.into_iter().map(Environment::id))
}

/// The channel ids, comma-joined.
pub fn channel_ids() -> String {
    comma_joined(CHANNELS.into_iter().map(Channel::id))
}

/// The core's default channel id for an environment id; `None` for `unknown` or an id the
/// core does not know (the caller must then be told which channel to use).
pub fn default_channel(environment_id: &str) -> Option<&'static str> {
    ENVIRONMENTS
        .into_iter()
        .find(|e| e.id() == environment_id)
        .and_then(Environment::default_channel)
        .map(Channel::id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Position of each variant in [`ENVIRONMENTS`]. The match has no wildcard: a variant
    /// added to the core stops this crate from compiling until it is listed.
    fn environment_position(e: Environment) -> usize {
        match e {
            Environment::MiniProgram => 0,
            Environment::MiniProgramWebView => 1,
            Environment::WeChatBrowser => 2,
            Environment::OtherMobileBrowser => 3,
            Environment::DesktopBrowser => 4,
            Environment::UniApp => 5,
            Environment::Unknown => 6,
        }
    }

    /// As [`environment_position`], for [`CHANNELS`].
    fn channel_position(c: Channel) -> usize {
        match c {
            Channel::MiniProgram => 0,
            Channel::Jsapi => 1,
            Channel::H5 => 2,
            Channel::Native => 3,
            Channel::App => 4,
            Channel::WebViewHandoff => 5,
        }
    }

    /// As [`environment_position`], for the core's `Surface::ALL`.
    fn surface_position(s: Surface) -> usize {
        match s {
            Surface::MiniProgram => 0,
            Surface::UniMpWeixin => 1,
            Surface::UniApp => 2,
            Surface::WeixinJsBridge => 3,
            Surface::JsSdk => 4,
            Surface::App => 5,
            Surface::H5 => 6,
            Surface::Native => 7,
        }
    }

    #[test]
    fn every_variant_is_listed_once_in_order() {
        for (i, e) in ENVIRONMENTS.into_iter().enumerate() {
            assert_eq!(environment_position(e), i, "{e:?}");
        }
        for (i, c) in CHANNELS.into_iter().enumerate() {
            assert_eq!(channel_position(c), i, "{c:?}");
        }
        for (i, s) in Surface::ALL.into_iter().enumerate() {
            assert_eq!(surface_position(s), i, "{s:?}");
        }
    }

    #[test]
    fn lists_are_the_ids_the_other_exports_speak() {
        assert_eq!(
            environment_ids(),
            "mini-program,mini-program-web-view,we-chat-browser,other-mobile-browser,desktop-browser,uni-app,unknown"
        );
        assert_eq!(
            channel_ids(),
            "mini-program,jsapi,h5,native,app,web-view-handoff"
        );
        assert_eq!(
            surface_ids(),
            "mini-program,uni-mp-weixin,uni-app,weixin-js-bridge,js-sdk,app,h5,native"
        );
        // Every id detect_env can return is listed, and every channel maps back into CHANNELS.
        let channels = channel_ids();
        for e in ENVIRONMENTS {
            assert!(environment_ids().split(',').any(|id| id == e.id()));
            if let Some(c) = default_channel(e.id()) {
                assert!(channels.split(',').any(|id| id == c), "{c}");
            }
        }
    }

    #[test]
    fn default_channels_follow_the_core() {
        assert_eq!(default_channel("mini-program"), Some("mini-program"));
        assert_eq!(
            default_channel("mini-program-web-view"),
            Some("web-view-handoff")
        );
        assert_eq!(default_channel("we-chat-browser"), Some("jsapi"));
        assert_eq!(default_channel("other-mobile-browser"), Some("h5"));
        assert_eq!(default_channel("desktop-browser"), Some("native"));
        assert_eq!(default_channel("uni-app"), Some("app"));
        assert_eq!(default_channel("unknown"), None);
        assert_eq!(default_channel("fax-machine"), None);
    }
}
