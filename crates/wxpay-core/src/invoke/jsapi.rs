//! JSAPI-family bundles: `getBrandWCPayRequest`, `wx.requestPayment`, `wx.chooseWXPay` and
//! uni-app mp-weixin, which all carry the same signed values under slightly different names
//! (protocol reference B.1–B.5).

use serde::Serialize;
use serde_json::{json, Value};

use crate::ids::{AppId, PrepayId};
use crate::invoke::{
    paysign_message, BuildError, NonceStr, PaySignType, PayTimestamp, PREPAY_PACKAGE_PREFIX,
    UNI_PROVIDER_WXPAY,
};
use crate::signer::RsaSigner;
use crate::v2::sign::{sign as v2_sign, ApiV2Key, SignType as V2SignType};

/// The complete signed JSAPI bundle, in the `getBrandWCPayRequest` shape:
/// `{appId, timeStamp, nonceStr, package, signType, paySign}`.
///
/// This is what a merchant server returns for any JSAPI-family surface; the other shapes are
/// projections of it ([`JsapiPayParams::request_payment`], [`JsapiPayParams::choose_wx_pay`],
/// [`JsapiPayParams::uni_mp_weixin`]). Fields are private so that an instance is always one a
/// builder or validator has checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsapiPayParams {
    #[serde(rename = "appId")]
    app_id: String,
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    #[serde(rename = "nonceStr")]
    nonce_str: String,
    package: String,
    #[serde(rename = "signType")]
    sign_type: PaySignType,
    #[serde(rename = "paySign")]
    pay_sign: String,
}

impl JsapiPayParams {
    /// API v3: signs [`paysign_message`] with the merchant key (SHA256-with-RSA, Base64) and
    /// sets `signType` to `RSA`. `app_id` is the 公众号 or mini-program appid used at prepay.
    pub fn sign_v3<S: RsaSigner + ?Sized>(
        signer: &S,
        app_id: &AppId,
        prepay_id: &PrepayId,
        time_stamp: &PayTimestamp,
        nonce_str: &NonceStr,
    ) -> Result<Self, BuildError> {
        let package = format!("{PREPAY_PACKAGE_PREFIX}{}", prepay_id.as_str());
        let message = paysign_message(
            app_id.as_str(),
            time_stamp.as_str(),
            nonce_str.as_str(),
            &package,
        );
        let pay_sign = signer.sign_sha256_base64(message.as_bytes())?;
        Ok(Self {
            app_id: app_id.as_str().to_owned(),
            time_stamp: time_stamp.as_str().to_owned(),
            nonce_str: nonce_str.as_str().to_owned(),
            package,
            sign_type: PaySignType::Rsa,
            pay_sign,
        })
    }

    /// API v2: the v2 sign (MD5 or HMAC-SHA256 with the API v2 key) over `appId, nonceStr,
    /// package, signType, timeStamp` (camelCase names, `appId` included even for
    /// mini-programs). `sign_type` must be the one used for the unified order.
    pub fn sign_v2(
        key: &ApiV2Key,
        sign_type: V2SignType,
        app_id: &AppId,
        prepay_id: &PrepayId,
        time_stamp: &PayTimestamp,
        nonce_str: &NonceStr,
    ) -> Result<Self, BuildError> {
        let package = format!("{PREPAY_PACKAGE_PREFIX}{}", prepay_id.as_str());
        let pay_sign = v2_sign(
            [
                ("appId", app_id.as_str()),
                ("nonceStr", nonce_str.as_str()),
                ("package", package.as_str()),
                ("signType", sign_type.as_str()),
                ("timeStamp", time_stamp.as_str()),
            ],
            key,
            sign_type,
        );
        Ok(Self {
            app_id: app_id.as_str().to_owned(),
            time_stamp: time_stamp.as_str().to_owned(),
            nonce_str: nonce_str.as_str().to_owned(),
            package,
            sign_type: v2_pay_sign_type(sign_type),
            pay_sign,
        })
    }

    /// Assembles a bundle from values already checked (used by the validator).
    pub(crate) fn from_checked(
        app_id: String,
        time_stamp: String,
        nonce_str: String,
        package: String,
        sign_type: PaySignType,
        pay_sign: String,
    ) -> Self {
        Self {
            app_id,
            time_stamp,
            nonce_str,
            package,
            sign_type,
            pay_sign,
        }
    }

    /// The v3 message `appId\ntimeStamp\nnonceStr\npackage\n` for this bundle.
    pub fn message(&self) -> String {
        paysign_message(
            &self.app_id,
            &self.time_stamp,
            &self.nonce_str,
            &self.package,
        )
    }

    /// `appId`.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }
    /// `timeStamp` (10-digit string).
    pub fn time_stamp(&self) -> &str {
        &self.time_stamp
    }
    /// `nonceStr`.
    pub fn nonce_str(&self) -> &str {
        &self.nonce_str
    }
    /// `package` (`prepay_id=…`).
    pub fn package(&self) -> &str {
        &self.package
    }
    /// `signType`.
    pub fn sign_type(&self) -> PaySignType {
        self.sign_type
    }
    /// `paySign`.
    pub fn pay_sign(&self) -> &str {
        &self.pay_sign
    }

    /// The `wx.requestPayment` shape: the same values without `appId` (the runtime supplies it).
    pub fn request_payment(&self) -> RequestPaymentParams {
        RequestPaymentParams {
            time_stamp: self.time_stamp.clone(),
            nonce_str: self.nonce_str.clone(),
            package: self.package.clone(),
            sign_type: self.sign_type,
            pay_sign: self.pay_sign.clone(),
        }
    }

    /// The uni-app mp-weixin shape: `wx.requestPayment`'s fields plus `provider: "wxpay"`.
    pub fn uni_mp_weixin(&self) -> UniMpWeixinParams {
        UniMpWeixinParams {
            provider: UNI_PROVIDER_WXPAY,
            request: self.request_payment(),
        }
    }

    /// The JS-SDK `wx.chooseWXPay` shape, where the field is spelled `timestamp`.
    pub fn choose_wx_pay(&self) -> ChooseWxPayParams {
        ChooseWxPayParams {
            timestamp: self.time_stamp.clone(),
            nonce_str: self.nonce_str.clone(),
            package: self.package.clone(),
            sign_type: self.sign_type,
            pay_sign: self.pay_sign.clone(),
        }
    }

    /// The bundle as a JSON object with the wire names.
    pub fn to_json(&self) -> Value {
        json!({
            "appId": self.app_id,
            "timeStamp": self.time_stamp,
            "nonceStr": self.nonce_str,
            "package": self.package,
            "signType": self.sign_type.as_str(),
            "paySign": self.pay_sign,
        })
    }
}

/// `wx.requestPayment` fields: `{timeStamp, nonceStr, package, signType, paySign}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPaymentParams {
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    #[serde(rename = "nonceStr")]
    nonce_str: String,
    package: String,
    #[serde(rename = "signType")]
    sign_type: PaySignType,
    #[serde(rename = "paySign")]
    pay_sign: String,
}

impl RequestPaymentParams {
    /// The object to pass to `wx.requestPayment` (callbacks are added by the caller).
    pub fn to_json(&self) -> Value {
        json!({
            "timeStamp": self.time_stamp,
            "nonceStr": self.nonce_str,
            "package": self.package,
            "signType": self.sign_type.as_str(),
            "paySign": self.pay_sign,
        })
    }
}

/// uni-app mp-weixin: `{provider: "wxpay", timeStamp, nonceStr, package, signType, paySign}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UniMpWeixinParams {
    provider: &'static str,
    #[serde(flatten)]
    request: RequestPaymentParams,
}

impl UniMpWeixinParams {
    /// The object to pass to `uni.requestPayment`.
    pub fn to_json(&self) -> Value {
        let mut value = self.request.to_json();
        if let Value::Object(map) = &mut value {
            map.insert(
                "provider".to_owned(),
                Value::String(self.provider.to_owned()),
            );
        }
        value
    }
}

/// `wx.chooseWXPay` fields: `{timestamp, nonceStr, package, signType, paySign}` (lower-case
/// `timestamp`, although the signature was computed over `timeStamp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChooseWxPayParams {
    timestamp: String,
    #[serde(rename = "nonceStr")]
    nonce_str: String,
    package: String,
    #[serde(rename = "signType")]
    sign_type: PaySignType,
    #[serde(rename = "paySign")]
    pay_sign: String,
}

impl ChooseWxPayParams {
    /// The object to pass to `wx.chooseWXPay`.
    pub fn to_json(&self) -> Value {
        json!({
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "package": self.package,
            "signType": self.sign_type.as_str(),
            "paySign": self.pay_sign,
        })
    }
}

pub(crate) fn v2_pay_sign_type(sign_type: V2SignType) -> PaySignType {
    match sign_type {
        V2SignType::Md5 => PaySignType::Md5,
        V2SignType::HmacSha256 => PaySignType::HmacSha256,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::signer::SignError;

    /// A stand-in signer that returns the message itself, so tests can see exactly what was
    /// signed without a private key.
    struct EchoSigner;
    impl RsaSigner for EchoSigner {
        fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(message.to_vec())
        }
    }

    struct FailingSigner;
    impl RsaSigner for FailingSigner {
        fn sign_sha256(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
            Err(SignError("hsm offline".into()))
        }
    }

    fn official() -> (AppId, PrepayId, PayTimestamp, NonceStr) {
        (
            AppId::new("wx2421b1c4370ec43b").expect("appid"),
            PrepayId::new("wx201410272009395522657a690389285100").expect("prepay id"),
            PayTimestamp::parse("1554208460").expect("ts"),
            NonceStr::new("593BEC0C930BF1AFEB40B4A08C8FB242").expect("nonce"),
        )
    }

    #[test]
    fn v3_signs_the_four_line_message() {
        let (app, prepay, ts, nonce) = official();
        let p = JsapiPayParams::sign_v3(&EchoSigner, &app, &prepay, &ts, &nonce).expect("sign");
        let signed =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p.pay_sign())
                .expect("b64");
        assert_eq!(signed, p.message().as_bytes());
        assert_eq!(
            p.package(),
            "prepay_id=wx201410272009395522657a690389285100"
        );
        assert_eq!(p.sign_type(), PaySignType::Rsa);
    }

    #[test]
    fn signer_failure_is_reported() {
        let (app, prepay, ts, nonce) = official();
        let err = JsapiPayParams::sign_v3(&FailingSigner, &app, &prepay, &ts, &nonce);
        assert!(matches!(err, Err(BuildError::Sign(_))));
    }

    #[test]
    fn projections_use_each_surface_spelling() {
        let (app, prepay, ts, nonce) = official();
        let p = JsapiPayParams::sign_v3(&EchoSigner, &app, &prepay, &ts, &nonce).expect("sign");

        let bridge = p.to_json();
        assert_eq!(serde_json::to_value(&p).expect("ser"), bridge);
        assert_eq!(bridge["appId"], "wx2421b1c4370ec43b");
        assert_eq!(bridge["timeStamp"], "1554208460");

        let rp = p.request_payment();
        let rp_json = rp.to_json();
        assert_eq!(serde_json::to_value(&rp).expect("ser"), rp_json);
        assert!(rp_json.get("appId").is_none());
        assert_eq!(rp_json.as_object().map(|m| m.len()), Some(5));

        let uni = p.uni_mp_weixin();
        let uni_json = uni.to_json();
        assert_eq!(serde_json::to_value(&uni).expect("ser"), uni_json);
        assert_eq!(uni_json["provider"], "wxpay");
        assert_eq!(uni_json["paySign"], bridge["paySign"]);

        let cw = p.choose_wx_pay();
        let cw_json = cw.to_json();
        assert_eq!(serde_json::to_value(&cw).expect("ser"), cw_json);
        assert_eq!(cw_json["timestamp"], "1554208460");
        assert!(cw_json.get("timeStamp").is_none());
    }

    #[test]
    fn v2_paysign_covers_the_five_camel_case_fields() {
        let (app, prepay, ts, nonce) = official();
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").expect("key");
        let p = JsapiPayParams::sign_v2(&key, V2SignType::Md5, &app, &prepay, &ts, &nonce)
            .expect("sign");
        // Recompute independently with the md5 crate over the documented stringSignTemp.
        let temp = "appId=wx2421b1c4370ec43b&nonceStr=593BEC0C930BF1AFEB40B4A08C8FB242\
                    &package=prepay_id=wx201410272009395522657a690389285100&signType=MD5\
                    &timeStamp=1554208460&key=192006250b4c09247ec02edce69f6a2d";
        let digest = <md5::Md5 as md5::Digest>::digest(temp.as_bytes());
        let expected: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(p.pay_sign(), expected);
        assert_eq!(p.sign_type(), PaySignType::Md5);

        let h = JsapiPayParams::sign_v2(&key, V2SignType::HmacSha256, &app, &prepay, &ts, &nonce)
            .expect("sign");
        assert_eq!(h.sign_type(), PaySignType::HmacSha256);
        assert_eq!(h.pay_sign().len(), 64);
        assert_ne!(h.pay_sign(), p.pay_sign());
    }
}
