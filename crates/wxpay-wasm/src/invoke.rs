//! Bindings for `wxpay_core::invoke`: validating and formatting the server's bundle for one
//! surface, normalising the platform's result, and the trade-state rules the poll loop uses.
//!
//! Pure Rust over JSON text so the functions are unit-testable natively; `lib.rs` only wraps
//! them for wasm-bindgen.

use serde_json::Value;
use wxpay_core::invoke::{
    format_for_with, normalize_err_msg, ClientResult, H5HostPolicy, InvokeError, Outcome, Surface,
    ValidateOptions,
};
use wxpay_core::TradeState;

use crate::error::{codes, BindingError};

/// Client-side validator settings sent by the TypeScript layer (`ClientOptions`):
/// `{"h5Hosts": ["127.0.0.1:9000"], "allowHttp": true}`.
///
/// Read from a `Value` by hand rather than derived: typed serde deserialisation drags
/// float formatting (for its "invalid type: floating point" messages) into the module, about
/// 16 KB of the mini-program budget.
#[derive(Debug, Default)]
pub struct FormatOptions {
    /// Extra H5 cashier hosts (the simulator's `host:port` in tests and the demo). Empty
    /// means WeChat's own cashier only.
    pub h5_hosts: Vec<String>,
    /// Allow `http://` cashier URLs; only meaningful with `h5_hosts` (local simulator).
    pub allow_http: bool,
}

impl FormatOptions {
    fn parse(text: &str) -> Result<Self, BindingError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let bad = |why: &str| BindingError::new(codes::BAD_INPUT, format!("options: {why}"));
        let Value::Object(map) = parse_json("options", text)? else {
            return Err(bad("expected a JSON object"));
        };
        let h5_hosts = match map.get("h5Hosts") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("h5Hosts must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("h5Hosts must be an array of strings")),
        };
        let allow_http = match map.get("allowHttp") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("allowHttp must be a boolean")),
        };
        Ok(Self {
            h5_hosts,
            allow_http,
        })
    }

    /// The core's validator settings for these options.
    pub fn validate_options(&self) -> ValidateOptions {
        let h5_hosts = if self.h5_hosts.is_empty() {
            H5HostPolicy::wechat()
        } else {
            H5HostPolicy::with_hosts(self.h5_hosts.iter().cloned()).allowing_http(self.allow_http)
        };
        ValidateOptions { h5_hosts }
    }
}

fn parse_json(what: &str, text: &str) -> Result<Value, BindingError> {
    serde_json::from_str(text)
        .map_err(|e| BindingError::new(codes::BAD_INPUT, format!("{what} is not valid JSON: {e}")))
}

/// The surface for an id; `UNKNOWN_SURFACE` otherwise.
pub fn surface(id: &str) -> Result<Surface, BindingError> {
    Surface::from_id(id)
        .ok_or_else(|| BindingError::new(codes::UNKNOWN_SURFACE, format!("unknown surface {id:?}")))
}

/// The binding error for a validator error: the core's stable code, its message, its field.
pub fn invoke_error(e: &InvokeError) -> BindingError {
    let mut err = BindingError::new(e.code(), e.to_string());
    err.field = e.field();
    err
}

/// Validates `params_json` for `surface_id` and returns the JSON object to pass to the
/// platform call. `options_json` may be empty (`""`) for the defaults.
pub fn format_params(
    surface_id: &str,
    params_json: &str,
    options_json: &str,
) -> Result<String, BindingError> {
    let surface = surface(surface_id)?;
    let params = parse_json("params", params_json)?;
    let options = FormatOptions::parse(options_json)?;
    let formatted = format_for_with(surface, &params, &options.validate_options())
        .map_err(|e| invoke_error(&e))?;
    Ok(formatted.to_string())
}

/// Normalises a platform result (`{errMsg | err_msg, errCode?, callback?}`) with the core's
/// table. When the platform gave no message at all (some JS-SDK builds call `cancel` with an
/// empty object) the callback that fired decides, since it is the only signal there is.
pub fn normalise_result(surface_id: &str, raw_json: &str) -> Result<String, BindingError> {
    surface(surface_id)?;
    let raw = match parse_json("result", raw_json)? {
        Value::Null => serde_json::Map::new(),
        Value::Object(map) => map,
        _ => {
            return Err(BindingError::new(
                codes::BAD_INPUT,
                "result must be a JSON object or null",
            ))
        }
    };
    let text = |key: &str| raw.get(key).and_then(Value::as_str);
    // `errMsg` (wx, uni, JS-SDK) or `err_msg` (WeixinJSBridge).
    let message = text("errMsg")
        .or_else(|| text("err_msg"))
        .unwrap_or_default();
    let mut result: ClientResult = normalize_err_msg(message);
    if message.trim().is_empty() {
        result.outcome = match text("callback") {
            Some("success") => Outcome::Ok,
            Some("cancel") => Outcome::Cancel,
            Some("fail") => Outcome::Fail,
            _ => Outcome::Unknown,
        };
    }
    let platform_code = raw
        .get("errCode")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok());
    let out = serde_json::json!({
        "outcome": result.outcome.as_str(),
        "raw": result.raw,
        "errCode": result.code.or(platform_code),
    });
    Ok(out.to_string())
}

/// `{"final": bool, "paid": bool, "pending": bool}` for a trade state string, by the core's rules.
pub fn trade_state_info(state: &str) -> String {
    let s = TradeState::parse(state);
    format!(
        r#"{{"final":{},"paid":{},"pending":{}}}"#,
        s.is_final(),
        s.is_paid(),
        s.is_pending()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp_bundle() -> String {
        let sig = "A".repeat(342) + "==";
        serde_json::json!({
            "timeStamp": "1700000000", "nonceStr": "abc123", "package": "prepay_id=wx201410272009395522657a690389285100",
            "signType": "RSA", "paySign": sig
        })
        .to_string()
    }

    #[test]
    fn formats_a_mini_program_bundle() {
        let out: Value =
            serde_json::from_str(&format_params("mini-program", &mp_bundle(), "").expect("ok"))
                .expect("json");
        assert_eq!(out["timeStamp"], "1700000000");
        assert_eq!(out["signType"], "RSA");
        assert!(out.get("appId").is_none());
    }

    #[test]
    fn casing_mix_up_is_reported_with_a_stable_code_and_field() {
        let bad = mp_bundle().replace("timeStamp", "timestamp");
        let err = format_params("mini-program", &bad, "").unwrap_err();
        assert_eq!(err.code, "MISNAMED_FIELD");
        assert_eq!(err.field, Some("timeStamp"));
        assert!(err.message.contains("timestamp"), "{}", err.message);
    }

    #[test]
    fn bad_json_and_unknown_surface_are_errors() {
        assert_eq!(
            format_params("mini-program", "{", "").unwrap_err().code,
            codes::BAD_INPUT
        );
        assert_eq!(
            format_params("telegraph", "{}", "").unwrap_err().code,
            codes::UNKNOWN_SURFACE
        );
        assert_eq!(
            format_params("h5", "{}", "[1]").unwrap_err().code,
            codes::BAD_INPUT
        );
    }

    #[test]
    fn h5_hosts_option_controls_the_cashier_check() {
        let params = r#"{"h5_url":"http://127.0.0.1:9000/cashier?prepay_id=wx1","redirect_url":"http://127.0.0.1:8080/done?o=1"}"#;
        assert_eq!(
            format_params("h5", params, "").unwrap_err().code,
            "INVALID_URL"
        );
        let out = format_params(
            "h5",
            params,
            r#"{"h5Hosts":["127.0.0.1:9000"],"allowHttp":true}"#,
        )
        .expect("ok");
        assert!(
            out.contains("redirect_url=http%3A%2F%2F127.0.0.1%3A8080%2Fdone%3Fo%3D1"),
            "{out}"
        );
    }

    #[test]
    fn normalises_results_and_falls_back_to_the_callback() {
        let r = normalise_result("mini-program", r#"{"errMsg":"requestPayment:fail cancel"}"#)
            .expect("ok");
        assert!(r.contains(r#""outcome":"cancel""#), "{r}");
        let r = normalise_result(
            "weixin-js-bridge",
            r#"{"err_msg":"get_brand_wcpay_request:ok"}"#,
        )
        .expect("ok");
        assert!(r.contains(r#""outcome":"ok""#), "{r}");
        let r = normalise_result("js-sdk", r#"{"callback":"cancel"}"#).expect("ok");
        assert!(r.contains(r#""outcome":"cancel""#), "{r}");
        let r = normalise_result("h5", "null").expect("ok");
        assert!(r.contains(r#""outcome":"unknown""#), "{r}");
        let r = normalise_result(
            "uni-app",
            r#"{"errMsg":"requestPayment:fail [payment微信:-2]User canceled","errCode":-100}"#,
        )
        .expect("ok");
        assert!(
            r.contains(r#""outcome":"cancel""#) && r.contains(r#""errCode":-2"#),
            "{r}"
        );
    }

    #[test]
    fn trade_state_rules_come_from_the_core() {
        assert_eq!(
            trade_state_info("SUCCESS"),
            r#"{"final":true,"paid":true,"pending":false}"#
        );
        assert_eq!(
            trade_state_info("NOTPAY"),
            r#"{"final":false,"paid":false,"pending":true}"#
        );
        assert_eq!(
            trade_state_info("SOMETHING_NEW"),
            r#"{"final":false,"paid":false,"pending":false}"#
        );
    }
}
