//! VM commands: each states the policy it needs, next to the command it guards.

use distribox_domain::policy::Policy;
use distribox_domain::vm::{CreateVm, SeedInput, VmCommand};
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
    pub start: bool,
    /// The guest's hostname (default: derived from the VM id).
    pub hostname: Option<String>,
    /// A login user cloud-init creates, with `password` and/or `ssh_keys`.
    pub user: Option<String>,
    pub password: Option<String>,
    pub ssh_keys: Vec<String>,
}

const GUEST_PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=256;

fn policy_for(command: &VmCommand) -> Option<Policy> {
    match command {
        VmCommand::Create(_) => Some(Policy::VmsCreate),
        VmCommand::Start => Some(Policy::VmsStart),
        VmCommand::ForceStop | VmCommand::Shutdown => Some(Policy::VmsStop),
        VmCommand::Reboot => Some(Policy::VmsReboot),
        VmCommand::Pause | VmCommand::Resume => Some(Policy::VmsPause),
        VmCommand::Rename { .. } => Some(Policy::VmsRename),
        VmCommand::Delete => Some(Policy::VmsDelete),
        // Hypervisor reports: only the system itself.
        VmCommand::ReportProvisioned
        | VmCommand::ReportProvisionFailed { .. }
        | VmCommand::ReportStarted
        | VmCommand::ReportStartFailed { .. }
        | VmCommand::ReportStopped { .. }
        | VmCommand::ReportShutdownTimedOut { .. }
        | VmCommand::ReportRebooted
        | VmCommand::ReportPaused
        | VmCommand::ReportResumed
        | VmCommand::ReportDeleted => None,
    }
}

impl CommandBus {
    pub async fn create_vm(
        &self,
        ctx: &RequestContext,
        input: CreateVmInput,
    ) -> Result<(Uuid, Committed), CommandError> {
        let owner = match ctx.account_id() {
            Some(id) => id,
            None => {
                return Err(CommandError::refused(
                    ErrorCode::Unauthenticated,
                    "log in first",
                ))
            }
        };
        let id = Uuid::new_v4();
        let password_hash = match input.password {
            Some(password) if !GUEST_PASSWORD_CHARS.contains(&password.chars().count()) => {
                return Err(CommandError::refused(
                    ErrorCode::BadInput,
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
        let command = VmCommand::Create(CreateVm {
            name: input.name,
            image: input.image,
            vcpus: input.vcpus,
            memory_mib: input.memory_mib,
            disk_gib: input.disk_gib,
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

    /// Runs one command against VM `id` after checking the policy it needs.
    pub async fn vm_command(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        command: VmCommand,
    ) -> Result<Committed, CommandError> {
        match policy_for(&command) {
            Some(policy) => ctx.authorize(policy)?,
            None => ctx.require_system()?,
        }
        self.execute_vm(ctx, &id.to_string(), command).await
    }
}
