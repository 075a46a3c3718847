//! A console reached through a socket (a VM's VNC server through the fd libvirt hands over, or
//! any byte stream) as a [`ConsoleStream`]. Two small tasks per console, no threads: a relay
//! serves thousands of them from one process.

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::ConsoleStream;

/// Largest read from the console at once: big enough for a full-screen update to move in few
/// chunks, and allocated only once data is waiting, so an idle console holds no buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks queued each way. With `READ_CHUNK`, a viewer that stops reading holds at most
/// `QUEUE * READ_CHUNK` bytes here before the console itself is made to wait.
const QUEUE: usize = 8;

/// Pumps `socket` to and from a [`ConsoleStream`] until either side ends.
pub fn socket_stream(socket: UnixStream) -> ConsoleStream {
    let (reader, mut writer) = socket.into_split();
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    tokio::spawn(async move {
        loop {
            // Room first: a viewer that stops reading stops the reads, so the console's own
            // flow control (QEMU throttles its VNC updates) takes over.
            let Ok(permit) = out_tx.reserve().await else {
                break;
            };
            if reader.readable().await.is_err() {
                break;
            }
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            match reader.try_read_buf(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    if n < READ_CHUNK / 4 {
                        chunk.shrink_to_fit();
                    }
                    permit.send(chunk);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => break,
            }
        }
    });
    tokio::spawn(async move {
        while let Some(bytes) = in_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    ConsoleStream::new(out_rx, in_tx)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn bytes_flow_both_ways_and_end_with_the_socket() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut console = socket_stream(ours);
        console.input.send(b"ping".to_vec()).await.unwrap();
        let mut buf = [0u8; 4];
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        theirs.write_all(b"pong").await.unwrap();
        assert_eq!(console.output.recv().await.unwrap(), b"pong");
        drop(theirs);
        let ended = tokio::time::timeout(Duration::from_secs(1), console.output.recv()).await;
        assert_eq!(ended.unwrap(), None);
    }

    #[tokio::test]
    async fn a_viewer_that_stops_reading_stops_the_reads() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let console = socket_stream(ours);
        // Nobody drains `console.output`: the console side soon cannot write any more.
        let chunk = vec![7u8; READ_CHUNK];
        let mut written = 0;
        while tokio::time::timeout(Duration::from_millis(200), theirs.write_all(&chunk))
            .await
            .is_ok()
        {
            written += chunk.len();
            // The queue plus what the kernel's socket buffers hold.
            assert!(
                written <= (QUEUE + 16) * READ_CHUNK,
                "{written} bytes taken"
            );
        }
        drop(console);
    }
}
