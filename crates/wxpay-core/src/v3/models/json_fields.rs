//! A small field-by-field reader over a raw JSON body, used by the `from_json` parsers.
//!
//! serde reports the first error without a usable field path; the simulator must name the
//! field by its JSON Pointer (`/amount/total`) the way WeChat's `PARAM_ERROR` does, so the
//! parsers walk the body by hand, building each typed value as they go; only nested parts
//! that hold no checked type are left to serde once their fields are known to be good.

use std::fmt::Display;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::FieldError;

/// One JSON object and the JSON Pointer that leads to it (empty for the body itself).
#[derive(Debug)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Obj<'a> {
    /// The body itself, which must be an object.
    pub(crate) fn root(body: &'a Value) -> Result<Self, FieldError> {
        match body {
            Value::Object(map) => Ok(Self {
                map,
                prefix: String::new(),
            }),
            _ => Err(FieldError::new("", "must be a JSON object")),
        }
    }

    /// The JSON Pointer of `name` inside this object. Names are the protocol's field
    /// names, which hold no `~` or `/` to escape.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, name)
    }

    /// The value, with `null` treated as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn missing(&self, name: &str) -> FieldError {
        FieldError::new(self.path(name), "is required")
    }

    /// An optional string field.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FieldError::new(self.path(name), "must be a string")),
        }
    }

    /// A required, non-empty string field.
    pub(crate) fn req_str(&self, name: &str) -> Result<&'a str, FieldError> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.missing(name)),
        }
    }

    /// An optional string field checked by a typed constructor.
    pub(crate) fn opt_typed<T, E: Display>(
        &self,
        name: &str,
        ctor: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, FieldError> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(s) => ctor(s)
                .map(Some)
                .map_err(|e| FieldError::new(self.path(name), e.to_string())),
        }
    }

    /// A required string field checked by a typed constructor.
    pub(crate) fn req_typed<T, E: Display>(
        &self,
        name: &str,
        ctor: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, FieldError> {
        let s = self.req_str(name)?;
        ctor(s).map_err(|e| FieldError::new(self.path(name), e.to_string()))
    }

    /// An optional JSON integer (a decimal or a numeric string is refused, as WeChat does).
    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| FieldError::new(self.path(name), "must be an integer")),
            Some(_) => Err(FieldError::new(self.path(name), "must be an integer")),
        }
    }

    /// A required JSON integer.
    pub(crate) fn req_int(&self, name: &str) -> Result<i64, FieldError> {
        self.opt_int(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(FieldError::new(self.path(name), "must be a boolean")),
        }
    }

    /// An optional nested object.
    pub(crate) fn opt_obj(&self, name: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                prefix: self.path(name),
            })),
            Some(_) => Err(FieldError::new(self.path(name), "must be an object")),
        }
    }

    /// A required nested object.
    pub(crate) fn req_obj(&self, name: &str) -> Result<Obj<'a>, FieldError> {
        self.opt_obj(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional array of objects, each with its indexed path (`/goods_detail/0`).
    pub(crate) fn opt_obj_array(&self, name: &str) -> Result<Vec<Obj<'a>>, FieldError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Obj {
                        map,
                        prefix: format!("{}/{i}", self.path(name)),
                    }),
                    _ => Err(FieldError::new(
                        format!("{}/{i}", self.path(name)),
                        "must be an object",
                    )),
                })
                .collect(),
            Some(_) => Err(FieldError::new(self.path(name), "must be an array")),
        }
    }

    /// An optional array of strings.
    pub(crate) fn opt_str_array(&self, name: &str) -> Result<Option<Vec<&'a str>>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str().ok_or_else(|| {
                        FieldError::new(format!("{}/{i}", self.path(name)), "must be a string")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(FieldError::new(self.path(name), "must be an array")),
        }
    }

    /// A string no longer than `max` UTF-8 bytes.
    pub(crate) fn opt_str_max(
        &self,
        name: &str,
        max: usize,
    ) -> Result<Option<&'a str>, FieldError> {
        let s = self.opt_str(name)?;
        if let Some(s) = s {
            if s.len() > max {
                return Err(FieldError::new(
                    self.path(name),
                    format!("must be at most {max} bytes"),
                ));
            }
        }
        Ok(s)
    }
}

impl Obj<'_> {
    /// Deserialises the optional member `name` once its fields were checked by hand. A
    /// failure here means a rule the checks do not cover; it is reported against `name`.
    pub(crate) fn opt_build<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, FieldError> {
        self.get(name)
            .map(|v| {
                serde_json::from_value(v.clone())
                    .map_err(|e| FieldError::new(self.path(name), e.to_string()))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::json;

    use super::*;

    #[test]
    fn paths_and_types() {
        let body = json!({"a": {"b": [{"c": 1.5}, 3]}, "s": 1, "n": null, "t": ["x", 2]});
        let root = Obj::root(&body).unwrap();
        let a = root.req_obj("a").unwrap();
        let items = a.opt_obj_array("b").unwrap_err();
        assert_eq!(items.field, "/a/b/1");
        assert_eq!(body.pointer(&items.field), Some(&serde_json::json!(3)));
        assert_eq!(root.opt_str("s").unwrap_err().field, "/s");
        assert_eq!(root.opt_str("n").unwrap(), None);
        assert_eq!(root.req_str("n").unwrap_err().issue, "is required");
        assert_eq!(root.opt_str_array("t").unwrap_err().field, "/t/1");
        assert_eq!(root.opt_build::<u8>("s").unwrap(), Some(1));
        assert_eq!(root.opt_build::<u8>("t").unwrap_err().field, "/t");
        assert!(Obj::root(&json!([1])).is_err());
        let c = json!({"c": 1.5});
        assert_eq!(
            Obj::root(&c).unwrap().req_int("c").unwrap_err().issue,
            "must be an integer"
        );
    }
}
