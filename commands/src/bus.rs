use std::sync::Arc;
use std::time::Duration;

use cqrs_es::{Aggregate, AggregateError};
use distribox_domain::access::{AccessAttempt, AccessCommand};
use distribox_domain::account::Account;
use distribox_domain::image::Image;
use distribox_domain::vm::Vm;
use distribox_domain::DomainError;
use postgres_es::{postgres_cqrs, PostgresCqrs};
use sqlx::PgPool;

use crate::sessions::SessionLifetimes;
use crate::throttle::LoginLimits;
use crate::{CommandError, ErrorCode, RequestContext};

/// How many times a command is re-run after losing an optimistic-concurrency race.
const CONFLICT_RETRIES: u32 = 5;

/// The outcome of a command that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The aggregate's last sequence number after the command; read models that have applied
    /// this version show the command's effect.
    pub version: i64,
}

/// What one command did: for metrics.
#[derive(Debug, Clone, Copy)]
pub struct CommandOutcome<'a> {
    /// `Vm`, `Account` or `AccessAttempt`.
    pub aggregate: &'static str,
    /// The command's name, e.g. `Start`.
    pub command: &'a str,
    /// `ok`, or the refusal's code (`CONFLICT`, `BAD_INPUT`, …).
    pub outcome: &'static str,
    /// From the first attempt to the answer, conflict retries included.
    pub elapsed: Duration,
}

/// Told about every command once it is answered.
pub type CommandObserver = Arc<dyn Fn(&CommandOutcome<'_>) + Send + Sync>;

/// Executes commands against the PostgreSQL event store.
pub struct CommandBus {
    pub(crate) pool: PgPool,
    vms: PostgresCqrs<Vm>,
    images: PostgresCqrs<Image>,
    accounts: PostgresCqrs<Account>,
    attempts: PostgresCqrs<AccessAttempt>,
    pub(crate) sessions: SessionLifetimes,
    pub(crate) login_limits: LoginLimits,
    /// Bounds concurrent argon2 work (19 MiB and tens of milliseconds each), so a flood of
    /// logins queues instead of exhausting memory and the blocking thread pool.
    pub(crate) password_work: tokio::sync::Semaphore,
    observer: Option<CommandObserver>,
    /// The host's CPUs: no VM gets more vCPUs (QEMU would start it, and it would crawl).
    pub(crate) host_cpus: Option<u32>,
}

impl CommandBus {
    pub fn new(pool: PgPool, sessions: SessionLifetimes) -> Self {
        Self {
            vms: postgres_cqrs(pool.clone(), vec![], ()),
            images: postgres_cqrs(pool.clone(), vec![], ()),
            accounts: postgres_cqrs(pool.clone(), vec![], ()),
            attempts: postgres_cqrs(pool.clone(), vec![], ()),
            pool,
            sessions,
            login_limits: LoginLimits::default(),
            password_work: tokio::sync::Semaphore::new(
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(2),
            ),
            observer: None,
            host_cpus: None,
        }
    }

    /// Refuses VMs with more vCPUs than the host has `cpus`.
    pub fn with_host_cpus(mut self, cpus: u32) -> Self {
        self.host_cpus = Some(cpus);
        self
    }

    /// Tells `observer` about every command executed.
    pub fn with_observer(mut self, observer: CommandObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Other login throttling limits than the defaults (tests use small windows).
    pub fn with_login_limits(mut self, limits: LoginLimits) -> Self {
        self.login_limits = limits;
        self
    }

    pub(crate) async fn execute_vm(
        &self,
        ctx: &RequestContext,
        id: &str,
        command: <Vm as Aggregate>::Command,
    ) -> Result<Committed, CommandError> {
        let name = command_name(&command);
        self.observed::<Vm>(execute(&self.vms, &self.pool, ctx, id, command), &name)
            .await
    }

    pub(crate) async fn execute_image(
        &self,
        ctx: &RequestContext,
        id: &str,
        command: <Image as Aggregate>::Command,
    ) -> Result<Committed, CommandError> {
        let name = command_name(&command);
        self.observed::<Image>(execute(&self.images, &self.pool, ctx, id, command), &name)
            .await
    }

    /// Records an attempt that belongs to no account, under a fresh id.
    pub(crate) async fn record_attempt(
        &self,
        ctx: &RequestContext,
        command: AccessCommand,
    ) -> Result<Committed, CommandError> {
        let id = uuid::Uuid::new_v4().to_string();
        let name = command_name(&command);
        self.observed::<AccessAttempt>(
            execute(&self.attempts, &self.pool, ctx, &id, command),
            &name,
        )
        .await
    }

    /// Records a request refused for want of authentication or of `policy`.
    pub async fn record_denied(
        &self,
        ctx: &RequestContext,
        operation: String,
        policy: Option<String>,
        code: String,
    ) -> Result<Committed, CommandError> {
        let command = AccessCommand::RecordDenied {
            operation,
            policy,
            code,
        };
        self.record_attempt(ctx, command).await
    }

    pub(crate) async fn execute_account(
        &self,
        ctx: &RequestContext,
        id: &str,
        command: <Account as Aggregate>::Command,
    ) -> Result<Committed, CommandError> {
        let name = command_name(&command);
        self.observed::<Account>(execute(&self.accounts, &self.pool, ctx, id, command), &name)
            .await
    }
}

impl CommandBus {
    /// Runs `execution` and tells the observer, if there is one, how it went.
    async fn observed<A: Aggregate>(
        &self,
        execution: impl std::future::Future<Output = Result<Committed, CommandError>>,
        command: &str,
    ) -> Result<Committed, CommandError> {
        let started = std::time::Instant::now();
        let result = execution.await;
        if let Some(observer) = &self.observer {
            observer(&CommandOutcome {
                aggregate: A::TYPE,
                command,
                outcome: match &result {
                    Ok(_) => "ok",
                    Err(err) => err.code().as_str(),
                },
                elapsed: started.elapsed(),
            });
        }
        result
    }
}

/// A command's variant name from its `Debug` form (`Start`, `Rename { .. }` → `Rename`):
/// only the name, never the fields, which may hold passwords.
fn command_name(command: &impl std::fmt::Debug) -> String {
    let debug = format!("{command:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn execute<A>(
    cqrs: &PostgresCqrs<A>,
    pool: &PgPool,
    ctx: &RequestContext,
    id: &str,
    command: A::Command,
) -> Result<Committed, CommandError>
where
    A: Aggregate<Error = DomainError>,
    A::Command: Clone,
{
    let mut attempt = 0;
    loop {
        match cqrs
            .execute_with_metadata(id, command.clone(), ctx.metadata())
            .await
        {
            Ok(()) => {
                return Ok(Committed {
                    version: current_version(pool, A::TYPE, id).await?,
                })
            }
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                attempt += 1;
                // Spread the retries of racing writers apart.
                let jitter = rand::random_range(0..(5 << attempt));
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
            Err(AggregateError::AggregateConflict) => {
                return Err(CommandError::refused(
                    ErrorCode::Conflict,
                    "too many concurrent changes to the same object; try again",
                ))
            }
            Err(AggregateError::UserError(refusal)) => return Err(refusal.into()),
            Err(AggregateError::DatabaseConnectionError(cause)) => {
                return Err(CommandError::Unavailable(cause))
            }
            Err(
                AggregateError::DeserializationError(cause)
                | AggregateError::UnexpectedError(cause),
            ) => return Err(CommandError::Internal(cause)),
        }
    }
}

async fn current_version(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
) -> Result<i64, CommandError> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
    )
    .bind(aggregate_type)
    .bind(id)
    .fetch_one(pool)
    .await?;
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::command_name;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Example {
        Start,
        Rename { name: String },
        Login(String),
    }

    #[test]
    fn command_names_never_carry_fields() {
        assert_eq!(command_name(&Example::Start), "Start");
        let secret = "hunter2".to_owned();
        assert_eq!(
            command_name(&Example::Rename {
                name: secret.clone()
            }),
            "Rename"
        );
        assert_eq!(command_name(&Example::Login(secret)), "Login");
    }
}
