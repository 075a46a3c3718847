//! The host's CPU, memory and disk as the kernel reports them (`/proc`, `statvfs`). Read from
//! this machine rather than through libvirt: Distribox runs where its VMs do, and the numbers
//! stay readable while libvirtd is down.

use std::path::Path;

use anyhow::Context as _;

/// One reading. CPU time is cumulative since boot: the sampler turns two readings into a share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostReading {
    /// CPUs the kernel counts in `/proc/stat`.
    pub cpus: u32,
    /// Busy CPU time since boot, over all CPUs (everything but idle and I/O wait).
    pub cpu_busy_seconds: f64,
    pub memory_total_kib: u64,
    /// What the kernel estimates can be allocated without swapping (`MemAvailable`).
    pub memory_available_kib: u64,
    pub disk_total_bytes: u64,
    /// Free space an unprivileged writer can use.
    pub disk_available_bytes: u64,
}

/// Reads the host, with the disk being the filesystem holding `data_dir`. Blocking: `statvfs`
/// on a stalled network filesystem can hang, so call it off the async threads.
pub fn read(data_dir: &Path) -> anyhow::Result<HostReading> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("/proc/meminfo")?;
    let (memory_total_kib, memory_available_kib) =
        parse_meminfo(&meminfo).context("no MemTotal or MemAvailable in /proc/meminfo")?;
    let stat = std::fs::read_to_string("/proc/stat").context("/proc/stat")?;
    let (cpus, busy_ticks) = parse_stat(&stat).context("unexpected /proc/stat")?;
    let fs =
        rustix::fs::statvfs(data_dir).with_context(|| format!("statvfs {}", data_dir.display()))?;
    Ok(HostReading {
        cpus,
        cpu_busy_seconds: busy_ticks as f64 / rustix::param::clock_ticks_per_second() as f64,
        memory_total_kib,
        memory_available_kib,
        disk_total_bytes: fs.f_blocks.saturating_mul(fs.f_frsize),
        disk_available_bytes: fs.f_bavail.saturating_mul(fs.f_frsize),
    })
}

/// `MemTotal` and `MemAvailable`, in KiB.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

/// The number of CPUs and the busy ticks of all of them together: the `cpu` line's user, nice,
/// system, irq, softirq and steal (guest time is already inside user and nice).
fn parse_stat(text: &str) -> Option<(u32, u64)> {
    let mut lines = text.lines();
    let total = lines.next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = total
        .split_whitespace()
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|i| ticks.get(*i).copied().unwrap_or(0))
        .sum();
    let cpus = lines.take_while(|line| line.starts_with("cpu")).count() as u32;
    Some((cpus.max(1), busy))
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
        let stat = "cpu  100 5 50 9000 40 3 2 1 7 0\n\
                    cpu0 50 2 25 4500 20 1 1 0 3 0\n\
                    cpu1 50 3 25 4500 20 2 1 1 4 0\n\
                    intr 12345\n";
        // user + nice + system + irq + softirq + steal; idle, iowait and guest are not added.
        assert_eq!(parse_stat(stat), Some((2, 161)));
        assert_eq!(parse_stat("intr 1\n"), None);
    }

    #[test]
    fn this_machine_is_read() {
        let host = read(Path::new("/")).unwrap();
        assert!(host.cpus >= 1);
        assert!(host.cpu_busy_seconds > 0.0);
        assert!(host.memory_total_kib >= host.memory_available_kib);
        assert!(host.disk_total_bytes >= host.disk_available_bytes);
    }
}
