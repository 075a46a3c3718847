//! qcow2 internal snapshots through libvirt. A snapshot's libvirt name is its id; the name people
//! gave it lives in the log. Each operation is idempotent, so a replay after a crash is harmless.

use quick_xml::escape::escape;
use uuid::Uuid;
use virt::domain::Domain;
use virt::error::ErrorNumber;

use super::libvirt::{owned_domain, CallError};
use super::{domain_name, HypervisorError, LibvirtHypervisor};

fn no_snapshot(err: &virt::error::Error) -> bool {
    err.code()
        .is_known_and(|c| c == ErrorNumber::NoDomainSnapshot)
}

fn missing_domain() -> CallError {
    CallError::Refused("the VM has no domain".to_owned())
}

impl LibvirtHypervisor {
    /// Takes snapshot `snapshot` of VM `id` unless it exists. A running domain's snapshot holds
    /// its memory too (libvirt's default for internal snapshots).
    pub(super) async fn snapshot_take(
        &self,
        id: Uuid,
        snapshot: Uuid,
        description: &str,
    ) -> Result<(), HypervisorError> {
        let name = domain_name(id);
        let xml = format!(
            "<domainsnapshot><name>{snapshot}</name><description>{}</description></domainsnapshot>",
            escape(description)
        );
        self.with_conn(move |conn| {
            let dom = owned_domain(conn, &name)?.ok_or_else(missing_domain)?;
            match Domain::lookup_snapshot_by_name(&dom, &snapshot.to_string(), 0) {
                Ok(_) => Ok(()),
                Err(err) if no_snapshot(&err) => Ok(dom.create_snapshot_xml(&xml, 0).map(drop)?),
                Err(err) => Err(err.into()),
            }
        })
        .await
    }

    /// Returns VM `id` to snapshot `snapshot`; answers whether the domain runs afterwards (it
    /// does when the snapshot holds memory).
    pub(super) async fn snapshot_revert(
        &self,
        id: Uuid,
        snapshot: Uuid,
    ) -> Result<bool, HypervisorError> {
        let (name, starts) = (domain_name(id), self.starts());
        self.with_conn(move |conn| {
            let dom = owned_domain(conn, &name)?.ok_or_else(missing_domain)?;
            let snap =
                Domain::lookup_snapshot_by_name(&dom, &snapshot.to_string(), 0).map_err(|err| {
                    match no_snapshot(&err) {
                        true => CallError::Refused("the snapshot is gone from libvirt".to_owned()),
                        false => err.into(),
                    }
                })?;
            // A snapshot with memory starts the domain: that start is Distribox's own.
            starts.record(id);
            snap.revert(0).inspect_err(|_| starts.forget(id))?;
            let running = dom.is_active()?;
            if !running {
                starts.forget(id);
            }
            Ok(running)
        })
        .await
    }

    /// Deletes snapshot `snapshot` of VM `id` if it still exists.
    pub(super) async fn snapshot_delete(
        &self,
        id: Uuid,
        snapshot: Uuid,
    ) -> Result<(), HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| {
            let Some(dom) = owned_domain(conn, &name)? else {
                return Ok(());
            };
            match Domain::lookup_snapshot_by_name(&dom, &snapshot.to_string(), 0) {
                Ok(snap) => Ok(snap.delete(0)?),
                Err(err) if no_snapshot(&err) => Ok(()),
                Err(err) => Err(err.into()),
            }
        })
        .await
    }
}
