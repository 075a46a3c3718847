//! The policy catalogue (DESIGN.md §4). Policy names are part of the public interface: they are
//! stored in events, shown in the dashboard and accepted by the API, so they never change.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
        assert_eq!(Policy::ALL.len(), 32);
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
