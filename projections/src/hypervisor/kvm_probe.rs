//! Whether KVM really runs guests here, asked before choosing it by default. `/dev/kvm` opening
//! is not enough, nor is QEMU's firmware booting: under some nested virtualisation both work,
//! and then the first guest's boot loader stops with "KVM internal error … emulation failure",
//! which libvirt reports as a pause.
//!
//! The probe boots a 512-byte boot sector under KVM that walks the path such boot loaders take
//! — real mode, protected mode, then an `iret` into virtual-8086 mode — and there writes to
//! QEMU's exit port. QEMU exiting with the sector's status within the deadline means KVM runs
//! guests; an emulation failure, an error or silence means it doesn't.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::libvirt::DomainType;

/// QEMU's x86 system emulator as Debian installs it, then as RHEL-like systems do.
const EMULATORS: [&str; 2] = ["/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm"];
/// Under KVM the probe takes ~100 ms on bare metal and a few seconds nested.
const DEADLINE: Duration = Duration::from_secs(15);
/// QEMU's exit status when the sector writes 0x31 to the exit port: `(0x31 << 1) | 1`.
const PASSED: i32 = 99;

/// The boot sector's code, assembled with GNU `as --32` and `objcopy -O binary` from:
///
/// ```text
///     .code16
/// start:
///     cli
///     xor %ax, %ax
///     mov %ax, %ds
///     lgdt gdtr - start + 0x7c00
///     mov %cr0, %eax
///     or $1, %eax
///     mov %eax, %cr0
///     ljmp $0x08, $(pm - start + 0x7c00)
///     .code32
/// pm:
///     mov $0x10, %ax
///     mov %ax, %ds
///     mov %ax, %es
///     mov %ax, %ss
///     mov $0x7000, %esp
///     # TSS at 0x8000: zeroed, I/O bitmap right after it (every port allowed), then 0xff.
///     mov $0x8000, %edi
///     mov $0x89, %ecx
///     xor %eax, %eax
///     rep stosb
///     movw $0x68, 0x8066
///     movb $0xff, 0x8088
///     mov $0x18, %ax
///     ltr %ax
///     # iret into virtual-8086 mode: gs fs ds es ss esp eflags(VM) cs eip
///     push $0
///     push $0
///     push $0
///     push $0
///     push $0
///     push $0x6000
///     push $0x20002
///     push $0
///     push $(v86 - start + 0x7c00)
///     iret
///     .code16
/// v86:
///     mov $0x31, %al
///     out %al, $0xf4
///     jmp v86
///     .p2align 3
/// gdt:
///     .quad 0
///     .quad 0x00cf9a000000ffff
///     .quad 0x00cf92000000ffff
///     .quad 0x0000890080000088
/// gdtr:
///     .word gdtr - gdt - 1
///     .long gdt - start + 0x7c00
///     .org 510
///     .byte 0x55, 0xaa
/// ```
const BOOT_CODE: &[u8] = &[
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x0f, 0x01, 0x16, 0x90, 0x7c, 0x0f, 0x20, 0xc0, 0x66, 0x83, 0xc8,
    0x01, 0x0f, 0x22, 0xc0, 0xea, 0x19, 0x7c, 0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e,
    0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x70, 0x00, 0x00, 0xbf, 0x00, 0x80, 0x00, 0x00, 0xb9, 0x89, 0x00,
    0x00, 0x00, 0x31, 0xc0, 0xf3, 0xaa, 0x66, 0xc7, 0x05, 0x66, 0x80, 0x00, 0x00, 0x68, 0x00, 0xc6,
    0x05, 0x88, 0x80, 0x00, 0x00, 0xff, 0x66, 0xb8, 0x18, 0x00, 0x0f, 0x00, 0xd8, 0x6a, 0x00, 0x6a,
    0x00, 0x6a, 0x00, 0x6a, 0x00, 0x6a, 0x00, 0x68, 0x00, 0x60, 0x00, 0x00, 0x68, 0x02, 0x00, 0x02,
    0x00, 0x6a, 0x00, 0x68, 0x69, 0x7c, 0x00, 0x00, 0xcf, 0xb0, 0x31, 0xe6, 0xf4, 0xeb, 0xfa, 0x90,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, 0x88, 0x00, 0x00, 0x80, 0x00, 0x89, 0x00, 0x00,
    0x1f, 0x00, 0x70, 0x7c,
];

/// A raw disk holding the boot sector. SeaBIOS won't boot from a disk of one sector, so the
/// image is a megabyte.
fn disk_image() -> Vec<u8> {
    let mut image = vec![0_u8; 1 << 20];
    image[..BOOT_CODE.len()].copy_from_slice(BOOT_CODE);
    image[510] = 0x55;
    image[511] = 0xaa;
    image
}

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
    let Some(qemu) = EMULATORS
        .iter()
        .find(|path| std::path::Path::new(path).exists())
    else {
        // libvirt may run QEMU from elsewhere (or on another machine): KVM it is, unproven.
        tracing::warn!("no QEMU found here to probe KVM with; using KVM untested");
        return Choice {
            domain_type: DomainType::Kvm,
            warning: None,
        };
    };
    match probe(qemu, "kvm", DEADLINE).await {
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

/// Boots the probe sector in `qemu` with accelerator `accel` (`kvm`; `tcg` in tests) and waits
/// up to `deadline` for it to exit with the sector's status.
async fn probe(qemu: &str, accel: &str, deadline: Duration) -> Result<(), String> {
    let dir = tempfile_dir()?;
    let disk = dir.join("probe.img");
    if let Err(err) = tokio::fs::write(&disk, disk_image()).await {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return Err(format!("cannot write the probe disk: {err}"));
    }
    let outcome = run(qemu, accel, &disk, deadline).await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    outcome
}

/// A private folder for the probe's disk.
fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("distribox-kvm-probe-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    Ok(dir)
}

async fn run(
    qemu: &str,
    accel: &str,
    disk: &std::path::Path,
    deadline: Duration,
) -> Result<(), String> {
    let drive = format!("file={},format=raw,if=ide,snapshot=on", disk.display());
    let mut child = Command::new(qemu)
        .args(["-accel", accel, "-machine", "q35", "-m", "16"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "none", "-monitor", "none"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-drive", &drive])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot run {qemu}: {err}"))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let mut said = Vec::new();
    let watched = tokio::time::timeout(deadline, async {
        let mut chunk = [0_u8; 4096];
        loop {
            tokio::select! {
                status = child.wait() => return Some(status),
                read = stderr.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return Some(child.wait().await),
                    Ok(n) => said.extend_from_slice(&chunk[..n]),
                },
            }
            // QEMU keeps a guest KVM failed on alive but stopped: no need to wait it out.
            if String::from_utf8_lossy(&said).contains("KVM internal error") {
                let rest = stderr.read(&mut chunk);
                if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), rest).await {
                    said.extend_from_slice(&chunk[..n]);
                }
                return None;
            }
        }
    })
    .await;
    let said = String::from_utf8_lossy(&said).into_owned();
    match watched {
        Ok(Some(Ok(status))) if status.code() == Some(PASSED) => Ok(()),
        Ok(Some(Ok(status))) => {
            Err(complaint(&said).unwrap_or_else(|| format!("QEMU ended: {status}")))
        }
        Ok(Some(Err(err))) => Err(format!("cannot wait for QEMU: {err}")),
        Ok(None) | Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(complaint(&said)
                .unwrap_or_else(|| format!("the probe guest did not finish within {deadline:?}")))
        }
    }
}

/// The line of QEMU's stderr that says what went wrong.
fn complaint(stderr: &str) -> Option<String> {
    if stderr.contains("KVM internal error") {
        let detail = if stderr.contains("emulation failure") {
            ": emulation failure"
        } else {
            ""
        };
        return Some(format!("KVM internal error{detail}"));
    }
    stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .rfind(|line| !line.contains("warning:") && !line.contains("terminating on signal"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_probe_guest_runs_under_software_emulation() {
        // The same sector with the accelerator that always works: what "runs" looks like.
        probe(EMULATORS[0], "tcg", DEADLINE).await.unwrap();
    }

    #[tokio::test]
    async fn an_accelerator_qemu_refuses_is_reported_with_qemu_s_words() {
        let err = probe(EMULATORS[0], "no-such-accel", DEADLINE)
            .await
            .unwrap_err();
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
        assert_eq!(err, "the probe guest did not finish within 500ms");
    }

    #[test]
    fn an_emulation_failure_is_named_as_such() {
        let stderr = "qemu-system-x86_64: warning: host doesn't support requested feature\n\
                      KVM internal error. Suberror: 1\nextra data[0]: 0x1\nemulation failure\n\
                      EAX=00007b2e EBX=00008f98\n";
        assert_eq!(
            complaint(stderr).as_deref(),
            Some("KVM internal error: emulation failure")
        );
        assert_eq!(complaint("qemu: warning: x\n"), None);
        assert_eq!(
            complaint("qemu: -accel nope: invalid accelerator nope\n").as_deref(),
            Some("qemu: -accel nope: invalid accelerator nope")
        );
    }
}
