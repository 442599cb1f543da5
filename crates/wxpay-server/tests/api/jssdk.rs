//! The cached `access_token` behind `wx.config`: WeChat stops accepting it when another
//! service of the merchant fetches a new one (40001) or when it expires early (42001). The
//! server drops it, fetches a new one once and asks for the ticket again, instead of
//! failing `wx.config` until its own cache runs out two hours later.

use serde_json::json;
use wxpay_sim::client::ConfigCall;
use wxpay_sim::config::AppKind;

use crate::helpers::TestApp;

const PAGE: &str = "http://localhost/pay?x=1";

/// Asks the server for `wx.config` and has WeChat's client check it against WeChat's
/// current `jsapi_ticket`.
async fn config_accepted_by_wechat(app: &TestApp) {
    let (status, config) = app
        .get(
            "/api/jssdk/config?url=http%3A%2F%2Flocalhost%2Fpay%3Fx%3D1",
            None,
        )
        .await;
    assert_eq!(status, 200, "{config}");
    let call: ConfigCall = serde_json::from_value(json!({
        "appId": config["appId"], "timestamp": config["timestamp"],
        "nonceStr": config["nonceStr"], "signature": config["signature"], "url": PAGE,
    }))
    .expect("wx.config fields");
    assert_eq!(
        app.control.client_config(&call)["errMsg"],
        "config:ok",
        "{config}"
    );
}

async fn cached(app: &TestApp, name: &str) -> Option<String> {
    app.state
        .store
        .credential(name, app.state.clock.now())
        .await
        .expect("store")
}

#[tokio::test]
async fn an_access_token_wechat_no_longer_accepts_is_replaced_once() {
    let app = TestApp::spawn().await;
    let appid = app.appid(AppKind::OfficialAccount);
    let (token_name, ticket_name) = (
        format!("access_token:{appid}"),
        format!("jsapi_ticket:{appid}"),
    );
    config_accepted_by_wechat(&app).await;

    for refused in ["40001 (refreshed elsewhere)", "42001 (expired)"] {
        let before = cached(&app, &token_name).await.expect("a cached token");
        if refused.starts_with("40001") {
            app.control
                .refresh_token_elsewhere(&appid)
                .expect("another service refreshes");
        } else {
            app.control
                .expire_access_token(&before)
                .expect("the token expires");
        }
        // The server's cached ticket runs out, so the next wx.config needs the token.
        app.state
            .store
            .put_credential(&ticket_name, "", 0)
            .await
            .expect("age the ticket");
        config_accepted_by_wechat(&app).await;
        let after = cached(&app, &token_name).await.expect("a cached token");
        assert_ne!(after, before, "{refused}: the refused token was replaced");
    }
    app.stop().await;
}
