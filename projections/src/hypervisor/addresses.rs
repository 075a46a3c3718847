//! A running guest's IP addresses, for handing out SSH access: what libvirt's NAT network leased
//! to it, and what the QEMU guest agent reports when the guest runs one (every domain has the
//! agent's channel). The agent is asked only when it is connected, and never waited on for
//! long: its answer comes over the one libvirt connection every VM's work shares.

use std::net::IpAddr;

use uuid::Uuid;

use super::libvirt::owned_domain;
use super::{domain_name, HypervisorError, LibvirtHypervisor};

/// How the live XML shows an agent channel whose agent is listening.
const AGENT_CONNECTED: &str = "name='org.qemu.guest_agent.0' state='connected'";
const AGENT_QUERY: &str = r#"{"execute":"guest-network-get-interfaces"}"#;
const AGENT_TIMEOUT_SECS: i32 = 2;

/// The addresses in the agent's answer to `guest-network-get-interfaces`.
fn agent_addresses(answer: &str) -> Vec<IpAddr> {
    let Ok(answer) = serde_json::from_str::<serde_json::Value>(answer) else {
        return Vec::new();
    };
    answer["return"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|interface| interface["ip-addresses"].as_array().into_iter().flatten())
        .filter_map(|address| address["ip-address"].as_str()?.parse().ok())
        .collect()
}

impl LibvirtHypervisor {
    /// VM `id`'s addresses, leases first; none while it is not running.
    pub async fn addresses(&self, id: Uuid) -> Result<Vec<IpAddr>, HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| {
            let Some(dom) = owned_domain(conn, &name)?.filter(|d| d.is_active().unwrap_or(false))
            else {
                return Ok(Vec::new());
            };
            let mut found: Vec<IpAddr> = Vec::new();
            // A network without leases has nothing to say.
            if let Ok(interfaces) =
                dom.interface_addresses(virt::sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
            {
                found.extend(
                    interfaces
                        .into_iter()
                        .flat_map(|interface| interface.addrs)
                        .filter_map(|address| address.addr.parse::<IpAddr>().ok()),
                );
            }
            let agent_connected = dom
                .xml_desc(0)
                .is_ok_and(|xml| xml.contains(AGENT_CONNECTED));
            if agent_connected {
                if let Ok(answer) = dom.qemu_agent_command(AGENT_QUERY, AGENT_TIMEOUT_SECS, 0) {
                    found.extend(agent_addresses(&answer));
                }
            }
            let mut unique = Vec::new();
            for ip in found.into_iter().filter(|ip| !ip.is_loopback()) {
                if !unique.contains(&ip) {
                    unique.push(ip);
                }
            }
            Ok(unique)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_answer_lists_every_interfaces_addresses() {
        let answer = r#"{"return":[
            {"name":"lo","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":8}]},
            {"name":"eth0","hardware-address":"52:54:00:12:34:56","ip-addresses":[
                {"ip-address-type":"ipv4","ip-address":"192.168.122.17","prefix":24},
                {"ip-address-type":"ipv6","ip-address":"fe80::5054:ff:fe12:3456","prefix":64}]},
            {"name":"eth1"}]}"#;
        let found: Vec<String> = agent_addresses(answer)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            ["127.0.0.1", "192.168.122.17", "fe80::5054:ff:fe12:3456"]
        );
        assert!(agent_addresses("not json").is_empty());
    }
}
