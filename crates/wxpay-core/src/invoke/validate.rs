//! Client-side validation: does the bundle the merchant server sent fit the surface the page
//! is about to call? Runs in the browser through wasm, so it holds no key and checks format
//! only; the platform itself verifies the signature.
//!
//! The checks target the mistakes that really happen: field names in another surface's
//! casing, a numeric or millisecond `timeStamp`, a bare prepay id in `package`, a lower-case
//! `signType`, an RSA `paySign` sent with `MD5`.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::ids::{AppId, MchId, PrepayId};
use crate::invoke::fields::{app_sign_type, check_app_package, parse_prepay_package};
use crate::invoke::h5::h5_redirect_url;
use crate::invoke::{
    AppPayParams, CodeUrl, FieldProblem, H5HostPolicy, InvokeError, JsapiPayParams, ModeOneUrl,
    ModeOneUrlError, NonceStr, PaySignType, PayTimestamp, Surface, UrlProblem, UNI_PROVIDER_WXPAY,
};

/// Settings of the validators that are not part of the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Which hosts an `h5_url` may point at (WeChat's cashier by default; the simulator's
    /// address in tests and the demo).
    pub h5_hosts: H5HostPolicy,
}

/// Checks `value` against `surface` with the default options and returns the object to pass
/// to that surface's platform call (see [`format_for_with`]).
pub fn format_for(surface: Surface, value: &Value) -> Result<Value, InvokeError> {
    format_for_with(surface, value, &ValidateOptions::default())
}

/// Checks every field of `value` for `surface` and returns the normalised object:
///
/// | surface | input (from the merchant server) | output |
/// |---|---|---|
/// | `MiniProgram` | `{timeStamp, nonceStr, package, signType, paySign}` (`appId` tolerated) | same five fields |
/// | `UniMpWeixin` | as `MiniProgram`, optional `provider` | plus `provider: "wxpay"` |
/// | `WeixinJsBridge` | `{appId, timeStamp, nonceStr, package, signType, paySign}` | same |
/// | `JsSdk` | `{timestamp, nonceStr, package, signType, paySign}` | same |
/// | `App` | `{appid, partnerid, prepayid, package, noncestr, timestamp, sign}` | same, `timestamp` as a string |
/// | `UniApp` | `{provider?, orderInfo}` (object or JSON string) or the bare APP bundle | `{provider: "wxpay", orderInfo}` |
/// | `H5` | `{h5_url \| mweb_url \| h5Url, redirect_url?}` | `{url}` ready for `location.href` |
/// | `Native` | `{code_url \| codeUrl}` | `{code_url}` |
///
/// Unknown extra fields are dropped, not refused; a missing field with a look-alike present
/// is reported as [`InvokeError::MisnamedField`].
pub fn format_for_with(
    surface: Surface,
    value: &Value,
    options: &ValidateOptions,
) -> Result<Value, InvokeError> {
    let fields = Fields::new(surface, value)?;
    match surface {
        Surface::MiniProgram => Ok(jsapi(&fields, false, "timeStamp")?
            .request_payment()
            .to_json()),
        Surface::UniMpWeixin => {
            check_provider(&fields)?;
            Ok(jsapi(&fields, false, "timeStamp")?
                .uni_mp_weixin()
                .to_json())
        }
        Surface::WeixinJsBridge => Ok(jsapi(&fields, true, "timeStamp")?.to_json()),
        Surface::JsSdk => Ok(jsapi(&fields, false, "timestamp")?
            .choose_wx_pay()
            .to_json()),
        Surface::App => Ok(app(&fields)?.to_json()),
        Surface::UniApp => uni_app(&fields),
        Surface::H5 => h5(&fields, &options.h5_hosts),
        Surface::Native => native(&fields),
    }
}

/// Parses a complete `getBrandWCPayRequest`-shaped bundle (with `appId`), e.g. to check what
/// a merchant server produced before handing it on.
pub fn parse_jsapi_bundle(value: &Value) -> Result<JsapiPayParams, InvokeError> {
    jsapi(
        &Fields::new(Surface::WeixinJsBridge, value)?,
        true,
        "timeStamp",
    )
}

/// Parses a complete APP bundle (`{appid, partnerid, prepayid, package, noncestr, timestamp, sign}`).
pub fn parse_app_bundle(value: &Value) -> Result<AppPayParams, InvokeError> {
    app(&Fields::new(Surface::App, value)?)
}

/// Spellings that are the same field for the person who typed them: case, `_`, and the
/// APP/JSAPI swaps (`sign`/`paySign`, Android's `packageValue`, `mch_id` for `partnerid`).
const ALIASES: &[(&str, &str)] = &[
    ("paysign", "sign"),
    ("sign", "paysign"),
    ("package", "packagevalue"),
    ("partnerid", "mchid"),
];

/// Field names are ASCII; ASCII-only folding also keeps Unicode case tables out of the wasm
/// (about 8 KB gzip).
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One JSON object being checked for one surface.
struct Fields<'a> {
    surface: Surface,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(surface: Surface, value: &'a Value) -> Result<Self, InvokeError> {
        match value {
            Value::Object(map) => Ok(Self { surface, map }),
            other => Err(InvokeError::NotAnObject {
                surface,
                found: json_type(other),
            }),
        }
    }

    /// The value under exactly `name`, or the error naming a look-alike key if there is one.
    fn required(&self, name: &'static str) -> Result<&'a Value, InvokeError> {
        if let Some(v) = self.map.get(name) {
            return Ok(v);
        }
        Err(match self.look_alike(name) {
            Some(found) => InvokeError::MisnamedField {
                surface: self.surface,
                found: found.clone(),
                expected: name,
            },
            None => InvokeError::MissingField {
                surface: self.surface,
                field: name,
            },
        })
    }

    fn look_alike(&self, name: &str) -> Option<&'a String> {
        let want = fold(name);
        let aliases: Vec<&str> = ALIASES
            .iter()
            .filter(|(a, _)| *a == want)
            .map(|(_, b)| *b)
            .collect();
        self.map.keys().find(|k| {
            let k = fold(k);
            k == want || aliases.contains(&k.as_str())
        })
    }

    fn string(&self, name: &'static str) -> Result<&'a str, InvokeError> {
        match self.required(name)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(name, "string", other)),
        }
    }

    /// A string, or (where uni-app and the native SDKs tolerate it) a non-negative integer.
    fn string_or_integer(&self, name: &'static str) -> Result<Cow<'a, str>, InvokeError> {
        match self.required(name)? {
            Value::String(s) => Ok(Cow::Borrowed(s)),
            Value::Number(n) if n.as_u64().is_some() => Ok(Cow::Owned(n.to_string())),
            other => Err(self.wrong_type(name, "string (or integer)", other)),
        }
    }

    fn wrong_type(
        &self,
        field: &'static str,
        expected: &'static str,
        found: &Value,
    ) -> InvokeError {
        InvokeError::WrongType {
            surface: self.surface,
            field,
            expected,
            found: json_type(found),
        }
    }

    fn invalid(&self, field: &'static str) -> impl Fn(FieldProblem) -> InvokeError {
        let surface = self.surface;
        move |problem| InvokeError::InvalidField {
            surface,
            field,
            problem,
        }
    }
}

/// The JSAPI family. `with_app_id` for `getBrandWCPayRequest`; `ts_name` is `timestamp` for
/// the JS-SDK and `timeStamp` elsewhere. Fields are checked in wire order so the first error
/// reported is the first one a reader meets.
fn jsapi(
    f: &Fields<'_>,
    with_app_id: bool,
    ts_name: &'static str,
) -> Result<JsapiPayParams, InvokeError> {
    let app_id = if with_app_id {
        let raw = f.string("appId")?;
        AppId::new(raw).map_err(|e| f.invalid("appId")(e.into()))?;
        raw.to_owned()
    } else {
        String::new()
    };
    let ts = f.string(ts_name)?;
    PayTimestamp::parse(ts).map_err(f.invalid(ts_name))?;
    let nonce = f.string("nonceStr")?;
    NonceStr::new(nonce).map_err(f.invalid("nonceStr"))?;
    let package = f.string("package")?;
    parse_prepay_package(package).map_err(f.invalid("package"))?;
    let sign_type = PaySignType::parse(f.string("signType")?).map_err(f.invalid("signType"))?;
    let pay_sign = f.string("paySign")?;
    sign_type
        .check_signature(pay_sign)
        .map_err(f.invalid("paySign"))?;
    Ok(JsapiPayParams::from_checked(
        app_id,
        ts.to_owned(),
        nonce.to_owned(),
        package.to_owned(),
        sign_type,
        pay_sign.to_owned(),
    ))
}

fn app(f: &Fields<'_>) -> Result<AppPayParams, InvokeError> {
    let appid = f.string("appid")?;
    AppId::new(appid).map_err(|e| f.invalid("appid")(e.into()))?;
    let partnerid = f.string_or_integer("partnerid")?;
    MchId::new(partnerid.as_ref()).map_err(|e| f.invalid("partnerid")(e.into()))?;
    let prepayid = f.string("prepayid")?;
    PrepayId::new(prepayid).map_err(|e| f.invalid("prepayid")(e.into()))?;
    check_app_package(f.string("package")?).map_err(f.invalid("package"))?;
    let noncestr = f.string("noncestr")?;
    NonceStr::new(noncestr).map_err(f.invalid("noncestr"))?;
    let timestamp = f.string_or_integer("timestamp")?;
    PayTimestamp::parse(&timestamp).map_err(f.invalid("timestamp"))?;
    let sign = f.string("sign")?;
    app_sign_type(sign)
        .check_signature(sign)
        .map_err(f.invalid("sign"))?;
    Ok(AppPayParams::from_checked(
        appid.to_owned(),
        partnerid.into_owned(),
        prepayid.to_owned(),
        noncestr.to_owned(),
        timestamp.into_owned(),
        sign.to_owned(),
    ))
}

/// `provider`, when present, must be `wxpay`.
fn check_provider(f: &Fields<'_>) -> Result<(), InvokeError> {
    match f.map.get("provider") {
        None => Ok(()),
        Some(Value::String(p)) if p == UNI_PROVIDER_WXPAY => Ok(()),
        Some(Value::String(p)) => Err(f.invalid("provider")(FieldProblem::Provider {
            value: p.clone(),
        })),
        Some(other) => Err(f.wrong_type("provider", "string", other)),
    }
}

fn uni_app(f: &Fields<'_>) -> Result<Value, InvokeError> {
    check_provider(f)?;
    let order_info = match f.map.get("orderInfo") {
        Some(Value::String(text)) => {
            let parsed: Value = serde_json::from_str(text).map_err(|e| {
                f.invalid("orderInfo")(FieldProblem::NotJsonObject {
                    reason: e.to_string(),
                })
            })?;
            if !parsed.is_object() {
                return Err(f.invalid("orderInfo")(FieldProblem::NotJsonObject {
                    reason: format!("found {}", json_type(&parsed)),
                }));
            }
            app(&Fields::new(Surface::UniApp, &parsed)?)?
        }
        Some(inner @ Value::Object(_)) => app(&Fields::new(Surface::UniApp, inner)?)?,
        Some(other) => return Err(f.wrong_type("orderInfo", "object (or JSON string)", other)),
        None => {
            if let Some(found) = f.look_alike("orderInfo") {
                return Err(InvokeError::MisnamedField {
                    surface: Surface::UniApp,
                    found: found.clone(),
                    expected: "orderInfo",
                });
            }
            // The server sent the bare APP bundle; wrap it.
            app(f)?
        }
    };
    Ok(order_info.uni_app().to_json())
}

/// The first of `names` present (all are accepted spellings of one field).
fn first_of<'a>(f: &Fields<'a>, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
    names.iter().find_map(|n| f.map.get(*n).map(|v| (*n, v)))
}

fn h5(f: &Fields<'_>, policy: &H5HostPolicy) -> Result<Value, InvokeError> {
    let Some((name, url)) = first_of(f, &["h5_url", "mweb_url", "h5Url", "mwebUrl"]) else {
        return Err(InvokeError::MissingField {
            surface: f.surface,
            field: "h5_url",
        });
    };
    let url = url
        .as_str()
        .ok_or_else(|| f.wrong_type(name, "string", url))?;
    let redirect = match first_of(f, &["redirect_url", "redirectUrl"]) {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::String(s))) => Some(s.as_str()),
        Some((n, other)) => return Err(f.wrong_type(n, "string", other)),
    };
    let target = h5_redirect_url(url, redirect, policy)?;
    Ok(json!({ "url": target }))
}

fn native(f: &Fields<'_>) -> Result<Value, InvokeError> {
    let Some((name, url)) = first_of(f, &["code_url", "codeUrl"]) else {
        return Err(InvokeError::MissingField {
            surface: f.surface,
            field: "code_url",
        });
    };
    let url = url
        .as_str()
        .ok_or_else(|| f.wrong_type(name, "string", url))?;
    let invalid = |problem| InvokeError::InvalidUrl {
        surface: f.surface,
        field: "code_url",
        problem,
    };
    let code_url = CodeUrl::new(url).map_err(invalid)?;
    // A static product QR (v2 mode one) must carry its five signed fields intact; the sign
    // itself needs the API v2 key, so only the server can check that.
    match ModeOneUrl::parse(url) {
        Ok(_) | Err(ModeOneUrlError::NotModeOne(_)) => {}
        Err(e) => return Err(invalid(UrlProblem::ModeOne(e))),
    }
    Ok(json!({ "code_url": code_url.as_str() }))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
