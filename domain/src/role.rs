//! Role presets: named bundles of policies for the common kinds of account, so granting access
//! is one choice instead of thirty checkboxes. A preset only expands into policies — accounts
//! hold policies, never roles — so changing a preset later changes no existing account.

use crate::policy::Policy;

/// One preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Stable identifier, for clients.
    pub name: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub policies: &'static [Policy],
}

/// What every account with a login needs.
const SELF_SERVICE: [Policy; 2] = [Policy::AuthMeGet, Policy::AuthChangePassword];

/// Presets from least to most powerful.
pub const ROLES: &[Role] = &[
    Role {
        name: "viewer",
        label: "Viewer",
        description: "Sees the VMs and the host; changes nothing.",
        policies: &[
            SELF_SERVICE[0],
            SELF_SERVICE[1],
            Policy::HostGet,
            Policy::ImagesGet,
            Policy::VmsGet,
            Policy::VmsGetById,
            Policy::VmsScreenshot,
        ],
    },
    Role {
        name: "vm-owner",
        label: "VM owner",
        description: "Creates VMs and does everything with their own; sees nobody else's.",
        policies: &[
            SELF_SERVICE[0],
            SELF_SERVICE[1],
            Policy::HostGet,
            Policy::ImagesGet,
            Policy::VmsCreate,
        ],
    },
    Role {
        name: "operator",
        label: "Operator",
        description: "Runs every VM: power, consoles, snapshots, clones and credentials.",
        policies: &[
            SELF_SERVICE[0],
            SELF_SERVICE[1],
            Policy::HostGet,
            Policy::ImagesGet,
            Policy::VmsGet,
            Policy::VmsGetById,
            Policy::VmsCreate,
            Policy::VmsStart,
            Policy::VmsStop,
            Policy::VmsReboot,
            Policy::VmsPause,
            Policy::VmsRename,
            Policy::VmsResize,
            Policy::VmsSnapshotsCreate,
            Policy::VmsSnapshotsRevert,
            Policy::VmsSnapshotsDelete,
            Policy::VmsConnect,
            Policy::VmsScreenshot,
            Policy::VmsDuplicate,
            Policy::VmsCredentialsCreate,
            Policy::VmsCredentialsRevoke,
            Policy::VmsCredentialsList,
        ],
    },
    Role {
        name: "auditor",
        label: "Auditor",
        description: "Reads the audit log, console recordings and usage; changes nothing.",
        policies: &[
            SELF_SERVICE[0],
            SELF_SERVICE[1],
            Policy::HostGet,
            Policy::ImagesGet,
            Policy::PoliciesGet,
            Policy::UsersGet,
            Policy::VmsGet,
            Policy::VmsGetById,
            Policy::VmsCredentialsList,
            Policy::AuditGet,
            Policy::UsageGet,
        ],
    },
    Role {
        name: "admin",
        label: "Administrator",
        description: "Everything, including accounts and granting administrator rights.",
        policies: &[Policy::DistriboxAdmin],
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn presets_have_unique_names_and_no_repeated_policies() {
        let names: BTreeSet<_> = ROLES.iter().map(|role| role.name).collect();
        assert_eq!(names.len(), ROLES.len());
        for role in ROLES {
            let distinct: BTreeSet<_> = role.policies.iter().collect();
            assert_eq!(distinct.len(), role.policies.len(), "{} repeats", role.name);
            assert!(!role.policies.is_empty());
        }
    }

    #[test]
    fn only_the_admin_preset_grants_administrator_rights() {
        for role in ROLES {
            assert_eq!(
                role.policies.contains(&Policy::DistriboxAdmin),
                role.name == "admin",
                "{}",
                role.name
            );
        }
    }

    #[test]
    fn the_viewer_and_auditor_change_nothing() {
        let read_only = |policy: &Policy| {
            policy.as_str().ends_with(":get")
                || matches!(
                    policy,
                    Policy::VmsGetById
                        | Policy::VmsScreenshot
                        | Policy::VmsCredentialsList
                        | Policy::AuthChangePassword
                )
        };
        for name in ["viewer", "auditor"] {
            let role = ROLES.iter().find(|role| role.name == name).unwrap();
            assert!(role.policies.iter().all(read_only), "{name}");
        }
    }
}
