//! Normalising what the platform payment call reports (frontends spec §7).
//!
//! Every result here is advisory. `Ok` means "go ask the server"; `Cancel` may hide a
//! signature error the user dismissed; H5 and Native report nothing at all. The caller
//! always ends with a server poll ([`crate::poll`]).

use serde::Serialize;

/// The coarse client-side outcome of a payment call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The platform said ok. Provisional: payment is confirmed only by the server.
    Ok,
    /// The user closed the cashier (or dismissed an error shown as a cancel).
    Cancel,
    /// The platform refused the call (bad parameters, signature, appid mismatch, …).
    Fail,
    /// Nothing recognisable (or a "result unknown" code): poll the server.
    Unknown,
}

impl Outcome {
    /// `"ok"`, `"cancel"`, `"fail"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Cancel => "cancel",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A normalised result that keeps the platform's own words for logs and support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientResult {
    /// The coarse outcome.
    pub outcome: Outcome,
    /// The raw message (`errMsg`, `err_msg`, or the OpenSDK `errStr`), unchanged.
    pub raw: String,
    /// A numeric code when the platform gave one (uni-app `[payment微信:-2]`, OpenSDK `errCode`).
    pub code: Option<i32>,
}

/// The callers we know, i.e. the part before the first `:` of an `errMsg` / `err_msg`.
const KNOWN_APIS: &[&str] = &[
    "requestPayment",
    "get_brand_wcpay_request",
    "chooseWXPay",
    "requestOrderPayment",
];

/// Normalises an `errMsg` (mini-program, uni-app, JS-SDK) or `err_msg` (WeixinJSBridge).
///
/// | raw | outcome |
/// |---|---|
/// | `requestPayment:ok`, `get_brand_wcpay_request:ok`, `chooseWXPay:ok` | `Ok` |
/// | `requestPayment:fail cancel`, legacy `requestPayment:cancel`, `…:cancel` | `Cancel` |
/// | `requestPayment:fail <detail>`, `get_brand_wcpay_request:fail`, `chooseWXPay:fail…` | `Fail` |
/// | uni App `[payment微信:-2]User canceled` (also inside `requestPayment:fail …`) | `Cancel` |
/// | uni App `[payment微信:-1]General errors` | `Fail` |
/// | uni App Alipay `[payment支付宝:62001]` / 6001 cancel, 8000 / 6004 unknown | `Cancel` / `Unknown` |
/// | anything else, including the empty string | `Unknown` |
pub fn normalize_err_msg(raw: &str) -> ClientResult {
    let text = raw.trim();
    if let Some((provider, code)) = uni_payment_code(text) {
        return ClientResult {
            outcome: uni_outcome(provider, code),
            raw: raw.to_owned(),
            code: Some(code),
        };
    }
    let outcome = match text.split_once(':') {
        Some((api, rest)) if KNOWN_APIS.contains(&api) => api_outcome(rest.trim()),
        _ => Outcome::Unknown,
    };
    ClientResult {
        outcome,
        raw: raw.to_owned(),
        code: None,
    }
}

/// Normalises a WeChat OpenSDK `BaseResp.errCode` (APP): 0 ok, −2 user cancel, −1 error
/// (signature, appid or package-name mismatch); other codes (−3 sent failed, −4 auth denied,
/// −5 unsupported) are failures too.
pub fn normalize_open_sdk(err_code: i32, err_str: Option<&str>) -> ClientResult {
    let outcome = match err_code {
        0 => Outcome::Ok,
        -2 => Outcome::Cancel,
        _ => Outcome::Fail,
    };
    ClientResult {
        outcome,
        raw: err_str.unwrap_or_default().to_owned(),
        code: Some(err_code),
    }
}

/// After `api:`: `ok`, `cancel`, `fail`, `fail cancel`, `fail:cancel`, `fail <detail>`.
fn api_outcome(rest: &str) -> Outcome {
    if rest == "ok" {
        return Outcome::Ok;
    }
    if rest == "cancel" {
        return Outcome::Cancel;
    }
    if let Some(detail) = rest.strip_prefix("fail") {
        let detail = detail.trim_start_matches([' ', ':', '_']).trim();
        return if detail.eq_ignore_ascii_case("cancel") {
            Outcome::Cancel
        } else {
            Outcome::Fail
        };
    }
    Outcome::Unknown
}

/// Finds uni-app's `[payment<provider>:<code>]` marker anywhere in the message.
fn uni_payment_code(text: &str) -> Option<(&str, i32)> {
    let start = text.find("[payment")?;
    let inner = &text[start + "[payment".len()..];
    let end = inner.find(']')?;
    let (provider, code) = inner[..end].rsplit_once(':')?;
    Some((provider, code.trim().parse().ok()?))
}

fn uni_outcome(provider: &str, code: i32) -> Outcome {
    if provider == "微信" || provider.eq_ignore_ascii_case("wxpay") {
        return match code {
            0 => Outcome::Ok,
            -2 => Outcome::Cancel,
            _ => Outcome::Fail,
        };
    }
    // Alipay through uni-app: 9000 paid, 6001 / 62001 cancelled, 8000 / 6004 result unknown.
    match code {
        9000 => Outcome::Ok,
        6001 | 62001 => Outcome::Cancel,
        8000 | 6004 => Outcome::Unknown,
        _ => Outcome::Fail,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn err_msg_table() {
        let table: &[(&str, Outcome, Option<i32>)] = &[
            ("requestPayment:ok", Outcome::Ok, None),
            ("requestPayment:fail cancel", Outcome::Cancel, None),
            ("requestPayment:cancel", Outcome::Cancel, None),
            ("requestPayment:fail:cancel", Outcome::Cancel, None),
            (
                "requestPayment:fail parameter error: parameter.timeStamp should be String instead of Undefined;",
                Outcome::Fail,
                None,
            ),
            ("requestPayment:fail 系统错误，错误码：1, ", Outcome::Fail, None),
            ("requestPayment:fail", Outcome::Fail, None),
            ("get_brand_wcpay_request:ok", Outcome::Ok, None),
            ("get_brand_wcpay_request:cancel", Outcome::Cancel, None),
            ("get_brand_wcpay_request:fail", Outcome::Fail, None),
            ("get_brand_wcpay_request:fail_invalid appid", Outcome::Fail, None),
            ("chooseWXPay:ok", Outcome::Ok, None),
            ("chooseWXPay:cancel", Outcome::Cancel, None),
            ("chooseWXPay:fail", Outcome::Fail, None),
            ("chooseWXPay:fail, the permission value is offline verifying", Outcome::Fail, None),
            ("[payment微信:-2]User canceled", Outcome::Cancel, Some(-2)),
            ("requestPayment:fail [payment微信:-2]User canceled", Outcome::Cancel, Some(-2)),
            ("[payment微信:-1]General errors", Outcome::Fail, Some(-1)),
            ("requestPayment:fail [payment微信:-1]General errors", Outcome::Fail, Some(-1)),
            ("requestPayment:fail [payment支付宝:62001]用户中途取消支付操作", Outcome::Cancel, Some(62001)),
            ("[payment支付宝:8000]正在处理中", Outcome::Unknown, Some(8000)),
            ("", Outcome::Unknown, None),
            ("ok", Outcome::Unknown, None),
            ("somethingElse:ok", Outcome::Unknown, None),
            ("requestPayment:weird", Outcome::Unknown, None),
        ];
        for (raw, outcome, code) in table {
            let r = normalize_err_msg(raw);
            assert_eq!(r.outcome, *outcome, "{raw}");
            assert_eq!(r.code, *code, "{raw}");
            assert_eq!(r.raw, *raw);
        }
    }

    #[test]
    fn open_sdk_codes() {
        assert_eq!(normalize_open_sdk(0, None).outcome, Outcome::Ok);
        assert_eq!(
            normalize_open_sdk(-1, Some("签名错误")).outcome,
            Outcome::Fail
        );
        assert_eq!(normalize_open_sdk(-1, Some("签名错误")).raw, "签名错误");
        let c = normalize_open_sdk(-2, Some("用户取消"));
        assert_eq!((c.outcome, c.code), (Outcome::Cancel, Some(-2)));
        assert_eq!(normalize_open_sdk(-5, None).outcome, Outcome::Fail);
    }

    #[test]
    fn outcome_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Outcome::Cancel).expect("ser"),
            "\"cancel\""
        );
        assert_eq!(Outcome::Unknown.as_str(), "unknown");
    }
}
