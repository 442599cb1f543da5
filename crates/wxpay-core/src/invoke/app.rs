//! APP bundles: WeChat OpenSDK `PayReq` and uni-app's App `orderInfo` (protocol reference B.6).

use serde::Serialize;
use serde_json::{json, Value};

use crate::ids::{AppId, MchId, PrepayId};
use crate::invoke::{
    app_sign_message, BuildError, NonceStr, PayTimestamp, APP_PACKAGE, UNI_PROVIDER_WXPAY,
};
use crate::signer::RsaSigner;
use crate::v2::sign::{sign as v2_sign, ApiV2Key, SignType as V2SignType};

/// The signed APP bundle with all-lower-case keys:
/// `{appid, partnerid, prepayid, package: "Sign=WXPay", noncestr, timestamp, sign}`.
///
/// `appid` is the Open Platform mobile-app appid (not a 公众号 or mini-program one) and
/// `partnerid` the merchant id. The native SDKs name these `appId`, `partnerId`, `prepayId`,
/// `packageValue`, `nonceStr`, `timeStamp`; the JS bridges (uni-app, most RN/Flutter plugins)
/// take this lower-case shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppPayParams {
    appid: String,
    partnerid: String,
    prepayid: String,
    package: &'static str,
    noncestr: String,
    timestamp: String,
    sign: String,
}

impl AppPayParams {
    /// API v3: `sign` is SHA256-with-RSA over [`app_sign_message`], whose fourth line is the
    /// **bare** prepay id. `partnerid` and `package` travel with the bundle but are not signed.
    pub fn sign_v3<S: RsaSigner + ?Sized>(
        signer: &S,
        app_id: &AppId,
        mch_id: &MchId,
        prepay_id: &PrepayId,
        timestamp: &PayTimestamp,
        nonce_str: &NonceStr,
    ) -> Result<Self, BuildError> {
        let message = app_sign_message(
            app_id.as_str(),
            timestamp.as_str(),
            nonce_str.as_str(),
            prepay_id.as_str(),
        );
        let sign = signer.sign_sha256_base64(message.as_bytes())?;
        Ok(Self::assemble(
            app_id, mch_id, prepay_id, timestamp, nonce_str, sign,
        ))
    }

    /// API v2: the v2 sign over `appid, noncestr, package, partnerid, prepayid, timestamp`
    /// (all lower-case). WeChat's APP documentation uses MD5; HMAC-SHA256 is accepted when the
    /// unified order used it.
    pub fn sign_v2(
        key: &ApiV2Key,
        sign_type: V2SignType,
        app_id: &AppId,
        mch_id: &MchId,
        prepay_id: &PrepayId,
        timestamp: &PayTimestamp,
        nonce_str: &NonceStr,
    ) -> Result<Self, BuildError> {
        let sign = v2_sign(
            [
                ("appid", app_id.as_str()),
                ("noncestr", nonce_str.as_str()),
                ("package", APP_PACKAGE),
                ("partnerid", mch_id.as_str()),
                ("prepayid", prepay_id.as_str()),
                ("timestamp", timestamp.as_str()),
            ],
            key,
            sign_type,
        );
        Ok(Self::assemble(
            app_id, mch_id, prepay_id, timestamp, nonce_str, sign,
        ))
    }

    fn assemble(
        app_id: &AppId,
        mch_id: &MchId,
        prepay_id: &PrepayId,
        timestamp: &PayTimestamp,
        nonce_str: &NonceStr,
        sign: String,
    ) -> Self {
        Self {
            appid: app_id.as_str().to_owned(),
            partnerid: mch_id.as_str().to_owned(),
            prepayid: prepay_id.as_str().to_owned(),
            package: APP_PACKAGE,
            noncestr: nonce_str.as_str().to_owned(),
            timestamp: timestamp.as_str().to_owned(),
            sign,
        }
    }

    /// Assembles a bundle from values already checked (used by the validator).
    pub(crate) fn from_checked(
        appid: String,
        partnerid: String,
        prepayid: String,
        noncestr: String,
        timestamp: String,
        sign: String,
    ) -> Self {
        Self {
            appid,
            partnerid,
            prepayid,
            package: APP_PACKAGE,
            noncestr,
            timestamp,
            sign,
        }
    }

    /// The v3 message `appid\ntimestamp\nnoncestr\nprepayid\n` for this bundle.
    pub fn message(&self) -> String {
        app_sign_message(&self.appid, &self.timestamp, &self.noncestr, &self.prepayid)
    }

    /// `appid`.
    pub fn appid(&self) -> &str {
        &self.appid
    }
    /// `partnerid` (merchant id).
    pub fn partnerid(&self) -> &str {
        &self.partnerid
    }
    /// `prepayid` (bare).
    pub fn prepayid(&self) -> &str {
        &self.prepayid
    }
    /// `noncestr`.
    pub fn noncestr(&self) -> &str {
        &self.noncestr
    }
    /// `timestamp` (10-digit string).
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }
    /// `sign`.
    pub fn sign(&self) -> &str {
        &self.sign
    }

    /// uni-app App: `{provider: "wxpay", orderInfo: {…this bundle…}}`.
    pub fn uni_app(&self) -> UniAppPayParams {
        UniAppPayParams {
            provider: UNI_PROVIDER_WXPAY,
            order_info: self.clone(),
        }
    }

    /// The bundle as a JSON object with the wire names.
    pub fn to_json(&self) -> Value {
        json!({
            "appid": self.appid,
            "partnerid": self.partnerid,
            "prepayid": self.prepayid,
            "package": self.package,
            "noncestr": self.noncestr,
            "timestamp": self.timestamp,
            "sign": self.sign,
        })
    }
}

/// uni-app App WeChat Pay options: `{provider: "wxpay", orderInfo: {appid, partnerid, …}}`.
/// `orderInfo` is an object here ("App端，微信支付 orderInfo 为 Object 类型").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UniAppPayParams {
    provider: &'static str,
    #[serde(rename = "orderInfo")]
    order_info: AppPayParams,
}

impl UniAppPayParams {
    /// The inner `orderInfo` bundle.
    pub fn order_info(&self) -> &AppPayParams {
        &self.order_info
    }

    /// The object to pass to `uni.requestPayment` (callbacks are added by the caller).
    pub fn to_json(&self) -> Value {
        json!({ "provider": self.provider, "orderInfo": self.order_info.to_json() })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::signer::SignError;

    struct EchoSigner;
    impl RsaSigner for EchoSigner {
        fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(message.to_vec())
        }
    }

    fn official() -> (AppId, MchId, PrepayId, PayTimestamp, NonceStr) {
        (
            AppId::new("wx2421b1c4370ec43b").expect("appid"),
            MchId::new("1900007291").expect("mchid"),
            PrepayId::new("wx201410272009395522657a690389285100").expect("prepay id"),
            PayTimestamp::parse("1554208460").expect("ts"),
            NonceStr::new("593BEC0C930BF1AFEB40B4A08C8FB242").expect("nonce"),
        )
    }

    #[test]
    fn v3_signs_the_bare_prepay_id() {
        let (app, mch, prepay, ts, nonce) = official();
        let p = AppPayParams::sign_v3(&EchoSigner, &app, &mch, &prepay, &ts, &nonce).expect("sign");
        let signed = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p.sign())
            .expect("b64");
        assert_eq!(signed, p.message().as_bytes());
        assert!(p
            .message()
            .ends_with("\nwx201410272009395522657a690389285100\n"));
        assert!(!p.message().contains("prepay_id="));
        let json = p.to_json();
        assert_eq!(serde_json::to_value(&p).expect("ser"), json);
        assert_eq!(json["package"], "Sign=WXPay");
        assert_eq!(json["partnerid"], "1900007291");
        assert_eq!(json.as_object().map(|m| m.len()), Some(7));
    }

    #[test]
    fn uni_app_wraps_order_info() {
        let (app, mch, prepay, ts, nonce) = official();
        let p = AppPayParams::sign_v3(&EchoSigner, &app, &mch, &prepay, &ts, &nonce).expect("sign");
        let uni = p.uni_app();
        let json = uni.to_json();
        assert_eq!(serde_json::to_value(&uni).expect("ser"), json);
        assert_eq!(json["provider"], "wxpay");
        assert_eq!(json["orderInfo"], p.to_json());
    }

    #[test]
    fn v2_app_sign_covers_the_six_lower_case_fields() {
        let (app, mch, prepay, ts, nonce) = official();
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").expect("key");
        let p = AppPayParams::sign_v2(&key, V2SignType::Md5, &app, &mch, &prepay, &ts, &nonce)
            .expect("sign");
        let temp = "appid=wx2421b1c4370ec43b&noncestr=593BEC0C930BF1AFEB40B4A08C8FB242&package=Sign=WXPay\
                    &partnerid=1900007291&prepayid=wx201410272009395522657a690389285100&timestamp=1554208460\
                    &key=192006250b4c09247ec02edce69f6a2d";
        let digest = <md5::Md5 as md5::Digest>::digest(temp.as_bytes());
        let expected: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(p.sign(), expected);
    }
}
