//! The policy catalogue (DESIGN.md §4). Policy names are part of the public interface: they are
//! stored in events, shown in the dashboard and accepted by the API, so they never change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

macro_rules! policies {
    ($($variant:ident => $name:literal,)*) => {
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
    AuthMeGet => "auth:me:get",
    AuthChangePassword => "auth:changePassword",
    HostGet => "host:get",
    ImagesGet => "images:get",
    ImagesImport => "images:import",
    ImagesDelete => "images:delete",
    PoliciesGet => "policies:get",
    UsersGet => "users:get",
    UsersCreate => "users:create",
    UsersUpdatePolicies => "users:updatePolicies",
    UsersDelete => "users:delete",
    VmsGet => "vms:get",
    VmsGetById => "vms:getById",
    VmsCreate => "vms:create",
    VmsStart => "vms:start",
    VmsStop => "vms:stop",
    VmsReboot => "vms:reboot",
    VmsPause => "vms:pause",
    VmsRename => "vms:rename",
    VmsResize => "vms:resize",
    VmsSnapshotsCreate => "vms:snapshots:create",
    VmsSnapshotsRevert => "vms:snapshots:revert",
    VmsSnapshotsDelete => "vms:snapshots:delete",
    VmsRecover => "vms:recover",
    VmsConnect => "vms:connect",
    VmsDelete => "vms:delete",
    VmsScreenshot => "vms:screenshot",
    VmsDuplicate => "vms:duplicate",
    VmsCredentialsCreate => "vms:credentials:create",
    VmsCredentialsRevoke => "vms:credentials:revoke",
    VmsCredentialsList => "vms:credentials:list",
    AuditGet => "audit:get",
    UsageGet => "usage:get",
    DistriboxAdmin => "distribox:admin",
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
