//! The policy catalogue and role presets, described for the people granting them.

use async_graphql::SimpleObject;
use distribox_domain::policy::Policy;
use distribox_domain::role::Role;

/// One policy of the catalogue.
#[derive(SimpleObject)]
pub struct PolicyInfo {
    pub name: String,
    /// What holding it lets an account do, in one line.
    pub description: String,
    /// Whether it can be granted for single VMs (a VM's owner holds it on that VM).
    pub vm_scoped: bool,
}

impl From<Policy> for PolicyInfo {
    fn from(policy: Policy) -> Self {
        Self {
            name: policy.as_str().to_owned(),
            description: policy.description().to_owned(),
            vm_scoped: policy.is_vm_scoped(),
        }
    }
}

/// A named bundle of policies for a common kind of account. Choosing one fills in its
/// policies; accounts hold the policies, not the preset.
#[derive(SimpleObject)]
pub struct RolePreset {
    /// Stable identifier: `viewer`, `vm-owner`, `operator`, `auditor`, `admin`.
    pub name: String,
    pub label: String,
    pub description: String,
    pub policies: Vec<String>,
}

impl From<&Role> for RolePreset {
    fn from(role: &Role) -> Self {
        Self {
            name: role.name.to_owned(),
            label: role.label.to_owned(),
            description: role.description.to_owned(),
            policies: role
                .policies
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        }
    }
}
