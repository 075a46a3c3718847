//! Attempts that belong to no account: a login with a username nobody has, and refused requests.
//! Each is its own one-event aggregate with a fresh id, so recording them never contends with
//! anything and no stream grows without bound; the audit log reads them like any other event.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// How much of attempted text (a username, an operation name) is kept: enough to recognise it,
/// not a place to store data.
pub const KEPT_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessCommand {
    RecordUnknownLogin {
        username: String,
    },
    /// A login refused before the password was checked, because of too many failures.
    RecordThrottledLogin {
        username: String,
    },
    /// A console asked for with a wrong, revoked or expired credential secret (or, `throttled`,
    /// refused unchecked after too many of those).
    RecordCredentialRefused {
        throttled: bool,
    },
    /// A request refused for want of authentication or of a policy.
    RecordDenied {
        operation: String,
        /// The missing policy, when one was missing.
        policy: Option<String>,
        /// `UNAUTHENTICATED` or `FORBIDDEN`.
        code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessEvent {
    UnknownAccountLogin {
        username: String,
    },
    LoginThrottled {
        username: String,
    },
    CredentialRefused {
        throttled: bool,
    },
    AccessDenied {
        operation: String,
        policy: Option<String>,
        code: String,
    },
}

impl DomainEvent for AccessEvent {
    fn event_type(&self) -> String {
        match self {
            AccessEvent::UnknownAccountLogin { .. } => "UnknownAccountLogin",
            AccessEvent::LoginThrottled { .. } => "LoginThrottled",
            AccessEvent::CredentialRefused { .. } => "CredentialRefused",
            AccessEvent::AccessDenied { .. } => "AccessDenied",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// One recorded attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessAttempt {
    recorded: bool,
}

fn kept(text: &str) -> String {
    text.chars().take(KEPT_CHARS).collect()
}

impl Aggregate for AccessAttempt {
    const TYPE: &'static str = "AccessAttempt";
    type Command = AccessCommand;
    type Event = AccessEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.recorded {
            return Err(DomainError::conflict("this attempt is already recorded"));
        }
        let event = match command {
            AccessCommand::RecordUnknownLogin { username } => AccessEvent::UnknownAccountLogin {
                username: kept(&username),
            },
            AccessCommand::RecordThrottledLogin { username } => AccessEvent::LoginThrottled {
                username: kept(&username),
            },
            AccessCommand::RecordCredentialRefused { throttled } => {
                AccessEvent::CredentialRefused { throttled }
            }
            AccessCommand::RecordDenied {
                operation,
                policy,
                code,
            } => AccessEvent::AccessDenied {
                operation: kept(&operation),
                policy,
                code,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.recorded = true;
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    #[test]
    fn an_attempt_is_recorded_once_with_a_bounded_username() {
        TestFramework::<AccessAttempt>::with(())
            .given_no_previous_events()
            .when(AccessCommand::RecordUnknownLogin {
                username: "x".repeat(500),
            })
            .then_expect_events(vec![AccessEvent::UnknownAccountLogin {
                username: "x".repeat(KEPT_CHARS),
            }]);
        TestFramework::<AccessAttempt>::with(())
            .given(vec![AccessEvent::LoginThrottled {
                username: "a".to_owned(),
            }])
            .when(AccessCommand::RecordThrottledLogin {
                username: "a".to_owned(),
            })
            .then_expect_error(DomainError::conflict("this attempt is already recorded"));
    }
}
