use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::username::Username;
use uuid::Uuid;

use crate::policy::{Policy, PolicySet, ScopedPolicies};
use crate::DomainError;

/// The account Distribox creates on first start. It always exists, is never disabled and always
/// holds `distribox:admin`, so the host can never lock themselves out.
pub const ADMIN_USERNAME: &str = "admin";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountCommand {
    /// `password_hash` is an argon2id PHC string: hashing is slow and impure, so the command side
    /// does it before the aggregate decides.
    Create {
        username: String,
        password_hash: String,
        policies: Vec<String>,
    },
    /// Replaces the account's global policies.
    SetPolicies {
        policies: Vec<String>,
    },
    /// Grants one policy, globally or (`vm`) on one VM only.
    Grant {
        policy: String,
        vm: Option<Uuid>,
    },
    /// Grants several policies at once, globally or on one VM: all of them, or none if one
    /// can't be granted.
    GrantAll {
        policies: Vec<String>,
        vm: Option<Uuid>,
    },
    /// Takes one policy away, globally or on one VM (also an owner's right on their VM).
    Revoke {
        policy: String,
        vm: Option<Uuid>,
    },
    /// The command side checked the current password.
    ChangePassword {
        password_hash: String,
    },
    Disable,
    /// Lets a disabled account log in again. Its old sessions stay dead.
    Enable,
    Delete,
    /// The command side verified the password and opened session `session_id`.
    RecordLogin {
        session_id: String,
    },
    RecordLoginFailure {
        reason: LoginFailure,
    },
    RecordLogout {
        session_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    WrongPassword,
    /// The password was right but the account is disabled.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    AccountCreated {
        username: Username,
        password_hash: String,
        policies: PolicySet,
    },
    PoliciesSet {
        policies: PolicySet,
    },
    PolicyGranted {
        policy: Policy,
        vm: Option<Uuid>,
    },
    PolicyRevoked {
        policy: Policy,
        vm: Option<Uuid>,
    },
    /// Every session opened before it is dead.
    PasswordChanged {
        password_hash: String,
    },
    /// Every session is dead and no login succeeds.
    AccountDisabled,
    /// Logins succeed again; sessions ended by the disable stay ended.
    AccountEnabled,
    /// Gone for good; the username is never reused.
    AccountDeleted,
    LoggedIn {
        session_id: String,
    },
    LoginFailed {
        reason: LoginFailure,
    },
    LoggedOut {
        session_id: String,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            AccountEvent::AccountCreated { .. } => "AccountCreated",
            AccountEvent::PoliciesSet { .. } => "PoliciesSet",
            AccountEvent::PolicyGranted { .. } => "PolicyGranted",
            AccountEvent::PolicyRevoked { .. } => "PolicyRevoked",
            AccountEvent::PasswordChanged { .. } => "PasswordChanged",
            AccountEvent::AccountDisabled => "AccountDisabled",
            AccountEvent::AccountEnabled => "AccountEnabled",
            AccountEvent::AccountDeleted => "AccountDeleted",
            AccountEvent::LoggedIn { .. } => "LoggedIn",
            AccountEvent::LoginFailed { .. } => "LoginFailed",
            AccountEvent::LoggedOut { .. } => "LoggedOut",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub username: Option<Username>,
    pub password_hash: String,
    pub policies: PolicySet,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub scoped: ScopedPolicies,
}

impl Aggregate for Account {
    const TYPE: &'static str = "Account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            AccountCommand::Create {
                username,
                password_hash,
                policies,
            } => {
                let username = Username::parse(&username)?;
                let policies = PolicySet::parse(&policies).map_err(|e| e.in_field("policies"))?;
                if self.username.is_some() {
                    return Err(DomainError::conflict(format!(
                        "username `{}` is already taken",
                        username.as_str()
                    )));
                }
                AccountEvent::AccountCreated {
                    username,
                    password_hash,
                    policies,
                }
            }
            AccountCommand::SetPolicies { policies } => {
                self.require_exists()?;
                let policies = PolicySet::parse(&policies).map_err(|e| e.in_field("policies"))?;
                if self.is_admin() && !policies.iter().any(|p| p == Policy::DistriboxAdmin) {
                    return Err(DomainError::conflict(
                        "the admin account keeps distribox:admin",
                    ));
                }
                if policies == self.policies {
                    return Ok(());
                }
                AccountEvent::PoliciesSet { policies }
            }
            AccountCommand::Grant { policy, vm } => {
                self.require_exists()?;
                let policy = scopable(&policy, vm)?;
                if self.granted(policy, vm) {
                    return Ok(());
                }
                AccountEvent::PolicyGranted { policy, vm }
            }
            AccountCommand::GrantAll { policies, vm } => {
                return self.grant_all(&policies, vm, sink).await
            }
            AccountCommand::Revoke { policy, vm } => {
                self.require_exists()?;
                let policy = scopable(&policy, vm)?;
                match vm {
                    None if self.is_admin() && policy == Policy::DistriboxAdmin => {
                        return Err(DomainError::conflict(
                            "the admin account keeps distribox:admin",
                        ))
                    }
                    None if !self.policies.contains(policy) => return Ok(()),
                    Some(vm)
                        if self
                            .scoped
                            .denials
                            .get(&vm)
                            .is_some_and(|s| s.contains(policy)) =>
                    {
                        return Ok(())
                    }
                    _ => {}
                }
                AccountEvent::PolicyRevoked { policy, vm }
            }
            AccountCommand::ChangePassword { password_hash } => {
                self.require_exists()?;
                AccountEvent::PasswordChanged { password_hash }
            }
            AccountCommand::Disable => {
                self.require_exists()?;
                if self.is_admin() {
                    return Err(DomainError::conflict(
                        "the admin account cannot be disabled",
                    ));
                }
                if self.disabled {
                    return Err(DomainError::conflict("the account is already disabled"));
                }
                AccountEvent::AccountDisabled
            }
            AccountCommand::Enable => {
                self.require_exists()?;
                if !self.disabled {
                    return Err(DomainError::conflict("the account is not disabled"));
                }
                AccountEvent::AccountEnabled
            }
            AccountCommand::Delete => {
                self.require_exists()?;
                if self.is_admin() {
                    return Err(DomainError::conflict("the admin account cannot be deleted"));
                }
                AccountEvent::AccountDeleted
            }
            AccountCommand::RecordLogin { session_id } => {
                self.require_exists()?;
                if self.disabled {
                    return Err(DomainError::conflict("the account is disabled"));
                }
                AccountEvent::LoggedIn { session_id }
            }
            AccountCommand::RecordLoginFailure { reason } => {
                self.require_exists()?;
                AccountEvent::LoginFailed { reason }
            }
            AccountCommand::RecordLogout { session_id } => {
                self.require_exists()?;
                AccountEvent::LoggedOut { session_id }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccountEvent::AccountCreated {
                username,
                password_hash,
                policies,
            } => {
                self.username = Some(username);
                self.password_hash = password_hash;
                self.policies = policies;
            }
            AccountEvent::PoliciesSet { policies } => self.policies = policies,
            AccountEvent::PolicyGranted { policy, vm } => match vm {
                Some(vm) => self.scoped.grant(policy, vm),
                None => {
                    self.policies.insert(policy);
                }
            },
            AccountEvent::PolicyRevoked { policy, vm } => match vm {
                Some(vm) => self.scoped.revoke(policy, vm),
                None => {
                    self.policies.remove(policy);
                }
            },
            AccountEvent::PasswordChanged { password_hash } => self.password_hash = password_hash,
            AccountEvent::AccountDisabled => self.disabled = true,
            AccountEvent::AccountEnabled => self.disabled = false,
            AccountEvent::AccountDeleted => self.deleted = true,
            AccountEvent::LoggedIn { .. }
            | AccountEvent::LoginFailed { .. }
            | AccountEvent::LoggedOut { .. } => {}
        }
    }
}

/// Parses `policy`, refusing to scope a global-only policy to one VM.
fn scopable(policy: &str, vm: Option<Uuid>) -> Result<Policy, DomainError> {
    let policy: Policy = policy
        .parse()
        .map_err(|e: DomainError| e.in_field("policy"))?;
    if vm.is_some() && !policy.is_vm_scoped() {
        return Err(DomainError::bad_input(format!(
            "`{policy}` can't be granted for a single VM"
        )));
    }
    Ok(policy)
}

impl Account {
    /// Whether `policy` is already held globally (`vm` None) or granted on `vm`.
    fn granted(&self, policy: Policy, vm: Option<Uuid>) -> bool {
        match vm {
            Some(vm) => self
                .scoped
                .grants
                .get(&vm)
                .is_some_and(|s| s.contains(policy)),
            None => self.policies.contains(policy),
        }
    }

    /// One `PolicyGranted` per policy not held yet; nothing if any of them is refused.
    async fn grant_all(
        &mut self,
        policies: &[String],
        vm: Option<Uuid>,
        sink: &EventSink<Self>,
    ) -> Result<(), DomainError> {
        self.require_exists()?;
        if policies.is_empty() {
            return Err(DomainError::bad_input("name at least one policy").in_field("policies"));
        }
        let mut fresh = Vec::new();
        for policy in policies {
            let policy = scopable(policy, vm).map_err(|e| e.in_field("policies"))?;
            if !self.granted(policy, vm) && !fresh.contains(&policy) {
                fresh.push(policy);
            }
        }
        for policy in fresh {
            sink.write(AccountEvent::PolicyGranted { policy, vm }, self)
                .await;
        }
        Ok(())
    }

    /// A deleted account answers like one that never existed.
    fn require_exists(&self) -> Result<(), DomainError> {
        match self.username {
            Some(_) if !self.deleted => Ok(()),
            _ => Err(DomainError::not_found("account not found")),
        }
    }

    fn is_admin(&self) -> bool {
        self.username
            .as_ref()
            .is_some_and(|name| name.as_str() == ADMIN_USERNAME)
    }
}
