//! The policy catalogue. Policy names are part of the public interface: they are
//! stored in events, shown in the dashboard and accepted by the API, so they never change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

macro_rules! policies {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        /// A permission an account can hold. `DistriboxAdmin` implies every other one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub enum Policy { $($variant,)* }

        impl Policy {
            /// Every policy, in catalogue order.
            pub const ALL: &'static [Policy] = &[$(Policy::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Policy::$variant => $name,)* }
            }

            /// What holding the policy lets an account do, in one line for people granting it.
            pub fn description(self) -> &'static str {
                match self { $(Policy::$variant => $description,)* }
            }
        }

        impl FromStr for Policy {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Policy::$variant),)*
                    other => Err(DomainError::bad_input(format!("unknown policy `{other}`"))),
                }
            }
        }
    };
}

policies! {
    AuthMeGet => "auth:me:get", "See your own account and the policies it holds";
    AuthChangePassword => "auth:changePassword", "Change your own password";
    HostGet => "host:get", "See the host's CPUs, memory, disk and hypervisor health";
    ImagesGet => "images:get", "List the OS images VMs can be built from";
    ImagesImport => "images:import", "Import OS images: download, upload, retry, describe";
    ImagesDelete => "images:delete", "Retire, reinstate and delete OS images";
    PoliciesGet => "policies:get", "List the policy catalogue";
    UsersGet => "users:get", "List accounts and what they may do";
    UsersCreate => "users:create", "Create accounts";
    UsersUpdatePolicies => "users:updatePolicies", "Grant and take away policies, globally or per VM";
    UsersDelete => "users:delete", "Disable, enable and delete accounts";
    VmsGet => "vms:get", "List every VM (without it, only your own and those granted to you)";
    VmsGetById => "vms:getById", "Open a VM's page: its details and history";
    VmsCreate => "vms:create", "Create VMs (you own what you create)";
    VmsStart => "vms:start", "Start a VM";
    VmsStop => "vms:stop", "Shut down and force stop a VM";
    VmsReboot => "vms:reboot", "Reboot a VM";
    VmsPause => "vms:pause", "Pause and resume a VM";
    VmsRename => "vms:rename", "Rename a VM and edit its note and tags";
    VmsResize => "vms:resize", "Change a VM's vCPUs, memory and disk size";
    VmsSnapshotsCreate => "vms:snapshots:create", "Take snapshots of a VM";
    VmsSnapshotsRevert => "vms:snapshots:revert", "Revert a VM to one of its snapshots";
    VmsSnapshotsDelete => "vms:snapshots:delete", "Delete a VM's snapshots";
    VmsRecover => "vms:recover", "Adopt or discard VMs found in libvirt without a history";
    VmsConnect => "vms:connect", "Open a VM's graphical and serial consoles";
    VmsDelete => "vms:delete", "Delete a VM and its disk";
    VmsScreenshot => "vms:screenshot", "See a running VM's screen as a picture (monitor wall)";
    VmsDuplicate => "vms:duplicate", "Clone a VM";
    VmsCredentialsCreate => "vms:credentials:create", "Issue console credentials for a VM to people without an account";
    VmsCredentialsRevoke => "vms:credentials:revoke", "Revoke a VM's console credentials";
    VmsCredentialsList => "vms:credentials:list", "List a VM's console credentials";
    AuditGet => "audit:get", "Read and export the full audit log, console sessions and recordings";
    UsageGet => "usage:get", "See and export usage reports and charts";
    DistriboxAdmin => "distribox:admin", "Everything, including granting distribox:admin";
}

impl Policy {
    /// Policies about one VM: they can be granted for chosen VMs only, and a VM's owner holds
    /// them on it. The others (listing, creating, accounts, audit, …) are global only.
    pub fn is_vm_scoped(self) -> bool {
        matches!(
            self,
            Policy::VmsGetById
                | Policy::VmsStart
                | Policy::VmsStop
                | Policy::VmsReboot
                | Policy::VmsPause
                | Policy::VmsRename
                | Policy::VmsResize
                | Policy::VmsConnect
                | Policy::VmsDelete
                | Policy::VmsScreenshot
                | Policy::VmsDuplicate
                | Policy::VmsSnapshotsCreate
                | Policy::VmsSnapshotsRevert
                | Policy::VmsSnapshotsDelete
                | Policy::VmsCredentialsCreate
                | Policy::VmsCredentialsRevoke
                | Policy::VmsCredentialsList
        )
    }
}

/// An account's policies for particular VMs: grants for VMs it doesn't own, and owner rights an
/// administrator took away on VMs it does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedPolicies {
    #[serde(default)]
    pub grants: BTreeMap<Uuid, PolicySet>,
    #[serde(default)]
    pub denials: BTreeMap<Uuid, PolicySet>,
}

impl ScopedPolicies {
    /// Whether `policy` is held on VM `vm`, whose owner is `owner`, through a grant for it or
    /// through owning it. Global policies are checked apart.
    pub fn allows(&self, policy: Policy, vm: Uuid, owns: bool) -> bool {
        let granted = self.grants.get(&vm).is_some_and(|set| set.contains(policy));
        let denied = self
            .denials
            .get(&vm)
            .is_some_and(|set| set.contains(policy));
        granted || (owns && policy.is_vm_scoped() && !denied)
    }

    /// Whether VM `vm` is visible: anything granted on it, or owning it.
    pub fn sees(&self, vm: Uuid, owns: bool) -> bool {
        owns || self
            .grants
            .get(&vm)
            .is_some_and(|set| set.iter().next().is_some())
    }

    pub fn grant(&mut self, policy: Policy, vm: Uuid) {
        self.grants.entry(vm).or_default().insert(policy);
        Self::remove(&mut self.denials, policy, vm);
    }

    pub fn revoke(&mut self, policy: Policy, vm: Uuid) {
        Self::remove(&mut self.grants, policy, vm);
        self.denials.entry(vm).or_default().insert(policy);
    }

    fn remove(map: &mut BTreeMap<Uuid, PolicySet>, policy: Policy, vm: Uuid) {
        if let Some(set) = map.get_mut(&vm) {
            set.remove(policy);
            if set.iter().next().is_none() {
                map.remove(&vm);
            }
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Policy> for String {
    fn from(policy: Policy) -> Self {
        policy.as_str().to_owned()
    }
}

impl TryFrom<String> for Policy {
    type Error = DomainError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

/// The policies one account holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicySet(BTreeSet<Policy>);

impl PolicySet {
    /// Parses policy names, refusing the whole list if any name is unknown.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, DomainError> {
        names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether this set grants `policy`, directly or through `distribox:admin`.
    pub fn allows(&self, policy: Policy) -> bool {
        self.0.contains(&Policy::DistriboxAdmin) || self.0.contains(&policy)
    }

    pub fn iter(&self) -> impl Iterator<Item = Policy> + '_ {
        self.0.iter().copied()
    }

    pub fn contains(&self, policy: Policy) -> bool {
        self.0.contains(&policy)
    }

    pub fn insert(&mut self, policy: Policy) -> bool {
        self.0.insert(policy)
    }

    pub fn remove(&mut self, policy: Policy) -> bool {
        self.0.remove(&policy)
    }
}

impl FromIterator<Policy> for PolicySet {
    fn from_iter<T: IntoIterator<Item = Policy>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for policy in Policy::ALL {
            assert_eq!(policy.as_str().parse::<Policy>().unwrap(), *policy);
        }
        assert_eq!(Policy::ALL.len(), 34);
    }

    #[test]
    fn admin_implies_everything_and_unknown_names_are_refused() {
        let admin = PolicySet::parse(&["distribox:admin"]).unwrap();
        assert!(Policy::ALL.iter().all(|p| admin.allows(*p)));
        let viewer = PolicySet::parse(&["vms:get"]).unwrap();
        assert!(viewer.allows(Policy::VmsGet));
        assert!(!viewer.allows(Policy::VmsStart));
        let err = PolicySet::parse(&["vms:get", "vms:fly"]).unwrap_err();
        assert_eq!(err.message, "unknown policy `vms:fly`");
    }
}

#[cfg(test)]
mod scoped_tests {
    use super::*;

    #[test]
    fn scoped_grants_owner_rights_and_denials() {
        let (mine, theirs, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut scoped = ScopedPolicies::default();
        scoped.grant(Policy::VmsConnect, theirs);
        assert!(scoped.allows(Policy::VmsConnect, theirs, false));
        assert!(!scoped.allows(Policy::VmsStart, theirs, false));
        assert!(!scoped.allows(Policy::VmsConnect, other, false));
        assert!(scoped.sees(theirs, false) && !scoped.sees(other, false));
        // Owners hold the VM-level policies on their VMs, until one is taken away.
        assert!(scoped.allows(Policy::VmsDelete, mine, true));
        assert!(!scoped.allows(Policy::VmsCreate, mine, true));
        scoped.revoke(Policy::VmsDelete, mine);
        assert!(!scoped.allows(Policy::VmsDelete, mine, true));
        assert!(scoped.allows(Policy::VmsStart, mine, true) && scoped.sees(mine, true));
        scoped.grant(Policy::VmsDelete, mine);
        assert!(scoped.allows(Policy::VmsDelete, mine, true));
        // Revoking the last grant on a VM hides it again.
        scoped.revoke(Policy::VmsConnect, theirs);
        assert!(!scoped.sees(theirs, false));
    }
}
