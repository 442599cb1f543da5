//! `GET /api/native/mode-one-url`: the static scan-pay (mode one) QR content for a product,
//! signed with the API v2 key. Paying it starts at `/notify/v2/native-callback`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use wxpay_core::invoke::{CodeUrl, NonceStr, PayTimestamp, ProductId};
use wxpay_core::AppId;

use crate::error::{query_rejection, AppError};
use crate::payments_v2;
use crate::state::SharedState;

/// `GET /api/native/mode-one-url` query.
#[derive(Debug, Deserialize)]
pub struct ModeOneQuery {
    /// A product id from `GET /api/products`.
    pub product_id: String,
}

/// `GET /api/native/mode-one-url?product_id=…`: the static scan-pay (mode one) QR content
/// for a product, `weixin://wxpay/bizpayurl?sign=…`. Scanning it makes WeChat call
/// `/notify/v2/native-callback`. Only catalogue products are signed, so the endpoint is
/// not a signing oracle for arbitrary ids.
pub async fn mode_one_url(
    State(state): State<SharedState>,
    query: Result<Query<ModeOneQuery>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let Query(query) = query.map_err(query_rejection)?;
    let v2 = payments_v2::client(&state)?;
    let products = state.store.products().await?;
    if !products.iter().any(|p| p.id == query.product_id) {
        return Err(AppError::bad_request(
            "unknown_product",
            format!("no product {:?}", query.product_id),
        ));
    }
    let product = ProductId::new(query.product_id.clone())
        .map_err(|e| AppError::bad_request("invalid_product_id", e.to_string()))?;
    let appid = state
        .apps
        .web_appid()
        .ok_or_else(|| AppError::bad_request("channel_not_configured", "no app configured"))?;
    let app_id = AppId::new(appid).map_err(|e| AppError::core_value("mode-one URL", e))?;
    let timestamp = PayTimestamp::from_unix(state.clock.now())
        .map_err(|e| AppError::core_value("mode-one URL", e))?;
    let nonce =
        NonceStr::new(crate::ids::nonce().map_err(|e| AppError::core_value("mode-one URL", e))?)
            .map_err(|e| AppError::core_value("mode-one URL", e))?;
    let url = CodeUrl::mode_one(v2.key(), &app_id, v2.mchid(), &product, &timestamp, &nonce);
    Ok(Json(
        json!({ "codeUrl": url.as_str(), "product_id": query.product_id }),
    ))
}
