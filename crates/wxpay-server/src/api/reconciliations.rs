//! Reconciliation runs for the merchant's staff (X-Admin-Token):
//! `POST /api/admin/reconciliations {date}` runs one now, `GET /api/admin/reconciliations`
//! lists the latest runs with their differences, `GET /api/admin/reconciliations/{date}`
//! the runs of one date.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use wxpay_core::v3::bill::BillDate;

use super::admin::Admin;
use crate::error::{json_rejection, AppError};
use crate::reconcile::{self, Report};
use crate::state::SharedState;

/// Runs listed at once.
const LIST_LIMIT: i64 = 30;

/// `POST /api/admin/reconciliations` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// `YYYY-MM-DD` (+08:00).
    pub date: String,
}

fn bill_date(text: &str) -> Result<BillDate, AppError> {
    BillDate::parse(text)
        .map_err(|_| AppError::bad_request("invalid_date", "date must be YYYY-MM-DD"))
}

/// `POST /api/admin/reconciliations`: reconciles one date now and answers its report.
pub async fn run(
    State(state): State<SharedState>,
    _admin: Admin,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Result<Json<Report>, AppError> {
    let Json(request) = body.map_err(json_rejection)?;
    let date = bill_date(&request.date)?;
    Ok(Json(reconcile::run(&state, date).await?))
}

/// `GET /api/admin/reconciliations`: the latest runs, newest first.
pub async fn list(
    State(state): State<SharedState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, AppError> {
    reports(&state, None).await
}

/// `GET /api/admin/reconciliations/{date}`: the runs of one date, newest first.
pub async fn of_date(
    State(state): State<SharedState>,
    _admin: Admin,
    Path(date): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let date = bill_date(&date)?;
    reports(&state, Some(&date.to_string())).await
}

async fn reports(
    state: &SharedState,
    date: Option<&str>,
) -> Result<Json<serde_json::Value>, AppError> {
    let mut runs = Vec::new();
    for run in state.store.runs(date, LIST_LIMIT).await? {
        runs.push(reconcile::report_of(state, run).await?);
    }
    Ok(Json(serde_json::json!({ "runs": runs })))
}
