//! Rows 1–4 for wxpay-core: the same fixture the peers use, one thread, a fixed time per
//! row, counted per second of CPU time like `openssl speed` (and the peers' micro runs).

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wxpay_core::invoke::{JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::v3::authorization::{Authorization, RequestParts};
use wxpay_core::v3::models::Transaction;
use wxpay_core::v3::notification::verify_and_decrypt;
use wxpay_core::v3::verify::{SignedHeaders, Verifier};
use wxpay_core::{AppId, PrepayId};

use crate::universe::{field, Universe};
use crate::BoxError;

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`), or `None`
/// where the kernel does not say.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Calls `op` for `warmup`, then counts calls for `measure` of wall time; operations per
/// second of this thread's CPU time (what `openssl speed` divides by), so that other load
/// on a shared machine does not count against the implementation. Falls back to wall time.
pub fn time_op<T>(warmup: Duration, measure: Duration, mut op: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    while start.elapsed() < warmup {
        black_box(op());
    }
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        black_box(op());
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= measure {
            let cpu = cpu_start
                .zip(thread_cpu_ns())
                .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9)
                .filter(|cpu| *cpu > 0.0);
            return n as f64 / cpu.unwrap_or(elapsed.as_secs_f64());
        }
    }
}

/// Header lookup over a JSON object, case-insensitive like an HTTP header map.
fn lookup(headers: &Value) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        headers.as_object().and_then(|map| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
    }
}

fn line(row: &str, ops: f64, sample: Value) -> String {
    json!({ "impl": "ours", "row": row, "ops_per_s": ops, "sample": sample }).to_string()
}

/// Runs the four rows (or those named in `only`, for profiling one) and prints one JSON
/// line per row.
pub fn run(u: &Universe, fx: &Value, seconds: f64, only: Option<&str>) -> Result<(), BoxError> {
    let wanted = |row: &str| only.is_none_or(|list| list.split(',').any(|r| r == row));
    let warmup = Duration::from_secs_f64((seconds / 5.0).min(0.2));
    let measure = Duration::from_secs_f64(seconds);
    let now = fx["request"]["timestamp"].as_i64().ok_or("no timestamp")?;

    // Row 1: the Authorization header of a v3 request (validate, message, RSA, Base64, header).
    let body = field(fx, "/request/body")?;
    let parts = RequestParts {
        method: field(fx, "/request/method")?,
        canonical_url: field(fx, "/request/path")?,
        timestamp: now,
        nonce: field(fx, "/request/nonce")?,
        body: body.as_bytes(),
    };
    let sign = || {
        Authorization::sign(&u.merchant_key, &u.mchid, &u.merchant_serial, &parts)
            .map(|a| a.to_header_value())
    };
    if wanted("sign") {
        let sample = sign()?;
        let ops = time_op(warmup, measure, sign);
        println!("{}", line("sign", ops, Value::String(sample)));
    }

    // Row 2: a response signature, from the header map to the RSA check.
    let mut verifier = Verifier::new();
    verifier.add_certificate(u.platform_cert.clone());
    let response_body = field(fx, "/response/body")?.as_bytes();
    let response_headers = &fx["response"]["headers"];
    let verify = |body: &[u8]| {
        SignedHeaders::from_lookup(lookup(response_headers))
            .and_then(|h| verifier.verify(&h, body, now))
            .is_ok()
    };
    if wanted("verify") {
        let tampered = verify(b"{\"prepay_id\":\"wx0\"}");
        let sample = json!({ "valid": verify(response_body), "tampered": tampered });
        let ops = time_op(warmup, measure, || verify(response_body));
        println!("{}", line("verify", ops, sample));
    }

    // Row 3: a 1 KiB notification: headers, signature, envelope JSON, AES-256-GCM, payload
    // JSON read into the core's typed `Transaction` (ids checked), as a merchant on this crate
    // would; the SDKs give a parsed dictionary.
    let notification = |body: &str, headers: &Value| -> Result<Transaction, BoxError> {
        let headers = SignedHeaders::from_lookup(lookup(headers))?;
        let decrypted =
            verify_and_decrypt(&verifier, &headers, body.as_bytes(), now, &u.apiv3_key)?;
        Ok(decrypted.payload::<Transaction>()?)
    };
    let (body, headers) = (
        field(fx, "/notification/body")?,
        &fx["notification"]["headers"],
    );
    let forged = field(fx, "/forged_tag_notification/body")?;
    if wanted("notify") {
        let payload = notification(body, headers)?;
        let sample = json!({
            "out_trade_no": payload.out_trade_no.as_str(),
            "transaction_id": payload.transaction_id.as_ref().map(|t| t.as_str()),
            "forged_tag_rejected": notification(forged, &fx["forged_tag_notification"]["headers"]).is_err(),
        });
        let ops = time_op(warmup, measure, || notification(body, headers).is_ok());
        println!("{}", line("notify", ops, sample));
    }

    // Row 4: wx.requestPayment's parameters from the strings a server holds.
    let (appid, prepay_id) = (
        field(fx, "/paysign/appid")?,
        field(fx, "/paysign/prepay_id")?,
    );
    let (timestamp, nonce) = (
        field(fx, "/paysign/timestamp")?,
        field(fx, "/paysign/nonce")?,
    );
    let pay = || -> Result<Value, BoxError> {
        let params = JsapiPayParams::sign_v3(
            &u.merchant_key,
            &AppId::new(appid)?,
            &PrepayId::new(prepay_id)?,
            &PayTimestamp::parse(timestamp)?,
            &NonceStr::new(nonce)?,
        )?;
        Ok(params.to_json())
    };
    if wanted("paysign") {
        let sample = pay()?;
        let ops = time_op(warmup, measure, || pay().is_ok());
        println!("{}", line("paysign", ops, sample));
    }
    Ok(())
}
