//! Configuration from flags or `DISTRIBOX_*` environment variables (their names, listed in the
//! README, never change).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use distribox_commands::SessionLifetimes;
use distribox_console_relay::ConsoleLimits;
use distribox_projections::hypervisor::DomainType;
use distribox_projections::images::import::{DiskLimits, ImportLimits};
use distribox_projections::usage::SamplerOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "DISTRIBOX_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// PostgreSQL connection URL. The default uses the local socket and the `distribox` database.
    #[arg(
        long,
        env = "DISTRIBOX_DATABASE_URL",
        default_value = "postgres:///distribox?host=/var/run/postgresql"
    )]
    pub database_url: String,

    /// Most connections the server keeps open to PostgreSQL for requests and projections
    /// (each projection also holds one of its own for its lock).
    #[arg(long, env = "DISTRIBOX_DATABASE_POOL_SIZE", value_parser = clap::value_parser!(u32).range(4..), default_value_t = 20)]
    pub database_pool_size: u32,

    /// libvirt connection URI.
    #[arg(long, env = "DISTRIBOX_LIBVIRT_URI", default_value = "qemu:///system")]
    pub libvirt_uri: String,

    /// Where images (`images/`) and VM disks (`vms/<id>/`) live.
    #[arg(long, env = "DISTRIBOX_DATA_DIR", default_value = "/var/lib/distribox")]
    pub data_dir: PathBuf,

    /// Password of the `admin` account, used only when it is first created. If unset, one is
    /// generated and printed once.
    #[arg(long, env = "DISTRIBOX_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// libvirt domain type: `kvm`, or `qemu` for software emulation. Default: `kvm` when a
    /// test guest runs under KVM at start, `qemu` otherwise (with a warning when /dev/kvm is
    /// there but does not work).
    #[arg(long, env = "DISTRIBOX_DOMAIN_TYPE")]
    pub domain_type: Option<DomainType>,

    /// Extra origins (comma-separated, e.g. `https://lab.example.org`) whose pages may open
    /// websockets and use the browser's session cookie, besides Distribox's own.
    #[arg(long, env = "DISTRIBOX_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Seconds a guest has to power off after an ACPI shutdown before the VM is reported as
    /// not stopping (it keeps running; force stop is a separate command).
    #[arg(long, env = "DISTRIBOX_SHUTDOWN_GRACE", default_value_t = 120)]
    pub shutdown_grace: u64,

    /// Seconds between passes comparing libvirt with the log (missing domains, missed stops).
    #[arg(long, env = "DISTRIBOX_RECONCILE_INTERVAL", default_value_t = 60)]
    pub reconcile_interval: u64,

    /// Seconds a console ticket stays valid after it is issued.
    #[arg(long, env = "DISTRIBOX_CONSOLE_TICKET_TTL", default_value_t = 30)]
    pub console_ticket_ttl: u64,

    /// Addresses of reverse proxies in front of Distribox (comma-separated IPs). Requests from
    /// them are attributed to the client their `X-Forwarded-For` names — for the audit log and
    /// for login throttling, which would otherwise count every user as the proxy — and their
    /// `X-Forwarded-Proto: https` makes the session cookie `Secure`.
    #[arg(long, env = "DISTRIBOX_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Seconds a console may stay open with nothing typed and nothing printed.
    #[arg(long, env = "DISTRIBOX_CONSOLE_IDLE", value_parser = at_least_one(), default_value_t = 30 * 60)]
    pub console_idle: u64,

    /// Seconds a console stays open at most, however busy.
    #[arg(long, env = "DISTRIBOX_CONSOLE_LIFETIME", value_parser = at_least_one(), default_value_t = 8 * 3600)]
    pub console_lifetime: u64,

    /// Seconds between the pings that keep consoles alive through proxies; a viewer that
    /// misses two is disconnected.
    #[arg(long, env = "DISTRIBOX_CONSOLE_KEEPALIVE", value_parser = at_least_one(), default_value_t = 25)]
    pub console_keepalive: u64,

    /// Seconds a login session may go unused before it ends.
    #[arg(long, env = "DISTRIBOX_SESSION_IDLE", value_parser = at_least_one(), default_value_t = 2 * 3600)]
    pub session_idle: u64,

    /// Seconds a login session lives at most, however active.
    #[arg(long, env = "DISTRIBOX_SESSION_LIFETIME", value_parser = at_least_one(), default_value_t = 12 * 3600)]
    pub session_lifetime: u64,

    /// Seconds between usage samples of running VMs and the host.
    #[arg(long, env = "DISTRIBOX_USAGE_INTERVAL", value_parser = at_least_one(), default_value_t = 15)]
    pub usage_interval: u64,

    /// Hours usage samples are kept at full resolution before being folded into hourly ones.
    #[arg(long, env = "DISTRIBOX_USAGE_RAW_HOURS", value_parser = at_least_one(), default_value_t = 48)]
    pub usage_raw_hours: u64,

    /// A token that lets a Prometheus scraper read `/metrics` without logging in (sent as
    /// `Authorization: Bearer <token>`). Without it, `/metrics` needs a login holding `usage:get`.
    #[arg(long, env = "DISTRIBOX_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Largest image file an import or upload may bring, in GiB.
    #[arg(long, env = "DISTRIBOX_IMAGE_MAX_GIB", value_parser = at_least_one(), default_value_t = 64)]
    pub image_max_gib: u64,

    /// Largest virtual disk size an image may have, in GiB.
    #[arg(long, env = "DISTRIBOX_IMAGE_MAX_VIRTUAL_GIB", value_parser = at_least_one(), default_value_t = 2048)]
    pub image_max_virtual_gib: u64,

    /// GiB an import must leave free on the data folder's filesystem, for the VMs and
    /// everything else there.
    #[arg(long, env = "DISTRIBOX_DISK_RESERVE_GIB", default_value_t = 1)]
    pub disk_reserve_gib: u64,
}

/// Durations must be at least one (second or hour): zero would end every session or console at
/// once, or sample without pause.
fn at_least_one() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..)
}

impl Config {
    pub fn console_limits(&self) -> ConsoleLimits {
        ConsoleLimits {
            idle: Duration::from_secs(self.console_idle),
            lifetime: Duration::from_secs(self.console_lifetime),
            keepalive: Duration::from_secs(self.console_keepalive),
        }
    }

    pub fn session_lifetimes(&self) -> SessionLifetimes {
        SessionLifetimes {
            idle: Duration::from_secs(self.session_idle),
            absolute: Duration::from_secs(self.session_lifetime),
        }
    }

    pub fn sampler_options(&self) -> SamplerOptions {
        SamplerOptions {
            interval: Duration::from_secs(self.usage_interval),
            raw_retention: Duration::from_secs(self.usage_raw_hours * 3600),
        }
    }

    pub fn import_limits(&self) -> ImportLimits {
        ImportLimits {
            disk: DiskLimits {
                max_bytes: self.image_max_gib << 30,
                reserve_bytes: self.disk_reserve_gib << 30,
            },
            max_virtual_bytes: self.image_max_virtual_gib << 30,
            ..ImportLimits::default()
        }
    }

    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }

    pub fn vms_dir(&self) -> PathBuf {
        self.data_dir.join("vms")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Config;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn durations_of_zero_are_refused() {
        for flag in [
            "--console-idle",
            "--console-lifetime",
            "--console-keepalive",
            "--session-idle",
            "--session-lifetime",
        ] {
            let err = Cli::try_parse_from(["distribox", flag, "0"])
                .err()
                .unwrap_or_else(|| panic!("{flag} 0 was accepted"));
            assert!(err.to_string().contains("not in 1.."), "{flag}: {err}");
        }
        let ok = Cli::try_parse_from(["distribox", "--console-idle", "60"]).unwrap();
        assert_eq!(ok.config.console_idle, 60);
    }
}
