//! Group commit of notifications on SQLite.
//!
//! With `synchronous=FULL` every commit waits for an fsync, and one fsync per notification
//! set the pace of the notification endpoint (bench-load, c=32: 1 042/s with FULL against
//! 1 480/s with NORMAL). Here the notifications that arrive while a commit is on disk wait
//! in a queue; the next batch applies them all in one `BEGIN IMMEDIATE` transaction, each
//! inside its own savepoint, and one `COMMIT` (one fsync) makes the whole batch durable.
//! No caller hears its outcome before that commit returns, so an acknowledged
//! notification is still on disk; a notification whose own work fails is rolled back to
//! its savepoint alone, and a failed commit fails every notification of the batch (WeChat
//! retries them).

use std::sync::Arc;

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::{apply_notification_in, NotificationOutcome, NotificationRecord, NotifiedChange};
use crate::store::StoreError;

/// Most notifications in one transaction: bounds the latency a batch adds to its last member.
const MAX_BATCH: usize = 64;
/// Notifications waiting for a batch before callers are made to wait for room.
const QUEUE: usize = 1024;

/// One notification waiting to be written.
struct Job {
    record: NotificationRecord,
    verified_id: String,
    change: NotifiedChange,
    reply: oneshot::Sender<Result<NotificationOutcome, StoreError>>,
}

/// The handle callers send their notifications through; the batches run on one task.
#[derive(Clone, Debug)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the batching task on the writer pool (it ends when the last handle is dropped).
    pub(super) fn start(writer: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(writer, queue));
        Self { jobs }
    }

    /// Applies one notification in the next batch and returns once that batch is committed.
    pub(super) async fn apply(
        &self,
        record: &NotificationRecord,
        verified_id: &str,
        change: &NotifiedChange,
    ) -> Result<NotificationOutcome, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            record: record.clone(),
            verified_id: verified_id.to_owned(),
            change: change.clone(),
            reply,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::GroupCommitStopped)?;
        outcome.await.map_err(|_| StoreError::GroupCommitStopped)?
    }
}

async fn run(writer: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        match write_batch(&writer, &jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    // A caller that went away (its request was cancelled) needs no answer.
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, size = jobs.len(), "a batch of notifications failed to commit; none is acknowledged");
                let error = Arc::new(error);
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err(StoreError::GroupCommit(Arc::clone(&error))));
                }
            }
        }
    }
}

/// Applies `jobs` in one transaction, one savepoint each. `Err` means nothing was committed;
/// `Ok` holds each job's own outcome (its failure rolled back to its savepoint only).
async fn write_batch(
    writer: &SqlitePool,
    jobs: &[Job],
) -> Result<Vec<Result<NotificationOutcome, StoreError>>, sqlx::Error> {
    let mut tx: Transaction<'static, Sqlite> = super::begin_write(writer).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        sqlx::query("SAVEPOINT notification")
            .execute(&mut *tx)
            .await?;
        let outcome =
            apply_notification_in(&mut tx, &job.record, &job.verified_id, &job.change).await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO notification")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("RELEASE notification")
            .execute(&mut *tx)
            .await?;
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}
