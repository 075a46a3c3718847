use async_graphql::{Context, Result, Subscription, ID};
use distribox_domain::policy::Policy;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::access::Access;
use super::query::parse_id;
use super::types::VmEvent;
use crate::app::AppState;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every committed change to VMs (or to one VM), as it happens.
    #[graphql(guard = "Access::policy(Policy::VmsGet)")]
    async fn vm_events(
        &self,
        ctx: &Context<'_>,
        vm_id: Option<ID>,
    ) -> Result<impl Stream<Item = VmEvent>> {
        let only = vm_id.as_ref().map(|id| parse_id(id, "VM")).transpose()?;
        let state = ctx.data::<AppState>()?;
        let changes = BroadcastStream::new(state.vms.subscribe());
        Ok(changes.filter_map(move |change| async move {
            // A subscriber that fell too far behind skips what it missed rather than dying.
            let change = change.ok()?;
            only.is_none_or(|id| id == change.vm_id)
                .then(|| change.into())
        }))
    }
}
