//! Domains Distribox made but has no history of — after restoring an old database backup, or
//! pointing a fresh one at a host that already has VMs. They are never touched on their own:
//! they are listed as recoverable, and a person adopts them or discards them.

use std::collections::HashSet;

use cqrs_es::Aggregate;
use distribox_domain::vm::Vm;
use sqlx::PgPool;
use uuid::Uuid;

use super::disk;
use super::domain_xml::metadata_field;
use super::libvirt::{is_missing, owned_domain, CallError};
use super::{HypervisorError, LibvirtHypervisor};
use crate::ProjectionError;

/// A Distribox-made domain as libvirt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDomain {
    pub id: Uuid,
    pub domain: String,
    /// The domain's title: the VM's display name when it was last defined.
    pub title: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// The image id recorded in the domain's metadata (absent in domains made before it was).
    pub image: Option<String>,
    pub running: bool,
}

/// Facts about one domain gathered in a single libvirt call.
struct DomainFacts {
    id: Uuid,
    domain: String,
    title: String,
    vcpus: u32,
    memory_mib: u64,
    image: Option<String>,
    /// Which installation made it, for domains made since installations were marked.
    installation: Option<String>,
    running: bool,
}

impl LibvirtHypervisor {
    /// Every domain carrying Distribox's metadata whose disk sits where Distribox keeps it.
    pub async fn owned_domains(&self) -> Result<Vec<FoundDomain>, HypervisorError> {
        let facts = self
            .with_conn(|conn| {
                let mut found = Vec::new();
                for dom in conn.list_all_domains(0)? {
                    let name = dom.name()?;
                    let Some(id) = name
                        .strip_prefix("distribox-")
                        .and_then(|id| id.parse::<Uuid>().ok())
                    else {
                        continue;
                    };
                    // A domain with our name but not our metadata is someone else's; one that
                    // vanishes while we look (deleted meanwhile) is nobody's concern.
                    match domain_facts(conn, id, name) {
                        Ok(Some(facts)) => found.push(facts),
                        Ok(None) | Err(CallError::Refused(_)) => {}
                        Err(CallError::Libvirt(err)) if is_missing(&err) => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(found)
            })
            .await?;
        let ours = self.installation().map(|id| id.to_string());
        let mut domains = Vec::new();
        // Another installation's domains are for it to recover, not this one.
        let facts = facts.into_iter().filter(|facts| {
            ours.is_none() || facts.installation.is_none() || facts.installation == ours
        });
        for facts in facts {
            match disk::virtual_size(&self.disk_path(facts.id)).await {
                Ok(size) => domains.push(FoundDomain {
                    id: facts.id,
                    domain: facts.domain,
                    title: facts.title,
                    vcpus: facts.vcpus,
                    memory_mib: facts.memory_mib,
                    disk_gib: size.div_ceil(1 << 30),
                    image: facts.image,
                    running: facts.running,
                }),
                Err(err) => tracing::debug!(
                    domain = %facts.domain, error = %err,
                    "a Distribox domain whose disk is not in this data folder; leaving it alone"
                ),
            }
        }
        Ok(domains)
    }
}

/// What libvirt shows of domain `name` (VM `id`), if it is Distribox's.
fn domain_facts(
    conn: &virt::connect::Connect,
    id: Uuid,
    name: String,
) -> Result<Option<DomainFacts>, CallError> {
    let Some(dom) = owned_domain(conn, &name)? else {
        return Ok(None);
    };
    let info = dom.info()?;
    let kind = virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32;
    let metadata = dom.metadata(kind, Some(super::domain_xml::METADATA_NS), 0)?;
    let title_kind = virt::sys::VIR_DOMAIN_METADATA_TITLE as i32;
    Ok(Some(DomainFacts {
        id,
        title: dom.metadata(title_kind, None, 0).unwrap_or_default(),
        domain: name,
        vcpus: info.nr_virt_cpu,
        memory_mib: info.max_mem / 1024,
        image: metadata_field(&metadata, "image"),
        installation: metadata_field(&metadata, "installation"),
        running: dom.is_active()?,
    }))
}

/// The owned domains with no VM history at all, sorted by domain name.
pub async fn recoverable(
    pool: &PgPool,
    hypervisor: &LibvirtHypervisor,
) -> Result<Vec<FoundDomain>, ProjectionError> {
    let mut domains = hypervisor
        .owned_domains()
        .await
        .map_err(|err| ProjectionError::Other(err.to_string()))?;
    let ids: Vec<String> = domains.iter().map(|d| d.id.to_string()).collect();
    let known: HashSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events
          WHERE aggregate_type = $1 AND aggregate_id = ANY($2)",
    )
    .bind(Vm::TYPE)
    .bind(&ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    domains.retain(|d| !known.contains(&d.id.to_string()));
    domains.sort_by(|a, b| a.domain.cmp(&b.domain));
    Ok(domains)
}
