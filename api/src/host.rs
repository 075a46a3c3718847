//! The host's own CPUs, memory, disk and load, for the `host` query (the dashboard shows them
//! beside what the VMs were given).
//!
//! Read from this machine (`/proc`, `statvfs`) on each query rather than through libvirt: the
//! numbers stay visible while libvirtd is down, and a few tiny reads cost less than a round
//! trip to the daemon. Distribox runs where its VMs do, so this machine is their host.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

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
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("/proc/meminfo")?;
    let (total_kib, available_kib) =
        parse_meminfo(&meminfo).context("no MemTotal or MemAvailable in /proc/meminfo")?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").context("/proc/loadavg")?;
    let load_average = parse_loadavg(&loadavg).context("unexpected /proc/loadavg")?;
    let fs =
        rustix::fs::statvfs(data_dir).with_context(|| format!("statvfs {}", data_dir.display()))?;
    Ok(Resources {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_total_mib: total_kib / 1024,
        memory_available_mib: available_kib / 1024,
        disk_total_bytes: fs.f_blocks.saturating_mul(fs.f_frsize),
        disk_available_bytes: fs.f_bavail.saturating_mul(fs.f_frsize),
        load_average,
    })
}

/// `MemTotal` and `MemAvailable`, in KiB.
fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        let meminfo = "MemTotal:       24683656 kB\nMemFree:        20357364 kB\n\
                       MemAvailable:   23262272 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some((24683656, 23262272)));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
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
