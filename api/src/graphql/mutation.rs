use async_graphql::{Context, Object, Result, ID};
use axum::http::header;
use distribox_commands::{Committed, CreateVmInput as CreateVmCommand, ErrorCode, FoundVm};
use distribox_console_relay::Ticket;
use distribox_domain::console::ConsoleKind as DomainConsoleKind;
use distribox_domain::policy::Policy;
use distribox_domain::vm::VmCommand;
use distribox_domain::vm::VmName;
use distribox_projections::hypervisor::recoverable;
use uuid::Uuid;

use super::access::{authorize_vm, request, Access};
use super::images::{self, Image, ImageMetadataInput, ImportImageInput};
use super::query::{parse_id, require_running};
use chrono::{DateTime, Utc};
use distribox_domain::image::ImageCommand;

use super::types::{
    Account, ConsoleKind, ConsoleTicket, CreateAccountInput, CreateVmInput, CreatedAccount,
    IssuedCredential, LoginResult, Snapshot, Vm,
};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::session_cookie::Transport;

pub struct MutationRoot;

fn non_negative(field: &str, value: i32) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| {
        ApiError::new(ErrorCode::BadInput, format!("{field} must not be negative")).in_field(field)
    })
}

impl MutationRoot {
    /// Runs a VM command and answers with the VM as the read model shows it after the change.
    async fn vm_command(&self, ctx: &Context<'_>, id: &ID, command: VmCommand) -> Result<Vm> {
        let id = parse_id(id, "VM")?;
        let state = ctx.data::<AppState>()?;
        let committed = state
            .bus
            .vm_command(request(ctx)?, id, command)
            .await
            .map_err(ApiError::from)?;
        let row = state.reads.vm_at_least(id, committed.version).await?;
        Ok(row.ok_or_else(|| ApiError::not_found("VM"))?.into())
    }

    /// Account `id` as the read model shows it once `committed` is in it.
    async fn account_after(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        committed: &Committed,
    ) -> Result<Account> {
        let state = ctx.data::<AppState>()?;
        let account = state
            .reads
            .account_at_least(id, committed.version, false)
            .await?
            .ok_or_else(|| ApiError::not_found("account"))?;
        Ok(account.into())
    }

    /// Disables (or deletes) an account and waits until its sessions are dead.
    async fn end_account_access(&self, ctx: &Context<'_>, id: &ID, delete: bool) -> Result<bool> {
        let id = parse_id(id, "account")?;
        let state = ctx.data::<AppState>()?;
        let committed = state
            .bus
            .end_account_access(request(ctx)?, id, delete)
            .await
            .map_err(ApiError::from)?;
        state
            .reads
            .account_at_least(id, committed.version, delete)
            .await?;
        Ok(true)
    }

    async fn change_policy(
        &self,
        ctx: &Context<'_>,
        account: ID,
        policy: String,
        vm: Option<ID>,
        grant: bool,
    ) -> Result<bool> {
        let account = parse_id(&account, "account")?;
        let vm = vm.as_ref().map(|vm| parse_id(vm, "VM")).transpose()?;
        let state = ctx.data::<AppState>()?;
        let caller = request(ctx)?;
        let committed = state
            .bus
            .change_policy(caller, account, policy, vm, grant)
            .await
            .map_err(ApiError::from)?;
        state
            .reads
            .account_at_least(account, committed.version, false)
            .await?;
        Ok(true)
    }

    /// Adopts (or discards) recoverable domain `domain_name`.
    async fn adopt(
        &self,
        ctx: &Context<'_>,
        domain_name: &str,
        discard: bool,
    ) -> Result<(Uuid, Committed)> {
        let state = ctx.data::<AppState>()?;
        let found = recoverable(&state.pool, &state.hypervisor)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .find(|found| found.domain == domain_name)
            .ok_or_else(|| ApiError::not_found("recoverable domain"))?;
        let name = if VmName::parse(&found.title).is_ok() {
            found.title.clone()
        } else {
            found.domain.clone()
        };
        let vm = FoundVm {
            name,
            vcpus: found.vcpus,
            memory_mib: found.memory_mib,
            disk_gib: found.disk_gib,
            image: found.image,
            running: found.running,
        };
        let committed = state
            .bus
            .adopt_vm(request(ctx)?, found.id, vm, discard)
            .await
            .map_err(ApiError::from)?;
        Ok((found.id, committed))
    }
}

#[Object]
impl MutationRoot {
    /// Exchanges a username and password for a bearer token. Over HTTP it also starts the
    /// browser's session cookie, so a web page never needs to hold the token.
    #[graphql(guard = "Access::Public")]
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<LoginResult> {
        let state = ctx.data::<AppState>()?;
        let success = state
            .bus
            .login(request(ctx)?, &username, &password)
            .await
            .map_err(ApiError::from)?;
        let account = state
            .reads
            .account(success.account_id)
            .await?
            .ok_or_else(|| ApiError::not_found("account"))?;
        if let Some(transport) = ctx.data_opt::<Transport>() {
            ctx.append_http_header(header::SET_COOKIE, transport.start(&success.token));
        }
        Ok(LoginResult {
            token: success.token,
            account: account.into(),
        })
    }

    /// Ends the caller's session (its token stops working at once) and clears the browser's
    /// session cookie, which every tab shares.
    #[graphql(guard = "Access::LoggedIn")]
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let state = ctx.data::<AppState>()?;
        state
            .bus
            .logout(request(ctx)?)
            .await
            .map_err(ApiError::from)?;
        if let Some(transport) = ctx.data_opt::<Transport>() {
            ctx.append_http_header(header::SET_COOKIE, transport.end());
        }
        Ok(true)
    }

    /// Changes the caller's own password. Every session of the account ends, this one too:
    /// log in again with the new password.
    #[graphql(guard = "Access::policy(Policy::AuthChangePassword)")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current: String,
        #[graphql(secret)] new: String,
    ) -> Result<bool> {
        let state = ctx.data::<AppState>()?;
        let ctx = request(ctx)?;
        let committed = state
            .bus
            .change_password(ctx, current, new)
            .await
            .map_err(ApiError::from)?;
        let id = ctx.account_id().unwrap_or_default();
        state
            .reads
            .account_at_least(id, committed.version, false)
            .await?;
        Ok(true)
    }

    /// A new account. Without a password one is generated and returned this once.
    #[graphql(guard = "Access::policy(Policy::UsersCreate)")]
    async fn create_account(
        &self,
        ctx: &Context<'_>,
        input: CreateAccountInput,
    ) -> Result<CreatedAccount> {
        let state = ctx.data::<AppState>()?;
        let created = state
            .bus
            .create_account(
                request(ctx)?,
                &input.username,
                input.password,
                input.policies,
            )
            .await
            .map_err(ApiError::from)?;
        let account = state
            .reads
            .account_at_least(created.id, created.committed.version, false)
            .await?
            .ok_or_else(|| ApiError::not_found("account"))?;
        Ok(CreatedAccount {
            account: account.into(),
            password: created.generated_password,
        })
    }

    /// Replaces an account's policies.
    #[graphql(guard = "Access::policy(Policy::UsersUpdatePolicies)")]
    async fn set_account_policies(
        &self,
        ctx: &Context<'_>,
        id: ID,
        policies: Vec<String>,
    ) -> Result<Account> {
        let id = parse_id(&id, "account")?;
        let state = ctx.data::<AppState>()?;
        let committed = state
            .bus
            .set_account_policies(request(ctx)?, id, policies)
            .await
            .map_err(ApiError::from)?;
        self.account_after(ctx, id, &committed).await
    }

    /// Grants a policy to an account: globally, or with `vmId` on that VM only.
    #[graphql(guard = "Access::policy(Policy::UsersUpdatePolicies)")]
    async fn grant_policy(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        policy: String,
        vm_id: Option<ID>,
    ) -> Result<bool> {
        self.change_policy(ctx, account_id, policy, vm_id, true)
            .await
    }

    /// Grants several policies to an account in one change (all or none): globally, or with
    /// `vmId` on that VM only.
    #[graphql(guard = "Access::policy(Policy::UsersUpdatePolicies)")]
    async fn grant_policies(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        policies: Vec<String>,
        vm_id: Option<ID>,
    ) -> Result<Account> {
        let account = parse_id(&account_id, "account")?;
        let vm = vm_id.as_ref().map(|vm| parse_id(vm, "VM")).transpose()?;
        let state = ctx.data::<AppState>()?;
        let committed = state
            .bus
            .grant_policies(request(ctx)?, account, policies, vm)
            .await
            .map_err(ApiError::from)?;
        self.account_after(ctx, account, &committed).await
    }

    /// Takes a policy away from an account: globally, or with `vmId` on that VM only (which
    /// also takes it from a VM's owner).
    #[graphql(guard = "Access::policy(Policy::UsersUpdatePolicies)")]
    async fn revoke_policy(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        policy: String,
        vm_id: Option<ID>,
    ) -> Result<bool> {
        self.change_policy(ctx, account_id, policy, vm_id, false)
            .await
    }

    /// Disables an account: its sessions end and it can't log in.
    #[graphql(guard = "Access::policy(Policy::UsersDelete)")]
    async fn disable_account(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        self.end_account_access(ctx, &id, false).await
    }

    /// Lets a disabled account log in again. Sessions the disable ended stay ended.
    #[graphql(guard = "Access::policy(Policy::UsersDelete)")]
    async fn enable_account(&self, ctx: &Context<'_>, id: ID) -> Result<Account> {
        let id = parse_id(&id, "account")?;
        let state = ctx.data::<AppState>()?;
        let committed = state
            .bus
            .enable_account(request(ctx)?, id)
            .await
            .map_err(ApiError::from)?;
        self.account_after(ctx, id, &committed).await
    }

    /// Deletes an account for good; its username is never reused.
    #[graphql(guard = "Access::policy(Policy::UsersDelete)")]
    async fn delete_account(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        self.end_account_access(ctx, &id, true).await
    }

    #[graphql(guard = "Access::policy(Policy::VmsCreate)")]
    async fn create_vm(&self, ctx: &Context<'_>, input: CreateVmInput) -> Result<Vm> {
        let state = ctx.data::<AppState>()?;
        let command = CreateVmCommand {
            name: input.name,
            image: input.image,
            vcpus: non_negative("vcpus", input.vcpus)?,
            memory_mib: non_negative("memoryMib", input.memory_mib)?.into(),
            disk_gib: non_negative("diskGib", input.disk_gib)?.into(),
            start: input.start,
            keyboard_layout: input.keyboard_layout,
            autostart: input.autostart,
            hostname: input.hostname,
            user: input.user,
            password: input.password,
            ssh_keys: input.ssh_keys,
        };
        let (id, committed) = state
            .bus
            .create_vm(request(ctx)?, command.clone())
            .await
            .map_err(ApiError::from)?;
        match state.reads.vm_at_least(id, committed.version).await? {
            Some(row) => Ok(row.into()),
            // The VM exists; only the read model is late. Answer from what was committed rather
            // than with an error a client would retry (creating a second VM).
            None => Ok(Vm::just_created(id, request(ctx)?, &command)),
        }
    }

    #[graphql(guard = "Access::vm(Policy::VmsStart)")]
    async fn start_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Start).await
    }

    /// Powers the VM off at once, like pulling the plug.
    #[graphql(guard = "Access::vm(Policy::VmsStop)")]
    async fn force_stop_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::ForceStop).await
    }

    /// Presses the ACPI power button. The VM shows STOPPING until the guest powers off; if it
    /// hasn't within the grace period it is RUNNING again, with a `failure` saying so.
    #[graphql(guard = "Access::vm(Policy::VmsStop)")]
    async fn shutdown_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Shutdown).await
    }

    /// Asks the guest to reboot (ACPI).
    #[graphql(guard = "Access::vm(Policy::VmsReboot)")]
    async fn reboot_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Reboot).await
    }

    /// Freezes a running VM's vCPUs; memory and devices stay as they are.
    #[graphql(guard = "Access::vm(Policy::VmsPause)")]
    async fn pause_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Pause).await
    }

    #[graphql(guard = "Access::vm(Policy::VmsPause)")]
    async fn resume_vm(&self, ctx: &Context<'_>, id: ID) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Resume).await
    }

    /// Changes the display name (any state but deleted).
    #[graphql(guard = "Access::vm(Policy::VmsRename)")]
    async fn rename_vm(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::Rename { name }).await
    }

    /// Sets the VM's note (null or blank: none) and tags (replacing them all).
    #[graphql(guard = "Access::vm(Policy::VmsRename)")]
    async fn set_vm_labels(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
        tags: Vec<String>,
    ) -> Result<Vm> {
        self.vm_command(ctx, &id, VmCommand::SetLabels { note, tags })
            .await
    }

    /// Downloads an image into the catalogue. Answers at once with the image `IMPORTING`;
    /// `imageProgress` follows the download, and the image turns `READY` or `FAILED`.
    #[graphql(guard = "Access::policy(Policy::ImagesImport)")]
    async fn import_image(&self, ctx: &Context<'_>, input: ImportImageInput) -> Result<Image> {
        images::import(ctx, input).await
    }

    /// Downloads a failed import's URL once more.
    #[graphql(guard = "Access::policy(Policy::ImagesImport)")]
    async fn retry_image_import(&self, ctx: &Context<'_>, id: ID) -> Result<Image> {
        images::command(ctx, &id, ImageCommand::RetryImport).await
    }

    /// Describes an image anew (name, OS, default user, firmware, description).
    #[graphql(guard = "Access::policy(Policy::ImagesImport)")]
    async fn update_image(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ImageMetadataInput,
    ) -> Result<Image> {
        images::command(ctx, &id, ImageCommand::ChangeMetadata(input.into())).await
    }

    /// Hides an image from new VMs; the VMs built on it keep working.
    #[graphql(guard = "Access::policy(Policy::ImagesDelete)")]
    async fn retire_image(&self, ctx: &Context<'_>, id: ID) -> Result<Image> {
        images::command(ctx, &id, ImageCommand::Retire).await
    }

    /// Offers a retired image to new VMs again.
    #[graphql(guard = "Access::policy(Policy::ImagesDelete)")]
    async fn reinstate_image(&self, ctx: &Context<'_>, id: ID) -> Result<Image> {
        images::command(ctx, &id, ImageCommand::Reinstate).await
    }

    /// Deletes an image and its file; `CONFLICT`, naming them, while VMs are built on it.
    /// Deleting an image being imported cancels the import.
    #[graphql(guard = "Access::policy(Policy::ImagesDelete)")]
    async fn delete_image(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        images::delete(ctx, &id).await
    }

    /// New vCPUs and memory, and a disk at least as large, for a stopped VM. A disk with
    /// snapshots can't grow.
    #[graphql(guard = "Access::vm(Policy::VmsResize)")]
    async fn resize_vm(
        &self,
        ctx: &Context<'_>,
        id: ID,
        vcpus: i32,
        memory_mib: i32,
        disk_gib: i32,
    ) -> Result<Vm> {
        let command = VmCommand::Resize {
            vcpus: non_negative("vcpus", vcpus)?,
            memory_mib: non_negative("memoryMib", memory_mib)?.into(),
            disk_gib: non_negative("diskGib", disk_gib)?.into(),
        };
        self.vm_command(ctx, &id, command).await
    }

    /// A new VM with a copy of a stopped VM's disk: same resources and guest login, a new
    /// identity (id, hostname, cloud-init instance id). The caller owns the copy.
    #[graphql(guard = "Access::vm(Policy::VmsDuplicate)")]
    async fn clone_vm(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Vm> {
        let source = parse_id(&id, "VM")?;
        let state = ctx.data::<AppState>()?;
        let (id, committed) = state
            .bus
            .clone_vm(request(ctx)?, source, name)
            .await
            .map_err(ApiError::from)?;
        let row = state.reads.vm_at_least(id, committed.version).await?;
        Ok(row.ok_or_else(|| ApiError::not_found("VM"))?.into())
    }

    /// Takes over a domain from `recoverableVms` as a VM the caller owns, running or stopped as
    /// libvirt has it.
    #[graphql(guard = "Access::policy(Policy::VmsRecover)")]
    async fn adopt_vm(&self, ctx: &Context<'_>, domain_name: String) -> Result<Vm> {
        let state = ctx.data::<AppState>()?;
        let (id, committed) = self.adopt(ctx, &domain_name, false).await?;
        let row = state.reads.vm_at_least(id, committed.version).await?;
        Ok(row.ok_or_else(|| ApiError::not_found("VM"))?.into())
    }

    /// Removes a domain from `recoverableVms` with its disks. It is recorded like any VM
    /// deletion: adopted, then deleted.
    #[graphql(guard = "Access::policy(Policy::VmsRecover)")]
    async fn discard_recoverable_vm(&self, ctx: &Context<'_>, domain_name: String) -> Result<bool> {
        self.adopt(ctx, &domain_name, true).await.map(|_| true)
    }

    /// Snapshots a stopped VM's disk, or a running VM's disk and memory. The snapshot is
    /// `TAKING` until the hypervisor has taken it.
    #[graphql(guard = "Access::vm(Policy::VmsSnapshotsCreate)")]
    async fn take_snapshot(&self, ctx: &Context<'_>, vm_id: ID, name: String) -> Result<Snapshot> {
        let vm = parse_id(&vm_id, "VM")?;
        let state = ctx.data::<AppState>()?;
        let (snapshot, committed) = state
            .bus
            .take_snapshot(request(ctx)?, vm, name)
            .await
            .map_err(ApiError::from)?;
        let row = state
            .reads
            .vm_at_least(vm, committed.version)
            .await?
            .ok_or_else(|| ApiError::not_found("VM"))?;
        let id = ID(snapshot.to_string());
        Vm::from(row)
            .snapshots
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("snapshot").into())
    }

    /// Returns a stopped VM to a snapshot. A snapshot with memory leaves it running.
    #[graphql(guard = "Access::vm(Policy::VmsSnapshotsRevert)")]
    async fn revert_snapshot(&self, ctx: &Context<'_>, vm_id: ID, snapshot_id: ID) -> Result<bool> {
        let id = parse_id(&snapshot_id, "snapshot")?;
        self.vm_command(ctx, &vm_id, VmCommand::RevertSnapshot { id })
            .await
            .map(|_| true)
    }

    #[graphql(guard = "Access::vm(Policy::VmsSnapshotsDelete)")]
    async fn delete_snapshot(&self, ctx: &Context<'_>, vm_id: ID, snapshot_id: ID) -> Result<bool> {
        let id = parse_id(&snapshot_id, "snapshot")?;
        self.vm_command(ctx, &vm_id, VmCommand::DeleteSnapshot { id })
            .await
            .map(|_| true)
    }

    /// Deletes a VM with its disks, snapshots and seed. A running VM is refused unless `force`
    /// is set, which powers it off first. Returns once the deletion is recorded; the VM
    /// disappears when the hypervisor has removed it.
    #[graphql(guard = "Access::vm(Policy::VmsDelete)")]
    async fn delete_vm(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = false)] force: bool,
    ) -> Result<bool> {
        let id = parse_id(&id, "VM")?;
        let state = ctx.data::<AppState>()?;
        state
            .bus
            .vm_command(request(ctx)?, id, VmCommand::Delete { force })
            .await
            .map_err(ApiError::from)?;
        Ok(true)
    }

    /// A single-use websocket URL for the VM's console, valid for about 30 seconds. Viewers
    /// share the console; a `viewOnly` one sees everything and types nothing.
    #[graphql(guard = "Access::vm(Policy::VmsConnect)")]
    async fn open_console(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        kind: ConsoleKind,
        #[graphql(default = false)] view_only: bool,
    ) -> Result<ConsoleTicket> {
        let id: Uuid = parse_id(&vm_id, "VM")?;
        authorize_vm(ctx, Policy::VmsConnect, id).await?;
        let state = ctx.data::<AppState>()?;
        let caller = request(ctx)?;
        let holder = Holder {
            principal: caller.actor_label(),
            revoked_by: caller.revocation_keys(),
            ends_at: None,
            authorized_at: caller.authenticated_at,
            view_only,
        };
        console_ticket(state, id, kind, holder).await
    }

    /// Issues a credential for the VM; its secret is in the answer and never shown again.
    #[graphql(guard = "Access::vm(Policy::VmsCredentialsCreate)")]
    async fn issue_vm_credential(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        name: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<IssuedCredential> {
        let vm = parse_id(&vm_id, "VM")?;
        let state = ctx.data::<AppState>()?;
        let issued = state
            .bus
            .issue_vm_credential(request(ctx)?, vm, name, expires_at)
            .await
            .map_err(ApiError::from)?;
        state
            .reads
            .vm_at_least(vm, issued.committed.version)
            .await?;
        let credential = state
            .reads
            .credentials(vm)
            .await?
            .into_iter()
            .find(|c| c.id == issued.id)
            .ok_or_else(|| ApiError::not_found("credential"))?;
        Ok(IssuedCredential {
            credential: credential.into(),
            secret: issued.secret,
        })
    }

    /// Revokes a credential: it opens nothing any more, and consoles opened with it close.
    #[graphql(guard = "Access::vm(Policy::VmsCredentialsRevoke)")]
    async fn revoke_vm_credential(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        credential_id: ID,
    ) -> Result<bool> {
        let id = parse_id(&credential_id, "credential")?;
        self.vm_command(ctx, &vm_id, VmCommand::RevokeCredential { id })
            .await
            .map(|_| true)
    }

    /// A console of the credential's VM, for someone without an account: the only thing a
    /// credential can do. Wrong secrets are throttled per address.
    #[graphql(guard = "Access::Public")]
    async fn open_console_with_credential(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] secret: String,
        kind: ConsoleKind,
    ) -> Result<ConsoleTicket> {
        let state = ctx.data::<AppState>()?;
        let authorized_at = std::time::Instant::now();
        let grant = state
            .bus
            .redeem_credential(request(ctx)?, &secret)
            .await
            .map_err(ApiError::from)?;
        let principal = format!("credential:{}", grant.credential);
        let holder = Holder {
            revoked_by: vec![principal.clone()],
            principal,
            ends_at: grant.expires_at,
            authorized_at,
            view_only: false,
        };
        console_ticket(state, grant.vm, kind, holder).await
    }
}

/// Who a console ticket is for, and what ends the console.
struct Holder {
    principal: String,
    revoked_by: Vec<String>,
    ends_at: Option<DateTime<Utc>>,
    /// When the caller's access was checked (before the check, to be safe).
    authorized_at: std::time::Instant,
    view_only: bool,
}

/// A single-use console ticket for running VM `vm`; deleting the VM ends the console too.
async fn console_ticket(
    state: &AppState,
    vm: Uuid,
    kind: ConsoleKind,
    holder: Holder,
) -> Result<ConsoleTicket> {
    let running = require_running(state, vm).await?;
    let kind = DomainConsoleKind::from(kind);
    let mut revoked_by = holder.revoked_by;
    revoked_by.push(format!("vm:{vm}"));
    let issued = state.relay.tickets.issue(Ticket {
        vm_id: vm,
        kind,
        principal: holder.principal,
        revoked_by,
        ends_at: holder.ends_at,
        authorized_at: holder.authorized_at,
        view_only: holder.view_only,
    });
    Ok(ConsoleTicket {
        url: format!("/console/ws?ticket={}", issued.secret),
        expires_at: issued.expires_at,
        vm_id: running.id,
        vm_name: running.name,
        view_only: holder.view_only,
        ends_at: holder.ends_at,
    })
}
