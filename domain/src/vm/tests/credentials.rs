//! Credentials: issued with a hashed secret, named uniquely among live ones, revoked once.

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

use super::{deleted, running, vm, with};
use crate::vm::*;
use crate::DomainError;

const ID: Uuid = Uuid::from_u128(42);

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fn issue(name: &str, expires_at: Option<chrono::DateTime<Utc>>) -> VmCommand {
    VmCommand::IssueCredential {
        id: ID,
        name: name.to_owned(),
        secret_hash: "ab".repeat(32),
        expires_at,
        at: now(),
    }
}

fn issued(expires_at: Option<chrono::DateTime<Utc>>) -> VmEvent {
    VmEvent::VmCredentialIssued {
        id: ID,
        name: "class of 2026".to_owned(),
        secret_hash: "ab".repeat(32),
        issued_at: now(),
        expires_at,
    }
}

#[test]
fn issue_and_revoke() {
    let tomorrow = Some(now() + Duration::days(1));
    vm().given(running())
        .when(issue(" class of 2026 ", tomorrow))
        .then_expect_events(vec![issued(tomorrow)]);
    vm().given(with(running(), &[issued(None)]))
        .when(VmCommand::RevokeCredential { id: ID })
        .then_expect_events(vec![VmEvent::VmCredentialRevoked { id: ID }]);
}

#[test]
fn credential_refusals() {
    let revoked = with(
        running(),
        &[issued(None), VmEvent::VmCredentialRevoked { id: ID }],
    );
    for (given, command, error) in [
        (
            running(),
            issue("x", Some(now())),
            DomainError::bad_field("expiresAt", "expiresAt must be in the future"),
        ),
        (
            running(),
            issue("\u{7}", None),
            DomainError::bad_field(
                "name",
                "credential name must not contain control characters",
            ),
        ),
        (
            with(running(), &[issued(None)]),
            VmCommand::IssueCredential {
                id: Uuid::from_u128(43),
                name: "class of 2026".to_owned(),
                secret_hash: "cd".repeat(32),
                expires_at: None,
                at: now(),
            },
            DomainError::conflict("a credential named `class of 2026` already exists"),
        ),
        (
            running(),
            VmCommand::RevokeCredential { id: ID },
            DomainError::not_found("credential not found"),
        ),
        (
            revoked.clone(),
            VmCommand::RevokeCredential { id: ID },
            DomainError::conflict("the credential is already revoked"),
        ),
        (
            deleted(),
            issue("x", None),
            DomainError::not_found("VM not found"),
        ),
    ] {
        vm().given(given).when(command).then_expect_error(error);
    }
    // A revoked or expired credential's name is free again.
    vm().given(revoked)
        .when(VmCommand::IssueCredential {
            id: Uuid::from_u128(44),
            name: "class of 2026".to_owned(),
            secret_hash: "ef".repeat(32),
            expires_at: None,
            at: now(),
        })
        .then_expect_events(vec![VmEvent::VmCredentialIssued {
            id: Uuid::from_u128(44),
            name: "class of 2026".to_owned(),
            secret_hash: "ef".repeat(32),
            issued_at: now(),
            expires_at: None,
        }]);
}
