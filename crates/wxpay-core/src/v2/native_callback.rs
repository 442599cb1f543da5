//! Scan-pay mode one (扫码支付模式一): the callback WeChat posts to the merchant's 支付回调URL
//! after a payer scans a static product QR, and the merchant's reply carrying the prepay id
//! of a NATIVE unified order (protocol.md, "v2 Native mode one").
//!
//! Both messages are flat v2 parameter maps signed MD5 ([`signed_xml`](super::fields::signed_xml));
//! the reply's `err_code_des` explains a refusal (the reply has no `err_code`).

use super::fields::{
    check_return_code, check_success, Fields, Params, ParamsBuilder, V2ModelError,
};
use super::fields::{FAIL, SUCCESS};
use crate::ids::{AppId, MchId, OpenId, PrepayId};

/// What WeChat posts to the merchant's callback URL: who scanned which product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCallback {
    /// The appid of the QR.
    pub appid: AppId,
    /// The merchant of the QR.
    pub mch_id: MchId,
    /// The payer, under `appid`.
    pub openid: OpenId,
    /// The product the QR names (at most 32 bytes).
    pub product_id: String,
    /// Whether the payer follows the Official Account (`Y`/`N`).
    pub is_subscribe: Option<String>,
    /// Random string.
    pub nonce_str: String,
}

impl NativeCallback {
    /// The unsigned parameters (simulator side).
    pub fn to_params(&self) -> Params {
        ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("openid", &self.openid)
            .set("product_id", &self.product_id)
            .opt("is_subscribe", self.is_subscribe.as_ref())
            .set("nonce_str", &self.nonce_str)
            .build()
    }

    /// Reads a callback whose signature was verified (merchant side).
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        let product_id = f.req("product_id")?;
        if product_id.len() > 32 {
            return Err(V2ModelError::invalid("product_id", "must be 1-32 bytes"));
        }
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            openid: f.req_typed("openid", OpenId::new)?,
            product_id: product_id.to_owned(),
            is_subscribe: f.opt_string("is_subscribe"),
            nonce_str: f.req("nonce_str")?.to_owned(),
        })
    }
}

/// The merchant's successful reply: the prepay id of the NATIVE order it placed for the
/// scanned product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCallbackReply {
    /// The appid of the callback.
    pub appid: AppId,
    /// The merchant of the callback.
    pub mch_id: MchId,
    /// The NATIVE unified order's prepay id.
    pub prepay_id: PrepayId,
}

impl NativeCallbackReply {
    /// Reads a reply whose signature was verified (simulator side): `return_code` and
    /// `result_code` SUCCESS, then the ids. A refusal is [`V2ModelError::Business`] with the
    /// reply's `err_code_des` (and `err_code`, which WeChat's page does not list, if sent).
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            prepay_id: f.req_typed("prepay_id", PrepayId::new)?,
        })
    }

    /// Whether `return_code` is SUCCESS, before the signature is checked: a `return_code`
    /// FAIL reply is not signed.
    pub fn check_return_code(params: &Params) -> Result<(), V2ModelError> {
        check_return_code(params)
    }

    /// The unsigned success reply (merchant side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        ParamsBuilder::default()
            .set("return_code", SUCCESS)
            .set("return_msg", "OK")
            .set("result_code", SUCCESS)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("nonce_str", nonce_str)
            .set("prepay_id", &self.prepay_id)
            .build()
    }

    /// The unsigned refusal (merchant side): `result_code` FAIL with `err_code_des`, which
    /// WeChat shows the payer.
    pub fn refusal(appid: &AppId, mch_id: &MchId, nonce_str: &str, err_code_des: &str) -> Params {
        ParamsBuilder::default()
            .set("return_code", SUCCESS)
            .set("return_msg", "OK")
            .set("result_code", FAIL)
            .set("err_code_des", err_code_des)
            .set("appid", appid)
            .set("mch_id", mch_id)
            .set("nonce_str", nonce_str)
            .build()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::v2::fields::signed_xml;
    use crate::v2::sign::{verify, ApiV2Key, SignType};
    use crate::v2::xml;

    fn ids() -> (AppId, MchId) {
        (
            AppId::new("wx2421b1c4370ec43b").unwrap(),
            MchId::new("10000100").unwrap(),
        )
    }

    #[test]
    fn callback_and_reply_round_trip_through_signed_xml() {
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let (appid, mch_id) = ids();
        let callback = NativeCallback {
            appid: appid.clone(),
            mch_id: mch_id.clone(),
            openid: OpenId::new("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").unwrap(),
            product_id: "88888".into(),
            is_subscribe: Some("N".into()),
            nonce_str: "5d2b6c2a8db53831f7eda20af46e531c".into(),
        };
        let body = signed_xml(callback.to_params(), &key, SignType::Md5).unwrap();
        let back = xml::parse(body.as_bytes(), 8192).unwrap();
        assert!(verify(&back, &key, SignType::Md5).is_ok());
        assert_eq!(NativeCallback::from_params(&back).unwrap(), callback);

        let reply = NativeCallbackReply {
            appid: appid.clone(),
            mch_id: mch_id.clone(),
            prepay_id: PrepayId::new("wx201410272009395522657a690389285100").unwrap(),
        };
        let p = reply.to_params("n1");
        assert_eq!(NativeCallbackReply::check_return_code(&p), Ok(()));
        assert_eq!(NativeCallbackReply::from_params(&p).unwrap(), reply);
        let refused = NativeCallbackReply::refusal(&appid, &mch_id, "n2", "商品已下架");
        assert_eq!(
            NativeCallbackReply::from_params(&refused),
            Err(V2ModelError::Business {
                err_code: String::new(),
                err_code_des: "商品已下架".into()
            })
        );
        let mut missing = p.clone();
        missing.remove("prepay_id");
        assert_eq!(
            NativeCallbackReply::from_params(&missing),
            Err(V2ModelError::Missing("prepay_id"))
        );
    }
}
