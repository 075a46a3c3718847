use async_graphql::{Context, Result, Subscription, ID};
use distribox_domain::policy::Policy;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::access::{request, Access};
use super::audit_log::{AuditArgs, AuditEntry};
use super::images::{self, ImageProgress};
use super::query::parse_id;
use super::types::VmEvent;
use crate::app::AppState;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// New audit log entries as they are recorded, matching the filters (as in `auditLog`,
    /// without the time range).
    #[graphql(guard = "Access::policy(Policy::AuditGet)")]
    async fn audit_tail(
        &self,
        ctx: &Context<'_>,
        vm_id: Option<ID>,
        actor: Option<String>,
        action: Option<String>,
        outcome: Option<String>,
    ) -> Result<impl Stream<Item = AuditEntry>> {
        let state = ctx.data::<AppState>()?.clone();
        let args = AuditArgs {
            vm_id,
            actor,
            action,
            outcome,
            from: None,
            to: None,
        };
        let filter = args.filter(&state).await?;
        let appended = BroadcastStream::new(state.audit.subscribe());
        Ok(appended.filter_map(move |appended| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                // A subscriber that fell too far behind skips what it missed rather than dying.
                let appended = appended.ok()?;
                let row = crate::audit_log::entry(&state.pool, &filter, appended.chain_index)
                    .await
                    .ok()
                    .flatten()?;
                Some(AuditEntry::from(row))
            }
        }))
    }

    /// Progress of imports (or of one), a few updates a second: bytes, total, rate, phase.
    #[graphql(guard = "Access::policy(Policy::ImagesGet)")]
    async fn image_progress(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
    ) -> Result<impl Stream<Item = ImageProgress>> {
        images::progress(ctx, id)
    }

    /// Every committed change to VMs (or to one VM), as it happens.
    #[graphql(guard = "Access::vm(Policy::VmsGet)")]
    async fn vm_events(
        &self,
        ctx: &Context<'_>,
        vm_id: Option<ID>,
    ) -> Result<impl Stream<Item = VmEvent>> {
        let only = vm_id.as_ref().map(|id| parse_id(id, "VM")).transpose()?;
        let state = ctx.data::<AppState>()?.clone();
        let caller = request(ctx)?.clone();
        let changes = BroadcastStream::new(state.vms.subscribe());
        Ok(changes.filter_map(move |change| {
            let (state, caller) = (state.clone(), caller.clone());
            async move {
                // A subscriber that fell too far behind skips what it missed rather than dying.
                let change = change.ok()?;
                if only.is_some_and(|id| id != change.vm_id) {
                    return None;
                }
                // Callers without `vms:get` see only the VMs they own or were granted, as in
                // the `vms` listing.
                if caller.authorize(Policy::VmsGet).is_err() {
                    let owner = state.reads.vm(change.vm_id).await.ok().flatten()?.owner;
                    caller.sees_vm(change.vm_id, Some(owner)).then_some(())?;
                }
                Some(change.into())
            }
        }))
    }
}
