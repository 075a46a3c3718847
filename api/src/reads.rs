//! Queries on the read models, and waiting for them to catch up with a write.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use distribox_domain::policy::ScopedPolicies;
use distribox_domain::vm::Vm as DomainVm;
use distribox_projections::runner::Checkpoint;
use sqlx::types::Json;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::ApiError;

/// How long a mutation waits for its change to show in the read model before answering with
/// what is there.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VmRow {
    pub id: Uuid,
    pub name: String,
    pub image: String,
    pub owner: Uuid,
    pub vcpus: i32,
    pub memory_mib: i64,
    pub disk_gib: i64,
    pub state: String,
    pub failure: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// The whole aggregate, for the details that have no column of their own (snapshots,
    /// keyboard layout, …).
    pub aggregate: Json<DomainVm>,
    /// The owner's username, joined in so a listing costs one query (null once the account is
    /// deleted).
    pub owner_name: Option<String>,
}

/// VMs with their owner's name; callers add `WHERE`/`ORDER BY` on `v`.
const VM_SELECT: &str = "SELECT v.id, v.name, v.image, v.owner, v.vcpus, v.memory_mib, \
     v.disk_gib, v.state, v.failure, v.version, v.created_at, v.aggregate, \
     a.username AS owner_name \
     FROM vms v LEFT JOIN accounts a ON a.id = v.owner";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub username: String,
    pub policies: Vec<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub version: i64,
    pub scoped: Json<ScopedPolicies>,
    /// The VMs `scoped` names that still exist, by id, so listing accounts with their grants
    /// costs one query.
    pub scoped_vms: Json<BTreeMap<Uuid, ScopedVm>>,
}

/// A VM an account holds (or was denied) policies on.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ScopedVm {
    pub name: String,
    pub owner: Uuid,
}

/// Which VMs a listing may show.
#[derive(Debug, Clone)]
pub enum Visible {
    All,
    /// Those `owner` owns, and those in `granted`.
    Some {
        owner: Uuid,
        granted: Vec<Uuid>,
    },
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Accounts `a` with the VMs their scoped policies name; callers add `WHERE`/`ORDER BY`.
const ACCOUNT_SELECT: &str = "SELECT a.id, a.username, a.policies, a.disabled, a.created_at, \
     a.version, a.scoped, \
     (SELECT coalesce(jsonb_object_agg(v.id, jsonb_build_object('name', v.name, 'owner', v.owner)), \
                      '{}') \
        FROM vms v \
       WHERE v.id IN (SELECT jsonb_object_keys(a.scoped->'grants')::uuid \
                      UNION SELECT jsonb_object_keys(a.scoped->'denials')::uuid)) AS scoped_vms \
     FROM accounts a";

/// What the VMs in the read model were given, summed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Allocated {
    pub vcpus: i64,
    pub memory_mib: i64,
    pub disk_gib: i64,
}

#[derive(Clone)]
pub struct Reads {
    pool: PgPool,
    vms_progress: watch::Receiver<Checkpoint>,
    accounts_progress: watch::Receiver<Checkpoint>,
}

impl Reads {
    pub fn new(
        pool: PgPool,
        vms_progress: watch::Receiver<Checkpoint>,
        accounts_progress: watch::Receiver<Checkpoint>,
    ) -> Self {
        Self {
            pool,
            vms_progress,
            accounts_progress,
        }
    }

    pub async fn vm(&self, id: Uuid) -> Result<Option<VmRow>, ApiError> {
        Ok(sqlx::query_as(&format!("{VM_SELECT} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// One page of the `visible` VMs in creation order, after the keyset `after`; fetches one
    /// extra row to know whether another page follows.
    pub async fn vms_page(
        &self,
        after: Option<(DateTime<Utc>, Uuid)>,
        first: i64,
        visible: Visible,
    ) -> Result<(Vec<VmRow>, bool), ApiError> {
        let (after_at, after_id) = after.unzip();
        let (owner, granted) = match visible {
            Visible::All => (None, Vec::new()),
            Visible::Some { owner, granted } => (Some(owner), granted),
        };
        let mut rows: Vec<VmRow> = sqlx::query_as(&format!(
            "{VM_SELECT}
              WHERE ($1::timestamptz IS NULL OR (v.created_at, v.id) > ($1, $2))
                AND ($4::uuid IS NULL OR v.owner = $4 OR v.id = ANY($5))
              ORDER BY v.created_at, v.id LIMIT $3"
        ))
        .bind(after_at)
        .bind(after_id)
        .bind(first + 1)
        .bind(owner)
        .bind(granted)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > first;
        rows.truncate(first as usize);
        Ok((rows, more))
    }

    pub async fn account(&self, id: Uuid) -> Result<Option<AccountRow>, ApiError> {
        Ok(sqlx::query_as(&format!("{ACCOUNT_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whether account `owner` owns any VM.
    pub async fn owns_any_vm(&self, owner: Uuid) -> Result<bool, ApiError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM vms WHERE owner = $1)")
                .bind(owner)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The vCPUs, memory and disk of every VM not deleted, running or not: what the host has
    /// promised.
    pub async fn allocated(&self) -> Result<Allocated, ApiError> {
        Ok(sqlx::query_as(
            "SELECT coalesce(sum(vcpus), 0)::bigint AS vcpus,
                    coalesce(sum(memory_mib), 0)::bigint AS memory_mib,
                    coalesce(sum(disk_gib), 0)::bigint AS disk_gib
               FROM vms WHERE state <> 'DELETED'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// VM `vm`'s credentials, oldest first (never their secrets).
    pub async fn credentials(&self, vm: Uuid) -> Result<Vec<CredentialRow>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT id, name, created_at, expires_at, revoked_at, last_used_at
               FROM vm_credentials WHERE vm_id = $1 ORDER BY created_at, id",
        )
        .bind(vm)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every account, by username.
    pub async fn accounts(&self) -> Result<Vec<AccountRow>, ApiError> {
        Ok(
            sqlx::query_as(&format!("{ACCOUNT_SELECT} ORDER BY a.username"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Waits until the `accounts` read model has applied account `id`'s event `version` (or,
    /// for a deletion, dropped the account), then returns the row.
    pub async fn account_at_least(
        &self,
        id: Uuid,
        version: i64,
        deleted: bool,
    ) -> Result<Option<AccountRow>, ApiError> {
        let done = |row: &Option<AccountRow>| match row {
            Some(row) => !deleted && row.version >= version,
            None => deleted,
        };
        let read = || self.account(id);
        let subject = format!("account {id} version {version}");
        wait_until(subject, self.accounts_progress.clone(), read, done).await
    }

    /// Waits until the `vms` read model has applied VM `id`'s event `version` — so a mutation
    /// answers with its own effect — then returns the row (`None` once the VM is gone).
    pub async fn vm_at_least(&self, id: Uuid, version: i64) -> Result<Option<VmRow>, ApiError> {
        let done = |row: &Option<VmRow>| row.as_ref().is_some_and(|r| r.version >= version);
        let subject = format!("VM {id} version {version}");
        wait_until(subject, self.vms_progress.clone(), || self.vm(id), done).await
    }
}

/// Reads a read model with `read` until `done` says it shows what a writer waits for, looking
/// again whenever its projection (`progress`) applies a batch. After [`CATCH_UP_TIMEOUT`], or if
/// the projection has stopped, answers with what it read last.
pub(crate) async fn wait_until<T, Fut>(
    subject: String,
    mut progress: watch::Receiver<Checkpoint>,
    mut read: impl FnMut() -> Fut,
    done: impl Fn(&T) -> bool,
) -> Result<T, ApiError>
where
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        progress.borrow_and_update();
        let seen = read().await?;
        if done(&seen) {
            return Ok(seen);
        }
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Ok(seen), // the projection has stopped
            Err(_) => {
                tracing::warn!(%subject, "read model did not catch up in time");
                return Ok(seen);
            }
        }
    }
}
