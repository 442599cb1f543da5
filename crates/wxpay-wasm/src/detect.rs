//! Bindings for `wxpay_core::env` (where the code runs, which channel fits) and
//! `wxpay_core::poll` (when to ask the server again).
//!
//! Hints are read from a JSON `Value` by hand instead of through `EnvHints`' serde derive:
//! typed deserialisation of a `u32` pulls float formatting into the module (for its error
//! messages), which costs more than this whole file.

use serde_json::Value;
use wxpay_core::env::{detect, EnvHints};
use wxpay_core::poll::{PollDecision, PollPolicy};
use wxpay_core::TradeState;

use crate::error::{codes, BindingError};

fn hints_from_json(text: &str) -> Result<EnvHints, BindingError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        BindingError::new(codes::BAD_INPUT, format!("hints are not valid JSON: {e}"))
    })?;
    let Value::Object(map) = value else {
        return Err(BindingError::new(
            codes::BAD_INPUT,
            "hints must be a JSON object",
        ));
    };
    let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
    let text = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let touch = map
        .get("maxTouchPoints")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    Ok(EnvHints {
        has_wx_request_payment: flag("hasWxRequestPayment"),
        has_window: flag("hasWindow"),
        has_plus: flag("hasPlus"),
        has_uni: flag("hasUni"),
        wxjs_environment: text("wxjsEnvironment"),
        max_touch_points: touch,
        uni_platform: text("uniPlatform"),
    })
}

/// The environment id (`"mini-program"`, `"mini-program-web-view"`, `"we-chat-browser"`,
/// `"other-mobile-browser"`, `"desktop-browser"`, `"uni-app"`, `"unknown"`) for a user
/// agent (empty when there is none) and the JSON hints.
pub fn detect_env(user_agent: &str, hints_json: &str) -> Result<&'static str, BindingError> {
    let hints = hints_from_json(hints_json)?;
    let ua = (!user_agent.is_empty()).then_some(user_agent);
    Ok(detect(ua, &hints).id())
}

/// The named policies of the core; unknown names are an error so a typo cannot silently
/// change how hard a client polls.
fn policy(name: &str) -> Result<PollPolicy, BindingError> {
    match name {
        "h5-return" => Ok(PollPolicy::h5_return()),
        "native-qr" => Ok(PollPolicy::native_qr()),
        "after-client-result" => Ok(PollPolicy::after_client_result()),
        other => Err(BindingError::new(
            codes::BAD_INPUT,
            format!("unknown poll policy {other:?}"),
        )),
    }
}

/// The next step of polling as JSON: `{"action":"wait","value":ms}` or
/// `{"action":"stop","value":"paid"|"ended"|"timed_out"|"attempts_exhausted"}`.
///
/// `last_state` is `""` before the first answer. `timeout_ms` overrides the policy's overall
/// timeout when non-zero. `random_unit` in `[0, 1)` spreads many clients' queries (jitter).
pub fn poll_next(
    policy_name: &str,
    elapsed_ms: u32,
    attempt: u32,
    last_state: &str,
    timeout_ms: u32,
    random_unit: f64,
) -> Result<String, BindingError> {
    let mut p = policy(policy_name)?;
    if timeout_ms != 0 {
        p.overall_timeout_ms = timeout_ms;
    }
    let state = (!last_state.is_empty()).then(|| TradeState::parse(last_state));
    let decision = p.next_with_random(elapsed_ms, attempt, state.as_ref(), random_unit);
    Ok(match decision {
        PollDecision::Wait(ms) => format!(r#"{{"action":"wait","value":{ms}}}"#),
        PollDecision::Stop(reason) => {
            format!(r#"{{"action":"stop","value":"{}"}}"#, reason.as_str())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
    const WECHAT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";

    #[test]
    fn detects_from_ua_and_hints() {
        assert_eq!(
            detect_env(DESKTOP, r#"{"hasWindow":true}"#).expect("ok"),
            "desktop-browser"
        );
        assert_eq!(
            detect_env(WECHAT, r#"{"hasWindow":true}"#).expect("ok"),
            "we-chat-browser"
        );
        assert_eq!(
            detect_env(
                WECHAT,
                r#"{"hasWindow":true,"wxjsEnvironment":"miniprogram"}"#
            )
            .expect("ok"),
            "mini-program-web-view"
        );
        assert_eq!(
            detect_env("", r#"{"hasWxRequestPayment":true}"#).expect("ok"),
            "mini-program"
        );
        assert_eq!(
            detect_env("", r#"{"hasUni":true,"uniPlatform":"app"}"#).expect("ok"),
            "uni-app"
        );
        assert_eq!(detect_env("", "{}").expect("ok"), "unknown");
        assert_eq!(detect_env("", "[]").unwrap_err().code, codes::BAD_INPUT);
    }

    #[test]
    fn poll_decisions_follow_the_core_policy() {
        let first = poll_next("after-client-result", 0, 0, "", 0, 0.0).expect("ok");
        assert_eq!(first, r#"{"action":"wait","value":500}"#);
        assert_eq!(
            poll_next("h5-return", 1000, 1, "SUCCESS", 0, 0.0).expect("ok"),
            r#"{"action":"stop","value":"paid"}"#
        );
        assert_eq!(
            poll_next("h5-return", 1000, 1, "CLOSED", 0, 0.0).expect("ok"),
            r#"{"action":"stop","value":"ended"}"#
        );
        assert_eq!(
            poll_next("h5-return", 5000, 3, "NOTPAY", 5000, 0.0).expect("ok"),
            r#"{"action":"stop","value":"timed_out"}"#
        );
        // The timeout override caps the wait at the remaining time.
        assert_eq!(
            poll_next("native-qr", 4900, 3, "NOTPAY", 5000, 0.0).expect("ok"),
            r#"{"action":"wait","value":100}"#
        );
        assert_eq!(
            poll_next("fast", 0, 0, "", 0, 0.0).unwrap_err().code,
            codes::BAD_INPUT
        );
    }
}
