use cqrs_es::test::TestFramework;

use super::*;
use crate::policy::{Policy, PolicySet};
use crate::DomainError;

fn account() -> TestFramework<Account> {
    TestFramework::with(())
}

fn create(username: &str, policies: &[&str]) -> AccountCommand {
    AccountCommand::Create {
        username: username.to_owned(),
        password_hash: "$argon2id$stub".to_owned(),
        policies: policies.iter().map(|p| p.to_string()).collect(),
    }
}

fn created() -> AccountEvent {
    AccountEvent::AccountCreated {
        username: Username::parse("admin").unwrap(),
        password_hash: "$argon2id$stub".to_owned(),
        policies: [Policy::DistriboxAdmin].into_iter().collect::<PolicySet>(),
    }
}

#[test]
fn create_normalises_the_username() {
    account()
        .given_no_previous_events()
        .when(create(" Admin ", &["distribox:admin"]))
        .then_expect_events(vec![created()]);
}

#[test]
fn create_refuses_bad_usernames_and_unknown_policies() {
    for bad in [
        "",
        "-lead",
        "has space",
        "ünï",
        &"a".repeat(33),
        "semi;colon",
    ] {
        account().given_no_previous_events().when(create(bad, &[])).then_expect_error(DomainError::bad_field(
            "username",
            "username must be 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    account()
        .given_no_previous_events()
        .when(create("bob", &["vms:get", "root:everything"]))
        .then_expect_error(DomainError::bad_field(
            "policies",
            "unknown policy `root:everything`",
        ));
}

#[test]
fn a_taken_username_is_a_conflict() {
    account()
        .given(vec![created()])
        .when(create("ADMIN", &[]))
        .then_expect_error(DomainError::conflict("username `admin` is already taken"));
}

#[test]
fn logins_are_recorded_only_for_existing_accounts() {
    account()
        .given(vec![created()])
        .when(AccountCommand::RecordLogin {
            session_id: "s1".to_owned(),
        })
        .then_expect_events(vec![AccountEvent::LoggedIn {
            session_id: "s1".to_owned(),
        }]);
    account()
        .given(vec![created()])
        .when(AccountCommand::RecordLoginFailure {
            reason: LoginFailure::WrongPassword,
        })
        .then_expect_events(vec![AccountEvent::LoginFailed {
            reason: LoginFailure::WrongPassword,
        }]);
    account()
        .given_no_previous_events()
        .when(AccountCommand::RecordLogin {
            session_id: "s1".to_owned(),
        })
        .then_expect_error(DomainError::not_found("account not found"));
}

#[test]
fn account_ids_are_derived_from_the_normalised_username() {
    let a = account_id_for(&Username::parse("Alice").unwrap());
    let b = account_id_for(&Username::parse("alice").unwrap());
    let c = account_id_for(&Username::parse("bob").unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

fn alice() -> AccountEvent {
    AccountEvent::AccountCreated {
        username: Username::parse("alice").unwrap(),
        password_hash: "$argon2id$stub".to_owned(),
        policies: [Policy::VmsGet].into_iter().collect::<PolicySet>(),
    }
}

#[test]
fn policies_are_replaced_validated_and_admin_keeps_admin() {
    account()
        .given(vec![alice()])
        .when(AccountCommand::SetPolicies {
            policies: vec!["vms:get".to_owned(), "vms:start".to_owned()],
        })
        .then_expect_events(vec![AccountEvent::PoliciesSet {
            policies: [Policy::VmsGet, Policy::VmsStart].into_iter().collect(),
        }]);
    // The same set again records nothing.
    account()
        .given(vec![alice()])
        .when(AccountCommand::SetPolicies {
            policies: vec!["vms:get".to_owned()],
        })
        .then_expect_events(vec![]);
    account()
        .given(vec![alice()])
        .when(AccountCommand::SetPolicies {
            policies: vec!["vms:fly".to_owned()],
        })
        .then_expect_error(DomainError::bad_field(
            "policies",
            "unknown policy `vms:fly`",
        ));
    account()
        .given(vec![created()])
        .when(AccountCommand::SetPolicies {
            policies: vec!["vms:get".to_owned()],
        })
        .then_expect_error(DomainError::conflict(
            "the admin account keeps distribox:admin",
        ));
}

#[test]
fn the_admin_account_cannot_be_disabled_or_deleted() {
    account()
        .given(vec![created()])
        .when(AccountCommand::Disable)
        .then_expect_error(DomainError::conflict(
            "the admin account cannot be disabled",
        ));
    account()
        .given(vec![created()])
        .when(AccountCommand::Delete)
        .then_expect_error(DomainError::conflict("the admin account cannot be deleted"));
}

#[test]
fn disable_delete_and_what_follows() {
    account()
        .given(vec![alice()])
        .when(AccountCommand::Disable)
        .then_expect_events(vec![AccountEvent::AccountDisabled]);
    let disabled = vec![alice(), AccountEvent::AccountDisabled];
    account()
        .given(disabled.clone())
        .when(AccountCommand::Disable)
        .then_expect_error(DomainError::conflict("the account is already disabled"));
    account()
        .given(disabled.clone())
        .when(AccountCommand::RecordLogin {
            session_id: "s".to_owned(),
        })
        .then_expect_error(DomainError::conflict("the account is disabled"));
    // Enabled again, it logs in; enabling twice is refused.
    account()
        .given(disabled.clone())
        .when(AccountCommand::Enable)
        .then_expect_events(vec![AccountEvent::AccountEnabled]);
    let enabled = vec![
        alice(),
        AccountEvent::AccountDisabled,
        AccountEvent::AccountEnabled,
    ];
    account()
        .given(enabled.clone())
        .when(AccountCommand::RecordLogin {
            session_id: "s".to_owned(),
        })
        .then_expect_events(vec![AccountEvent::LoggedIn {
            session_id: "s".to_owned(),
        }]);
    account()
        .given(enabled)
        .when(AccountCommand::Enable)
        .then_expect_error(DomainError::conflict("the account is not disabled"));
    account()
        .given(disabled)
        .when(AccountCommand::Delete)
        .then_expect_events(vec![AccountEvent::AccountDeleted]);
    let deleted = vec![alice(), AccountEvent::AccountDeleted];
    for command in [
        AccountCommand::Disable,
        AccountCommand::Enable,
        AccountCommand::Delete,
        AccountCommand::ChangePassword {
            password_hash: "h".to_owned(),
        },
        AccountCommand::SetPolicies { policies: vec![] },
    ] {
        account()
            .given(deleted.clone())
            .when(command)
            .then_expect_error(DomainError::not_found("account not found"));
    }
    // Usernames are never reused.
    account()
        .given(deleted)
        .when(create("alice", &[]))
        .then_expect_error(DomainError::conflict("username `alice` is already taken"));
}

#[test]
fn password_changes_and_logouts_are_recorded() {
    account()
        .given(vec![alice()])
        .when(AccountCommand::ChangePassword {
            password_hash: "$argon2id$new".to_owned(),
        })
        .then_expect_events(vec![AccountEvent::PasswordChanged {
            password_hash: "$argon2id$new".to_owned(),
        }]);
    account()
        .given(vec![alice()])
        .when(AccountCommand::RecordLogout {
            session_id: "s".to_owned(),
        })
        .then_expect_events(vec![AccountEvent::LoggedOut {
            session_id: "s".to_owned(),
        }]);
}

#[test]
fn policies_are_granted_and_revoked_globally_or_per_vm() {
    let vm = uuid::Uuid::from_u128(7);
    let grant = |policy: &str, vm| AccountCommand::Grant {
        policy: policy.to_owned(),
        vm,
    };
    account()
        .given(vec![alice()])
        .when(grant("vms:connect", Some(vm)))
        .then_expect_events(vec![AccountEvent::PolicyGranted {
            policy: Policy::VmsConnect,
            vm: Some(vm),
        }]);
    account()
        .given(vec![alice()])
        .when(grant("vms:get", None))
        .then_expect_events(vec![]);
    account()
        .given(vec![alice()])
        .when(grant("vms:create", Some(vm)))
        .then_expect_error(DomainError::bad_input(
            "`vms:create` can't be granted for a single VM",
        ));
    account()
        .given(vec![alice()])
        .when(grant("vms:fly", None))
        .then_expect_error(DomainError::bad_field("policy", "unknown policy `vms:fly`"));
    account()
        .given(vec![created()])
        .when(AccountCommand::Revoke {
            policy: "distribox:admin".to_owned(),
            vm: None,
        })
        .then_expect_error(DomainError::conflict(
            "the admin account keeps distribox:admin",
        ));
    // A revoke on a VM is recorded even without a grant: it takes an owner's right away.
    account()
        .given(vec![alice()])
        .when(AccountCommand::Revoke {
            policy: "vms:delete".to_owned(),
            vm: Some(vm),
        })
        .then_expect_events(vec![AccountEvent::PolicyRevoked {
            policy: Policy::VmsDelete,
            vm: Some(vm),
        }]);
    let mut state = Account::default();
    for event in [
        alice(),
        AccountEvent::PolicyGranted {
            policy: Policy::VmsConnect,
            vm: Some(vm),
        },
        AccountEvent::PolicyRevoked {
            policy: Policy::VmsGet,
            vm: None,
        },
    ] {
        cqrs_es::Aggregate::apply(&mut state, event);
    }
    assert!(state.scoped.allows(Policy::VmsConnect, vm, false));
    assert!(!state.policies.contains(Policy::VmsGet));
}

#[test]
fn several_policies_are_granted_on_a_vm_at_once_or_not_at_all() {
    let vm = uuid::Uuid::from_u128(7);
    let grant_all = |policies: &[&str]| AccountCommand::GrantAll {
        policies: policies.iter().map(|p| p.to_string()).collect(),
        vm: Some(vm),
    };
    let granted = |policy| AccountEvent::PolicyGranted {
        policy,
        vm: Some(vm),
    };
    account()
        .given(vec![alice()])
        .when(grant_all(&["vms:start", "vms:connect", "vms:start"]))
        .then_expect_events(vec![granted(Policy::VmsStart), granted(Policy::VmsConnect)]);
    // Already held: only what is new is recorded.
    account()
        .given(vec![alice(), granted(Policy::VmsStart)])
        .when(grant_all(&["vms:start", "vms:stop"]))
        .then_expect_events(vec![granted(Policy::VmsStop)]);
    // One global-only policy refuses the whole grant.
    account()
        .given(vec![alice()])
        .when(grant_all(&["vms:start", "users:create"]))
        .then_expect_error(
            DomainError::bad_input("`users:create` can't be granted for a single VM")
                .in_field("policies"),
        );
    account()
        .given(vec![alice()])
        .when(grant_all(&[]))
        .then_expect_error(DomainError::bad_input("name at least one policy").in_field("policies"));
}
