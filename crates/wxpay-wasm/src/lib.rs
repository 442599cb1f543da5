//! `wxpay-wasm`: thin wasm-bindgen bindings over `wxpay-core` for the client npm package.
//!
//! This crate only converts types. Every rule (which fields a surface needs, how an outcome
//! string maps to a status, when to poll next, which environment a user agent means) lives
//! in `wxpay-core`, so the server, the simulator and the browser agree byte for byte. The
//! TypeScript in `js/` owns everything that touches the platform (calling `wx.requestPayment`,
//! HTTP, timers); the wasm stays pure computation.
//!
//! Boundary conventions, chosen for the WeChat mini-program runtime:
//! - structured values cross as JSON strings: measured against serde-wasm-bindgen
//!   (`scripts/bench-boundary.sh`, feature `serde-boundary`), JSON text gives a smaller
//!   module and glue, a faster `formatParams`, and no `BigInt` in the glue (figures in
//!   `pkg-template/README.md`);
//! - numbers are `u32`/`f64`, never `i64`/`u64`, so the glue needs no `BigInt`;
//! - errors are JS `Error`s with a stable `code` (see [`error::codes`]).
//!
//! Features: `api` (the main module's exports) and `qr` (the SVG renderer). The npm package
//! builds them as two modules so the QR code is only downloaded by the desktop flow.
//!
//! The `private-key` feature of `wxpay-core` is deliberately not enabled: the client
//! validates and formats what the server signed, and never signs.

#[cfg(feature = "api")]
pub mod detect;
pub mod error;
#[cfg(feature = "api")]
pub mod ids;
#[cfg(feature = "api")]
pub mod invoke;
#[cfg(feature = "qr")]
pub mod qr;

use wasm_bindgen::prelude::*;

use crate::error::BindingError;

/// The crate version, so the TypeScript layer can report which core it runs.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Every error `code` this module can throw, comma-separated (see [`error::codes::all`]).
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> String {
    ids::comma_joined(error::codes::all())
}

/// The core's ids of one kind, comma-separated: `"surfaces"` (what `formatParams` and
/// `normaliseResult` accept), `"environments"` (what `detectEnv` returns) or `"channels"` (what
/// `defaultChannel` returns); "" for any other kind. `js/src/core/ids.ts` keeps the same lists
/// as literal types and a node test compares them. One export for the three lists: each
/// export costs its own JS wrapper in the glue.
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = coreIds)]
pub fn core_ids(kind: &str) -> String {
    match kind {
        "surfaces" => ids::surface_ids(),
        "environments" => ids::environment_ids(),
        "channels" => ids::channel_ids(),
        _ => String::new(),
    }
}

/// The core's channel for an environment id (`"mini-program"`, `"jsapi"`, `"h5"`, `"native"`,
/// `"app"`, `"web-view-handoff"`), or "" when the core has none (`"unknown"`).
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = defaultChannel)]
pub fn default_channel(environment: &str) -> String {
    ids::default_channel(environment)
        .unwrap_or_default()
        .to_owned()
}

/// Validates the merchant server's bundle for a surface (`"mini-program"`, `"uni-mp-weixin"`,
/// `"uni-app"`, `"weixin-js-bridge"`, `"js-sdk"`, `"app"`, `"h5"`, `"native"`) and returns
/// the JSON object to pass to the platform call. `optionsJson`: `{h5Hosts?, allowHttp?}` or "".
#[cfg(all(feature = "api", not(feature = "serde-boundary")))]
#[wasm_bindgen(js_name = formatParams)]
pub fn format_params(
    surface: &str,
    params_json: &str,
    options_json: &str,
) -> Result<String, JsValue> {
    invoke::format_params(surface, params_json, options_json).map_err(BindingError::into_js)
}

/// Normalises a platform result (`{errMsg|err_msg, errCode?, callback?}` as JSON) into
/// `{outcome, raw, errCode}`; `outcome` is `ok | cancel | fail | unknown`.
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = normaliseResult)]
pub fn normalise_result(surface: &str, raw_json: &str) -> Result<String, JsValue> {
    invoke::normalise_result(surface, raw_json).map_err(BindingError::into_js)
}

/// `formatParams` across the serde-wasm-bindgen boundary, for measurement only (feature
/// `serde-boundary`, built by scripts/bench-boundary.sh, never shipped): the bundle goes in
/// and comes out as a JS object. Its own code path, so that the shipped JSON path is compiled
/// exactly as without the feature; options are not supported (the benchmark passes none).
#[cfg(feature = "serde-boundary")]
#[wasm_bindgen(js_name = formatParams)]
pub fn format_params_serde(
    surface: &str,
    params: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    use serde::Serialize;

    use crate::error::codes;
    use crate::invoke::FormatOptions;

    let bad = |why: String| BindingError::new(codes::BAD_INPUT, why).into_js();
    let surface = invoke::surface(surface).map_err(BindingError::into_js)?;
    let params: serde_json::Value =
        serde_wasm_bindgen::from_value(params).map_err(|e| bad(format!("params: {e}")))?;
    if !(options.is_undefined() || options.is_null()) {
        return Err(bad("the serde-boundary build takes no options".into()));
    }
    let formatted = wxpay_core::invoke::format_for_with(
        surface,
        &params,
        &FormatOptions::default().validate_options(),
    )
    .map_err(|e| invoke::invoke_error(&e).into_js())?;
    formatted
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| bad(e.to_string()))
}

/// `{final, paid, pending}` for a trade state (`SUCCESS`, `NOTPAY`, …) by the core's rules.
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = tradeStateInfo)]
pub fn trade_state_info(state: &str) -> String {
    invoke::trade_state_info(state)
}

/// The environment id for a user agent ("" when none) and JSON hints
/// (`{hasWxRequestPayment, hasWindow, hasPlus, hasUni, wxjsEnvironment, maxTouchPoints, uniPlatform}`).
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = detectEnv)]
pub fn detect_env(user_agent: &str, hints_json: &str) -> Result<String, JsValue> {
    detect::detect_env(user_agent, hints_json)
        .map(str::to_owned)
        .map_err(BindingError::into_js)
}

/// The next polling step of the named core policy (`"h5-return"`, `"native-qr"`,
/// `"after-client-result"`) as JSON `{action: "wait" | "stop", value}`. `timeoutMs` 0 keeps
/// the policy's own timeout; `randomUnit` in [0, 1) applies the policy's jitter.
#[cfg(feature = "api")]
#[wasm_bindgen(js_name = pollNext)]
pub fn poll_next(
    policy: &str,
    elapsed_ms: u32,
    attempt: u32,
    last_state: &str,
    timeout_ms: u32,
    random_unit: f64,
) -> Result<String, JsValue> {
    detect::poll_next(
        policy,
        elapsed_ms,
        attempt,
        last_state,
        timeout_ms,
        random_unit,
    )
    .map_err(BindingError::into_js)
}

/// Renders a Native-pay `code_url` as an SVG QR code (`minSize` in px; 0 = default 200).
///
/// Builds without the `qr` feature (the main and mini-program modules) throw `QR_UNAVAILABLE`.
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(code_url: &str, min_size: u32) -> Result<String, JsValue> {
    #[cfg(feature = "qr")]
    let result = qr::render_svg(code_url, min_size);
    #[cfg(not(feature = "qr"))]
    let result = {
        let _ = (code_url, min_size);
        Err(BindingError::new(
            error::codes::QR_UNAVAILABLE,
            "this build of the core has no QR renderer (mini-program flavour)",
        ))
    };
    result.map_err(BindingError::into_js)
}
