//! The v3 signed messages for client invocation (protocol reference B.1 and B.6).
//!
//! Both are four lines, each terminated by `\n`, signed with the merchant's API private key.
//! They differ only in the fourth line: JSAPI / mini-program sign the whole `package`
//! (`prepay_id=…`), APP signs the bare prepay id.

/// `appId\ntimeStamp\nnonceStr\npackage\n`: the message behind `paySign` for
/// `wx.requestPayment`, `getBrandWCPayRequest` and `wx.chooseWXPay` (JSAPI调起支付签名).
///
/// `app_id` is signed even for `wx.requestPayment`, whose bundle has no `appId` field.
pub fn paysign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> String {
    four_lines(app_id, time_stamp, nonce_str, package)
}

/// `appid\ntimestamp\nnoncestr\nprepayid\n`: the message behind the APP `sign`
/// (APP调起支付签名). `prepay_id` is the bare id, without `prepay_id=`.
pub fn app_sign_message(app_id: &str, timestamp: &str, nonce_str: &str, prepay_id: &str) -> String {
    four_lines(app_id, timestamp, nonce_str, prepay_id)
}

fn four_lines(a: &str, b: &str, c: &str, d: &str) -> String {
    let mut out = String::with_capacity(a.len() + b.len() + c.len() + d.len() + 4);
    for line in [a, b, c, d] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn every_line_ends_with_newline() {
        assert_eq!(
            paysign_message("a", "1", "n", "prepay_id=p"),
            "a\n1\nn\nprepay_id=p\n"
        );
        assert_eq!(app_sign_message("a", "1", "n", "p"), "a\n1\nn\np\n");
    }
}
