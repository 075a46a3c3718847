//! `distribox images import|list|rm`: the catalogue from the host's shell, through the same
//! commands (and so the same log) as the API, as the `system` actor.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use distribox_commands::{new_image_id, CommandBus, RequestContext};
use distribox_domain::image::{Digest, Image, ImageSource, ImageStatus, MetadataInput};
use distribox_projections::images::import::{file_name, ImportFailure, Importer};
use futures::StreamExt;

use crate::app::connect_migrated;
use crate::images::BusImportReporter;
use crate::Config;

/// What `images import` was given.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// An http(s):// URL, or a file on this host.
    pub source: String,
    /// The file's SHA-256, as hex digits.
    #[arg(long, conflicts_with = "checksum_url")]
    pub sha256: Option<String>,
    /// The vendor's checksum file that lists the image (URLs only).
    #[arg(long)]
    pub checksum_url: Option<String>,
    /// The name shown in the catalogue (default: the file's name).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub os_family: Option<String>,
    #[arg(long)]
    pub os_version: Option<String>,
    #[arg(long)]
    pub default_user: Option<String>,
    /// `bios` (default) or `uefi`.
    #[arg(long)]
    pub firmware: Option<String>,
}

async fn services(config: &Config) -> anyhow::Result<(Arc<CommandBus>, Importer)> {
    let pool = connect_migrated(config).await?;
    let bus = Arc::new(CommandBus::new(pool.clone(), config.session_lifetimes()));
    let importer = Importer::new(
        pool,
        config.images_dir(),
        config.import_limits(),
        Arc::new(BusImportReporter(bus.clone())),
    );
    Ok((bus, importer))
}

/// Imports one image and waits for the outcome; its id.
pub async fn import(config: &Config, args: ImportArgs) -> anyhow::Result<String> {
    let (bus, importer) = services(config).await?;
    let remote = ["http://", "https://"]
        .iter()
        .any(|scheme| args.source.to_ascii_lowercase().starts_with(scheme));
    let default_name = if remote {
        file_name(&args.source)
    } else {
        Path::new(&args.source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let metadata = MetadataInput {
        name: args.name.unwrap_or(default_name.clone()),
        os_family: args.os_family,
        os_version: args.os_version,
        default_user: args.default_user,
        firmware: args.firmware,
        description: None,
    };
    let refused = |e: distribox_domain::DomainError| anyhow::anyhow!("{e}");
    let source = if remote {
        ImageSource::url(
            &args.source,
            args.sha256.as_deref(),
            args.checksum_url.as_deref(),
        )
        .map_err(refused)?
    } else {
        anyhow::ensure!(
            args.checksum_url.is_none(),
            "--checksum-url is for URLs; give --sha256 for a file"
        );
        ImageSource::Upload {
            file_name: default_name,
        }
    };
    let expected = args
        .sha256
        .as_deref()
        .map(Digest::sha256)
        .transpose()
        .map_err(refused)?;
    let id = new_image_id();
    let _lock = importer
        .lock(&id)
        .await?
        .context("a fresh image id is locked")?;
    bus.request_image_import(&RequestContext::system(), &id, metadata, source.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("importing image {id}");
    let printer = tokio::spawn(print_progress(importer.clone()));
    let outcome = match source {
        ImageSource::Url {
            url,
            digest,
            checksum_url,
        } => {
            importer
                .download(&id, &url, digest, checksum_url.as_deref())
                .await
        }
        _ => match tokio::fs::File::open(&args.source).await {
            Ok(file) => {
                let size = file.metadata().await.ok().map(|m| m.len());
                let chunks = futures::stream::unfold(file, |mut file| async move {
                    use tokio::io::AsyncReadExt;
                    let mut buffer = vec![0u8; 1 << 20];
                    match file.read(&mut buffer).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buffer.truncate(n);
                            Some((Ok(bytes::Bytes::from(buffer)), file))
                        }
                        Err(err) => Some((Err(err), file)),
                    }
                });
                importer
                    .receive(&id, Box::pin(chunks), size, expected)
                    .await
            }
            Err(err) => Err(ImportFailure::Failed(format!(
                "cannot read {}: {err}",
                args.source
            ))),
        },
    };
    let answer = outcome
        .as_ref()
        .map(drop)
        .map_err(|e| e.reason().to_owned());
    let recorded = importer.finish(&id, outcome).await;
    let answer = answer.and(recorded);
    printer.abort();
    answer.map_err(|reason| anyhow::anyhow!("import failed: {reason}"))?;
    Ok(id)
}

async fn print_progress(importer: Importer) {
    let mut updates = tokio_stream::wrappers::BroadcastStream::new(importer.progress().subscribe());
    while let Some(Ok(update)) = updates.next().await {
        let total = update
            .total
            .map(|t| format!(" of {} MiB", t >> 20))
            .unwrap_or_default();
        eprintln!(
            "{:?}: {} MiB{total}, {} MiB/s",
            update.phase,
            update.bytes >> 20,
            update.rate >> 20
        );
    }
}

/// Every image in the log that is not deleted, from its events (no server needed).
pub async fn list(config: &Config) -> anyhow::Result<Vec<(String, Image)>> {
    let pool = connect_migrated(config).await?;
    let bus = CommandBus::new(pool.clone(), config.session_lifetimes());
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_type = 'Image'
          GROUP BY aggregate_id ORDER BY min(global_position)",
    )
    .fetch_all(&pool)
    .await?;
    let mut images = Vec::new();
    for id in ids {
        let image = bus
            .load_image(&id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if image.status != ImageStatus::Deleted {
            images.push((id, image));
        }
    }
    Ok(images)
}

pub async fn remove(config: &Config, id: &str) -> anyhow::Result<()> {
    let (bus, _) = services(config).await?;
    bus.delete_image(&RequestContext::system(), id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
