use clap::{Parser, Subcommand};
use distribox_api::images_cli::{self, ImportArgs};
use distribox_api::{migrate, App, Config};
use distribox_projections::read_models::audit::Verdict;
use tracing_subscriber::EnvFilter;

/// Distribox: share KVM virtual machines through the browser.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then run the server in the foreground.
    Serve(Config),
    /// Apply pending database migrations and exit.
    Migrate(Config),
    /// Create the `admin` account if it doesn't exist, printing its password if generated.
    EnsureAdmin(Config),
    /// Print the GraphQL schema (SDL), for clients that type their operations from it.
    Schema,
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The projections that build read models from the event log.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// The image catalogue: import, list and delete base images.
    #[command(subcommand)]
    Images(ImagesCommand),
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Download (http/https URL) or copy (a file) an image into the catalogue, verify and
    /// inspect it, and wait until it is ready.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        #[command(flatten)]
        config: Config,
    },
    /// Every image in the catalogue, with its status.
    List(Config),
    /// Delete an image; refused while VMs are built on it.
    Rm {
        /// The image's id, as `images list` shows it.
        id: String,
        #[command(flatten)]
        config: Config,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Each projection's position in the log, the committed events it has still to apply and
    /// how long the oldest of them has waited.
    Status(Config),
    /// Rebuild a read model from the whole log beside the live one while the server keeps
    /// serving it, then swap it in: `accounts`, `audit_log` or `usage`.
    Rebuild {
        /// The projection's name, as `projections status` lists it.
        name: String,
        #[command(flatten)]
        config: Config,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain from the event log; exit 1 naming the first
    /// position that was altered, removed or inserted.
    Verify(Config),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Before logging starts: the file may set DISTRIBOX_LOG.
    let config_file = load_config_file();
    let json = std::env::var("DISTRIBOX_LOG_FORMAT").is_ok_and(|f| f == "json");
    let filter =
        EnvFilter::try_from_env("DISTRIBOX_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: standard output is for what a command answers (the CLI is scripted).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    if let Some(outcome) = config_file {
        tracing::info!("{outcome}");
    }

    match Cli::parse().command {
        Command::Serve(config) => {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let app = App::start(config, listener).await?;
            print_admin_password(&app.generated_admin_password);
            println!("Distribox is running at http://{}", app.addr);
            app.serve_until_ctrl_c().await
        }
        Command::Migrate(config) => {
            migrate(&config).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify(config)) => {
            match distribox_api::app::verify_audit(&config).await? {
                Verdict::Intact { entries } => {
                    println!("audit log intact: {entries} entries match the event log");
                    Ok(())
                }
                Verdict::Broken {
                    chain_index,
                    position,
                    problem,
                } => {
                    let at = position
                        .map(|p| format!(", position {p}"))
                        .unwrap_or_default();
                    eprintln!("audit log BROKEN at entry {chain_index}{at}: {problem}");
                    std::process::exit(1);
                }
            }
        }
        Command::Projections(ProjectionsCommand::Status(config)) => {
            let projections = distribox_api::app::projections_status(&config).await?;
            println!(
                "{:<12} {:>10} {:>8} {:>10}  updated",
                "projection", "position", "behind", "lag"
            );
            for p in projections {
                println!(
                    "{:<12} {:>10} {:>8} {:>9.3}s  {}",
                    p.projection,
                    p.position,
                    p.behind,
                    p.lag_seconds,
                    p.updated_at.to_rfc3339()
                );
            }
            Ok(())
        }
        Command::Projections(ProjectionsCommand::Rebuild { name, config }) => {
            let rebuilt = distribox_api::app::rebuild_projection(&config, &name).await?;
            println!(
                "rebuilt `{name}` from {} events in {:.1}s (swapped in {} ms); it is at position {}",
                rebuilt.events,
                rebuilt.build.as_secs_f64(),
                rebuilt.swap.as_millis(),
                rebuilt.checkpoint.position
            );
            Ok(())
        }
        Command::Images(ImagesCommand::Import { args, config }) => {
            let id = images_cli::import(&config, args).await?;
            println!("image {id} is ready");
            Ok(())
        }
        Command::Images(ImagesCommand::List(config)) => {
            println!(
                "{:<38} {:<10} {:<7} {:>10}  name",
                "id", "status", "format", "size MiB"
            );
            for (id, image) in images_cli::list(&config).await? {
                let facts = image.facts.as_ref();
                println!(
                    "{:<38} {:<10} {:<7} {:>10}  {}",
                    id,
                    image.status.as_str(),
                    facts.map_or("-", |f| f.format.as_str()),
                    facts.map_or("-".to_owned(), |f| (f.size_bytes >> 20).to_string()),
                    image.metadata.name
                );
            }
            Ok(())
        }
        Command::Images(ImagesCommand::Rm { id, config }) => {
            images_cli::remove(&config, &id).await?;
            println!("image {id} deleted");
            Ok(())
        }
        Command::Schema => {
            print!("{}", distribox_api::graphql_sdl());
            Ok(())
        }
        Command::EnsureAdmin(config) => {
            let generated = distribox_api::app::ensure_admin(&config).await?;
            if generated.is_none() {
                println!("the admin account exists; its password is unchanged");
            }
            print_admin_password(&generated);
            Ok(())
        }
    }
}

/// install.sh writes the service's settings to this file; reading it here means a plain
/// `distribox serve` runs with the same configuration. Variables already set win.
const CONFIG_FILE: &str = "/etc/distribox/distribox.env";

/// Loads the file if there is one; says what happened, for the log.
fn load_config_file() -> Option<String> {
    let path = std::path::PathBuf::from(
        std::env::var_os("DISTRIBOX_CONFIG").unwrap_or_else(|| CONFIG_FILE.into()),
    );
    match dotenvy::from_path(&path) {
        Ok(()) => Some(format!("read configuration from {}", path.display())),
        Err(dotenvy::Error::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => Some(format!(
            "cannot read configuration from {}: {err}",
            path.display()
        )),
    }
}

/// Shown once: only its hash is kept.
fn print_admin_password(password: &Option<String>) {
    if let Some(password) = password {
        println!("admin password (shown once): {password}");
    }
}
