use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::username::Username;
use crate::policy::PolicySet;
use crate::DomainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountCommand {
    /// `password_hash` is an argon2id PHC string: hashing is slow and impure, so the command side
    /// does it before the aggregate decides.
    Create {
        username: String,
        password_hash: String,
        policies: Vec<String>,
    },
    /// The command side verified the password and opened session `session_id`.
    RecordLogin {
        session_id: String,
    },
    RecordLoginFailure {
        reason: LoginFailure,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    WrongPassword,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    AccountCreated {
        username: Username,
        password_hash: String,
        policies: PolicySet,
    },
    LoggedIn {
        session_id: String,
    },
    LoginFailed {
        reason: LoginFailure,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            AccountEvent::AccountCreated { .. } => "AccountCreated",
            AccountEvent::LoggedIn { .. } => "LoggedIn",
            AccountEvent::LoginFailed { .. } => "LoginFailed",
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
                let policies = PolicySet::parse(&policies)?;
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
            AccountCommand::RecordLogin { session_id } => {
                self.require_exists()?;
                AccountEvent::LoggedIn { session_id }
            }
            AccountCommand::RecordLoginFailure { reason } => {
                self.require_exists()?;
                AccountEvent::LoginFailed { reason }
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
            AccountEvent::LoggedIn { .. } | AccountEvent::LoginFailed { .. } => {}
        }
    }
}

impl Account {
    fn require_exists(&self) -> Result<(), DomainError> {
        match self.username {
            Some(_) => Ok(()),
            None => Err(DomainError::not_found("account not found")),
        }
    }
}
