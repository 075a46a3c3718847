//! Image commands: each states the policy it needs, next to the command it guards.

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateContext, EventStore};
use distribox_domain::image::{Image, ImageCommand, ImageSource, ImageSummary, MetadataInput};
use distribox_domain::policy::Policy;
use postgres_es::PostgresEventRepository;
use uuid::Uuid;

use crate::{CommandBus, CommandError, Committed, RequestContext};

/// A fresh image id.
pub fn new_image_id() -> String {
    Uuid::new_v4().to_string()
}

fn policy_for(command: &ImageCommand) -> Option<Policy> {
    match command {
        ImageCommand::RequestImport { .. }
        | ImageCommand::RetryImport
        | ImageCommand::ChangeMetadata(_) => Some(Policy::ImagesImport),
        ImageCommand::Retire | ImageCommand::Reinstate | ImageCommand::Delete { .. } => {
            Some(Policy::ImagesDelete)
        }
        // Importer reports: only the system itself.
        ImageCommand::ReportImported(_) | ImageCommand::ReportImportFailed { .. } => None,
    }
}

impl CommandBus {
    /// Asks for a new image with a fresh `id` ([`new_image_id`]). The importer picks the
    /// request up from the log (downloads), or the caller feeds it the bytes (uploads), having
    /// claimed the id first.
    pub async fn request_image_import(
        &self,
        ctx: &RequestContext,
        id: &str,
        metadata: MetadataInput,
        source: ImageSource,
    ) -> Result<Committed, CommandError> {
        self.image_command(ctx, id, ImageCommand::RequestImport { metadata, source })
            .await
    }

    /// Refuses deletion while VMs are built on the image, naming them.
    pub async fn delete_image(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Committed, CommandError> {
        // Checked first, so a caller without the policy learns nothing about the VMs.
        ctx.authorize(Policy::ImagesDelete)?;
        let used_by = self.vms_built_on(id).await?;
        self.image_command(ctx, id, ImageCommand::Delete { used_by })
            .await
    }

    /// Runs one command against image `id` after checking the policy it needs.
    pub async fn image_command(
        &self,
        ctx: &RequestContext,
        id: &str,
        command: ImageCommand,
    ) -> Result<Committed, CommandError> {
        match policy_for(&command) {
            Some(policy) => ctx.authorize(policy)?,
            None => ctx.require_system()?,
        }
        self.execute_image(ctx, id, command).await
    }

    /// Image `id` as its events leave it (an absent image if it has none): the authority, unlike
    /// read models, which may lag.
    pub async fn load_image(&self, id: &str) -> Result<Image, CommandError> {
        let store = PersistedEventStore::<PostgresEventRepository, Image>::new_event_store(
            PostgresEventRepository::new(self.pool.clone()),
        );
        let mut context = store
            .load_aggregate(id)
            .await
            .map_err(|err| CommandError::Internal(err.to_string().into()))?;
        Ok(context.aggregate().clone())
    }

    /// What creating a VM on image `id` needs to know about it.
    pub(crate) async fn image_summary(&self, id: &str) -> Result<ImageSummary, CommandError> {
        Ok(self.load_image(id).await?.summary(id))
    }

    /// The names of the VMs not yet deleted whose disks are built on image `id`, clones
    /// included (they are created on their source's image). Read from the log, not the `vms`
    /// read model: a VM created a moment ago must count.
    async fn vms_built_on(&self, id: &str) -> Result<Vec<String>, CommandError> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(v.name, c.payload->'VmCreated'->'spec'->>'name') AS name
               FROM events c LEFT JOIN vms v ON v.id::text = c.aggregate_id
              WHERE c.event_type = 'VmCreated' AND c.payload->'VmCreated'->>'image' = $1
                AND NOT EXISTS (SELECT 1 FROM events d
                                 WHERE d.aggregate_type = 'Vm' AND d.aggregate_id = c.aggregate_id
                                   AND d.event_type = 'VmDeleted')
              ORDER BY name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }
}
