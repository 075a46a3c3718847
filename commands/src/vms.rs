//! VM commands: each states the policy it needs, next to the command it guards.

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateContext, EventStore};
use distribox_domain::policy::Policy;
use distribox_domain::vm::{AdoptVm, CloneVm, CreateVm, SeedInput, Vm, VmCommand};
use postgres_es::PostgresEventRepository;
use uuid::Uuid;

use crate::secrets::guest_password_hash;

use crate::{CommandBus, CommandError, Committed, ErrorCode, RequestContext};

/// What a caller supplies to create a VM; the owner is the caller.
#[derive(Debug, Clone)]
pub struct CreateVmInput {
    pub name: String,
    pub image: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub keyboard_layout: Option<String>,
    pub autostart: bool,
    pub start: bool,
    /// The guest's hostname (default: derived from the VM id).
    pub hostname: Option<String>,
    /// A login user cloud-init creates, with `password` and/or `ssh_keys`.
    pub user: Option<String>,
    pub password: Option<String>,
    pub ssh_keys: Vec<String>,
}

/// A domain as libvirt shows it, to be adopted.
#[derive(Debug, Clone)]
pub struct FoundVm {
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub image: Option<String>,
    pub running: bool,
}

const GUEST_PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=256;

fn policy_for(command: &VmCommand) -> Option<Policy> {
    match command {
        VmCommand::Create(_) => Some(Policy::VmsCreate),
        VmCommand::Start => Some(Policy::VmsStart),
        VmCommand::ForceStop | VmCommand::Shutdown => Some(Policy::VmsStop),
        VmCommand::Reboot => Some(Policy::VmsReboot),
        VmCommand::Pause | VmCommand::Resume => Some(Policy::VmsPause),
        VmCommand::Rename { .. } | VmCommand::SetLabels { .. } => Some(Policy::VmsRename),
        VmCommand::Resize { .. } => Some(Policy::VmsResize),
        VmCommand::Clone(_) => Some(Policy::VmsDuplicate),
        VmCommand::Adopt(_) => Some(Policy::VmsRecover),
        VmCommand::TakeSnapshot { .. } => Some(Policy::VmsSnapshotsCreate),
        VmCommand::RevertSnapshot { .. } => Some(Policy::VmsSnapshotsRevert),
        VmCommand::DeleteSnapshot { .. } => Some(Policy::VmsSnapshotsDelete),
        VmCommand::Delete { .. } => Some(Policy::VmsDelete),
        VmCommand::IssueCredential { .. } => Some(Policy::VmsCredentialsCreate),
        VmCommand::RevokeCredential { .. } => Some(Policy::VmsCredentialsRevoke),
        // Hypervisor reports and console records: only the system itself. A command added
        // later and not listed above lands here too, refused to everyone but the system.
        _ => None,
    }
}

impl CommandBus {
    pub async fn create_vm(
        &self,
        ctx: &RequestContext,
        input: CreateVmInput,
    ) -> Result<(Uuid, Committed), CommandError> {
        let owner = owner(ctx)?;
        let id = Uuid::new_v4();
        // Before the password's costly hashing: a refusal should be cheap.
        self.check_vcpus(input.vcpus)?;
        let password_hash = match input.password {
            Some(password) if !GUEST_PASSWORD_CHARS.contains(&password.chars().count()) => {
                return Err(CommandError::bad_field(
                    "password",
                    format!(
                        "password must be {} to {} characters",
                        GUEST_PASSWORD_CHARS.start(),
                        GUEST_PASSWORD_CHARS.end()
                    ),
                ));
            }
            Some(password) => Some(
                self.password_work(move || guest_password_hash(&password))
                    .await?,
            ),
            None => None,
        };
        let image = self.image_summary(&input.image).await?;
        let command = VmCommand::Create(CreateVm {
            name: input.name,
            image,
            vcpus: input.vcpus,
            memory_mib: input.memory_mib,
            disk_gib: input.disk_gib,
            keyboard_layout: input.keyboard_layout,
            autostart: input.autostart,
            owner: owner.to_string(),
            start: input.start,
            instance_id: format!("iid-{id}"),
            seed: SeedInput {
                hostname: input.hostname,
                user: input.user,
                password_hash,
                ssh_keys: input.ssh_keys,
            },
        });
        let committed = self.vm_command(ctx, id, command).await?;
        Ok((id, committed))
    }

    /// Creates a new VM from stopped VM `source`: the caller owns the copy.
    pub async fn clone_vm(
        &self,
        ctx: &RequestContext,
        source_id: Uuid,
        name: String,
    ) -> Result<(Uuid, Committed), CommandError> {
        // A clone is a new VM: creating VMs must be allowed too.
        ctx.authorize(Policy::VmsCreate)?;
        ctx.authorize_vm(
            Policy::VmsDuplicate,
            source_id,
            self.vm_owner(source_id).await?,
        )?;
        let owner = owner(ctx)?;
        let source = self.load_vm(source_id).await?;
        let id = Uuid::new_v4();
        let command = VmCommand::Clone(CloneVm {
            source_id,
            source: Box::new(source),
            name,
            owner: owner.to_string(),
            instance_id: format!("iid-{id}"),
        });
        let committed = self.execute_vm(ctx, &id.to_string(), command).await?;
        Ok((id, committed))
    }

    /// Gives domain `id`, which has no history, one: adopted as found (the caller owns it), or
    /// adopted only to be deleted when `discard` is set.
    pub async fn adopt_vm(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        found: FoundVm,
        discard: bool,
    ) -> Result<Committed, CommandError> {
        let command = VmCommand::Adopt(AdoptVm {
            name: found.name,
            vcpus: found.vcpus,
            memory_mib: found.memory_mib,
            disk_gib: found.disk_gib,
            image: found.image,
            owner: owner(ctx)?.to_string(),
            running: found.running,
            discard,
        });
        self.vm_command(ctx, id, command).await
    }

    /// Asks for a snapshot of VM `vm`; answers with the new snapshot's id.
    pub async fn take_snapshot(
        &self,
        ctx: &RequestContext,
        vm: Uuid,
        name: String,
    ) -> Result<(Uuid, Committed), CommandError> {
        let id = Uuid::new_v4();
        let command = VmCommand::TakeSnapshot {
            id,
            name,
            at: chrono::Utc::now(),
        };
        let committed = self.vm_command(ctx, vm, command).await?;
        Ok((id, committed))
    }

    /// VM `id` as its events leave it (a default, never-created VM if it has none).
    async fn load_vm(&self, id: Uuid) -> Result<Vm, CommandError> {
        let store = PersistedEventStore::<PostgresEventRepository, Vm>::new_event_store(
            PostgresEventRepository::new(self.pool.clone()),
        );
        let mut context = store
            .load_aggregate(&id.to_string())
            .await
            .map_err(|err| CommandError::Internal(err.to_string().into()))?;
        Ok(context.aggregate().clone())
    }

    /// Runs one command against VM `id` after checking the policy it needs.
    pub async fn vm_command(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        command: VmCommand,
    ) -> Result<Committed, CommandError> {
        match policy_for(&command) {
            Some(policy) if policy.is_vm_scoped() => {
                ctx.authorize_vm(policy, id, self.vm_owner(id).await?)?
            }
            Some(policy) => ctx.authorize(policy)?,
            None => ctx.require_system()?,
        }
        self.check_host_fits(&command)?;
        self.execute_vm(ctx, &id.to_string(), command).await
    }

    /// A VM with more vCPUs than the host has CPUs starts and then crawls: refused up front.
    fn check_host_fits(&self, command: &VmCommand) -> Result<(), CommandError> {
        match command {
            VmCommand::Create(create) => self.check_vcpus(create.vcpus),
            VmCommand::Resize { vcpus, .. } => self.check_vcpus(*vcpus),
            _ => Ok(()),
        }
    }

    fn check_vcpus(&self, vcpus: u32) -> Result<(), CommandError> {
        match self.host_cpus {
            Some(cpus) if vcpus > cpus => Err(CommandError::bad_field(
                "vcpus",
                format!("this host has {cpus} CPUs: a VM can have at most {cpus} vCPUs"),
            )),
            _ => Ok(()),
        }
    }

    /// VM `id`'s owner, as the read model knows it (`None`: no such VM). Owners never change,
    /// so the read model's lag doesn't matter.
    pub async fn vm_owner(&self, id: Uuid) -> Result<Option<Uuid>, CommandError> {
        Ok(sqlx::query_scalar("SELECT owner FROM vms WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// The account a new VM belongs to: whoever creates it.
fn owner(ctx: &RequestContext) -> Result<Uuid, CommandError> {
    ctx.account_id()
        .ok_or_else(|| CommandError::refused(ErrorCode::Unauthenticated, "log in first"))
}
