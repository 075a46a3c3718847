//! The two ends of an open console as the relay pumps them: bytes from the VM, bytes to it.
//! A console reached through a socket (a VM's VNC server, through the fd libvirt hands over)
//! is read and written right in the session's task, with no task or queue in between: a viewer
//! that stops reading stops the reads, and the console's own flow control (QEMU throttles its
//! VNC updates) takes over, so a stalled viewer costs no buffer at all.

use axum::body::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::ConsoleStream;

/// Largest read from a console socket at once. Allocated only once data is waiting, so an idle
/// console holds no buffer; big, so a full-screen update moves in few websocket messages.
const READ_CHUNK: usize = 256 * 1024;
/// Reads smaller than this are copied out of the read buffer rather than keeping all of it.
const SMALL_READ: usize = 16 * 1024;

const ENDED: &str = "the console ended";

pub(crate) enum FromVm {
    Channel {
        output: mpsc::Receiver<Vec<u8>>,
        ended: Option<oneshot::Receiver<String>>,
    },
    Socket(OwnedReadHalf),
}

pub(crate) enum ToVm {
    Channel(mpsc::Sender<Vec<u8>>),
    Socket(OwnedWriteHalf),
}

pub(crate) fn split(stream: ConsoleStream) -> (FromVm, ToVm) {
    match stream {
        ConsoleStream::Channels {
            output,
            input,
            ended,
        } => (FromVm::Channel { output, ended }, ToVm::Channel(input)),
        ConsoleStream::Socket(socket) => {
            let (read, write) = socket.into_split();
            (FromVm::Socket(read), ToVm::Socket(write))
        }
    }
}

impl FromVm {
    /// The next bytes from the console, or why it ended. Cancel-safe: nothing is lost when a
    /// `select!` drops it for another branch.
    pub(crate) async fn next(&mut self) -> Result<Bytes, String> {
        match self {
            Self::Channel { output, ended } => match output.recv().await {
                Some(bytes) => Ok(bytes.into()),
                None => Err(ended
                    .as_mut()
                    .and_then(|ended| ended.try_recv().ok())
                    .unwrap_or_else(|| ENDED.to_owned())),
            },
            Self::Socket(socket) => loop {
                socket.readable().await.map_err(|_| ENDED.to_owned())?;
                let mut chunk = Vec::with_capacity(READ_CHUNK);
                match socket.try_read_buf(&mut chunk) {
                    Ok(0) => return Err(ENDED.to_owned()),
                    Ok(n) if n < SMALL_READ => return Ok(Bytes::copy_from_slice(&chunk)),
                    Ok(_) => return Ok(chunk.into()),
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => return Err(ENDED.to_owned()),
                }
            },
        }
    }

    /// Resolves when the backend lets the viewer go with a reason of its own (a shared console
    /// whose viewer fell too far behind), typically while a send to that viewer is stuck.
    pub(crate) async fn let_go(&mut self) -> String {
        if let Self::Channel { ended, .. } = self {
            if let Some(receiver) = ended.as_mut() {
                if let Ok(why) = receiver.await {
                    return why;
                }
                // Ended without a reason: `next` says so in its own time.
                *ended = None;
            }
        }
        std::future::pending().await
    }
}

impl ToVm {
    pub(crate) async fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        match self {
            Self::Channel(input) => input.send(bytes).await.map_err(|_| ENDED.to_owned()),
            Self::Socket(socket) => socket.write_all(&bytes).await.map_err(|_| ENDED.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::UnixStream;

    use super::*;

    #[tokio::test]
    async fn socket_bytes_flow_both_ways_and_end_with_the_socket() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let (mut from_vm, mut to_vm) = split(ConsoleStream::Socket(ours));
        to_vm.send(b"ping".to_vec()).await.unwrap();
        let mut buf = [0u8; 4];
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        theirs.write_all(b"pong").await.unwrap();
        assert_eq!(from_vm.next().await.unwrap(), &b"pong"[..]);
        drop(theirs);
        let ended = tokio::time::timeout(Duration::from_secs(1), from_vm.next()).await;
        assert_eq!(ended.unwrap().unwrap_err(), ENDED);
    }

    #[tokio::test]
    async fn a_channel_console_says_why_it_let_the_viewer_go() {
        let (output_tx, output) = mpsc::channel(1);
        let (input, _input_rx) = mpsc::channel(1);
        let (ended_tx, ended) = oneshot::channel();
        let (mut from_vm, _to_vm) = split(ConsoleStream::Channels {
            output,
            input,
            ended: Some(ended),
        });
        ended_tx.send("fell behind".to_owned()).unwrap();
        // Even while its output is still open (the send to the viewer being stuck).
        assert_eq!(from_vm.let_go().await, "fell behind");
        drop(output_tx);
        assert_eq!(from_vm.next().await.unwrap_err(), ENDED);
    }
}
