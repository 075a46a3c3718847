use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, ID};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use distribox_commands::{Actor, ErrorCode, RequestContext};
use distribox_domain::policy::Policy;
use distribox_domain::role::ROLES;
use distribox_domain::vm::KeyboardLayout;
use distribox_projections::hypervisor::{recoverable, TILE_MAX_WIDTH};
use distribox_projections::usage::series;
use uuid::Uuid;

use super::access::{authorize_vm, request, Access};
use super::audit_log::{self, AuditArgs, AuditEntry};
use super::images::{self, CatalogueImage, Image};
use super::policies::{PolicyInfo, RolePreset};
use super::recording::ConsoleRecording;
use super::types::{Account, Host, Hypervisor, RecoverableVm, Vm, VmState};
use super::usage::{
    HostUsagePoint, HostUsageSeries, UsageGroup, UsagePoint, UsageReport, UsageSeries,
};
use crate::app::AppState;
use crate::error::ApiError;
use crate::host;
use crate::reads::Visible;
use crate::recordings;
use crate::usage;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 200;

pub struct QueryRoot;

/// Ids that are not UUIDs can't name anything: they are simply not found.
pub(super) fn parse_id(id: &ID, what: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::not_found(what))
}

/// Which VMs a listing shows the caller: all with `vms:get`, else those it owns or was granted
/// something on.
fn visible_to(caller: &RequestContext) -> Visible {
    match &caller.actor {
        Actor::Account {
            id,
            policies,
            scoped,
            ..
        } if !policies.allows(Policy::VmsGet) => Visible::Some {
            owner: *id,
            granted: scoped.grants.keys().copied().collect(),
        },
        _ => Visible::All,
    }
}

/// Refuses anything but a running VM, as the read model shows it.
pub(super) async fn require_running(state: &AppState, id: Uuid) -> Result<Vm, ApiError> {
    let vm = state
        .reads
        .vm(id)
        .await?
        .ok_or_else(|| ApiError::not_found("VM"))?;
    let vm = Vm::from(vm);
    if vm.state == VmState::Running {
        Ok(vm)
    } else {
        Err(ApiError::new(ErrorCode::Conflict, "VM is not running"))
    }
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let invalid = || ApiError::new(ErrorCode::BadInput, "invalid cursor").in_field("after");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| invalid())?)
        .ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

#[Object]
impl QueryRoot {
    /// The logged-in account.
    #[graphql(guard = "Access::policy(Policy::AuthMeGet)")]
    async fn me(&self, ctx: &Context<'_>) -> Result<Account> {
        let Actor::Account { id, .. } = &request(ctx)?.actor else {
            return Err(ApiError::new(ErrorCode::Unauthenticated, "log in first").into());
        };
        let state = ctx.data::<AppState>()?;
        let account = state
            .reads
            .account(*id)
            .await?
            .ok_or_else(|| ApiError::not_found("account"))?;
        Ok(account.into())
    }

    /// Every account, by username.
    #[graphql(guard = "Access::policy(Policy::UsersGet)")]
    async fn accounts(&self, ctx: &Context<'_>) -> Result<Vec<Account>> {
        let state = ctx.data::<AppState>()?;
        Ok(state
            .reads
            .accounts()
            .await?
            .into_iter()
            .map(Account::from)
            .collect())
    }

    /// The policy catalogue: every name an account can be granted.
    #[graphql(guard = "Access::policy(Policy::PoliciesGet)")]
    async fn policies(&self) -> Vec<String> {
        Policy::ALL.iter().map(|p| p.as_str().to_owned()).collect()
    }

    /// The policy catalogue with what each policy lets an account do.
    #[graphql(guard = "Access::policy(Policy::PoliciesGet)")]
    async fn policy_catalogue(&self) -> Vec<PolicyInfo> {
        Policy::ALL.iter().copied().map(PolicyInfo::from).collect()
    }

    /// Role presets (viewer, VM owner, operator, auditor, admin) that expand into policies.
    #[graphql(guard = "Access::policy(Policy::PoliciesGet)")]
    async fn role_presets(&self) -> Vec<RolePreset> {
        ROLES.iter().map(RolePreset::from).collect()
    }

    /// The policies that can be granted for one VM (`grantPolicy` with a `vmId`); a VM's owner
    /// holds them on it unless they were taken away.
    #[graphql(guard = "Access::policy(Policy::PoliciesGet)")]
    async fn vm_policies(&self) -> Vec<String> {
        Policy::ALL
            .iter()
            .filter(|p| p.is_vm_scoped())
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    /// Keyboard layouts a VM can have (`CreateVmInput.keyboardLayout`).
    #[graphql(guard = "Access::policy(Policy::ImagesGet)")]
    async fn keyboard_layouts(&self) -> Vec<String> {
        KeyboardLayout::names().map(str::to_owned).collect()
    }

    /// The image catalogue: images being imported, failed, ready and retired, by name. VMs
    /// are created on the ready ones.
    #[graphql(guard = "Access::policy(Policy::ImagesGet)")]
    async fn images(&self, ctx: &Context<'_>) -> Result<Vec<Image>> {
        images::list(ctx).await
    }

    #[graphql(guard = "Access::policy(Policy::ImagesGet)")]
    async fn image(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Image>> {
        images::get(ctx, &id).await
    }

    /// Official cloud images of common distributions, ready to import.
    #[graphql(guard = "Access::policy(Policy::ImagesGet)")]
    async fn image_catalogue(&self) -> Vec<CatalogueImage> {
        images::catalogue()
    }

    /// VMs in creation order, as a Relay connection.
    #[graphql(guard = "Access::vm(Policy::VmsGet)")]
    async fn vms(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Vm>> {
        let first = super::page_size(first.unwrap_or(DEFAULT_PAGE), 0..=MAX_PAGE)?;
        let after = after.as_deref().map(decode_cursor).transpose()?;
        let state = ctx.data::<AppState>()?;
        let (rows, has_next) = state
            .reads
            .vms_page(after, first, visible_to(request(ctx)?))
            .await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(encode_cursor(row.created_at, row.id), row.into())),
        );
        Ok(connection)
    }

    /// The host Distribox runs on.
    #[graphql(guard = "Access::policy(Policy::HostGet)")]
    async fn host(&self, ctx: &Context<'_>) -> Result<Host> {
        let state = ctx.data::<AppState>()?;
        let unavailable = state.hypervisor.health().unavailable();
        let hypervisor = Hypervisor {
            available: unavailable.is_none(),
            unavailable_since: unavailable.as_ref().map(|u| u.since),
            error: unavailable.map(|u| u.error),
            domain_type: state.hypervisor.domain_type().as_str().to_owned(),
            warning: state.kvm_warning.clone(),
        };
        let (resources, allocated) = tokio::try_join!(
            host::resources(state.data_dir.clone()),
            state.reads.allocated()
        )?;
        Ok(Host::new(hypervisor, resources, allocated))
    }

    /// A running VM's screen as a base64 PNG, scaled down to at most `maxWidth` pixels wide
    /// (a dashboard tile).
    #[graphql(guard = "Access::vm(Policy::VmsScreenshot)")]
    async fn vm_screenshot(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 320)] max_width: i32,
    ) -> Result<String> {
        let max_width = u32::try_from(max_width)
            .ok()
            .filter(|w| (16..=TILE_MAX_WIDTH).contains(w))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadInput,
                    format!("maxWidth must be between 16 and {TILE_MAX_WIDTH}"),
                )
            })?;
        let id = parse_id(&id, "VM")?;
        authorize_vm(ctx, Policy::VmsScreenshot, id).await?;
        let state = ctx.data::<AppState>()?;
        require_running(state, id).await?;
        let png = state
            .hypervisor
            .screenshot(id, max_width)
            .await
            .map_err(ApiError::from)?;
        Ok(STANDARD.encode(png))
    }

    /// Domains Distribox made but has no history of (say, after restoring an old database):
    /// adopt them with `adoptVm` or remove them with `discardRecoverableVm`.
    #[graphql(guard = "Access::policy(Policy::VmsRecover)")]
    async fn recoverable_vms(&self, ctx: &Context<'_>) -> Result<Vec<RecoverableVm>> {
        let state = ctx.data::<AppState>()?;
        let found = recoverable(&state.pool, &state.hypervisor)
            .await
            .map_err(ApiError::internal)?;
        Ok(found.into_iter().map(RecoverableVm::from).collect())
    }

    /// A recorded serial console session, or null if there is none with this id (the
    /// `session` of a VM's `ConsoleOpened` event).
    #[graphql(guard = "Access::policy(Policy::AuditGet)")]
    async fn console_recording(
        &self,
        ctx: &Context<'_>,
        session: ID,
    ) -> Result<Option<ConsoleRecording>> {
        let Ok(session) = parse_id(&session, "recording") else {
            return Ok(None);
        };
        let state = ctx.data::<AppState>()?;
        let row = recordings::recording(&state.pool, session).await?;
        Ok(row.map(ConsoleRecording::from))
    }

    /// The audit log, newest first: every event and every refusal, filtered (all filters
    /// combine). `actor` is `account:<id>`, `credential:<id>`, `system`, `anonymous` or a
    /// username; `outcome` is `ok`, `refused` or `failed`; `from` ≤ at < `to`.
    #[graphql(guard = "Access::policy(Policy::AuditGet)")]
    #[allow(clippy::too_many_arguments)]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        vm_id: Option<ID>,
        actor: Option<String>,
        action: Option<String>,
        outcome: Option<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Connection<String, AuditEntry>> {
        let state = ctx.data::<AppState>()?;
        let args = AuditArgs {
            vm_id,
            actor,
            action,
            outcome,
            from,
            to,
        };
        audit_log::page(state, args, first, after).await
    }

    /// What each VM, account or credential used in `[from, to)`, "as of" `asOf` if given
    /// (default now): later events are left out and whatever was still going is cut there.
    #[graphql(guard = "Access::policy(Policy::UsageGet)")]
    async fn usage_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "UsageGroup::Vm")] group_by: UsageGroup,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<UsageReport> {
        let state = ctx.data::<AppState>()?;
        let period = usage::Period::new(from, to, as_of, Utc::now())?;
        Ok(usage::report(state, period, group_by.into()).await?.into())
    }

    /// VM `vmId`'s samples over `[from, to)` in equal buckets, for charts. A VM that is gone
    /// keeps its samples.
    #[graphql(guard = "Access::policy(Policy::UsageGet)")]
    async fn vm_usage(
        &self,
        ctx: &Context<'_>,
        vm_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageSeries> {
        let state = ctx.data::<AppState>()?;
        let vm = vm_id.parse::<Uuid>().map_err(|_| {
            ApiError::new(ErrorCode::BadInput, "vmId is not a VM id").in_field("vmId")
        })?;
        let period = usage::Period::new(from, to, None, Utc::now())?;
        let step = usage::chart_step(state, &period);
        let points = series::vm_series(&state.pool, vm, period.from, period.to, step)
            .await
            .map_err(ApiError::from)?;
        Ok(UsageSeries {
            step_seconds: step as i32,
            points: points.into_iter().map(UsagePoint::from).collect(),
        })
    }

    /// The host's CPU, memory and disk over `[from, to)` in equal buckets, for charts.
    #[graphql(guard = "Access::policy(Policy::UsageGet)")]
    async fn host_usage(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HostUsageSeries> {
        let state = ctx.data::<AppState>()?;
        let period = usage::Period::new(from, to, None, Utc::now())?;
        let step = usage::chart_step(state, &period);
        let points = series::host_series(&state.pool, period.from, period.to, step)
            .await
            .map_err(ApiError::from)?;
        Ok(HostUsageSeries {
            step_seconds: step as i32,
            points: points.into_iter().map(HostUsagePoint::from).collect(),
        })
    }

    /// One VM, or null if there is none with this id.
    #[graphql(guard = "Access::vm(Policy::VmsGetById)")]
    async fn vm(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Vm>> {
        let Ok(id) = parse_id(&id, "VM") else {
            return Ok(None);
        };
        let state = ctx.data::<AppState>()?;
        let row = state.reads.vm(id).await?;
        let caller = request(ctx)?;
        Ok(row
            .filter(|row| caller.sees_vm(row.id, Some(row.owner)))
            .map(Vm::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("12|not-a-uuid")).is_err());
    }
}
