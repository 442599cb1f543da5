use serde_json::{json, Value};
use wxpay_sim::config::AppKind;

use crate::common::*;

async fn get(t: &TestSim, path: &str) -> Value {
    reqwest::get(t.url(path))
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn jscode2session_codes() {
    let t = start().await;
    let app = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::MiniProgram)
        .expect("mp");
    let (_, minted) = t
        .control(
            "POST",
            "/__sim/login/code",
            Some(json!({"appid": app.appid, "openid": "oUser1"})),
        )
        .await;
    let code = minted["code"].as_str().expect("code");
    let url = |secret: &str, code: &str| {
        format!("/sns/jscode2session?appid={}&secret={secret}&js_code={code}&grant_type=authorization_code", app.appid)
    };
    let v = get(&t, &url("wrong", code)).await;
    assert_eq!(v["errcode"], 40125);
    let v = get(&t, &url(app.secret.expose(), code)).await;
    assert_eq!(v["openid"], "oUser1");
    assert!(v["session_key"].is_string());
    let v = get(&t, &url(app.secret.expose(), code)).await;
    assert_eq!(v["errcode"], 40163);
    let v = get(&t, &url(app.secret.expose(), "nonsense")).await;
    assert_eq!(v["errcode"], 40029);
    let v = get(
        &t,
        "/sns/jscode2session?appid=wxnope&secret=x&js_code=y&grant_type=authorization_code",
    )
    .await;
    assert_eq!(v["errcode"], 40013);
}

#[tokio::test]
async fn login_rate_limit() {
    let mut c = base_config();
    c.login_rate_limit_per_minute = 2;
    let t = start_with(c).await;
    let app = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::MiniProgram)
        .expect("mp");
    let url = format!(
        "/sns/jscode2session?appid={}&secret={}&js_code=x&grant_type=authorization_code",
        app.appid,
        app.secret.expose()
    );
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(get(&t, &url).await["errcode"].as_i64().unwrap_or(0));
    }
    assert_eq!(codes, vec![40029, 40029, 45011]);
}

#[tokio::test]
async fn oauth_token_grace_and_ticket() {
    let mut c = base_config();
    c.token_grace_seconds = 300; // 300 ms at time_scale 0.001
    let t = start_with(c).await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("oa");
    let (_, minted) = t
        .control(
            "POST",
            "/__sim/oauth/code",
            Some(json!({"appid": oa.appid, "scope": "snsapi_userinfo"})),
        )
        .await;
    let code = minted["code"].as_str().expect("code");
    let v = get(
        &t,
        &format!(
            "/sns/oauth2/access_token?appid={}&secret={}&code={code}&grant_type=authorization_code",
            oa.appid,
            oa.secret.expose()
        ),
    )
    .await;
    assert_eq!(v["openid"], minted["openid"]);
    assert_eq!(v["scope"], "snsapi_userinfo");
    // An OAuth code is not a mini-program login code.
    let token_url = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        oa.appid,
        oa.secret.expose()
    );
    let first = get(&t, &token_url).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let ticket = |tok: &str| format!("/cgi-bin/ticket/getticket?access_token={tok}&type=jsapi");
    let v = get(&t, &ticket(&first)).await;
    assert_eq!(v["errcode"], 0);
    let t1 = v["ticket"].as_str().expect("ticket").to_owned();
    let second = get(&t, &token_url).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(
        get(&t, &ticket(&first)).await["errcode"],
        0,
        "old token works during the grace period"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        get(&t, &ticket(&first)).await["errcode"],
        40001,
        "old token dies after the grace period"
    );
    let v = get(&t, &ticket(&second)).await;
    assert_eq!(
        v["ticket"].as_str(),
        Some(t1.as_str()),
        "ticket is cached for its lifetime"
    );
    assert_eq!(
        get(
            &t,
            "/cgi-bin/ticket/getticket?access_token=bogus&type=jsapi"
        )
        .await["errcode"],
        40001
    );
    let bad = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret=bad",
        oa.appid
    );
    assert_eq!(get(&t, &bad).await["errcode"], 40125);
}

#[tokio::test]
async fn login_fault_injection() {
    let t = start().await;
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "login.token", "kind": "rate_limited"})),
    )
    .await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("oa");
    let url = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        oa.appid,
        oa.secret.expose()
    );
    assert_eq!(get(&t, &url).await["errcode"], 45011);
    assert!(get(&t, &url).await["access_token"].is_string());
}
