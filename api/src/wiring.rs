//! Adapters that connect the crates without making them depend on each other.

use std::sync::Arc;

use async_trait::async_trait;
use distribox_commands::{CommandBus, CommandError, ErrorCode, RequestContext};
use distribox_console_relay::{ConsoleBackend, ConsoleLog, ConsoleStream};
use distribox_domain::console::ConsoleKind;
use distribox_domain::vm::VmCommand;
use distribox_projections::hypervisor::{LibvirtHypervisor, OutcomeReporter, ReportError};
use uuid::Uuid;

/// The hypervisor projector reports what it observed as commands from the `system` actor.
pub struct BusReporter(pub Arc<CommandBus>);

#[async_trait]
impl OutcomeReporter for BusReporter {
    async fn report(&self, vm: Uuid, command: VmCommand) -> Result<(), ReportError> {
        match self
            .0
            .vm_command(&RequestContext::system(), vm, command)
            .await
        {
            Ok(_) => Ok(()),
            Err(CommandError::Refused {
                code: ErrorCode::NotFound,
                ..
            }) => Err(ReportError::UnknownVm),
            // Lost a race for the VM's stream too often: another try may win it.
            Err(
                err @ CommandError::Refused {
                    code: ErrorCode::Conflict,
                    ..
                },
            ) => Err(ReportError::Unavailable(err.to_string())),
            Err(err @ CommandError::Refused { .. }) => Err(ReportError::Refused(err.to_string())),
            Err(err) => Err(ReportError::Unavailable(err.to_string())),
        }
    }
}

/// Console sessions go into the VM's history, recorded by the system.
#[async_trait]
impl ConsoleLog for BusReporter {
    async fn record(&self, vm: Uuid, command: VmCommand) {
        if let Err(err) = self
            .0
            .vm_command(&RequestContext::system(), vm, command)
            .await
        {
            tracing::warn!(%vm, error = %err, "cannot record a console session");
        }
    }
}

/// Consoles come from libvirt.
pub struct LibvirtConsoles(pub LibvirtHypervisor);

/// What a serial console shows first of what the guest printed before it opened: about a
/// screenful, so a console opened on a quiet guest isn't blank.
const SERIAL_REPLAY_BYTES: u64 = 4 * 1024;

/// `output`, preceded by `printed`.
fn replay_first(
    printed: Vec<u8>,
    mut output: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        if sender.send(printed).await.is_err() {
            return;
        }
        // Dropped as soon as nobody reads any more, even from a guest that prints nothing,
        // so the console behind it closes as it would without the replay.
        loop {
            tokio::select! {
                () = sender.closed() => return,
                bytes = output.recv() => {
                    let Some(bytes) = bytes else { return };
                    if sender.send(bytes).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

#[async_trait]
impl ConsoleBackend for LibvirtConsoles {
    async fn open(&self, vm: Uuid, kind: ConsoleKind) -> Result<ConsoleStream, String> {
        match kind {
            ConsoleKind::Serial => {
                // Read before the console opens: a few bytes printed in between are missed
                // rather than shown twice.
                let printed = self.0.serial_tail(vm, SERIAL_REPLAY_BYTES).await;
                let serial = self.0.open_serial(vm).await.map_err(|e| e.to_string())?;
                let output = match printed {
                    Some(printed) if !printed.is_empty() => replay_first(printed, serial.output),
                    _ => serial.output,
                };
                Ok(ConsoleStream::channels(output, serial.input))
            }
            ConsoleKind::Vnc => {
                let socket = self.0.open_vnc(vm).await.map_err(|e| e.to_string())?;
                socket.set_nonblocking(true).map_err(|e| e.to_string())?;
                let socket = tokio::net::UnixStream::from_std(socket).map_err(|e| e.to_string())?;
                Ok(ConsoleStream::Socket(socket))
            }
        }
    }
}
