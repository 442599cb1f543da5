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
    wait_until(
        std::time::Duration::from_secs(10),
        "old token dies after the grace period",
        || async { get(&t, &ticket(&first)).await["errcode"] == 40001 },
    )
    .await;
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

fn oauth_url(appid: &str, secret: &str, code: &str) -> String {
    format!("/sns/oauth2/access_token?appid={appid}&secret={secret}&code={code}&grant_type=authorization_code")
}

#[tokio::test]
async fn oauth_code_errors_invalid_reused_foreign_and_expired() {
    // A second Official Account, so a code can belong to another app of the same kind.
    let mut c = base_config();
    c.apps.push(wxpay_sim::config::AppConfig {
        appid: "wx0ther0a0000001".into(),
        secret: wxpay_sim::config::Secret("0ther0a0secret00000000000000000".into()),
        kind: AppKind::OfficialAccount,
    });
    let t = start_with(c).await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("oa");
    let mp = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::MiniProgram)
        .expect("mp");
    let url = |code: &str| oauth_url(&oa.appid, oa.secret.expose(), code);
    let mint_oauth = |appid: String| {
        let t = &t;
        async move {
            let (s, v) = t
                .control("POST", "/__sim/oauth/code", Some(json!({ "appid": appid })))
                .await;
            assert_eq!(s, 200, "{v}");
            v["code"].as_str().expect("code").to_owned()
        }
    };
    // Invalid.
    assert_eq!(get(&t, &url("nonsense")).await["errcode"], 40029);
    // Reused.
    let code = mint_oauth(oa.appid.clone()).await;
    let v = get(&t, &url(&code)).await;
    assert!(v["access_token"].is_string(), "{v}");
    assert_eq!(v["scope"], "snsapi_base");
    assert_eq!(get(&t, &url(&code)).await["errcode"], 40163);
    // Foreign: another Official Account's code, and a mini-program login code.
    let other = mint_oauth("wx0ther0a0000001".into()).await;
    assert_eq!(get(&t, &url(&other)).await["errcode"], 40029);
    let (_, login) = t
        .control(
            "POST",
            "/__sim/login/code",
            Some(json!({ "appid": mp.appid })),
        )
        .await;
    let login = login["code"].as_str().expect("code");
    assert_eq!(get(&t, &url(login)).await["errcode"], 40029);
    // …and an OAuth code is no mini-program login code either.
    let oauth_code = mint_oauth(oa.appid.clone()).await;
    let v = get(
        &t,
        &format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={oauth_code}&grant_type=authorization_code",
            mp.appid,
            mp.secret.expose()
        ),
    )
    .await;
    assert_eq!(v["errcode"], 40029);
    // The foreign code was not consumed: its own app can still exchange it.
    let v = get(
        &t,
        &oauth_url(
            "wx0ther0a0000001",
            "0ther0a0secret00000000000000000",
            &other,
        ),
    )
    .await;
    assert!(v["openid"].is_string(), "{v}");
    // Expired: five minutes pass (aged through the control API).
    let code = mint_oauth(oa.appid.clone()).await;
    let (s, _) = t
        .control("POST", &format!("/__sim/login/codes/{code}/expire"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(get(&t, &url(&code)).await["errcode"], 40029);
    let (s, _) = t
        .control("POST", "/__sim/login/codes/nonsense/expire", None)
        .await;
    assert_eq!(s, 404);
    // A grant_type other than authorization_code.
    let v = get(
        &t,
        &format!(
            "/sns/oauth2/access_token?appid={}&secret={}&code=x&grant_type=client_credential",
            oa.appid,
            oa.secret.expose()
        ),
    )
    .await;
    assert_eq!(v["errcode"], 40002);
}

#[tokio::test]
async fn expired_access_token_is_42001_and_an_expired_ticket_is_replaced() {
    let t = start().await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("oa");
    let token_url = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        oa.appid,
        oa.secret.expose()
    );
    let ticket = |tok: &str| format!("/cgi-bin/ticket/getticket?access_token={tok}&type=jsapi");
    let token = get(&t, &token_url).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let v = get(&t, &ticket(&token)).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["expires_in"], 7200);
    let first_ticket = v["ticket"].as_str().expect("ticket").to_owned();
    // The ticket's two hours pass: the next call issues a new one.
    let (s, _) = t
        .control("POST", &format!("/__sim/tickets/{}/expire", oa.appid), None)
        .await;
    assert_eq!(s, 200);
    let v = get(&t, &ticket(&token)).await;
    assert_eq!(v["errcode"], 0);
    assert_ne!(v["ticket"].as_str(), Some(first_ticket.as_str()));
    // The token's two hours pass: 42001 (expired), not 40001 (replaced).
    let (s, _) = t
        .control("POST", &format!("/__sim/tokens/{token}/expire"), None)
        .await;
    assert_eq!(s, 200);
    let v = get(&t, &ticket(&token)).await;
    assert_eq!(v["errcode"], 42001, "{v}");
    let (s, _) = t.control("POST", "/__sim/tokens/bogus/expire", None).await;
    assert_eq!(s, 404);
    // A fresh token works again.
    let fresh = get(&t, &token_url).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(get(&t, &ticket(&fresh)).await["errcode"], 0);
}

/// Another service of the merchant fetched a new access token (its grace period is over):
/// every token issued before answers 40001 at once, the new one works.
#[tokio::test]
async fn a_token_refreshed_elsewhere_ends_the_earlier_ones_at_once() {
    let t = start().await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("oa");
    let token_url = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        oa.appid,
        oa.secret.expose()
    );
    let ticket = |tok: &str| format!("/cgi-bin/ticket/getticket?access_token={tok}&type=jsapi");
    let ours = get(&t, &token_url).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(get(&t, &ticket(&ours)).await["errcode"], 0);
    let (s, theirs) = t
        .control(
            "POST",
            &format!("/__sim/apps/{}/refresh-token", oa.appid),
            None,
        )
        .await;
    assert_eq!(s, 200, "{theirs}");
    let theirs = theirs["access_token"].as_str().expect("token").to_owned();
    assert_ne!(theirs, ours);
    let v = get(&t, &ticket(&ours)).await;
    assert_eq!(v["errcode"], 40001, "{v}");
    assert_eq!(get(&t, &ticket(&theirs)).await["errcode"], 0);
    let (s, _) = t
        .control("POST", "/__sim/apps/wx_no_such_app/refresh-token", None)
        .await;
    assert_eq!(s, 404);
}

/// A code of a user WeChat rates high-risk: code2Session answers 40226 (login intercepted).
#[tokio::test]
async fn a_blocked_users_code_is_40226() {
    let t = start().await;
    let mp = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::MiniProgram)
        .expect("mp");
    let url = |code: &str| {
        format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
            mp.appid,
            mp.secret.expose()
        )
    };
    let (s, minted) = t
        .control(
            "POST",
            "/__sim/login/code",
            Some(json!({"appid": mp.appid, "blocked": true})),
        )
        .await;
    assert_eq!(s, 200, "{minted}");
    let blocked = minted["code"].as_str().expect("code").to_owned();
    let v = get(&t, &url(&blocked)).await;
    assert_eq!(v["errcode"], 40226, "{v}");
    assert!(v.get("openid").is_none(), "{v}");
    let (_, minted) = t
        .control(
            "POST",
            "/__sim/login/code",
            Some(json!({"appid": mp.appid})),
        )
        .await;
    let fine = minted["code"].as_str().expect("code").to_owned();
    assert!(get(&t, &url(&fine)).await["openid"].is_string());
}
