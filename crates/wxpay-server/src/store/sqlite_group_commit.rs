//! Group commit of the writes on SQLite.
//!
//! With `synchronous=FULL` every commit waits for an fsync, and one fsync per write set the
//! pace of the write-heavy endpoints (bench-load, c=32 notifications: 1 042/s with FULL
//! against 1 480/s with NORMAL; the pay endpoint paid one fsync per saved prepay). Here the
//! writes that arrive while a commit is on disk wait in a queue; the next batch applies them
//! all in one `BEGIN IMMEDIATE` transaction, each inside its own savepoint, and one `COMMIT`
//! (one fsync) makes the whole batch durable. No caller hears its outcome before that
//! commit returns, so an acknowledged write (a notification answered 200, a prepay handed
//! out) is on disk; a write whose own work fails is rolled back to its savepoint alone, and
//! a failed commit fails every write of the batch.
//!
//! A write is a closure over the open transaction, so each store operation keeps its SQL,
//! and the rules it applies, beside the others in `sqlite.rs`. Writes run one after another
//! on the batching task, in arrival order, and must not use the writer pool themselves: the
//! batch holds its only connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// Most writes in one transaction: bounds the latency a batch adds to its last member.
const MAX_BATCH: usize = 64;
/// Writes waiting for a batch before callers are made to wait for room.
const QUEUE: usize = 1024;

/// The open write transaction a batch's writes run in.
pub(super) type Tx = Transaction<'static, Sqlite>;

/// A write's work in progress, borrowing the transaction.
pub(super) type TxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// Answers a write's caller once the batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), Arc<sqlx::Error>>) + Send>;

/// What a write did inside the batch.
struct Done {
    /// Its own work failed: what it wrote is to be rolled back.
    failed: bool,
    answer: Answer,
}

/// A write waiting for a batch, whatever its result type.
trait Pending: Send {
    /// Runs the work in the batch's transaction.
    fn run<'t>(self: Box<Self>, tx: &'t mut Tx) -> TxFuture<'t, Done>;
    /// Answers without running: the batch broke before this write's turn.
    fn fail(self: Box<Self>, error: Arc<sqlx::Error>);
}

struct Write<T, W> {
    work: W,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, W> Pending for Write<T, W>
where
    T: Send + 'static,
    W: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, Result<T, StoreError>> + Send + 'static,
{
    fn run<'t>(self: Box<Self>, tx: &'t mut Tx) -> TxFuture<'t, Done> {
        let Write { work, reply } = *self;
        Box::pin(async move {
            let result = work(tx).await;
            Done {
                failed: result.is_err(),
                answer: Box::new(move |commit| {
                    // A caller that went away (its request was cancelled) needs no answer.
                    let _ = reply.send(commit.map_err(StoreError::GroupCommit).and(result));
                }),
            }
        })
    }

    fn fail(self: Box<Self>, error: Arc<sqlx::Error>) {
        let _ = self.reply.send(Err(StoreError::GroupCommit(error)));
    }
}

type Job = Box<dyn Pending>;

/// The handle callers send their writes through; the batches run on one task.
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

    /// Runs `work` in the next batch and returns its result once that batch is committed.
    /// When `work` fails, what it wrote is rolled back and its error returned; the other
    /// writes of the batch are unaffected.
    pub(super) async fn write<T, W>(&self, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Box::new(Write { work, reply }))
            .await
            .map_err(|_| StoreError::GroupCommitStopped)?;
        outcome.await.map_err(|_| StoreError::GroupCommitStopped)?
    }
}

async fn run(writer: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let size = jobs.len();
        let (answers, committed) = write_batch(&writer, jobs).await;
        if let Err(error) = &committed {
            tracing::warn!(error = %error, size, "a batch of writes failed to commit; none is acknowledged");
        }
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Applies `jobs` in one transaction: the answers of the jobs that ran, and whether the
/// batch committed (jobs that never ran because the transaction broke are answered here).
/// A job that fails is rolled back to its own savepoint; a batch of one needs none (two
/// statements fewer for a lone write): its failure rolls the transaction back.
async fn write_batch(
    writer: &SqlitePool,
    jobs: Vec<Job>,
) -> (Vec<Answer>, Result<(), Arc<sqlx::Error>>) {
    let mut answers = Vec::with_capacity(jobs.len());
    let savepoints = jobs.len() > 1;
    let mut tx = match super::begin_write(writer).await {
        Ok(tx) => tx,
        Err(error) => return (answers, Err(broken(jobs, error))),
    };
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        if savepoints {
            if let Err(error) = execute(&mut tx, "SAVEPOINT write").await {
                let unrun = std::iter::once(job).chain(jobs);
                return (answers, Err(broken(unrun, error)));
            }
        }
        let done = job.run(&mut tx).await;
        answers.push(done.answer);
        let undone = match (savepoints, done.failed) {
            (true, true) => execute(&mut tx, "ROLLBACK TO write").await,
            (false, true) => return (answers, tx.rollback().await.map_err(Arc::new)),
            _ => Ok(()),
        };
        let released = match undone {
            Ok(()) if savepoints => execute(&mut tx, "RELEASE write").await,
            other => other,
        };
        if let Err(error) = released {
            return (answers, Err(broken(jobs, error)));
        }
    }
    (answers, tx.commit().await.map_err(Arc::new))
}

async fn execute(tx: &mut Tx, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut **tx).await.map(|_| ())
}

/// The batch broke with `error`: answers the `jobs` that never ran with it, and returns it
/// for those that did.
fn broken(jobs: impl IntoIterator<Item = Job>, error: sqlx::Error) -> Arc<sqlx::Error> {
    let error = Arc::new(error);
    for job in jobs {
        job.fail(Arc::clone(&error));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer pool (one connection, as the store's) on a fresh file with one table.
    async fn writer() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open");
        sqlx::query("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("table");
        (dir, pool)
    }

    /// A job inserting each of `values` in turn, with the receiver of its answer.
    fn insert(values: &'static [i64]) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let job = boxed(
            move |tx| {
                Box::pin(async move {
                    for x in values {
                        sqlx::query("INSERT INTO t (x) VALUES (?)")
                            .bind(x)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Ok(())
                })
            },
            reply,
        );
        (job, answer)
    }

    fn boxed<W>(work: W, reply: oneshot::Sender<Result<(), StoreError>>) -> Job
    where
        W: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, Result<(), StoreError>> + Send + 'static,
    {
        Box::new(Write { work, reply })
    }

    async fn rows(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(pool)
            .await
            .expect("rows")
    }

    async fn answer_batch(pool: &SqlitePool, jobs: Vec<Job>) {
        let (answers, committed) = write_batch(pool, jobs).await;
        committed.as_ref().expect("committed");
        for answer in answers {
            answer(committed.clone());
        }
    }

    #[tokio::test]
    async fn a_failed_write_is_undone_alone_and_the_rest_of_its_batch_commits() {
        let (_dir, pool) = writer().await;
        let (first, first_answer) = insert(&[1]);
        // Inserts 2, then fails on 1: its own 2 must go, the others' rows must stay.
        let (failing, failing_answer) = insert(&[2, 1]);
        let (third, third_answer) = insert(&[3]);
        answer_batch(&pool, vec![first, failing, third]).await;
        assert!(first_answer.await.expect("answered").is_ok());
        assert!(matches!(
            failing_answer.await.expect("answered"),
            Err(StoreError::Database(_))
        ));
        assert!(third_answer.await.expect("answered").is_ok());
        assert_eq!(rows(&pool).await, [1, 3]);
    }

    #[tokio::test]
    async fn a_lone_failed_write_rolls_its_transaction_back_and_the_next_batch_runs() {
        let (_dir, pool) = writer().await;
        let (first, first_answer) = insert(&[1]);
        answer_batch(&pool, vec![first]).await;
        assert!(first_answer.await.expect("answered").is_ok());
        let (failing, failing_answer) = insert(&[2, 1]);
        answer_batch(&pool, vec![failing]).await;
        assert!(matches!(
            failing_answer.await.expect("answered"),
            Err(StoreError::Database(_))
        ));
        let (next, next_answer) = insert(&[4]);
        answer_batch(&pool, vec![next]).await;
        assert!(next_answer.await.expect("answered").is_ok());
        assert_eq!(rows(&pool).await, [1, 4]);
    }

    #[tokio::test]
    async fn concurrent_writes_through_the_handle_are_all_answered_after_their_commit() {
        let (dir, pool) = writer().await;
        let group = GroupCommit::start(pool.clone());
        let reader =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("g.db").display()))
                .await
                .expect("reader");
        let tasks: Vec<_> = (0..40i64)
            .map(|x| {
                let group = group.clone();
                tokio::spawn(async move {
                    group
                        .write(move |tx| {
                            Box::pin(async move {
                                sqlx::query("INSERT INTO t (x) VALUES (?)")
                                    .bind(x % 20)
                                    .execute(&mut **tx)
                                    .await?;
                                Ok(x)
                            })
                        })
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            if let Ok(x) = task.await.expect("task") {
                // Answered only once committed: another connection already sees the row.
                let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t WHERE x = ?")
                    .bind(x % 20)
                    .fetch_one(&reader)
                    .await
                    .expect("count");
                assert_eq!(seen, 1);
                ok += 1;
            }
        }
        // Each value 0..20 is inserted twice: exactly one of the two wins.
        assert_eq!(ok, 20);
        assert_eq!(rows(&pool).await, (0..20).collect::<Vec<_>>());
    }
}
