//! Whether KVM really runs guests here, asked before choosing it by default. `/dev/kvm` opening
//! is not enough: under some nested virtualisation it opens, and then QEMU stops the first
//! guest with "KVM internal error … emulation failure", which libvirt reports as a pause.
//!
//! The probe boots QEMU's own firmware (SeaBIOS) under KVM with no disk: the firmware switches
//! to protected mode, sets up the chipset and reports "Booting from …" on its debug port within
//! a fraction of a second when KVM works. An emulation failure, an error exit or silence past
//! the deadline means it doesn't.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::libvirt::DomainType;

/// QEMU's x86 system emulator, as Debian installs it.
const QEMU: &str = "/usr/bin/qemu-system-x86_64";
/// Where SeaBIOS writes its log.
const DEBUG_PORT: &str = "isa-debugcon.iobase=0x402";
/// What SeaBIOS prints once it has set the machine up and looks for something to boot.
const BOOTED: [&str; 2] = ["Booting from", "No bootable device"];
const DEADLINE: Duration = Duration::from_secs(10);

/// The domain type to use when none is configured, with a warning for people when KVM was
/// passed over although `/dev/kvm` is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub domain_type: DomainType,
    pub warning: Option<String>,
}

/// Chooses `kvm` when a probe guest runs under it, `qemu` (software emulation) otherwise.
pub async fn choose() -> Choice {
    if let Err(err) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        // No KVM at all is an ordinary machine without it, not a fault worth a warning.
        tracing::info!(error = %err, "/dev/kvm is not usable; guests run under software emulation");
        return Choice {
            domain_type: DomainType::Qemu,
            warning: None,
        };
    }
    match probe(QEMU, "kvm", DEADLINE).await {
        Ok(()) => Choice {
            domain_type: DomainType::Kvm,
            warning: None,
        },
        Err(reason) => {
            let warning = format!(
                "/dev/kvm is present but KVM could not run a test guest ({reason}); VMs run \
                 under software emulation (slow). Set DISTRIBOX_DOMAIN_TYPE=kvm to insist."
            );
            tracing::warn!("{warning}");
            Choice {
                domain_type: DomainType::Qemu,
                warning: Some(warning),
            }
        }
    }
}

/// Boots the firmware of `qemu` with accelerator `accel` (`kvm`; `tcg` in tests) and waits up
/// to `deadline` for it to get as far as looking for a boot disk.
async fn probe(qemu: &str, accel: &str, deadline: Duration) -> Result<(), String> {
    let mut child = Command::new(qemu)
        .args(["-accel", accel, "-machine", "q35", "-m", "64"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "none", "-monitor", "none", "-boot", "strict=on"])
        .args(["-debugcon", "stdio", "-global", DEBUG_PORT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot run {qemu}: {err}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let booted = async {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if BOOTED.iter().any(|marker| line.contains(marker)) {
                return true;
            }
        }
        false
    };
    let outcome = tokio::time::timeout(deadline, booted).await;
    let _ = child.start_kill();
    let output = child.wait_with_output().await.ok();
    let complaint = output
        .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
        .and_then(|stderr| {
            stderr
                .lines()
                .rev()
                .find(|line| !line.contains("warning:") && !line.contains("terminating on signal"))
                .map(str::to_owned)
        });
    match (outcome, complaint) {
        (Ok(true), _) => Ok(()),
        (_, Some(complaint)) => Err(complaint),
        (Ok(false), None) => Err("QEMU exited before the firmware ran".to_owned()),
        (Err(_), None) => Err(format!(
            "the firmware did not get going within {deadline:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_firmware_boots_under_software_emulation() {
        // The same probe with the accelerator that always works: what "runs" looks like.
        probe(QEMU, "tcg", DEADLINE).await.unwrap();
    }

    #[tokio::test]
    async fn an_accelerator_qemu_refuses_is_reported_with_qemu_s_words() {
        let err = probe(QEMU, "no-such-accel", DEADLINE).await.unwrap_err();
        assert!(err.contains("no-such-accel"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_emulator_is_a_reason_not_a_panic() {
        let err = probe("/nonexistent/qemu", "kvm", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(err.contains("cannot run"), "{err}");
    }

    #[tokio::test]
    async fn a_guest_that_hangs_is_refused_at_the_deadline() {
        // Stands in for QEMU stuck in a guest KVM can't run: silent, and never exits.
        let script = std::env::temp_dir().join(format!("hung-qemu-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let err = probe(script.to_str().unwrap(), "kvm", Duration::from_millis(500))
            .await
            .unwrap_err();
        std::fs::remove_file(&script).unwrap();
        assert_eq!(err, "the firmware did not get going within 500ms");
    }
}
