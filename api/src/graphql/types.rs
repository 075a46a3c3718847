//! GraphQL object types and their mapping from read models.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::{ComplexObject, Context, Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use distribox_commands::{Actor, CommandError, RequestContext};
use distribox_domain::policy::{Policy, PolicySet, ScopedPolicies};
use distribox_domain::vm::{
    KeyboardLayout, Snapshot as DomainSnapshot, VmName, VmState as DomainVmState,
};
use distribox_projections::hypervisor::FoundDomain;
use distribox_projections::read_models::VmChange;
use uuid::Uuid;

use super::access::{authorize_vm, request, Access};
use crate::app::AppState;
use crate::error::ApiError;
use crate::history::{self, HistoryRow};
use crate::host::Resources;
use crate::reads::{AccountRow, Allocated, CredentialRow, ScopedVm, VmRow};
use distribox_projections::usage::series;

/// Most history entries one request returns.
const MAX_HISTORY: i32 = 500;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "distribox_domain::vm::VmState")]
pub enum VmState {
    Pending,
    Stopped,
    Starting,
    Running,
    Paused,
    Stopping,
    Crashed,
    Failed,
    Deleted,
}

impl VmState {
    /// Read models store the state by its name.
    fn from_name(name: &str) -> Self {
        serde_json::from_value::<DomainVmState>(serde_json::Value::String(name.to_owned()))
            .map(Into::into)
            .unwrap_or(VmState::Failed)
    }
}

/// What paused a VM without Distribox asking.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "distribox_domain::vm::PauseReason")]
pub enum PauseReason {
    /// Someone outside Distribox (`virsh suspend`).
    Outside,
    /// A disk read or write failed (a full or failing host disk, usually).
    IoError,
    Watchdog,
    /// The guest panicked.
    Crashed,
    /// QEMU stopped the guest without a reason libvirt knows: a KVM internal error.
    HypervisorError,
    Other,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Vm {
    pub id: ID,
    pub name: String,
    pub state: VmState,
    pub image: String,
    pub vcpus: i32,
    pub memory_mib: i64,
    pub disk_gib: i64,
    /// Why the last start or provisioning failed, as libvirt said it.
    pub failure: Option<String>,
    /// Why the VM is in its state when that isn't self-evident: what paused it (a disk error,
    /// a KVM internal error, `virsh suspend`), why it crashed or failed.
    pub state_reason: Option<String>,
    /// While PAUSED by something other than Distribox: what paused it.
    pub pause_reason: Option<PauseReason>,
    /// Free text people wrote on the VM.
    pub note: Option<String>,
    /// Lower-case labels to find and group VMs by, sorted.
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The keyboard layout of the graphical console and the guest (a QEMU keymap name).
    pub keyboard_layout: String,
    /// Whether libvirt starts the VM when the host boots.
    pub autostart: bool,
    /// Snapshot work is under way: lifecycle operations wait until it is done.
    pub busy: bool,
    /// Oldest first.
    pub snapshots: Vec<Snapshot>,
    /// The owning account's username; null once that account is deleted.
    pub owner_name: Option<String>,
    #[graphql(skip)]
    pub owner: uuid::Uuid,
    #[graphql(skip)]
    pub cloned_from: Option<uuid::Uuid>,
}

impl Vm {
    fn uuid(&self) -> Result<Uuid, ApiError> {
        self.id
            .parse()
            .map_err(|_| ApiError::internal("a VM id that is not a UUID"))
    }
}

#[ComplexObject]
impl Vm {
    /// The account that created the VM.
    async fn owner_id(&self) -> ID {
        ID(self.owner.to_string())
    }

    /// The VM-level policies the caller holds on this VM — globally, as its owner (unless taken
    /// away) or granted for it — in catalogue order: the actions to offer.
    async fn allowed(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let (caller, id) = (request(ctx)?, self.uuid()?);
        Ok(Policy::ALL
            .iter()
            .filter(|policy| policy.is_vm_scoped())
            .filter(|policy| caller.authorize_vm(**policy, id, Some(self.owner)).is_ok())
            .map(|policy| policy.as_str().to_owned())
            .collect())
    }

    /// The VM's history, newest first: up to `first` (1–500) events, older than the one with
    /// sequence `before` if given (page with the last entry's `sequence`). Console sessions
    /// are the caller's own unless the caller holds `audit:get`.
    #[graphql(guard = "Access::vm(Policy::VmsGetById)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        before: Option<i64>,
    ) -> async_graphql::Result<Vec<VmHistoryEntry>> {
        let first = super::page_size(first, 1..=MAX_HISTORY)?;
        let id = self.uuid()?;
        // Whoever may look the VM up sees its history; a VM reached otherwise (returned by a
        // mutation the caller holds globally) stays hidden as `vm(id)` would hide it.
        if !request(ctx)?.sees_vm(id, Some(self.owner)) {
            return Err(ApiError::from(CommandError::hidden(Policy::VmsGetById)).into());
        }
        let caller = request(ctx)?;
        let consoles = if caller.authorize(Policy::AuditGet).is_ok() {
            history::Consoles::All
        } else {
            history::Consoles::Of(caller.actor_label())
        };
        let state = ctx.data::<AppState>()?;
        let rows = history::vm_history(&state.pool, id, before, first, &consoles).await?;
        Ok(rows.into_iter().map(VmHistoryEntry::from).collect())
    }

    /// The guest's IP addresses while it runs: the NAT network's DHCP leases, and what the QEMU
    /// guest agent reports when the guest runs one. Empty when libvirt can't say.
    async fn addresses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        if !matches!(self.state, VmState::Running | VmState::Paused) {
            return Ok(Vec::new());
        }
        let state = ctx.data::<AppState>()?;
        match state.hypervisor.addresses(self.uuid()?).await {
            Ok(addresses) => Ok(addresses.iter().map(ToString::to_string).collect()),
            Err(err) => {
                // A list of VMs stays readable while libvirt is away.
                tracing::warn!(vm = self.id.as_str(), error = %err, "cannot read the guest's addresses");
                Ok(Vec::new())
            }
        }
    }

    /// CPU and memory use at the latest usage sample, while the VM runs. Whoever may see the
    /// VM sees how busy it is now; usage over time and across VMs (`vmUsage`, `usageReport`)
    /// needs `usage:get`.
    #[graphql(guard = "Access::vm(Policy::VmsGetById)")]
    async fn live_usage(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VmLiveUsage>> {
        let id = self.uuid()?;
        // A VM reached otherwise (returned by a mutation the caller holds globally) shows no
        // use, as `vm(id)` would show no VM.
        if self.state != VmState::Running || !request(ctx)?.sees_vm(id, Some(self.owner)) {
            return Ok(None);
        }
        let state = ctx.data::<AppState>()?;
        // Two missed ticks and the sample no longer describes the VM as it is.
        let max_age =
            chrono::Duration::from_std(state.usage.interval * 3).unwrap_or(chrono::Duration::MAX);
        let vcpus = u32::try_from(self.vcpus).unwrap_or(1);
        let found = series::vm_live_use(&state.pool, id, vcpus, max_age)
            .await
            .map_err(ApiError::from)?;
        Ok(found.map(|live| VmLiveUsage {
            cpu_percent: live.cpu_percent,
            memory_used_mib: i32::try_from(live.memory_kib / 1024).unwrap_or(i32::MAX),
            sampled_at: live.at,
        }))
    }

    /// The VM this one was cloned from.
    async fn cloned_from_id(&self) -> Option<ID> {
        self.cloned_from.map(|id| ID(id.to_string()))
    }

    /// Credentials issued for this VM, oldest first, revoked and expired ones included.
    #[graphql(guard = "Access::vm(Policy::VmsCredentialsList)")]
    async fn credentials(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<VmCredential>> {
        let id = self.uuid()?;
        authorize_vm(ctx, Policy::VmsCredentialsList, id).await?;
        let state = ctx.data::<AppState>()?;
        Ok(state
            .reads
            .credentials(id)
            .await?
            .into_iter()
            .map(VmCredential::from)
            .collect())
    }
}

/// A running VM's use of the host at the latest usage sample.
#[derive(SimpleObject)]
pub struct VmLiveUsage {
    /// Of all its vCPUs together: 100 means every vCPU busy.
    pub cpu_percent: f64,
    /// What its QEMU process holds of the host's memory.
    pub memory_used_mib: i32,
    pub sampled_at: DateTime<Utc>,
}

/// One event of a VM's history.
#[derive(SimpleObject)]
pub struct VmHistoryEntry {
    /// Position in the whole event log.
    pub position: i64,
    /// Position in this VM's history: pass it as `before` for the page after this one.
    pub sequence: i64,
    pub at: DateTime<Utc>,
    /// The event's type, e.g. `VmStarted`.
    pub event: String,
    /// Who caused it: an account's username, `credential:<id>` or `system`.
    pub actor: String,
    /// A short summary for people (empty when the event's type says it all).
    pub detail: String,
}

impl From<HistoryRow> for VmHistoryEntry {
    fn from(row: HistoryRow) -> Self {
        Self {
            position: row.position,
            sequence: row.sequence,
            at: row.at,
            event: row.event,
            actor: row.actor,
            detail: history::detail(row.payload.0),
        }
    }
}

/// A credential as its VM's managers see it: never its secret.
#[derive(SimpleObject)]
pub struct VmCredential {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<CredentialRow> for VmCredential {
    fn from(row: CredentialRow) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct IssuedCredential {
    pub credential: VmCredential,
    /// The secret to hand over, shown this once: only its hash is kept.
    pub secret: String,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "distribox_domain::vm::SnapshotStatus")]
pub enum SnapshotStatus {
    Taking,
    Ready,
    Deleting,
}

#[derive(SimpleObject, Clone)]
pub struct Snapshot {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Taken while running: reverting resumes the guest where it was.
    pub with_memory: bool,
    pub status: SnapshotStatus,
}

impl From<DomainSnapshot> for Snapshot {
    fn from(snapshot: DomainSnapshot) -> Self {
        Self {
            id: ID(snapshot.id.to_string()),
            name: snapshot.name,
            created_at: snapshot.taken_at,
            with_memory: snapshot.with_memory,
            status: snapshot.status.into(),
        }
    }
}

impl Vm {
    /// A VM as its creation command describes it, before any projection has seen it.
    pub fn just_created(
        id: uuid::Uuid,
        caller: &RequestContext,
        input: &distribox_commands::CreateVmInput,
    ) -> Self {
        let owner_name = match &caller.actor {
            Actor::Account { username, .. } => Some(username.clone()),
            _ => None,
        };
        Self {
            id: ID(id.to_string()),
            // Validated by the command already; parsing again gives the stored (trimmed) form.
            name: VmName::parse(&input.name)
                .map(|n| n.as_str().to_owned())
                .unwrap_or_else(|_| input.name.clone()),
            state: VmState::Pending,
            image: input.image.clone(),
            vcpus: input.vcpus as i32,
            memory_mib: input.memory_mib as i64,
            disk_gib: input.disk_gib as i64,
            failure: None,
            state_reason: None,
            pause_reason: None,
            note: None,
            tags: Vec::new(),
            created_at: Utc::now(),
            keyboard_layout: input
                .keyboard_layout
                .clone()
                .unwrap_or_else(|| KeyboardLayout::default().as_str().to_owned()),
            autostart: input.autostart,
            busy: false,
            snapshots: Vec::new(),
            owner_name,
            owner: caller.account_id().unwrap_or_default(),
            cloned_from: None,
        }
    }
}

impl From<VmRow> for Vm {
    fn from(row: VmRow) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name,
            state: VmState::from_name(&row.state),
            image: row.image,
            vcpus: row.vcpus,
            memory_mib: row.memory_mib,
            disk_gib: row.disk_gib,
            failure: row.failure,
            state_reason: row.aggregate.state_reason(),
            pause_reason: row
                .aggregate
                .paused_by
                .filter(|_| row.aggregate.state() == DomainVmState::Paused)
                .map(PauseReason::from),
            note: row.aggregate.labels.note.clone(),
            tags: row.aggregate.labels.tags.clone(),
            created_at: row.created_at,
            keyboard_layout: row
                .aggregate
                .spec
                .as_ref()
                .map(|spec| spec.keyboard.as_str().to_owned())
                .unwrap_or_default(),
            autostart: row
                .aggregate
                .spec
                .as_ref()
                .is_some_and(|spec| spec.autostart),
            busy: row.aggregate.snapshot_busy(),
            snapshots: row
                .aggregate
                .snapshots
                .iter()
                .cloned()
                .map(Snapshot::from)
                .collect(),
            owner_name: row.owner_name,
            owner: row.owner,
            cloned_from: row.aggregate.cloned_from,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Account {
    pub id: ID,
    pub username: String,
    /// Global policies: held on every VM.
    pub policies: Vec<String>,
    /// A disabled account can't log in and has no sessions.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    scoped: ScopedPolicies,
    #[graphql(skip)]
    scoped_vms: BTreeMap<Uuid, ScopedVm>,
}

#[ComplexObject]
impl Account {
    /// What the account holds or lost on particular VMs, beyond its global policies: one entry
    /// per VM, by VM name.
    async fn vm_grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<VmPolicyGrant>> {
        let caller = request(ctx)?;
        let scoped = &self.scoped;
        let names = |set: Option<&PolicySet>| -> Vec<String> {
            set.into_iter()
                .flat_map(PolicySet::iter)
                .map(String::from)
                .collect()
        };
        let vms: BTreeSet<&Uuid> = scoped.grants.keys().chain(scoped.denials.keys()).collect();
        let mut grants: Vec<VmPolicyGrant> = vms
            .into_iter()
            .map(|vm| {
                let found = self.scoped_vms.get(vm);
                VmPolicyGrant {
                    vm_id: ID(vm.to_string()),
                    // Only callers who may see the VM learn its name.
                    vm_name: found
                        .filter(|ScopedVm { owner, .. }| caller.sees_vm(*vm, Some(*owner)))
                        .map(|found| found.name.clone()),
                    granted: names(scoped.grants.get(vm)),
                    denied: names(scoped.denials.get(vm)),
                }
            })
            .collect();
        // By name; VMs without one (gone, or hidden from the caller) last.
        grants.sort_by(|a, b| {
            (a.vm_name.is_none(), &a.vm_name).cmp(&(b.vm_name.is_none(), &b.vm_name))
        });
        Ok(grants)
    }
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            id: ID(row.id.to_string()),
            username: row.username,
            policies: row.policies,
            disabled: row.disabled,
            created_at: row.created_at,
            scoped: row.scoped.0,
            scoped_vms: row.scoped_vms.0,
        }
    }
}

/// What an account holds on one VM beyond its global policies.
#[derive(SimpleObject)]
pub struct VmPolicyGrant {
    pub vm_id: ID,
    /// Null if the VM is gone or the caller may not see it.
    pub vm_name: Option<String>,
    /// Held on this VM only.
    pub granted: Vec<String>,
    /// Revoked on this VM: not held there even as its owner.
    pub denied: Vec<String>,
}

#[derive(InputObject)]
pub struct CreateAccountInput {
    pub username: String,
    /// 10–1024 characters; leave it out to have one generated (returned once).
    #[graphql(secret)]
    pub password: Option<String>,
    /// Policy names from `policies`; granting `distribox:admin` needs `distribox:admin`.
    #[graphql(default)]
    pub policies: Vec<String>,
}

#[derive(SimpleObject)]
pub struct CreatedAccount {
    pub account: Account,
    /// The generated password, shown this once; null when one was given.
    pub password: Option<String>,
}

#[derive(SimpleObject)]
pub struct LoginResult {
    /// Bearer token for `Authorization: Bearer <token>`; shown once.
    pub token: String,
    pub account: Account,
}

#[derive(SimpleObject)]
pub struct ConsoleTicket {
    /// Server-relative websocket URL carrying a single-use ticket.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// The console's VM: a credential's holder learns which VM it opens.
    pub vm_id: ID,
    pub vm_name: String,
    /// Input from this console is dropped.
    pub view_only: bool,
    /// When the access behind the console ends (a credential's expiry), if it does.
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "distribox_domain::console::ConsoleKind")]
pub enum ConsoleKind {
    Serial,
    Vnc,
}

/// A committed change to a VM.
#[derive(SimpleObject, Clone)]
pub struct VmEvent {
    pub vm_id: ID,
    pub state: VmState,
    /// The event's type, e.g. `VmStarted`.
    pub event: String,
    pub at: DateTime<Utc>,
}

impl From<VmChange> for VmEvent {
    fn from(change: VmChange) -> Self {
        Self {
            vm_id: ID(change.vm_id.to_string()),
            state: change.state.into(),
            event: change.event,
            at: change.at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateVmInput {
    pub name: String,
    /// An image id from `images`.
    pub image: String,
    #[graphql(default = 1)]
    pub vcpus: i32,
    #[graphql(default = 1024)]
    pub memory_mib: i32,
    #[graphql(default = 10)]
    pub disk_gib: i32,
    /// Start the VM as soon as it is provisioned.
    #[graphql(default = false)]
    pub start: bool,
    /// A QEMU keymap name (`en-us`, `de`, `fr-ch`, …) for the console and the guest.
    pub keyboard_layout: Option<String>,
    /// Start the VM when the host boots.
    #[graphql(default = false)]
    pub autostart: bool,
    /// The guest's hostname (cloud-init); default derived from the VM id.
    pub hostname: Option<String>,
    /// A login user cloud-init creates in the guest; needs `password` and/or `sshKeys`.
    pub user: Option<String>,
    /// The user's password (8–256 characters); only a SHA-512 crypt hash is kept.
    #[graphql(secret)]
    pub password: Option<String>,
    /// OpenSSH public keys for the user.
    #[graphql(default)]
    pub ssh_keys: Vec<String>,
}

/// A domain Distribox made but has no history of, as libvirt shows it.
#[derive(SimpleObject)]
pub struct RecoverableVm {
    pub domain_name: String,
    /// The VM's display name when the domain was last defined.
    pub title: String,
    pub vcpus: i32,
    pub memory_mib: i64,
    pub disk_gib: i64,
    pub image: Option<String>,
    pub running: bool,
}

impl From<FoundDomain> for RecoverableVm {
    fn from(found: FoundDomain) -> Self {
        Self {
            domain_name: found.domain,
            title: found.title,
            vcpus: found.vcpus as i32,
            memory_mib: found.memory_mib as i64,
            disk_gib: found.disk_gib as i64,
            image: found.image,
            running: found.running,
        }
    }
}

/// What libvirt is doing for Distribox.
#[derive(SimpleObject)]
pub struct Hypervisor {
    /// Whether libvirtd answers. While it doesn't, queries answer from the read models and
    /// commands are recorded and carried out when it is back.
    pub available: bool,
    pub unavailable_since: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// `kvm` (hardware virtualisation) or `qemu` (software emulation, much slower).
    pub domain_type: String,
    /// Set when KVM was passed over although `/dev/kvm` is there: it could not run a test
    /// guest, so VMs run under software emulation.
    pub warning: Option<String>,
}

#[derive(SimpleObject)]
pub struct Host {
    pub hypervisor: Hypervisor,
    /// CPUs Distribox may use (the host's, unless it was confined).
    pub cpus: i32,
    pub memory_total_mib: i64,
    /// Memory the kernel can still hand out without swapping.
    pub memory_available_mib: i64,
    /// The filesystem holding the data folder (images and VM disks).
    pub disk_total_gib: f64,
    pub disk_available_gib: f64,
    /// Runnable tasks averaged over 1, 5 and 15 minutes.
    pub load_average: Vec<f64>,
    /// Summed over every VM, running or not: what the host has promised.
    pub allocated_vcpus: i64,
    pub allocated_memory_mib: i64,
    /// The VMs' disk sizes (copy-on-write disks use less until filled).
    pub allocated_disk_gib: i64,
}

impl Host {
    pub fn new(hypervisor: Hypervisor, resources: Resources, allocated: Allocated) -> Self {
        const GIB: f64 = (1u64 << 30) as f64;
        Self {
            hypervisor,
            cpus: i32::try_from(resources.cpus).unwrap_or(i32::MAX),
            memory_total_mib: resources.memory_total_mib as i64,
            memory_available_mib: resources.memory_available_mib as i64,
            disk_total_gib: resources.disk_total_bytes as f64 / GIB,
            disk_available_gib: resources.disk_available_bytes as f64 / GIB,
            load_average: resources.load_average.to_vec(),
            allocated_vcpus: allocated.vcpus,
            allocated_memory_mib: allocated.memory_mib,
            allocated_disk_gib: allocated.disk_gib,
        }
    }
}
