//! A running guest's IP addresses, for handing out SSH access: what libvirt's NAT network leased
//! to it, and what the QEMU guest agent reports when the guest runs one (every domain has the
//! agent's channel).

use std::net::IpAddr;

use uuid::Uuid;

use super::libvirt::owned_domain;
use super::{domain_name, HypervisorError, LibvirtHypervisor};

impl LibvirtHypervisor {
    /// VM `id`'s addresses, leases first; none while it is not running.
    pub async fn addresses(&self, id: Uuid) -> Result<Vec<IpAddr>, HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| {
            let Some(dom) = owned_domain(conn, &name)?.filter(|d| d.is_active().unwrap_or(false))
            else {
                return Ok(Vec::new());
            };
            let mut found = Vec::new();
            for source in [
                virt::sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                virt::sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
            ] {
                // A guest without an agent, or a network without leases, has nothing to say.
                let Ok(interfaces) = dom.interface_addresses(source, 0) else {
                    continue;
                };
                let addresses = interfaces
                    .into_iter()
                    .flat_map(|interface| interface.addrs)
                    .filter_map(|address| address.addr.parse::<IpAddr>().ok())
                    .filter(|ip| !ip.is_loopback());
                for ip in addresses {
                    if !found.contains(&ip) {
                        found.push(ip);
                    }
                }
            }
            Ok(found)
        })
        .await
    }
}
