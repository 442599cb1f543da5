//! Group commit of the writes on SQLite, on the writer's own thread.
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
//! The writer connection lives on a thread of its own and runs each write's statements
//! directly. An async driver hands every statement to its connection's thread and back; a
//! notification's seven statements then cost fourteen thread wake-ups, which on a 2-core VM
//! took longer than its fsync (the same transaction, c=1: 1 050/s through sqlx, 4 400/s
//! here). A caller now waits for one hand-off per write, whatever its statement count.
//!
//! A write is a closure over the open transaction, so each store operation keeps its SQL,
//! and the rules it applies, beside the others in `sqlite.rs`. Writes run one after another,
//! in arrival order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{BatchFailure, StoreError};

/// Most writes in one transaction: bounds the latency a batch adds to its last member.
const MAX_BATCH: usize = 64;
/// Writes waiting for a batch before callers are made to wait for room.
const QUEUE: usize = 1024;

/// Answers a write's caller once the batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), Arc<BatchFailure>>) + Send>;

/// What a write did inside the batch.
struct Done {
    /// Its own work failed: what it wrote is to be rolled back.
    failed: bool,
    answer: Answer,
}

/// A write waiting for a batch, whatever its result type.
trait Pending: Send {
    /// Runs the work in the batch's transaction.
    fn run(self: Box<Self>, db: &Connection) -> Done;
    /// Answers without running: the batch broke before this write's turn.
    fn fail(self: Box<Self>, error: Arc<BatchFailure>);
}

struct Write<T, W> {
    work: W,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, W> Pending for Write<T, W>
where
    T: Send + 'static,
    W: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, db: &Connection) -> Done {
        let Write { work, reply } = *self;
        let result = work(db);
        Done {
            failed: result.is_err(),
            answer: Box::new(move |commit| {
                // A caller that went away (its request was cancelled) needs no answer.
                let _ = reply.send(commit.map_err(StoreError::GroupCommit).and(result));
            }),
        }
    }

    fn fail(self: Box<Self>, error: Arc<BatchFailure>) {
        let _ = self.reply.send(Err(StoreError::GroupCommit(error)));
    }
}

type Job = Box<dyn Pending>;

/// The handle callers send their writes through; the batches run on the writer's thread.
#[derive(Clone, Debug)]
pub(in crate::store) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer's thread on `db` (it ends when the last handle is dropped).
    pub(super) fn start(db: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(db, queue))
            .map_err(StoreError::WriterThread)?;
        Ok(Self { jobs })
    }

    /// Whether the writer's thread has ended: no write can succeed any more.
    pub(in crate::store) fn stopped(&self) -> bool {
        self.jobs.is_closed()
    }

    /// Runs `work` in the next batch and returns its result once that batch is committed.
    /// When `work` fails, what it wrote is rolled back and its error returned; the other
    /// writes of the batch are unaffected.
    pub(in crate::store) async fn write<T, W>(&self, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Box::new(Write { work, reply }))
            .await
            .map_err(|_| StoreError::GroupCommitStopped)?;
        outcome.await.map_err(|_| StoreError::GroupCommitStopped)?
    }
}

fn run(db: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        let size = jobs.len();
        let (answers, committed) = write_batch(&db, jobs);
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
fn write_batch(db: &Connection, jobs: Vec<Job>) -> (Vec<Answer>, Result<(), Arc<BatchFailure>>) {
    let mut answers = Vec::with_capacity(jobs.len());
    let savepoints = jobs.len() > 1;
    if let Err(error) = db.execute_batch("BEGIN IMMEDIATE") {
        return (answers, Err(broken(db, jobs, error.into())));
    }
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        if savepoints {
            if let Err(error) = db.execute_batch("SAVEPOINT write") {
                let unrun = std::iter::once(job).chain(jobs);
                return (answers, Err(broken(db, unrun, error.into())));
            }
        }
        // A write that panics (a bug) must not take the writer with it: every later write
        // would fail until a restart. Its caller hears the writer stopped (the reply went
        // with the panic); what the batch wrote is in an unknown state, so all of it is
        // rolled back and the others are told.
        let Ok(done) = catch_unwind(AssertUnwindSafe(|| job.run(db))) else {
            tracing::error!("a write panicked; its batch is rolled back");
            return (answers, Err(broken(db, jobs, BatchFailure::WritePanicked)));
        };
        answers.push(done.answer);
        let undone = match (savepoints, done.failed) {
            (true, true) => db.execute_batch("ROLLBACK TO write"),
            (false, true) => {
                let rolled_back = db.execute_batch("ROLLBACK");
                return (answers, rolled_back.map_err(|e| Arc::new(e.into())));
            }
            _ => Ok(()),
        };
        let released = match undone {
            Ok(()) if savepoints => db.execute_batch("RELEASE write"),
            other => other,
        };
        if let Err(error) = released {
            return (answers, Err(broken(db, jobs, error.into())));
        }
    }
    match db.execute_batch("COMMIT") {
        Ok(()) => (answers, Ok(())),
        Err(error) => (answers, Err(broken(db, [], error.into()))),
    }
}

/// The batch broke with `error`: ends what is left of its transaction (after an I/O error
/// or a full disk SQLite may already have rolled it back on its own; then there is none),
/// answers the `jobs` that never ran with the error, and returns it for those that did.
fn broken(
    db: &Connection,
    jobs: impl IntoIterator<Item = Job>,
    error: BatchFailure,
) -> Arc<BatchFailure> {
    if !db.is_autocommit() {
        if let Err(rollback) = db.execute_batch("ROLLBACK") {
            tracing::warn!(error = %rollback, "could not roll back a broken batch");
        }
    }
    let error = Arc::new(error);
    for job in jobs {
        job.fail(Arc::clone(&error));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's connection on a fresh file with one table, and the file's path.
    fn writer() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("g.db");
        let db = Connection::open(&path).expect("open");
        db.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .expect("table");
        (dir, path, db)
    }

    /// A job inserting each of `values` in turn, with the receiver of its answer.
    fn insert(values: &'static [i64]) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let work = move |db: &Connection| {
            for x in values {
                db.execute("INSERT INTO t (x) VALUES (?)", [x])?;
            }
            Ok(())
        };
        (Box::new(Write { work, reply }), answer)
    }

    fn rows(db: &Connection) -> Vec<i64> {
        let mut statement = db.prepare("SELECT x FROM t ORDER BY x").expect("prepare");
        let rows = statement.query_map([], |row| row.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    fn answer_batch(db: &Connection, jobs: Vec<Job>) {
        let (answers, committed) = write_batch(db, jobs);
        committed.as_ref().expect("committed");
        for answer in answers {
            answer(committed.clone());
        }
    }

    fn answered(answer: oneshot::Receiver<Result<(), StoreError>>) -> Result<(), StoreError> {
        answer.blocking_recv().expect("answered")
    }

    #[test]
    fn a_failed_write_is_undone_alone_and_the_rest_of_its_batch_commits() {
        let (_dir, _, db) = writer();
        let (first, first_answer) = insert(&[1]);
        // Inserts 2, then fails on 1: its own 2 must go, the others' rows must stay.
        let (failing, failing_answer) = insert(&[2, 1]);
        let (third, third_answer) = insert(&[3]);
        answer_batch(&db, vec![first, failing, third]);
        assert!(answered(first_answer).is_ok());
        assert!(matches!(
            answered(failing_answer),
            Err(StoreError::Sqlite(_))
        ));
        assert!(answered(third_answer).is_ok());
        assert_eq!(rows(&db), [1, 3]);
    }

    #[test]
    fn a_lone_failed_write_rolls_its_transaction_back_and_the_next_batch_runs() {
        let (_dir, _, db) = writer();
        let (first, first_answer) = insert(&[1]);
        answer_batch(&db, vec![first]);
        assert!(answered(first_answer).is_ok());
        let (failing, failing_answer) = insert(&[2, 1]);
        answer_batch(&db, vec![failing]);
        assert!(matches!(
            answered(failing_answer),
            Err(StoreError::Sqlite(_))
        ));
        assert!(
            db.is_autocommit(),
            "the failed batch left a transaction open"
        );
        let (next, next_answer) = insert(&[4]);
        answer_batch(&db, vec![next]);
        assert!(answered(next_answer).is_ok());
        assert_eq!(rows(&db), [1, 4]);
    }

    #[test]
    fn a_batch_that_cannot_begin_answers_every_write_with_the_error() {
        let (_dir, _, db) = writer();
        // An open transaction makes BEGIN IMMEDIATE fail: nothing of the batch may run.
        db.execute_batch("BEGIN").expect("begin");
        let (first, first_answer) = insert(&[1]);
        let (second, second_answer) = insert(&[2]);
        let (answers, committed) = write_batch(&db, vec![first, second]);
        assert!(answers.is_empty());
        assert!(committed.is_err());
        assert!(matches!(
            answered(first_answer),
            Err(StoreError::GroupCommit(_))
        ));
        assert!(matches!(
            answered(second_answer),
            Err(StoreError::GroupCommit(_))
        ));
        assert!(rows(&db).is_empty());
    }

    #[test]
    fn a_write_that_panics_rolls_its_batch_back_and_the_writer_goes_on() {
        let (_dir, _, db) = writer();
        let (first, first_answer) = insert(&[1]);
        let (reply, panicked_answer) = oneshot::channel::<Result<(), StoreError>>();
        let panicking = Box::new(Write {
            work: |db: &Connection| {
                db.execute("INSERT INTO t (x) VALUES (2)", [])?;
                panic!("a bug in a write");
            },
            reply,
        });
        let (unrun, unrun_answer) = insert(&[3]);
        let (answers, committed) = write_batch(&db, vec![first, panicking, unrun]);
        let failure = committed.as_ref().expect_err("not committed");
        assert!(matches!(**failure, BatchFailure::WritePanicked));
        for answer in answers {
            answer(committed.clone());
        }
        assert!(matches!(
            answered(first_answer),
            Err(StoreError::GroupCommit(_))
        ));
        assert!(
            panicked_answer.blocking_recv().is_err(),
            "its reply went with the panic"
        );
        assert!(matches!(
            answered(unrun_answer),
            Err(StoreError::GroupCommit(_))
        ));
        assert!(db.is_autocommit(), "the batch's transaction is closed");
        assert!(rows(&db).is_empty(), "nothing of the batch is kept");
        let (next, next_answer) = insert(&[4]);
        answer_batch(&db, vec![next]);
        assert!(answered(next_answer).is_ok());
        assert_eq!(rows(&db), [4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_through_the_handle_are_all_answered_after_their_commit() {
        let (_dir, path, db) = writer();
        let group = GroupCommit::start(db).expect("writer thread");
        let reader = Connection::open(&path).expect("reader");
        let tasks: Vec<_> = (0..40i64)
            .map(|x| {
                let group = group.clone();
                tokio::spawn(async move {
                    group
                        .write(move |db| {
                            db.execute("INSERT INTO t (x) VALUES (?)", [x % 20])?;
                            Ok(x)
                        })
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            if let Ok(x) = task.await.expect("task") {
                // Answered only once committed: another connection already sees the row.
                let seen: i64 = reader
                    .query_row("SELECT COUNT(*) FROM t WHERE x = ?", [x % 20], |r| r.get(0))
                    .expect("count");
                assert_eq!(seen, 1);
                ok += 1;
            }
        }
        // Each value 0..20 is inserted twice: exactly one of the two wins.
        assert_eq!(ok, 20);
        assert_eq!(rows(&reader), (0..20).collect::<Vec<_>>());
    }
}
