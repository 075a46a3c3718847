//! The host's own CPUs, memory, disk and load, for the `host` query (the dashboard shows them
//! beside what the VMs were given).
//!
//! Read on each query, as the usage sampler reads them ([`usage::host`]), plus the load average.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use distribox_projections::usage;

use crate::error::ApiError;

#[derive(Debug)]
pub struct Resources {
    /// CPUs this process may run on (all the host's, unless it was confined).
    pub cpus: u32,
    pub memory_total_mib: u64,
    /// What the kernel estimates can be allocated without swapping (`MemAvailable`).
    pub memory_available_mib: u64,
    pub disk_total_bytes: u64,
    /// Free space an unprivileged writer can use.
    pub disk_available_bytes: u64,
    /// Over 1, 5 and 15 minutes.
    pub load_average: [f64; 3],
}

/// The resources, with the disk being the filesystem holding `data_dir` (images and VM disks).
/// Read on a blocking thread: `statvfs` on a stalled network filesystem can hang.
pub async fn resources(data_dir: PathBuf) -> Result<Resources, ApiError> {
    tokio::task::spawn_blocking(move || read(&data_dir))
        .await
        .map_err(ApiError::internal)?
        .map_err(|err| ApiError::internal(format!("cannot read the host's resources: {err:#}")))
}

fn read(data_dir: &Path) -> anyhow::Result<Resources> {
    let host = usage::host::read(data_dir)?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").context("/proc/loadavg")?;
    let load_average = parse_loadavg(&loadavg).context("unexpected /proc/loadavg")?;
    Ok(Resources {
        cpus: std::thread::available_parallelism().map_or(host.cpus, |n| n.get() as u32),
        memory_total_mib: host.memory_total_kib / 1024,
        memory_available_mib: host.memory_available_kib / 1024,
        disk_total_bytes: host.disk_total_bytes,
        disk_available_bytes: host.disk_available_bytes,
        load_average,
    })
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_average_is_parsed() {
        assert_eq!(
            parse_loadavg("2.42 1.16 0.46 3/182 16228\n"),
            Some([2.42, 1.16, 0.46])
        );
        assert_eq!(parse_loadavg("2.42 x"), None);
    }

    #[test]
    fn this_machine_is_read() {
        let resources = read(Path::new("/")).unwrap();
        assert!(resources.cpus >= 1);
        assert!(resources.memory_total_mib >= resources.memory_available_mib);
        assert!(resources.disk_total_bytes >= resources.disk_available_bytes);
        assert!(resources.disk_total_bytes > 0);
    }
}
