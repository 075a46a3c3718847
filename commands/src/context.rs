use std::collections::HashMap;

use distribox_domain::policy::{Policy, PolicySet, ScopedPolicies};
use uuid::Uuid;

use crate::{CommandError, ErrorCode};

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A logged-in account, with the policies it held when its session was checked.
    Account {
        id: Uuid,
        username: String,
        policies: PolicySet,
        /// Policies on chosen VMs, and owner rights taken away.
        scoped: ScopedPolicies,
    },
    /// Distribox itself: the hypervisor reporting what it observed, first-start bootstrap.
    System,
    /// Nobody has authenticated (only `login` accepts this).
    Anonymous,
}

/// One request's caller and provenance; becomes the metadata of every event it causes.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub actor: Actor,
    /// The login session the caller authenticated with, if any.
    pub session: Option<Uuid>,
    /// When the caller's identity and policies were read: anything revoked after this moment
    /// still ends what this request opens.
    pub authenticated_at: std::time::Instant,
    pub request_id: String,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestContext {
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            session: None,
            authenticated_at: std::time::Instant::now(),
            request_id: Uuid::new_v4().to_string(),
            client_addr: None,
            user_agent: None,
        }
    }

    /// The typed authorization step every command passes through: anonymous callers are
    /// unauthenticated, accounts need `policy`, the system may do anything.
    pub fn authorize(&self, policy: Policy) -> Result<(), CommandError> {
        match &self.actor {
            Actor::System => Ok(()),
            Actor::Account { policies, .. } if policies.allows(policy) => Ok(()),
            Actor::Account { .. } => Err(CommandError::forbidden(policy)),
            Actor::Anonymous => Err(CommandError::refused(
                ErrorCode::Unauthenticated,
                "log in first",
            )),
        }
    }

    /// The authorization step for a policy about VM `vm` (owned by `owner`, if it exists): held
    /// globally, granted for this VM, or held as its owner. A caller who may not even see the
    /// VM is told it does not exist, so existence doesn't leak.
    pub fn authorize_vm(
        &self,
        policy: Policy,
        vm: Uuid,
        owner: Option<Uuid>,
    ) -> Result<(), CommandError> {
        let Actor::Account {
            id,
            policies,
            scoped,
            ..
        } = &self.actor
        else {
            return self.authorize(policy);
        };
        let owns = owner.is_some() && owner == Some(*id);
        if policies.allows(policy) || scoped.allows(policy, vm, owns) {
            Ok(())
        } else if self.sees_vm(vm, owner) {
            Err(CommandError::forbidden(policy))
        } else {
            Err(CommandError::hidden(policy))
        }
    }

    /// Whether the caller may know VM `vm` (owned by `owner`) exists.
    pub fn sees_vm(&self, vm: Uuid, owner: Option<Uuid>) -> bool {
        match &self.actor {
            Actor::System => true,
            Actor::Account {
                id,
                policies,
                scoped,
                ..
            } => {
                policies.allows(Policy::VmsGet)
                    || policies.allows(Policy::VmsGetById)
                    || scoped.sees(vm, owner.is_some() && owner == Some(*id))
            }
            Actor::Anonymous => false,
        }
    }

    /// Only Distribox itself may report what the hypervisor observed.
    pub fn require_system(&self) -> Result<(), CommandError> {
        match self.actor {
            Actor::System => Ok(()),
            _ => Err(CommandError::refused(
                ErrorCode::Forbidden,
                "only Distribox may report hypervisor state",
            )),
        }
    }

    /// The keys that end this caller's live connections (see the console relay's
    /// `Revocations`): its login session and its account.
    pub fn revocation_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(session) = self.session {
            keys.push(format!("session:{session}"));
        }
        if let Some(account) = self.account_id() {
            keys.push(format!("account:{account}"));
        }
        keys
    }

    pub fn account_id(&self) -> Option<Uuid> {
        match &self.actor {
            Actor::Account { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The audit metadata stored with every event.
    /// Who acted, as the audit log names them: `account:<id>`, `system` or `anonymous`.
    pub fn actor_label(&self) -> String {
        match &self.actor {
            Actor::Account { id, .. } => format!("account:{id}"),
            Actor::System => "system".to_owned(),
            Actor::Anonymous => "anonymous".to_owned(),
        }
    }

    pub fn metadata(&self) -> HashMap<String, String> {
        let mut meta = HashMap::new();
        meta.insert("actor".to_owned(), self.actor_label());
        if let Actor::Account { username, .. } = &self.actor {
            meta.insert("actor_name".to_owned(), username.clone());
        }
        meta.insert("request_id".to_owned(), self.request_id.clone());
        if let Some(addr) = &self.client_addr {
            meta.insert("client_addr".to_owned(), addr.clone());
        }
        if let Some(agent) = &self.user_agent {
            meta.insert("user_agent".to_owned(), agent.clone());
        }
        meta.insert("at".to_owned(), chrono::Utc::now().to_rfc3339());
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(policies: &[Policy]) -> RequestContext {
        RequestContext {
            session: None,
            authenticated_at: std::time::Instant::now(),
            actor: Actor::Account {
                id: Uuid::new_v4(),
                username: "u".to_owned(),
                policies: policies.iter().copied().collect(),
                scoped: Default::default(),
            },
            ..RequestContext::system()
        }
    }

    #[test]
    fn authorization_needs_the_policy_or_admin() {
        assert!(account(&[Policy::VmsStart])
            .authorize(Policy::VmsStart)
            .is_ok());
        assert!(account(&[Policy::DistriboxAdmin])
            .authorize(Policy::VmsDelete)
            .is_ok());
        let refused = account(&[Policy::VmsGet])
            .authorize(Policy::VmsStart)
            .unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Forbidden);
        assert_eq!(refused.public_message(), "this needs the vms:start policy");
        let anonymous = RequestContext {
            session: None,
            authenticated_at: std::time::Instant::now(),
            actor: Actor::Anonymous,
            ..RequestContext::system()
        };
        assert_eq!(
            anonymous.authorize(Policy::VmsGet).unwrap_err().code(),
            ErrorCode::Unauthenticated
        );
        assert!(RequestContext::system()
            .authorize(Policy::DistriboxAdmin)
            .is_ok());
    }

    #[test]
    fn only_the_system_reports_hypervisor_state() {
        assert!(RequestContext::system().require_system().is_ok());
        let admin = account(&[Policy::DistriboxAdmin]);
        assert_eq!(
            admin.require_system().unwrap_err().code(),
            ErrorCode::Forbidden
        );
    }

    #[test]
    fn metadata_names_the_actor_and_the_request() {
        let ctx = RequestContext {
            client_addr: Some("10.0.0.7".to_owned()),
            ..account(&[])
        };
        let meta = ctx.metadata();
        assert!(meta["actor"].starts_with("account:"));
        assert_eq!(meta["actor_name"], "u");
        assert_eq!(meta["client_addr"], "10.0.0.7");
        assert!(meta.contains_key("at") && meta.contains_key("request_id"));
        assert_eq!(RequestContext::system().metadata()["actor"], "system");
    }
}
