//! Field validation as WeChat does it: the first bad field is named in a 400 `PARAM_ERROR`
//! with its JSON path (`/body/amount/total`). Limits come from the core's typed values, so
//! the simulator rejects exactly what the toolkit's own constructors reject.

use serde_json::Value;
use wxpay_core::v3::models::NotifyUrl;
use wxpay_core::{Amount, AppId, Attach, Description, OpenId, OutRefundNo, OutTradeNo, TimeExpire};

use super::ApiError;

/// Walks a JSON object by field names, reporting paths in WeChat's `/body/a/b` style.
pub struct Fields<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Fields<'a> {
    /// The request body root.
    pub fn body(value: &'a Value) -> Self {
        Self {
            value,
            path: "/body".into(),
        }
    }

    fn path_of(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.value.get(name).filter(|v| !v.is_null())
    }

    /// A required string.
    pub fn string(&self, name: &str) -> Result<&'a str, ApiError> {
        match self.get(name) {
            None => Err(ApiError::param(
                &self.path_of(name),
                "is required (缺少参数)",
            )),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::param(&self.path_of(name), "must be a string")),
        }
    }

    /// An optional string.
    pub fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::param(&self.path_of(name), "must be a string")),
        }
    }

    /// A required integer (JSON number without fraction; strings and decimals are refused).
    pub fn integer(&self, name: &str) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Err(ApiError::param(
                &self.path_of(name),
                "is required (缺少参数)",
            )),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| ApiError::param(&self.path_of(name), "must be an integer (fen)")),
            Some(_) => Err(ApiError::param(
                &self.path_of(name),
                "must be an integer (fen)",
            )),
        }
    }

    /// A required nested object.
    pub fn object(&self, name: &str) -> Result<Fields<'a>, ApiError> {
        match self.get(name) {
            None => Err(ApiError::param(
                &self.path_of(name),
                "is required (缺少参数)",
            )),
            Some(v @ Value::Object(_)) => Ok(Fields {
                value: v,
                path: self.path_of(name),
            }),
            Some(_) => Err(ApiError::param(&self.path_of(name), "must be an object")),
        }
    }

    /// An optional nested object.
    pub fn opt_object(&self, name: &str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Fields {
                value: v,
                path: self.path_of(name),
            })),
            Some(_) => Err(ApiError::param(&self.path_of(name), "must be an object")),
        }
    }

    /// Maps a constructor error onto this field.
    pub fn check<T, E: std::fmt::Display>(
        &self,
        name: &str,
        r: Result<T, E>,
    ) -> Result<T, ApiError> {
        r.map_err(|e| ApiError::param(&self.path_of(name), e.to_string()))
    }

    /// `appid`.
    pub fn appid(&self) -> Result<AppId, ApiError> {
        let s = self.string("appid")?;
        self.check("appid", AppId::new(s))
    }

    /// `out_trade_no`.
    pub fn out_trade_no(&self) -> Result<OutTradeNo, ApiError> {
        let s = self.string("out_trade_no")?;
        self.check("out_trade_no", OutTradeNo::new(s))
    }

    /// `out_refund_no`.
    pub fn out_refund_no(&self) -> Result<OutRefundNo, ApiError> {
        let s = self.string("out_refund_no")?;
        self.check("out_refund_no", OutRefundNo::new(s))
    }

    /// `description`.
    pub fn description(&self) -> Result<Description, ApiError> {
        let s = self.string("description")?;
        self.check("description", Description::new(s))
    }

    /// Optional `attach`.
    pub fn attach(&self) -> Result<Option<Attach>, ApiError> {
        match self.opt_string("attach")? {
            None => Ok(None),
            Some(s) => self.check("attach", Attach::new(s)).map(Some),
        }
    }

    /// Optional `time_expire` (RFC 3339).
    pub fn time_expire(&self) -> Result<Option<TimeExpire>, ApiError> {
        match self.opt_string("time_expire")? {
            None => Ok(None),
            Some(s) => self.check("time_expire", TimeExpire::parse(s)).map(Some),
        }
    }

    /// An amount in fen.
    pub fn amount(&self, name: &str) -> Result<Amount, ApiError> {
        let n = self.integer(name)?;
        self.check(name, Amount::from_fen(n))
    }

    /// `openid`.
    pub fn openid(&self) -> Result<OpenId, ApiError> {
        let s = self.string("openid")?;
        self.check("openid", OpenId::new(s))
    }

    /// A notification URL: string(255), absolute, no query string, and HTTPS unless it
    /// points at a loopback host or one of `private_line_hosts` (the core's [`NotifyUrl`]
    /// rule, A.8).
    pub fn notify_url(
        &self,
        name: &str,
        required: bool,
        private_line_hosts: &[String],
    ) -> Result<Option<String>, ApiError> {
        let value = if required {
            Some(self.string(name)?)
        } else {
            self.opt_string(name)?
        };
        let Some(url) = value else { return Ok(None) };
        let path = self.path_of(name);
        if url.len() > 255 {
            return Err(ApiError::param(&path, "must be at most 255 bytes"));
        }
        NotifyUrl::new_over_private_line(url, private_line_hosts)
            .map_err(|e| ApiError::param(&path, e.to_string()))?;
        Ok(Some(url.to_owned()))
    }

    /// An optional currency that must be `CNY` when present.
    pub fn currency(&self, required: bool) -> Result<String, ApiError> {
        let value = if required {
            Some(self.string("currency")?)
        } else {
            self.opt_string("currency")?
        };
        match value {
            None | Some("CNY") => Ok("CNY".into()),
            Some(_) => Err(ApiError::param(
                &self.path_of("currency"),
                "only CNY is supported",
            )),
        }
    }

    /// A bounded optional string.
    pub fn bounded(&self, name: &str, max_bytes: usize) -> Result<Option<&'a str>, ApiError> {
        let v = self.opt_string(name)?;
        if let Some(s) = v {
            if s.len() > max_bytes {
                return Err(ApiError::param(
                    &self.path_of(name),
                    format!("must be at most {max_bytes} bytes"),
                ));
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_nested_field() {
        let v = json!({"amount": {"total": "100"}});
        let err = Fields::body(&v)
            .object("amount")
            .and_then(|a| a.amount("total"))
            .err()
            .map(|e| e.body());
        let body = err.expect("must fail");
        assert_eq!(body["code"], "PARAM_ERROR");
        assert_eq!(body["detail"]["field"], "/body/amount/total");
    }

    #[test]
    fn notify_url_rules() {
        let v = json!({"u": "https://a.example/n?x=1", "w": "ftp://a", "h": "http://a.example/n"});
        let f = Fields::body(&v);
        assert!(f.notify_url("u", true, &[]).is_err());
        assert!(f.notify_url("w", true, &[]).is_err());
        assert!(f.notify_url("h", true, &[]).is_err());
        assert!(f.notify_url("h", true, &["a.example".into()]).is_ok());
        assert!(f
            .notify_url("missing", false, &[])
            .expect("optional")
            .is_none());
        assert!(f.notify_url("missing", true, &[]).is_err());
    }
}
