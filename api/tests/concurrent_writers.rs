//! N concurrent writers on one VM aggregate: people starting and force-stopping it while the
//! system reports what the hypervisor saw, all at once. Every call either commits or is refused
//! with CONFLICT (a rule of the aggregate, or the bounded retry giving up), and the event log
//! afterwards proves that nothing was lost or duplicated: sequences 1..=n without gaps, each
//! command's events committed once, in one transaction, and each one a legal transition from
//! the state the log says the command saw.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use distribox_commands::{
    Actor, CommandBus, CreateVmInput, ErrorCode, RequestContext, SessionLifetimes,
};
use distribox_domain::policy::{Policy, PolicySet};
use distribox_domain::vm::{StopReason, Vm, VmCommand, VmEvent};
use distribox_migrations::test_db::TestDatabase;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

const WRITERS: usize = 16;
const COMMANDS_PER_WRITER: usize = 30;

/// The commands the writers pick from: what people ask for, and what the hypervisor reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Start,
    ForceStop,
    ReportProvisioned,
    ReportStarted,
    ReportStopped,
}

const KINDS: [Kind; 5] = [
    Kind::Start,
    Kind::ForceStop,
    Kind::ReportProvisioned,
    Kind::ReportStarted,
    Kind::ReportStopped,
];

impl Kind {
    fn command(self) -> VmCommand {
        match self {
            Kind::Start => VmCommand::Start,
            Kind::ForceStop => VmCommand::ForceStop,
            Kind::ReportProvisioned => VmCommand::ReportProvisioned,
            Kind::ReportStarted => VmCommand::ReportStarted,
            Kind::ReportStopped => VmCommand::ReportStopped {
                reason: StopReason::Forced,
            },
        }
    }

    /// Hypervisor reports come from the system; the rest from a person.
    fn by_system(self) -> bool {
        !matches!(self, Kind::Start | Kind::ForceStop)
    }
}

/// One command a writer sent, and what became of it.
#[derive(Debug, Clone)]
struct Issued {
    request_id: String,
    /// `None` for the creation, checked by its event alone (its input carries generated parts).
    command: Option<VmCommand>,
    by_system: bool,
    /// The highest version this writer had seen committed before sending: the command cannot
    /// have been decided on an older state.
    after: i64,
    /// `Some(version)` when committed, `None` when refused with CONFLICT.
    committed: Option<i64>,
}

/// One row of the `events` table for the VM.
#[derive(Debug, Clone)]
struct Stored {
    sequence: i64,
    tx_id: i64,
    event: VmEvent,
    request_id: String,
    actor: String,
}

/// `sequence, tx_id, payload, request_id, actor`, as selected from `events`.
type EventRow = (i64, i64, serde_json::Value, Option<String>, Option<String>);

fn admin(request_id: String) -> RequestContext {
    RequestContext {
        session: None,
        authenticated_at: std::time::Instant::now(),
        actor: Actor::Account {
            id: Uuid::new_v4(),
            username: "writer".to_owned(),
            policies: [Policy::DistriboxAdmin].into_iter().collect::<PolicySet>(),
            scoped: Default::default(),
        },
        request_id,
        client_addr: None,
        user_agent: None,
    }
}

fn context(by_system: bool, request_id: String) -> RequestContext {
    if by_system {
        RequestContext {
            request_id,
            ..RequestContext::system()
        }
    } else {
        admin(request_id)
    }
}

/// What the aggregate decides for `command` in state `vm`: its events, or its refusal.
async fn decide(vm: &Vm, command: VmCommand) -> Result<Vec<VmEvent>, String> {
    let mut vm = vm.clone();
    let sink = EventSink::default();
    vm.handle(command, &(), &sink)
        .await
        .map_err(|e| format!("{:?}: {}", e.kind, e.message))?;
    Ok(sink.collect().await)
}

/// What the log proves.
#[derive(Debug, Default)]
struct Summary {
    events: usize,
    by_type: BTreeMap<String, usize>,
    committed_with_events: usize,
    committed_as_no_ops: usize,
}

/// Checks the VM's event log against every command that was sent. An `Err` names the first
/// thing that was lost, duplicated, torn apart or not a legal transition.
async fn verify(history: &[Stored], issued: &[Issued]) -> Result<Summary, String> {
    // Sequences are exactly 1..=n.
    for (index, stored) in history.iter().enumerate() {
        let expected = index as i64 + 1;
        if stored.sequence != expected {
            return Err(format!(
                "event #{index} has sequence {}, expected {expected}: a gap or a duplicate",
                stored.sequence
            ));
        }
    }
    let n = history.len();

    // states[k]: the VM after its first k events.
    let mut states = Vec::with_capacity(n + 1);
    let mut vm = Vm::default();
    states.push(vm.clone());
    for stored in history {
        vm.apply(stored.event.clone());
        states.push(vm.clone());
    }

    // Each command's events are one contiguous run, written by one transaction.
    let mut runs: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut start = 0;
    for end in 1..=n {
        if end < n && history[end].request_id == history[start].request_id {
            continue;
        }
        let request_id = history[start].request_id.as_str();
        if runs.insert(request_id, (start, end)).is_some() {
            return Err(format!(
                "request {request_id} has events in two places of the log (second from sequence {})",
                start + 1
            ));
        }
        let tx = history[start].tx_id;
        if history[start..end].iter().any(|s| s.tx_id != tx) {
            return Err(format!(
                "request {request_id}'s events were committed by more than one transaction"
            ));
        }
        if start > 0 && history[start - 1].tx_id >= tx {
            return Err(format!(
                "sequence {} was committed by transaction {tx}, not after the previous one ({})",
                start + 1,
                history[start - 1].tx_id
            ));
        }
        start = end;
    }

    let mut summary = Summary {
        events: n,
        ..Summary::default()
    };
    for stored in history {
        let event_type = cqrs_es::DomainEvent::event_type(&stored.event);
        *summary.by_type.entry(event_type).or_default() += 1;
    }

    let mut accounted = 0;
    for command in issued {
        let run = runs.get(command.request_id.as_str()).copied();
        let Some(version) = command.committed else {
            if let Some((first, _)) = run {
                return Err(format!(
                    "{} ({:?}) was refused, yet sequence {} carries its request id",
                    command.request_id,
                    command.command,
                    first + 1
                ));
            }
            continue;
        };
        if version < command.after || version as usize > n {
            return Err(format!(
                "{} ({:?}) committed at version {version}, outside {}..={n}",
                command.request_id, command.command, command.after
            ));
        }
        match run {
            Some((first, end)) => {
                // It was decided on the state after `first` events, which its writer had seen
                // at least `after` of, and its version was read after its own commit.
                if (first as i64) < command.after || end as i64 > version {
                    return Err(format!(
                        "{} ({:?}) wrote sequences {}..={end}, which does not fit between the \
                         version its writer had seen ({}) and the version it returned ({version})",
                        command.request_id,
                        command.command,
                        first + 1,
                        command.after
                    ));
                }
                let written: Vec<VmEvent> = history[first..end]
                    .iter()
                    .map(|s| s.event.clone())
                    .collect();
                let expected = match &command.command {
                    Some(sent) => decide(&states[first], sent.clone()).await,
                    None if first == 0 && matches!(written[..], [VmEvent::VmCreated { .. }]) => {
                        Ok(written.clone())
                    }
                    None => Err("exactly one VmCreated, first".to_owned()),
                };
                if expected.as_ref() != Ok(&written) {
                    return Err(format!(
                        "{} ({:?}) wrote {written:?} at sequence {}, but from the state before \
                         it the aggregate decides {expected:?}",
                        command.request_id,
                        command.command,
                        first + 1
                    ));
                }
                let actor = &history[first].actor;
                if command.by_system != (actor == "system") {
                    return Err(format!(
                        "{}'s events carry actor {actor}",
                        command.request_id
                    ));
                }
                summary.committed_with_events += 1;
                accounted += 1;
            }
            None => {
                // Committed without events: only right if some state it could have been
                // decided on makes it a no-op. Otherwise its events were lost.
                let mut no_op = false;
                if let Some(sent) = &command.command {
                    for state in &states[command.after as usize..=version as usize] {
                        if decide(state, sent.clone()).await == Ok(vec![]) {
                            no_op = true;
                            break;
                        }
                    }
                }
                if !no_op {
                    return Err(format!(
                        "{} ({:?}) committed at version {version} but none of its events are in \
                         the log, and it is not a no-op in any state between {} and {version}",
                        command.request_id, command.command, command.after
                    ));
                }
                summary.committed_as_no_ops += 1;
            }
        }
    }
    if accounted != runs.len() {
        let known: Vec<&str> = issued.iter().map(|c| c.request_id.as_str()).collect();
        let strangers: Vec<&&str> = runs.keys().filter(|id| !known.contains(id)).collect();
        return Err(format!(
            "the log holds events of requests no committed command sent: {strangers:?}"
        ));
    }

    // A person's request yields exactly one request event.
    let successes = |kind: &VmCommand| {
        issued
            .iter()
            .filter(|c| c.committed.is_some() && c.command.as_ref() == Some(kind))
            .count()
    };
    for (command, event_type) in [
        (VmCommand::Start, "VmStartRequested"),
        (VmCommand::ForceStop, "VmForceStopRequested"),
    ] {
        let events = summary.by_type.get(event_type).copied().unwrap_or(0);
        let commands = successes(&command);
        if events != commands {
            return Err(format!(
                "{commands} {command:?} commands committed but the log holds {events} {event_type}"
            ));
        }
    }

    // The last version any command returned is the last event.
    let last = issued.iter().filter_map(|c| c.committed).max().unwrap_or(0);
    if last != n as i64 {
        return Err(format!(
            "the highest version returned is {last}, but the log holds {n} events"
        ));
    }
    Ok(summary)
}

#[tokio::test]
async fn concurrent_writers_lose_and_duplicate_nothing() {
    let db = TestDatabase::new().await;
    let data_dir = support::test_data_dir();
    // One connection per writer: the test database's own pool is deliberately small.
    let pool = PgPoolOptions::new()
        .max_connections(WRITERS as u32 + 2)
        .connect(&db.url)
        .await
        .unwrap();
    let bus = Arc::new(CommandBus::new(pool.clone(), SessionLifetimes::default()));
    support::register_test_image(&bus).await;

    let create_ctx = admin("create".to_owned());
    let (id, created) = bus
        .create_vm(
            &create_ctx,
            CreateVmInput {
                name: "contended".to_owned(),
                image: "test-guest".to_owned(),
                vcpus: 1,
                memory_mib: 256,
                disk_gib: 1,
                keyboard_layout: None,
                autostart: false,
                start: false,
                hostname: None,
                user: None,
                password: None,
                ssh_keys: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let create = Issued {
        request_id: "create".to_owned(),
        command: None,
        by_system: false,
        after: 0,
        committed: Some(created.version),
    };

    let seed: u64 = rand::random();
    println!("seed {seed}");
    let began = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed ^ (writer as u64 + 1));
                let mut seen = created.version;
                let mut sent = Vec::with_capacity(COMMANDS_PER_WRITER);
                // Refusals by the bounded retry rather than by the aggregate's rules.
                let mut gave_up = 0;
                for i in 0..COMMANDS_PER_WRITER {
                    let kind = KINDS[rng.random_range(0..KINDS.len())];
                    let request_id = format!("w{writer}-{i}");
                    let ctx = context(kind.by_system(), request_id.clone());
                    if rng.random_bool(0.3) {
                        tokio::time::sleep(std::time::Duration::from_micros(
                            rng.random_range(0..2_000),
                        ))
                        .await;
                    }
                    let after = seen;
                    let outcome = bus.vm_command(&ctx, id, kind.command()).await;
                    let committed = match outcome {
                        Ok(committed) => {
                            seen = seen.max(committed.version);
                            Some(committed.version)
                        }
                        Err(err) if err.code() == ErrorCode::Conflict => {
                            if err.public_message().contains("concurrent changes") {
                                gave_up += 1;
                            }
                            None
                        }
                        Err(err) => panic!(
                            "{request_id} ({kind:?}) failed with {}: {err}",
                            err.code().as_str()
                        ),
                    };
                    sent.push((
                        kind,
                        Issued {
                            request_id,
                            command: Some(kind.command()),
                            by_system: kind.by_system(),
                            after,
                            committed,
                        },
                    ));
                }
                (sent, gave_up)
            })
        })
        .collect();

    let mut issued = vec![create];
    println!("writer  committed/sent  retries exhausted  by command (committed/sent)");
    let mut exhausted = 0;
    for (writer, handle) in writers.into_iter().enumerate() {
        let (sent, gave_up) = handle.await.expect("writer task");
        exhausted += gave_up;
        let mut per_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
        for (kind, command) in &sent {
            let entry = per_kind.entry(*kind).or_default();
            entry.1 += 1;
            if command.committed.is_some() {
                entry.0 += 1;
            }
        }
        let committed = sent.iter().filter(|(_, c)| c.committed.is_some()).count();
        let detail: Vec<String> = per_kind
            .iter()
            .map(|(kind, (ok, all))| format!("{kind:?} {ok}/{all}"))
            .collect();
        println!(
            "{writer:>6}  {committed:>4}/{:<4}      {gave_up:>4}             {}",
            sent.len(),
            detail.join(", ")
        );
        issued.extend(sent.into_iter().map(|(_, command)| command));
    }
    println!(
        "{} commands from {WRITERS} writers in {:?}; {exhausted} refused after the retries ran out",
        issued.len() - 1,
        began.elapsed()
    );
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT sequence, tx_id::text::bigint, payload, metadata->>'request_id',
                    metadata->>'actor'
               FROM events WHERE aggregate_type = 'Vm' AND aggregate_id = $1
              ORDER BY sequence, global_position",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    let history: Vec<Stored> = rows
        .into_iter()
        .map(|(sequence, tx_id, payload, request_id, actor)| Stored {
            sequence,
            tx_id,
            event: serde_json::from_value(payload).expect("a VmEvent payload"),
            request_id: request_id.expect("request id in the metadata"),
            actor: actor.expect("actor in the metadata"),
        })
        .collect();

    let summary = verify(&history, &issued)
        .await
        .unwrap_or_else(|problem| panic!("the event log is wrong: {problem}"));
    println!("{summary:?}");
    assert_eq!(summary.events, history.len());
    let committed = issued.iter().filter(|c| c.committed.is_some()).count();
    assert_eq!(
        summary.committed_with_events + summary.committed_as_no_ops,
        committed
    );
    // The run must have exercised something: transitions both ways, and contention.
    for event_type in [
        "VmStartRequested",
        "VmStarted",
        "VmForceStopRequested",
        "VmStopped",
    ] {
        assert!(
            summary.by_type.get(event_type).copied().unwrap_or(0) > 0,
            "no {event_type} in {:?}",
            summary.by_type
        );
    }
    assert!(
        committed < issued.len(),
        "no command was refused: nothing contended"
    );

    // The aggregate the store loads is the one the log replays to: it decides the next
    // commands exactly as the replay predicts.
    let mut replayed = Vm::default();
    for stored in &history {
        replayed.apply(stored.event.clone());
    }
    let mut version = history.len() as i64;
    for kind in [Kind::ForceStop, Kind::Start, Kind::ReportStarted] {
        let predicted = decide(&replayed, kind.command()).await;
        let request_id = format!("final-{kind:?}");
        let outcome = bus
            .vm_command(&context(kind.by_system(), request_id), id, kind.command())
            .await;
        match (predicted, outcome) {
            (Ok(events), Ok(committed)) => {
                version += events.len() as i64;
                assert_eq!(committed.version, version, "{kind:?}");
                for event in events {
                    replayed.apply(event);
                }
            }
            (Err(_), Err(err)) => assert_eq!(err.code(), ErrorCode::Conflict, "{kind:?}"),
            (predicted, outcome) => panic!(
                "{kind:?}: the replay predicts {predicted:?}, the store did {:?}",
                outcome.map_err(|e| e.to_string())
            ),
        }
    }

    // The checks can fail: a log that lost an event, or holds one twice, is caught.
    let start_at = history
        .iter()
        .position(|s| s.event == VmEvent::VmStartRequested)
        .unwrap();
    let mut lost = history.clone();
    lost.remove(start_at);
    for (index, stored) in lost.iter_mut().enumerate() {
        stored.sequence = index as i64 + 1;
    }
    let lost = verify(&lost, &issued).await;
    assert!(lost.is_err(), "a lost event went unnoticed");
    let mut doubled = history.clone();
    doubled.insert(start_at + 1, history[start_at].clone());
    assert!(
        verify(&doubled, &issued).await.is_err(),
        "a duplicate sequence went unnoticed"
    );
    for (index, stored) in doubled.iter_mut().enumerate() {
        stored.sequence = index as i64 + 1;
    }
    assert!(
        verify(&doubled, &issued).await.is_err(),
        "an event written twice went unnoticed"
    );

    // Evidence that writers really raced in the store, not just in the aggregate's rules: each
    // lost optimistic-concurrency race is a rolled-back insert. Backends flush their statistics
    // when they exit, so close the writers' connections first.
    drop(bus);
    pool.close().await;
    let mut rollbacks = 0;
    for _ in 0..50 {
        rollbacks = sqlx::query_scalar::<_, i64>(
            "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if rollbacks > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    println!("{rollbacks} transactions rolled back (lost races, retried)");
    assert!(
        rollbacks > 0,
        "no writer ever lost a race: nothing contended"
    );

    let _ = std::fs::remove_dir_all(&data_dir);
}
