//! The catch-up runner against a real PostgreSQL: it never reads past a
//! transaction still in flight, applies every event exactly once in `(tx_id, global_position)`
//! order, rolls a failed batch back with its checkpoint, resumes from the checkpoint after a
//! restart, and wakes on `NOTIFY` rather than waiting for its poll.
//!
//! Every test gets its own migrated database. Transaction ids are cluster-wide, so a transaction
//! of another test (or of anything else on the server) can briefly hold the read horizon back:
//! tests that call `catch_up` first wait, with a deadline, until their events are below it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cqrs_es::AggregateError;
use distribox_domain::account::{Account, AccountCommand};
use distribox_migrations::test_db::TestDatabase;
use distribox_projections::runner::{Checkpoint, EventSignal, Projection, Runner, RunnerOptions};
use distribox_projections::{ProjectionError, StoredEvent};
use postgres_es::{postgres_cqrs, PostgresCqrs};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

/// How long any wait in these tests may take before it counts as a failure.
const DEADLINE: Duration = Duration::from_secs(30);

/// An event's place in the log: `(tx_id, global_position)`, the order the runner must follow.
type Position = (i64, i64);

// ---------------------------------------------------------------------------------------------
// Scaffolding
// ---------------------------------------------------------------------------------------------

/// A fresh migrated database plus the test-only `seen` table the recording projection writes to.
/// Its primary key turns a second application of an event into an error.
async fn database() -> PgPool {
    let db = TestDatabase::new().await;
    sqlx::query("CREATE TABLE seen (aggregate_id text, sequence bigint, PRIMARY KEY (aggregate_id, sequence))")
        .execute(&db.pool)
        .await
        .unwrap();
    db.pool
}

fn options(batch_size: i64, poll_interval: Duration) -> RunnerOptions {
    RunnerOptions {
        batch_size,
        poll_interval,
    }
}

/// Inserts one raw event through `conn` (inside whatever transaction it has open).
async fn insert_event(conn: &mut PgConnection, aggregate_id: &str, sequence: i64) -> Position {
    sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Test', $1, $2, 'Tested', '1', '{}', '{}')
         RETURNING tx_id::text::bigint, global_position",
    )
    .bind(aggregate_id)
    .bind(sequence)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Appends and commits one raw event in its own transaction.
async fn append(pool: &PgPool, aggregate_id: &str, sequence: i64) -> Position {
    let mut conn = pool.acquire().await.unwrap();
    insert_event(&mut conn, aggregate_id, sequence).await
}

/// Appends events `sequences` of `aggregate_id`, each committed on its own.
async fn append_each(
    pool: &PgPool,
    aggregate_id: &str,
    sequences: std::ops::RangeInclusive<i64>,
) -> Vec<Position> {
    let mut positions = Vec::new();
    for sequence in sequences {
        positions.push(append(pool, aggregate_id, sequence).await);
    }
    positions
}

/// Waits until every event in the log is below the read horizon (no older transaction anywhere
/// in the cluster is still open), so a `catch_up` that follows reads all of them.
async fn wait_until_readable(pool: &PgPool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let readable: bool = sqlx::query_scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM events WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot()))",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if readable {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "an open transaction held the read horizon back for {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the runner's progress reaches `target`; fails after `within`.
async fn wait_for_progress(
    progress: &mut watch::Receiver<Checkpoint>,
    target: Checkpoint,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let current = *progress.borrow_and_update();
        if current >= target {
            return;
        }
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the runner stopped at {current:?} before reaching {target:?}"),
            Err(_) => {
                panic!("the runner was still at {current:?} after {within:?}, expected {target:?}")
            }
        }
    }
}

fn checkpoint_at((tx_id, position): Position) -> Checkpoint {
    Checkpoint { tx_id, position }
}

/// The `(aggregate_id, sequence)` rows the projection wrote, sorted.
async fn seen_rows(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT aggregate_id, sequence FROM seen ORDER BY aggregate_id, sequence")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The `(aggregate_id, sequence)` of every event in the log, sorted like [`seen_rows`].
async fn event_rows(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT aggregate_id, sequence FROM events ORDER BY aggregate_id, sequence")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Every event's position, in the order the runner must apply them.
async fn log_order(pool: &PgPool) -> Vec<Position> {
    sqlx::query_as(
        "SELECT tx_id::text::bigint, global_position FROM events ORDER BY tx_id, global_position",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The checkpoint row of `projection`, if it has one.
async fn stored_checkpoint(pool: &PgPool, projection: &str) -> Option<Checkpoint> {
    sqlx::query_as::<_, (i64, i64)>(
        "SELECT last_tx_id::text::bigint, last_position FROM projection_checkpoints WHERE projection = $1",
    )
    .bind(projection)
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(checkpoint_at)
}

fn rows(aggregate_id: &str, sequences: std::ops::RangeInclusive<i64>) -> Vec<(String, i64)> {
    sequences.map(|s| (aggregate_id.to_owned(), s)).collect()
}

/// A projection that writes each event's `(aggregate_id, sequence)` into `seen` through the
/// runner's transaction (propagating any error, a duplicate included), and records in memory the
/// positions of the batches that committed, in the order it applied them.
struct Recorder {
    name: &'static str,
    /// `apply` fails once, after its SQL write, on this `(aggregate_id, sequence)`.
    fail_once_on: Mutex<Option<(String, i64)>>,
    pending: Mutex<Vec<Position>>,
    committed: Mutex<Vec<Position>>,
}

impl Recorder {
    fn new(name: &'static str) -> Arc<Self> {
        Self::failing_once(name, None)
    }

    fn failing_once(name: &'static str, on: Option<(&str, i64)>) -> Arc<Self> {
        Arc::new(Self {
            name,
            fail_once_on: Mutex::new(on.map(|(id, sequence)| (id.to_owned(), sequence))),
            pending: Mutex::default(),
            committed: Mutex::default(),
        })
    }

    /// What the projection applied in committed batches, in application order.
    fn committed(&self) -> Vec<Position> {
        self.committed.lock().unwrap().clone()
    }
}

#[async_trait]
impl Projection for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        sqlx::query("INSERT INTO seen (aggregate_id, sequence) VALUES ($1, $2)")
            .bind(&event.aggregate_id)
            .bind(event.sequence)
            .execute(&mut *tx)
            .await?;
        self.pending
            .lock()
            .unwrap()
            .push((event.tx_id, event.global_position));
        let mut fail = self.fail_once_on.lock().unwrap();
        if fail
            .as_ref()
            .is_some_and(|(id, sequence)| *id == event.aggregate_id && *sequence == event.sequence)
        {
            *fail = None;
            return Err(ProjectionError::Other(format!(
                "injected failure at {}",
                event.sequence
            )));
        }
        Ok(())
    }

    fn committed(&self) {
        let batch: Vec<Position> = self.pending.lock().unwrap().drain(..).collect();
        self.committed.lock().unwrap().extend(batch);
    }

    fn discarded(&self) {
        self.pending.lock().unwrap().clear();
    }
}

/// Runs an `Account` command through postgres-es (the real write path), retrying lost
/// optimistic-concurrency races until the deadline.
async fn execute_account(accounts: &PostgresCqrs<Account>, id: &str, command: AccountCommand) {
    let deadline = Instant::now() + DEADLINE;
    let mut attempt = 0u64;
    loop {
        let metadata = HashMap::from([("actor".to_owned(), "system".to_owned())]);
        match accounts
            .execute_with_metadata(id, command.clone(), metadata)
            .await
        {
            Ok(()) => return,
            Err(AggregateError::AggregateConflict) if Instant::now() < deadline => {
                attempt += 1;
                // Spread racing writers apart a little (deterministic, no rand dependency).
                tokio::time::sleep(Duration::from_millis((attempt * 7 + id.len() as u64) % 5))
                    .await;
            }
            Err(err) => panic!("command on account {id} failed: {err}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// The gap rule: an event committed after an earlier transaction took its position (and is
/// still open) must not be read — otherwise the checkpoint would move past the earlier event,
/// which would then be skipped forever when it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_commit_is_not_read_past_an_open_earlier_transaction() {
    let pool = database().await;
    let recorder = Recorder::new("gap");
    let runner = Runner::new(
        pool.clone(),
        recorder.clone(),
        options(100, Duration::from_secs(1)),
    );

    // T1 takes the lower position and stays open; E2 takes a higher one and commits.
    let mut t1 = pool.begin().await.unwrap();
    let first = insert_event(&mut t1, "gap-a", 1).await;
    let second = append(&pool, "gap-b", 1).await;
    assert!(
        second > first,
        "E2 must come after T1's event in both tx_id and position: {first:?} {second:?}"
    );

    let checkpoint = runner.apply_readable().await.unwrap();
    assert_eq!(
        recorder.committed(),
        Vec::<Position>::new(),
        "E2 was read past the open T1"
    );
    assert_eq!(seen_rows(&pool).await, Vec::<(String, i64)>::new());
    assert_eq!(checkpoint, Checkpoint::default());
    assert_eq!(
        stored_checkpoint(&pool, "gap").await,
        Some(Checkpoint::default())
    );

    t1.commit().await.unwrap();
    wait_until_readable(&pool).await;
    let checkpoint = runner.catch_up().await.unwrap();
    assert_eq!(recorder.committed(), vec![first, second]);
    assert_eq!(
        seen_rows(&pool).await,
        [rows("gap-a", 1..=1), rows("gap-b", 1..=1)].concat()
    );
    assert_eq!(checkpoint, checkpoint_at(second));
    assert_eq!(
        stored_checkpoint(&pool, "gap").await,
        Some(checkpoint_at(second))
    );

    // Nothing is applied twice.
    assert_eq!(runner.catch_up().await.unwrap(), checkpoint_at(second));
    assert_eq!(recorder.committed(), vec![first, second]);
}

/// Crash safety in SQL: when `apply` fails, the whole batch — its read-model writes and its
/// checkpoint — rolls back while earlier batches stay committed; the retry applies every event
/// exactly once (a duplicate would violate `seen`'s primary key and fail the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_rolled_back_and_applied_exactly_once_later() {
    let pool = database().await;
    let recorder = Recorder::failing_once("crashy", Some(("crash", 9)));
    let runner = Runner::new(
        pool.clone(),
        recorder.clone(),
        options(3, Duration::from_secs(1)),
    );

    let mut positions = append_each(&pool, "crash", 1..=4).await;
    wait_until_readable(&pool).await;
    assert_eq!(
        runner.catch_up().await.unwrap(),
        checkpoint_at(positions[3])
    );

    // Batches of 3 from event 5: [5 6 7] commits, [8 9 10] fails at 9, [11 12] is never reached.
    positions.extend(append_each(&pool, "crash", 5..=12).await);
    wait_until_readable(&pool).await;
    let err = runner
        .catch_up()
        .await
        .expect_err("the injected failure must surface");
    assert!(
        err.to_string().contains("injected failure at 9"),
        "unexpected error: {err}"
    );

    let after_seven = checkpoint_at(positions[6]);
    assert_eq!(
        stored_checkpoint(&pool, "crashy").await,
        Some(after_seven),
        "the failed batch moved the checkpoint"
    );
    assert_eq!(*runner.progress().borrow(), after_seven);
    assert_eq!(
        seen_rows(&pool).await,
        rows("crash", 1..=7),
        "the failed batch's writes were not rolled back"
    );
    assert_eq!(recorder.committed(), positions[..7].to_vec());

    // The retry resumes at event 8 and applies the rest once.
    assert_eq!(
        runner.catch_up().await.unwrap(),
        checkpoint_at(positions[11])
    );
    assert_eq!(seen_rows(&pool).await, rows("crash", 1..=12));
    assert_eq!(recorder.committed(), positions);
    assert_eq!(
        stored_checkpoint(&pool, "crashy").await,
        Some(checkpoint_at(positions[11]))
    );
}

/// Under concurrent writers (postgres-es commands racing on shared aggregates, plus raw
/// multi-event transactions kept open while others commit), a live runner applies every event
/// exactly once, in `(tx_id, global_position)` order, and catches up to the end of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_a_live_reader_lose_and_duplicate_nothing() {
    const ACCOUNTS: usize = 12;
    const WRITERS: usize = 8;
    const STEPS: usize = 60;

    let pool = database().await;
    let recorder = Recorder::new("live");
    let runner = Runner::new(
        pool.clone(),
        recorder.clone(),
        options(7, Duration::from_millis(20)),
    );
    let mut progress = runner.progress();
    let signal = EventSignal::listen(&pool).await.unwrap();
    let reader = tokio::spawn(runner.run(signal));

    let accounts = Arc::new(postgres_cqrs::<Account>(pool.clone(), vec![], ()));
    let ids: Arc<Vec<String>> = Arc::new(
        (0..ACCOUNTS)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect(),
    );
    let creations = ids.iter().enumerate().map(|(n, id)| {
        let accounts = accounts.clone();
        async move {
            let create = AccountCommand::Create {
                username: format!("user{n}"),
                password_hash: "$argon2id$stub".to_owned(),
                policies: vec![],
            };
            execute_account(&accounts, id, create).await;
        }
    });
    futures::future::join_all(creations).await;

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (pool, accounts, ids) = (pool.clone(), accounts.clone(), ids.clone());
            tokio::spawn(async move {
                let raw_id = format!("raw-{writer}");
                let mut raw_sequence = 0;
                for step in 0..STEPS {
                    if step % 10 == 9 {
                        // Three events in one transaction that stays open while others commit.
                        let mut tx = pool.begin().await.unwrap();
                        for _ in 0..3 {
                            raw_sequence += 1;
                            insert_event(&mut tx, &raw_id, raw_sequence).await;
                            sqlx::query("SELECT pg_sleep(0.005)")
                                .execute(&mut *tx)
                                .await
                                .unwrap();
                        }
                        tx.commit().await.unwrap();
                    } else {
                        let id = &ids[(writer * 5 + step) % ACCOUNTS];
                        let login = AccountCommand::RecordLogin {
                            session_id: format!("w{writer}-s{step}"),
                        };
                        execute_account(&accounts, id, login).await;
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let expected_order = log_order(&pool).await;
    let expected_total = ACCOUNTS + WRITERS * (STEPS / 10 * 3 + STEPS - STEPS / 10);
    assert_eq!(
        expected_order.len(),
        expected_total,
        "the writers did not append what they should have"
    );
    let last = *expected_order.last().unwrap();
    wait_for_progress(&mut progress, checkpoint_at(last), DEADLINE).await;
    assert!(!reader.is_finished(), "the runner's task ended");
    reader.abort();

    assert_eq!(
        seen_rows(&pool).await,
        event_rows(&pool).await,
        "read model and log differ"
    );
    let applied = recorder.committed();
    assert!(
        applied.windows(2).all(|pair| pair[0] < pair[1]),
        "events were applied out of (tx_id, global_position) order or twice"
    );
    assert_eq!(applied.len(), expected_order.len());
    assert_eq!(applied, expected_order);
}

/// A new runner for the same projection continues from the stored checkpoint: it applies only
/// what was appended after it, nothing from before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_runner_resumes_from_its_checkpoint() {
    let pool = database().await;
    let before = append_each(&pool, "restart", 1..=5).await;
    wait_until_readable(&pool).await;
    let first = Recorder::new("restartable");
    let runner = Runner::new(
        pool.clone(),
        first.clone(),
        options(2, Duration::from_secs(1)),
    );
    assert_eq!(runner.catch_up().await.unwrap(), checkpoint_at(before[4]));
    assert_eq!(first.committed(), before);
    drop(runner);

    let after = append_each(&pool, "restart", 6..=9).await;
    wait_until_readable(&pool).await;
    let second = Recorder::new("restartable");
    let runner = Runner::new(
        pool.clone(),
        second.clone(),
        options(2, Duration::from_secs(1)),
    );
    assert_eq!(runner.catch_up().await.unwrap(), checkpoint_at(after[3]));
    assert_eq!(
        second.committed(),
        after,
        "the restarted runner did not resume from its checkpoint"
    );
    assert_eq!(seen_rows(&pool).await, rows("restart", 1..=9));
    assert_eq!(
        stored_checkpoint(&pool, "restartable").await,
        Some(checkpoint_at(after[3]))
    );
}

/// The runner wakes on the `NOTIFY` sent at commit: with a 10 s poll, an event appended while it
/// idles is applied within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_the_runner_quickly() {
    let pool = database().await;
    let recorder = Recorder::new("notified");
    let runner = Runner::new(
        pool.clone(),
        recorder.clone(),
        options(100, Duration::from_secs(10)),
    );
    let mut progress = runner.progress();
    let signal = EventSignal::listen(&pool).await.unwrap();
    let reader = tokio::spawn(runner.run(signal));

    for sequence in 1..=3 {
        // Setup, not an assertion: give the runner time to settle into its 10 s wait.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let position = append(&pool, "notify", sequence).await;
        wait_for_progress(
            &mut progress,
            checkpoint_at(position),
            Duration::from_secs(2),
        )
        .await;
    }
    assert_eq!(seen_rows(&pool).await, rows("notify", 1..=3));
    assert!(!reader.is_finished());
    reader.abort();
}

/// One runner per projection across processes: a second `run` of the same projection waits
/// (its side effects would otherwise happen twice) and takes over from the checkpoint once the
/// first is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_of_a_projection_waits_for_the_first() {
    let pool = database().await;
    let first = Recorder::new("exclusive");
    let second = Recorder::new("exclusive");
    let signal = EventSignal::listen(&pool).await.unwrap();
    let first_runner = Runner::new(
        pool.clone(),
        first.clone(),
        options(100, Duration::from_millis(50)),
    );
    let mut first_progress = first_runner.progress();
    let first_task = tokio::spawn(first_runner.run(signal.clone()));
    let one = append(&pool, "exclusive", 1).await;
    wait_for_progress(
        &mut first_progress,
        checkpoint_at(one),
        Duration::from_secs(5),
    )
    .await;

    let second_runner = Runner::new(
        pool.clone(),
        second.clone(),
        options(100, Duration::from_millis(50)),
    );
    let mut second_progress = second_runner.progress();
    let second_task = tokio::spawn(second_runner.run(signal));
    let two = append(&pool, "exclusive", 2).await;
    wait_for_progress(
        &mut first_progress,
        checkpoint_at(two),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(first.committed(), vec![one, two]);
    assert_eq!(
        second.committed(),
        Vec::<Position>::new(),
        "the second runner ran alongside the first"
    );

    first_task.abort();
    let three = append(&pool, "exclusive", 3).await;
    wait_for_progress(
        &mut second_progress,
        checkpoint_at(three),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(second.committed(), vec![three]);
    assert_eq!(seen_rows(&pool).await, rows("exclusive", 1..=3));
    second_task.abort();
}
