//! What goes into a VM's cloud-init NoCloud seed: a unique instance id, a hostname, and
//! optionally a login user with a password hash and/or SSH public keys. There is never a shared
//! default password: a user gets in only with what the request gave.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The seed as recorded in `VmCreated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSpec {
    /// cloud-init runs its first-boot setup once per instance id; a clone gets a new one.
    pub instance_id: String,
    pub hostname: String,
    pub user: Option<SeedUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedUser {
    pub name: String,
    /// A crypt(3) SHA-512 hash (`$6$…`); the password itself is never stored.
    pub password_hash: Option<String>,
    pub ssh_keys: Vec<String>,
}

/// Unvalidated seed input of a `CreateVm` command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedInput {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub password_hash: Option<String>,
    pub ssh_keys: Vec<String>,
}

const MAX_SSH_KEYS: usize = 32;
const MAX_SSH_KEY_BYTES: usize = 16 * 1024;

impl SeedSpec {
    /// Validates `input`; `fallback_hostname` is used when none is given.
    pub fn new(
        instance_id: String,
        fallback_hostname: String,
        input: SeedInput,
    ) -> Result<Self, DomainError> {
        let hostname = match input.hostname {
            Some(hostname) => parse_hostname(&hostname)?,
            None => fallback_hostname,
        };
        let user = match input.user {
            Some(name) => {
                let name = parse_user(&name)?;
                let ssh_keys = input
                    .ssh_keys
                    .iter()
                    .map(|k| parse_ssh_key(k))
                    .collect::<Result<Vec<_>, _>>()?;
                if ssh_keys.len() > MAX_SSH_KEYS {
                    return Err(DomainError::bad_field(
                        "sshKeys",
                        format!("at most {MAX_SSH_KEYS} SSH keys"),
                    ));
                }
                if input.password_hash.is_none() && ssh_keys.is_empty() {
                    return Err(DomainError::bad_input(
                        "a login user needs a password or at least one SSH public key",
                    ));
                }
                Some(SeedUser {
                    name,
                    password_hash: input.password_hash,
                    ssh_keys,
                })
            }
            None if input.password_hash.is_some() || !input.ssh_keys.is_empty() => {
                // The fix is to name a user, whatever else was given.
                return Err(DomainError::bad_field(
                    "user",
                    "a password or SSH keys need a user name",
                ));
            }
            None => None,
        };
        Ok(Self {
            instance_id,
            hostname,
            user,
        })
    }
}

/// RFC 1123 host name, lower-cased: labels of 1–63 `a-z 0-9 -`, not starting or ending with `-`.
fn parse_hostname(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim().to_ascii_lowercase();
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if name.len() <= 253 && name.split('.').all(valid_label) {
        Ok(name)
    } else {
        Err(DomainError::bad_field(
            "hostname",
            "hostname must be letters, digits and '-' in dot-separated labels of up to 63",
        ))
    }
}

/// A POSIX-portable user name that cloud-init and `useradd` accept.
fn parse_user(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    let mut chars = name.chars();
    let valid = name.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err(DomainError::bad_field(
            "user",
            "user must be up to 32 of a-z, 0-9, '_' or '-', starting with a letter or '_'",
        ));
    }
    if name == "root" {
        return Err(DomainError::bad_field("user", "user must not be root"));
    }
    Ok(name.to_owned())
}

/// One OpenSSH public key line: `<type> <base64> [comment]`.
fn parse_ssh_key(raw: &str) -> Result<String, DomainError> {
    let key = raw.trim();
    let mut parts = key.split_whitespace();
    let kind = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("");
    let known = kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
    let base64 = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    if !known || !base64 || key.len() > MAX_SSH_KEY_BYTES || key.contains(['\n', '\r']) {
        return Err(DomainError::bad_field(
            "sshKeys",
            "ssh keys must be OpenSSH public key lines (`ssh-ed25519 AAAA… comment`)",
        ));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        hostname: Option<&str>,
        user: Option<&str>,
        hash: Option<&str>,
        keys: &[&str],
    ) -> SeedInput {
        SeedInput {
            hostname: hostname.map(str::to_owned),
            user: user.map(str::to_owned),
            password_hash: hash.map(str::to_owned),
            ssh_keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn seed(input: SeedInput) -> Result<SeedSpec, DomainError> {
        SeedSpec::new("iid-1".to_owned(), "vm-1".to_owned(), input)
    }

    #[test]
    fn a_seed_without_user_has_the_fallback_hostname() {
        let spec = seed(SeedInput::default()).unwrap();
        assert_eq!((spec.hostname.as_str(), spec.user), ("vm-1", None));
    }

    #[test]
    fn users_need_a_password_or_a_key() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB alice@laptop";
        let spec = seed(input(Some("Web-01.lab"), Some("alice"), None, &[key])).unwrap();
        assert_eq!(spec.hostname, "web-01.lab");
        assert_eq!(spec.user.unwrap().ssh_keys, vec![key.to_owned()]);
        assert!(seed(input(None, Some("alice"), Some("$6$salt$hash"), &[])).is_ok());
        assert_eq!(
            seed(input(None, Some("alice"), None, &[]))
                .unwrap_err()
                .message,
            "a login user needs a password or at least one SSH public key"
        );
        assert!(seed(input(None, None, Some("$6$x$y"), &[])).is_err());
    }

    #[test]
    fn bad_seed_input_is_refused() {
        for hostname in [
            "-lead",
            "a..b",
            "under_score",
            &"a".repeat(64),
            "sp ace",
            "x'; reboot",
        ] {
            assert!(
                seed(input(Some(hostname), None, None, &[])).is_err(),
                "{hostname}"
            );
        }
        for user in ["root", "9lives", "Alice", "a b", &"a".repeat(33), "x;y"] {
            assert!(
                seed(input(None, Some(user), Some("$6$x$y"), &[])).is_err(),
                "{user}"
            );
        }
        for key in [
            "not a key",
            "ssh-rsa",
            "ssh-ed25519 AAAA\nssh-rsa BBBB",
            "ssh-ed25519 AA$A",
        ] {
            assert!(
                seed(input(None, Some("alice"), None, &[key])).is_err(),
                "{key:?}"
            );
        }
    }
}
