//! What running VMs use, as libvirt counts it: CPU time, resident memory, disk and network
//! bytes. Read for the usage sampler on a connection of its own, so a slow statistics call never
//! waits behind (or holds up) the projector's and the API's libvirt calls.

use quick_xml::events::Event;
use quick_xml::Reader;
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;

use super::domain_xml::METADATA_NS;

/// One VM's counters. All but memory count up from the domain's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VmCounters {
    pub vcpus: u32,
    pub cpu_time_ns: u64,
    /// Resident memory of the VM's QEMU process (what the host really gives it).
    pub memory_kib: u64,
    pub disk_read_bytes: u64,
    pub disk_write_bytes: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
}

/// A libvirt connection kept for statistics, reopened when it dies.
pub struct StatsReader {
    uri: String,
    conn: Option<Connect>,
}

impl StatsReader {
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            conn: None,
        }
    }
}

/// One reading of every running domain Distribox made.
#[derive(Debug, Default)]
pub struct Readings {
    pub counters: Vec<(Uuid, VmCounters)>,
    /// Running, but a statistics call failed (or it stopped while being read).
    pub unreadable: Vec<Uuid>,
}

impl StatsReader {
    /// The counters of every running domain Distribox made. Blocking.
    pub fn read(&mut self) -> Result<Readings, String> {
        if self
            .conn
            .as_ref()
            .is_some_and(|c| !c.is_alive().unwrap_or(false))
        {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(Connect::open(Some(&self.uri)).map_err(|e| e.message().to_owned())?);
        }
        let conn = self.conn.as_ref().expect("connection just opened");
        let domains = match conn.list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE) {
            Ok(domains) => domains,
            Err(err) => {
                self.conn = None;
                return Err(err.message().to_owned());
            }
        };
        let mut readings = Readings::default();
        for dom in domains {
            let Some(id) = dom
                .name()
                .ok()
                .and_then(|name| name.strip_prefix("distribox-")?.parse::<Uuid>().ok())
            else {
                continue;
            };
            match read_domain(&dom) {
                Ok(Some(counters)) => readings.counters.push((id, counters)),
                Ok(None) => {}
                Err(err) => {
                    tracing::debug!(vm = %id, error = %err, "cannot read a VM's statistics");
                    readings.unreadable.push(id);
                }
            }
        }
        Ok(readings)
    }
}

/// The domain's counters, or `None` if it is not Distribox's. CPU time must be readable;
/// statistics a driver doesn't offer (balloon, block, interface) count as zero.
fn read_domain(dom: &Domain) -> Result<Option<VmCounters>, virt::error::Error> {
    let kind = virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32;
    if dom.metadata(kind, Some(METADATA_NS), 0).is_err() {
        return Ok(None);
    }
    let info = dom.info()?;
    let memory_kib = dom
        .memory_stats(0)
        .ok()
        .and_then(|stats| {
            stats
                .iter()
                .find(|stat| stat.tag == virt::sys::VIR_DOMAIN_MEMORY_STAT_RSS)
                .map(|stat| stat.val)
        })
        .unwrap_or(info.memory);
    let mut counters = VmCounters {
        vcpus: info.nr_virt_cpu,
        cpu_time_ns: info.cpu_time,
        memory_kib,
        ..VmCounters::default()
    };
    let devices = Devices::of(&dom.xml_desc(0)?);
    for disk in &devices.disks {
        if let Ok(stats) = dom.block_stats(disk) {
            counters.disk_read_bytes += stats.rd_bytes.max(0) as u64;
            counters.disk_write_bytes += stats.wr_bytes.max(0) as u64;
        }
    }
    for nic in &devices.nics {
        if let Ok(stats) = dom.interface_stats(nic) {
            counters.net_rx_bytes += stats.rx_bytes.max(0) as u64;
            counters.net_tx_bytes += stats.tx_bytes.max(0) as u64;
        }
    }
    Ok(Some(counters))
}

/// The target device names of a live domain's disks (not CD-ROMs) and network interfaces:
/// what `block_stats` and `interface_stats` take.
#[derive(Debug, Default, PartialEq, Eq)]
struct Devices {
    disks: Vec<String>,
    nics: Vec<String>,
}

impl Devices {
    fn of(xml: &str) -> Devices {
        enum Inside {
            Nothing,
            Disk,
            Nic,
        }
        let mut devices = Devices::default();
        let mut inside = Inside::Nothing;
        let mut reader = Reader::from_str(xml);
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => match e.name().as_ref() {
                    b"disk" => {
                        let is_disk = e
                            .try_get_attribute("device")
                            .ok()
                            .flatten()
                            .is_none_or(|device| device.value.as_ref() == b"disk");
                        inside = if is_disk {
                            Inside::Disk
                        } else {
                            Inside::Nothing
                        };
                    }
                    b"interface" => inside = Inside::Nic,
                    _ => {}
                },
                Ok(Event::Empty(e)) if e.name().as_ref() == b"target" => {
                    let dev = e
                        .try_get_attribute("dev")
                        .ok()
                        .flatten()
                        .and_then(|dev| dev.unescape_value().ok().map(|v| v.into_owned()));
                    match (&inside, dev) {
                        (Inside::Disk, Some(dev)) => devices.disks.push(dev),
                        (Inside::Nic, Some(dev)) => devices.nics.push(dev),
                        _ => {}
                    }
                }
                Ok(Event::End(e)) if matches!(e.name().as_ref(), b"disk" | b"interface") => {
                    inside = Inside::Nothing
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
        devices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_and_interfaces_are_found_but_not_cdroms() {
        let xml = "<domain><devices>
            <disk type='file' device='disk'><source file='/d/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>
            <disk type='file' device='cdrom'><target dev='sda' bus='scsi'/></disk>
            <interface type='network'><source network='default'/><target dev='vnet3'/><model type='virtio'/></interface>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices></domain>";
        assert_eq!(
            Devices::of(xml),
            Devices {
                disks: vec!["vda".to_owned()],
                nics: vec!["vnet3".to_owned()],
            }
        );
        assert_eq!(Devices::of("<domain"), Devices::default());
    }
}
