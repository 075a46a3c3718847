//! Starting Distribox: database, command side, projections, console relay and HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use distribox_commands::CommandBus;
use distribox_console_relay::{ConsoleRelay, OriginPolicy, Revocations, SerialHub, TicketStore};
use distribox_migrations::MIGRATOR;
use distribox_projections::hypervisor::{
    kvm_probe, lifecycle, HypervisorProjector, LibvirtHypervisor, Reconciler,
};
use distribox_projections::images::import::Importer;
use distribox_projections::images::janitor::ImageFileJanitor;
use distribox_projections::images::ImageFiles;
use distribox_projections::permissions;
use distribox_projections::read_models::audit::{self, Verdict};
use distribox_projections::read_models::{
    AccountsProjection, AuditLogProjection, ImagesProjection, UsageProjection, VmsProjection,
};
use distribox_projections::rebuild::{self, Rebuilt};
use distribox_projections::runner::{EventSignal, Runner, RunnerOptions};
use distribox_projections::status::ProjectionStatus;
use distribox_projections::usage::{LatestUsageHandle, Sampler};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::graphql;
use crate::http::HttpState;
use crate::images::{register_folder_images, BusImportReporter, ImageReads};
use crate::installation;
use crate::metrics::Metrics;
use crate::reads::Reads;
use crate::recordings::PgRecorder;
use crate::revoker::Revoker;
use crate::wiring::{BusReporter, LibvirtConsoles};
use crate::Config;

/// What request handlers share.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub bus: Arc<CommandBus>,
    pub reads: Reads,
    /// The image catalogue's read model.
    pub images: ImageReads,
    /// Runs downloads and receives uploads; its progress feeds `imageProgress`.
    pub importer: Importer,
    pub vms: Arc<VmsProjection>,
    /// The audit log's projection, for its live tail.
    pub audit: Arc<AuditLogProjection>,
    pub relay: Arc<ConsoleRelay>,
    pub origins: OriginPolicy,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    pub hypervisor: LibvirtHypervisor,
    /// Why VMs run under software emulation although `/dev/kvm` is there, for the host panel.
    pub kvm_warning: Option<String>,
    /// Live consoles and subscriptions, to be closed when the access behind them ends.
    pub revocations: Arc<Revocations>,
    /// Where images and VM disks live: `host` reports the space left on its filesystem.
    pub data_dir: PathBuf,
    pub usage: UsageSettings,
    pub metrics: Metrics,
    /// Lets a scraper read `/metrics` without logging in.
    pub metrics_token: Option<Arc<str>>,
}

/// How usage is sampled, and the sampler's last reading.
#[derive(Clone)]
pub struct UsageSettings {
    pub interval: Duration,
    pub raw_retention: Duration,
    pub latest: LatestUsageHandle,
}

/// A running Distribox. Dropping it stops the server and the projections.
pub struct App {
    pub addr: SocketAddr,
    /// Set when this start created `admin` with a generated password.
    pub generated_admin_password: Option<String>,
    tasks: Vec<JoinHandle<()>>,
}

async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(config.database_pool_size)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database_url)
        .await
        .context("cannot connect to PostgreSQL (DISTRIBOX_DATABASE_URL)")
}

/// Applies pending migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    connect_migrated(config).await.map(drop)
}

/// A pool on a database whose migrations have all been applied.
pub(crate) async fn connect_migrated(config: &Config) -> anyhow::Result<PgPool> {
    let pool = connect(config).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("database migration failed")?;
    Ok(pool)
}

/// Where each projection is in the log (`distribox projections status`).
pub async fn projections_status(config: &Config) -> anyhow::Result<Vec<ProjectionStatus>> {
    let pool = connect(config).await?;
    Ok(distribox_projections::status::status(&pool).await?)
}

/// Rebuilds projection `name`'s read model beside the live one, then swaps it in
/// (`distribox projections rebuild`).
pub async fn rebuild_projection(config: &Config, name: &str) -> anyhow::Result<Rebuilt> {
    let pool = connect(config).await?;
    let rebuilt = match name {
        "accounts" => rebuild::rebuild(&pool, Arc::new(AccountsProjection)).await,
        "audit_log" => rebuild::rebuild(&pool, Arc::new(AuditLogProjection::new())).await,
        "usage" => rebuild::rebuild(&pool, Arc::new(UsageProjection)).await,
        "images" => rebuild::rebuild(&pool, Arc::new(ImagesProjection)).await,
        "vms" => rebuild::rebuild(&pool, Arc::new(VmsProjection::new())).await,
        "hypervisor" | "revocations" | "image_files" => anyhow::bail!(
            "`{name}` acts outside the database (libvirt, live consoles); there is nothing to rebuild"
        ),
        _ => anyhow::bail!(
            "there is no projection `{name}`; read models that can be rebuilt: accounts, audit_log, images, usage"
        ),
    };
    rebuilt.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Checks the audit log's hash chain against the event log (`distribox audit verify`).
pub async fn verify_audit(config: &Config) -> anyhow::Result<Verdict> {
    let pool = connect(config).await?;
    audit::verify(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the logs: {e}"))
}

/// Creates `admin` unless it exists; the generated password, if one was generated.
pub async fn ensure_admin(config: &Config) -> anyhow::Result<Option<String>> {
    let pool = connect(config).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("database migration failed")?;
    let bus = CommandBus::new(pool, config.session_lifetimes());
    bus.ensure_admin(config.admin_password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn create_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    permissions::restrict_dir(path)
        .with_context(|| format!("cannot set permissions of {}", path.display()))
}

impl App {
    /// Migrates, starts the projections, makes sure `admin` exists and serves on `listener`.
    pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<App> {
        let pool = connect(&config).await?;
        MIGRATOR
            .run(&pool)
            .await
            .context("database migration failed")?;
        create_dir(&config.images_dir())?;
        create_dir(&config.vms_dir())?;

        let image_files = ImageFiles::new(pool.clone(), config.images_dir());
        let metrics = Metrics::default();
        let observed = metrics.clone();
        let host_cpus = distribox_projections::usage::host::read(&config.data_dir)
            .context("cannot read the host's resources")?
            .cpus;
        let bus = Arc::new(
            CommandBus::new(pool.clone(), config.session_lifetimes())
                .with_host_cpus(host_cpus)
                .with_observer(Arc::new(move |outcome| observed.observe_command(outcome))),
        );
        let kvm = match config.domain_type {
            Some(domain_type) => kvm_probe::Choice {
                domain_type,
                warning: None,
            },
            None => kvm_probe::choose().await,
        };
        tracing::info!(domain_type = kvm.domain_type.as_str(), uri = %config.libvirt_uri, "hypervisor");
        let installation = installation::load_or_create(&config.data_dir)?;
        let hypervisor =
            LibvirtHypervisor::new(&config.libvirt_uri, kvm.domain_type, config.vms_dir())
                .with_installation(installation);

        let shutdown_grace = Duration::from_secs(config.shutdown_grace);
        let signal = EventSignal::listen(&pool)
            .await
            .context("cannot LISTEN for events")?;
        let options = RunnerOptions::default();
        let vms = Arc::new(VmsProjection::new());
        let vms_runner = Runner::new(pool.clone(), vms.clone(), options);
        let accounts_runner = Runner::new(pool.clone(), Arc::new(AccountsProjection), options);
        let accounts_progress = accounts_runner.progress();
        let audit = Arc::new(AuditLogProjection::new());
        let audit_runner = Runner::new(pool.clone(), audit.clone(), options);
        let usage_runner = Runner::new(pool.clone(), Arc::new(UsageProjection), options);
        let images_runner = Runner::new(pool.clone(), Arc::new(ImagesProjection), options);
        let images = ImageReads::new(pool.clone(), images_runner.progress());
        let catalogue_progress = images_runner.progress();
        let janitor_runner = Runner::new(
            pool.clone(),
            Arc::new(ImageFileJanitor::new(config.images_dir())),
            options,
        );
        let importer = Importer::new(
            pool.clone(),
            config.images_dir(),
            config.import_limits(),
            Arc::new(BusImportReporter(bus.clone())),
        );
        importer
            .remove_strays()
            .await
            .map_err(|e| anyhow::anyhow!("cannot clean the images folder: {e}"))?;
        register_folder_images(&bus, &importer).await?;
        let sampling = config.sampler_options();
        let sampler = Sampler::new(
            pool.clone(),
            &config.libvirt_uri,
            config.data_dir.clone(),
            sampling,
        );
        let usage = UsageSettings {
            interval: sampling.interval,
            raw_retention: sampling.raw_retention,
            latest: sampler.latest(),
        };
        let projector = HypervisorProjector::new(
            hypervisor.clone(),
            BusReporter(bus.clone()),
            image_files.clone(),
            shutdown_grace,
        );
        let hypervisor_runner = Runner::new(pool.clone(), Arc::new(projector), options);
        let revocations = Revocations::new();
        let revoker_runner = Runner::new(
            pool.clone(),
            Arc::new(Revoker::new(revocations.clone())),
            options,
        );
        let reads = Reads::new(
            pool.clone(),
            vms_runner.progress(),
            accounts_runner.progress(),
        );
        let watcher = lifecycle::watch(config.libvirt_uri.clone(), hypervisor.health());
        let mut tasks = vec![
            tokio::spawn(lifecycle::report_changes(
                watcher.changes,
                BusReporter(bus.clone()),
                hypervisor.clone(),
            )),
            tokio::spawn(
                Reconciler::new(
                    pool.clone(),
                    hypervisor.clone(),
                    BusReporter(bus.clone()),
                    image_files,
                    shutdown_grace,
                )
                .run(
                    Duration::from_secs(config.reconcile_interval),
                    watcher.reconnected,
                ),
            ),
            tokio::spawn(vms_runner.run(signal.clone())),
            tokio::spawn(accounts_runner.run(signal.clone())),
            tokio::spawn(revoker_runner.run(signal.clone())),
            tokio::spawn(audit_runner.run(signal.clone())),
            tokio::spawn(usage_runner.run(signal.clone())),
            tokio::spawn(images_runner.run(signal.clone())),
            tokio::spawn(janitor_runner.run(signal.clone())),
            tokio::spawn(importer.clone().run(catalogue_progress)),
            tokio::spawn(sampler.run()),
            tokio::spawn(hypervisor_runner.run(signal)),
        ];

        let generated_admin_password = bus
            .ensure_admin(config.admin_password.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        wait_for_admin(&pool, accounts_progress).await?;

        let origins = OriginPolicy::new(config.allowed_origins.clone());
        let relay = Arc::new(ConsoleRelay::new(
            TicketStore::new(Duration::from_secs(config.console_ticket_ttl)),
            origins.clone(),
            Arc::new(SerialHub::new(Arc::new(LibvirtConsoles(
                hypervisor.clone(),
            )))),
            revocations.clone(),
            Arc::new(BusReporter(bus.clone())),
            Arc::new(PgRecorder::new(pool.clone())),
            config.console_limits(),
        ));
        let state = AppState {
            pool,
            bus,
            reads,
            images,
            importer,
            vms,
            audit,
            relay,
            origins,
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
            hypervisor,
            kvm_warning: kvm.warning,
            revocations,
            data_dir: config.data_dir.clone(),
            usage,
            metrics,
            metrics_token: config.metrics_token.as_deref().map(Arc::from),
        };
        let schema = graphql::schema(state.clone());

        let addr = listener.local_addr()?;
        let router = crate::http::router(HttpState { app: state, schema });
        tasks.push(tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(err) = axum::serve(listener, service).await {
                tracing::error!(error = %err, "HTTP server stopped");
            }
        }));
        Ok(App {
            addr,
            generated_admin_password,
            tasks,
        })
    }

    /// Runs until Ctrl-C or SIGTERM.
    pub async fn serve_until_ctrl_c(self) -> anyhow::Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        Ok(())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Login reads the accounts read model: wait until it has `admin`.
async fn wait_for_admin(
    pool: &PgPool,
    mut progress: tokio::sync::watch::Receiver<distribox_projections::runner::Checkpoint>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        progress.borrow_and_update();
        let found: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE username = 'admin')")
                .fetch_one(pool)
                .await?;
        if found {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, progress.changed())
            .await
            .context("the accounts projection did not catch up")??;
    }
}
