//! Reconciliation: find what a lost notification left behind.
//!
//! Each pass leases a batch of rows (an owner id and a lease deadline written in one
//! statement: under SQLite's write lock, or with `FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! so several instances never work on the same order at once; a crashed instance's lease
//! simply runs out. For each leased order still unpaid
//! past the threshold it queries WeChat and applies the answer; orders unpaid past the
//! close threshold whose latest prepay has also expired are closed. Refunds stuck in
//! PROCESSING are queried; one WeChat never received (`RESOURCE_NOT_EXISTS`) is submitted
//! again under the same number. Each pass ends with housekeeping: expired sessions and
//! notifications older than `worker.notification_retention_days` are deleted.

use std::time::Duration;

use wxpay_core::RefundStatus;

use crate::error::{error_chain, AppError};
use crate::payments;
use crate::state::SharedState;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Orders queried.
    pub orders_checked: usize,
    /// Orders whose state changed.
    pub orders_changed: usize,
    /// Orders closed for being too old.
    pub orders_closed: usize,
    /// Refunds queried.
    pub refunds_checked: usize,
    /// Expired sessions deleted.
    pub sessions_purged: u64,
    /// Notifications deleted for being older than the retention period.
    pub notifications_purged: u64,
}

const BATCH: i64 = 50;

/// Runs one reconciliation pass as `owner`.
pub async fn run_pass(state: &SharedState, owner: &str) -> Result<PassReport, AppError> {
    run_pass_at(state, owner, state.clock.now()).await
}

/// Runs one pass as if the time were `now` (Unix seconds): thresholds, leases and the
/// close decision are all measured from it, so a test can age orders by hours without
/// sleeping. Audit rows still carry the wall-clock time.
pub async fn run_pass_at(
    state: &SharedState,
    owner: &str,
    now: i64,
) -> Result<PassReport, AppError> {
    let settings = &state.settings.worker;
    let mut report = PassReport::default();
    let orders = state
        .store
        .claim_pending_orders(
            owner,
            now,
            now - settings.pending_after_secs,
            now - settings.pending_after_secs,
            now + settings.lease_secs,
            BATCH,
        )
        .await?;
    if !orders.is_empty() {
        // Crash point of the multi-instance tests: an instance dies holding leases.
        fail::fail_point!("worker::after_claim");
    }
    for order in orders {
        report.orders_checked += 1;
        let outcome = if order.was_prepaid() {
            payments::query_and_apply(state, &order.out_trade_no, "worker").await
        } else {
            state
                .store
                .mark_checked(&order.out_trade_no, now)
                .await
                .map(|_| crate::store::ApplyOutcome::Unchanged)
                .map_err(Into::into)
        };
        match outcome {
            Ok(crate::store::ApplyOutcome::Applied { .. }) => report.orders_changed += 1,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(order = %order.out_trade_no, error = %error_chain(&err), "worker query failed");
                continue;
            }
        }
        let fresh = state.store.order(&order.out_trade_no).await?;
        if let Some(fresh) = fresh {
            if should_close(&fresh, now, settings.close_after_secs) {
                match payments::close(state, &fresh, "worker_expired").await {
                    Ok(crate::store::ApplyOutcome::Applied { to, .. }) if to == "CLOSED" => {
                        report.orders_closed += 1
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(order = %fresh.out_trade_no, error = %error_chain(&err), "worker close failed")
                    }
                }
            }
        }
    }
    let refunds = state
        .store
        .claim_processing_refunds(
            owner,
            now,
            now - settings.pending_after_secs,
            now + settings.lease_secs,
            BATCH,
        )
        .await?;
    for refund in refunds {
        report.refunds_checked += 1;
        match payments::query_refund_and_apply(state, &refund.out_refund_no, "worker").await {
            Ok(_) => {}
            Err(AppError::Upstream { code, .. })
                if code == "RESOURCE_NOT_EXISTS" && refund.status == RefundStatus::Processing =>
            {
                if let Some(order) = state.store.order(&refund.out_trade_no).await? {
                    if let Err(err) = crate::refund::submit(state, &order, &refund).await {
                        tracing::warn!(refund = %refund.out_refund_no, error = %error_chain(&err), "refund resubmission failed");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(refund = %refund.out_refund_no, error = %error_chain(&err), "worker refund query failed")
            }
        }
    }
    housekeeping(state, now, &mut report).await;
    state.metrics.worker_pass();
    Ok(report)
}

/// Deletes what has outlived its use: expired sessions, and notifications past their
/// retention (at least 2 days: WeChat retries for about one, and a retry must find its
/// first receipt). A failure is logged and retried on the next pass; it never stops
/// reconciliation.
async fn housekeeping(state: &SharedState, now: i64, report: &mut PassReport) {
    match state.store.purge_expired_sessions(now).await {
        Ok(purged) => report.sessions_purged = purged,
        Err(err) => tracing::warn!(error = %error_chain(&err), "expired sessions not purged"),
    }
    let retention_days = state.settings.worker.notification_retention_days.max(2);
    let before = now.saturating_sub(retention_days.saturating_mul(24 * 3600));
    match state.store.purge_notifications(before).await {
        Ok(purged) => report.notifications_purged = purged,
        Err(err) => tracing::warn!(error = %error_chain(&err), "old notifications not purged"),
    }
}

/// Whether the worker may close `order` at `now`: still unpaid, older than `close_after_secs`,
/// and its latest prepay (if any) has expired. The age alone is not enough: a payer may ask
/// for a new prepay long after the order was created (an expired prepay is replaced on pay),
/// and closing the order under a prepay just handed out would fail a payment in progress.
/// WeChat is still queried before the close, as the pass does for every claimed order.
pub fn should_close(order: &crate::store::Order, now: i64, close_after_secs: i64) -> bool {
    order.state.is_pending()
        && now - order.created_at >= close_after_secs
        && order.prepay_expires_at.is_none_or(|expires| expires <= now)
}

/// Runs passes every `interval` until `stop` turns true.
pub async fn run(
    state: SharedState,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let owner = crate::ids::random_id("w");
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        match run_pass(&state, &owner).await {
            Ok(report) if report != PassReport::default() => {
                tracing::info!(?report, "reconciliation pass")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %error_chain(&err), "reconciliation pass failed"),
        }
        // Yesterday's bill, once WeChat has made it (after 10:00 +08:00); at most once a
        // date unless the earlier run failed.
        if let Err(err) = crate::reconcile::daily_at(&state, state.clock.now()).await {
            tracing::warn!(error = %error_chain(&err), "daily bill reconciliation failed");
        }
    }
}
