//! The cloud-init NoCloud seed: `meta-data` and `user-data` on an ISO 9660 volume labelled
//! `cidata`, attached to the VM as a CD-ROM. Built once per VM with genisoimage; every value in
//! it was validated by the domain, and user-data is JSON (valid YAML) so nothing needs quoting
//! by hand.

use std::path::{Path, PathBuf};

use distribox_domain::vm::{KeyboardLayout, SeedSpec};
use serde_json::json;

use super::HypervisorError;

pub fn meta_data(seed: &SeedSpec) -> String {
    // Plain `key: value` lines: hostnames and instance ids are validated to a safe alphabet.
    format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        seed.instance_id, seed.hostname
    )
}

pub fn user_data(seed: &SeedSpec, keyboard: &KeyboardLayout) -> String {
    let (layout, variant) = keyboard.xkb();
    let mut config = json!({
        "hostname": seed.hostname,
        "preserve_hostname": false,
        "keyboard": { "layout": layout, "variant": variant },
    });
    if let Some(user) = &seed.user {
        let mut entry = json!({
            "name": user.name,
            "shell": "/bin/bash",
            "groups": ["sudo"],
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "ssh_authorized_keys": user.ssh_keys,
            "lock_passwd": user.password_hash.is_none(),
        });
        if let Some(hash) = &user.password_hash {
            entry["passwd"] = json!(hash);
        }
        config["users"] = json!([entry]);
        config["ssh_pwauth"] = json!(user.password_hash.is_some());
    }
    format!("#cloud-config\n{config:#}\n")
}

/// Writes `<dir>/seed.iso` unless it exists, and returns its path.
pub async fn ensure_seed_iso(
    dir: &Path,
    seed: &SeedSpec,
    keyboard: &KeyboardLayout,
) -> Result<PathBuf, HypervisorError> {
    let iso = dir.join("seed.iso");
    if tokio::fs::try_exists(&iso).await.unwrap_or(false) {
        return Ok(iso);
    }
    let failure = |e: std::io::Error| {
        HypervisorError::Failed(format!("cannot write the cloud-init seed: {e}"))
    };
    let files = dir.join("seed");
    tokio::fs::create_dir_all(&files).await.map_err(failure)?;
    {
        use std::os::unix::fs::PermissionsExt;
        // The user-data holds the guest password's hash until it is packed into the ISO.
        tokio::fs::set_permissions(&files, std::fs::Permissions::from_mode(0o700))
            .await
            .map_err(failure)?;
    }
    tokio::fs::write(files.join("meta-data"), meta_data(seed))
        .await
        .map_err(failure)?;
    tokio::fs::write(files.join("user-data"), user_data(seed, keyboard))
        .await
        .map_err(failure)?;
    let partial = dir.join("seed.iso.partial");
    let output = tokio::process::Command::new("genisoimage")
        .args(["-quiet", "-volid", "cidata", "-joliet", "-rock", "-output"])
        .arg(&partial)
        .arg(files.join("meta-data"))
        .arg(files.join("user-data"))
        .output()
        .await
        .map_err(|e| HypervisorError::Failed(format!("cannot run genisoimage: {e}")))?;
    if !output.status.success() {
        return Err(HypervisorError::Failed(format!(
            "genisoimage failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    crate::permissions::restrict_file(&partial).map_err(failure)?;
    tokio::fs::rename(&partial, &iso).await.map_err(failure)?;
    // The password hash stays only inside the ISO.
    tokio::fs::remove_dir_all(&files).await.map_err(failure)?;
    Ok(iso)
}

#[cfg(test)]
mod tests {
    use distribox_domain::vm::SeedUser;

    use super::*;

    #[test]
    fn user_data_is_cloud_config_json() {
        let seed = SeedSpec {
            instance_id: "iid-1".to_owned(),
            hostname: "box".to_owned(),
            user: Some(SeedUser {
                name: "alice".to_owned(),
                password_hash: Some("$6$salt$hash".to_owned()),
                ssh_keys: vec!["ssh-ed25519 AAAA alice".to_owned()],
            }),
        };
        let text = user_data(&seed, &KeyboardLayout::parse("de").unwrap());
        let (header, body) = text.split_once('\n').unwrap();
        assert_eq!(header, "#cloud-config");
        let config: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(config["users"][0]["name"], "alice");
        assert_eq!(config["users"][0]["passwd"], "$6$salt$hash");
        assert_eq!(config["users"][0]["lock_passwd"], false);
        assert_eq!(config["ssh_pwauth"], true);
        assert_eq!(config["keyboard"]["layout"], "de");
        assert_eq!(
            meta_data(&seed),
            "instance-id: iid-1\nlocal-hostname: box\n"
        );
        let no_user = SeedSpec { user: None, ..seed };
        assert!(serde_json::from_str::<serde_json::Value>(
            user_data(&no_user, &KeyboardLayout::default())
                .split_once('\n')
                .unwrap()
                .1
        )
        .unwrap()
        .get("users")
        .is_none());
    }
}
