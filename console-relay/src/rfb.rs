//! The viewer's side of RFB, as the relay passes it to QEMU. Every viewer's handshake is
//! followed, and its ClientInit always asks for a shared session, so no viewer can take the
//! screen from the others, whatever the VM's share policy.
//!
//! View-only viewers: QEMU's VNC server has no per-client read-only mode, and dropping a
//! viewer's bytes wholesale (as for serial) would also drop the handshake and the screen update
//! requests. So the relay reads their messages and drops those that act on the guest: keys,
//! pointer, clipboard, power (XVP) and desktop resizing. A full viewer's messages, after the
//! handshake, pass untouched.
//!
//! The parser streams: it holds at most a message header, never a whole message, so a huge
//! clipboard message costs no memory. It must frame exactly as QEMU does, or a crafted stream
//! could make the two disagree on where a message starts: so the version line must be exactly
//! one QEMU takes, and a message type it does not know ends a view-only console, since its
//! length (and so where the next message starts) is unknown.

use std::fmt;

/// Client-to-server RFB messages, by type byte (RFC 6143 §7.5 and the community extensions
/// noVNC and QEMU speak).
mod message {
    pub const SET_PIXEL_FORMAT: u8 = 0;
    pub const SET_ENCODINGS: u8 = 2;
    pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
    pub const KEY_EVENT: u8 = 4;
    pub const POINTER_EVENT: u8 = 5;
    pub const CLIENT_CUT_TEXT: u8 = 6;
    pub const ENABLE_CONTINUOUS_UPDATES: u8 = 150;
    pub const CLIENT_FENCE: u8 = 248;
    pub const XVP: u8 = 250;
    pub const SET_DESKTOP_SIZE: u8 = 251;
    pub const QEMU: u8 = 255;
}

/// ClientInit's shared flag: leave other viewers connected.
const SHARED: u8 = 1;

/// Security types (RFC 6143 §7.2).
const SECURITY_NONE: u8 = 1;
const SECURITY_VNC_AUTH: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Version,
    SecurityChoice,
    VncAuthResponse,
    ClientInit,
    Messages,
    /// A full viewer after the handshake: everything passes.
    PassThrough,
}

/// What the viewer sent that the relay cannot pass on safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfbError(String);

impl fmt::Display for RfbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RfbError {}

/// The part of the current message still to come: passed on to the VM or dropped.
#[derive(Debug, Clone, Copy)]
enum Rest {
    Pass(usize),
    Drop(usize),
}

/// Follows a viewer's RFB stream, chunk by chunk.
#[derive(Debug)]
pub struct RfbFilter {
    view_only: bool,
    stage: Stage,
    /// The current message's header, until its length is known.
    header: Vec<u8>,
    rest: Rest,
}

/// A message is `total` bytes long and is passed on (`keep`) or dropped.
struct Framing {
    total: usize,
    keep: bool,
}

impl RfbFilter {
    /// A viewer whose input reaches the VM.
    pub fn full() -> Self {
        Self::new(false)
    }

    /// A viewer that only looks.
    pub fn view_only() -> Self {
        Self::new(true)
    }

    fn new(view_only: bool) -> Self {
        Self {
            view_only,
            stage: Stage::Version,
            header: Vec::with_capacity(12),
            rest: Rest::Pass(0),
        }
    }

    /// What of `input` may reach the VM.
    pub fn filter(&mut self, mut input: &[u8]) -> Result<Vec<u8>, RfbError> {
        if self.stage == Stage::PassThrough {
            return Ok(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len());
        while !input.is_empty() {
            if self.stage == Stage::PassThrough {
                out.extend_from_slice(input);
                break;
            }
            match &mut self.rest {
                Rest::Pass(left) if *left > 0 => {
                    let n = (*left).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    *left -= n;
                    input = &input[n..];
                }
                Rest::Drop(left) if *left > 0 => {
                    let n = (*left).min(input.len());
                    *left -= n;
                    input = &input[n..];
                }
                _ => {
                    self.header.push(input[0]);
                    input = &input[1..];
                    if let Some(framing) = self.framing()? {
                        let left = framing.total - self.header.len();
                        if framing.keep {
                            out.extend_from_slice(&self.header);
                            self.rest = Rest::Pass(left);
                        } else {
                            self.rest = Rest::Drop(left);
                        }
                        self.header.clear();
                    }
                }
            }
        }
        Ok(out)
    }

    /// The current message's framing once its header says it, moving the handshake along.
    fn framing(&mut self) -> Result<Option<Framing>, RfbError> {
        let h = &self.header;
        let keep = |total| Ok(Some(Framing { total, keep: true }));
        match self.stage {
            Stage::Version => {
                if h.len() < 12 {
                    return Ok(None);
                }
                // Exactly "RFB 003.00N\n", read as QEMU reads it: 3.7 and 3.8 let the client
                // choose the security type, 3.3 (and 3.4, 3.5, which mean 3.3) do not; QEMU
                // refuses anything else.
                let digits = |range: std::ops::Range<usize>| {
                    h[range.clone()].iter().all(u8::is_ascii_digit).then(|| {
                        h[range]
                            .iter()
                            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
                    })
                };
                let version = (h.starts_with(b"RFB ") && h[7] == b'.' && h[11] == b'\n')
                    .then(|| digits(4..7).zip(digits(8..11)))
                    .flatten();
                self.stage = match version {
                    Some((3, 7 | 8)) => Stage::SecurityChoice,
                    Some((3, 3..=5)) => Stage::ClientInit,
                    _ => return Err(RfbError("not an RFB version QEMU speaks".to_owned())),
                };
                keep(12)
            }
            Stage::SecurityChoice => {
                self.stage = match h[0] {
                    SECURITY_NONE => Stage::ClientInit,
                    SECURITY_VNC_AUTH => Stage::VncAuthResponse,
                    other => return Err(RfbError(format!("unsupported security type {other}"))),
                };
                keep(1)
            }
            Stage::VncAuthResponse => {
                if h.len() < 16 {
                    return Ok(None);
                }
                self.stage = Stage::ClientInit;
                keep(16)
            }
            Stage::ClientInit => {
                self.header[0] = SHARED;
                self.stage = if self.view_only {
                    Stage::Messages
                } else {
                    Stage::PassThrough
                };
                keep(1)
            }
            Stage::Messages => Self::message_framing(h),
            Stage::PassThrough => unreachable!("nothing is framed after the handshake"),
        }
    }

    fn message_framing(h: &[u8]) -> Result<Option<Framing>, RfbError> {
        let keep = |total| Ok(Some(Framing { total, keep: true }));
        let drop = |total| Ok(Some(Framing { total, keep: false }));
        let u16_at = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
        match h[0] {
            message::SET_PIXEL_FORMAT => keep(20),
            message::SET_ENCODINGS if h.len() < 4 => Ok(None),
            message::SET_ENCODINGS => keep(4 + 4 * u16_at(2)),
            message::FRAMEBUFFER_UPDATE_REQUEST => keep(10),
            message::KEY_EVENT => drop(8),
            message::POINTER_EVENT => drop(6),
            message::CLIENT_CUT_TEXT if h.len() < 8 => Ok(None),
            message::CLIENT_CUT_TEXT => {
                // A negative length marks the extended clipboard format; its size is the
                // absolute value.
                let length = i32::from_be_bytes([h[4], h[5], h[6], h[7]]).unsigned_abs();
                drop(8 + length as usize)
            }
            message::ENABLE_CONTINUOUS_UPDATES => keep(10),
            message::CLIENT_FENCE if h.len() < 9 => Ok(None),
            message::CLIENT_FENCE => keep(9 + usize::from(h[8])),
            message::XVP => drop(4),
            message::SET_DESKTOP_SIZE if h.len() < 8 => Ok(None),
            message::SET_DESKTOP_SIZE => drop(8 + 16 * usize::from(h[6])),
            message::QEMU if h.len() < 2 => Ok(None),
            // Extended key event.
            message::QEMU if h[1] == 0 => drop(12),
            // Audio: enable and disable are 4 bytes, set-format 10.
            message::QEMU if h[1] == 1 && h.len() < 4 => Ok(None),
            message::QEMU if h[1] == 1 => match u16_at(2) {
                0 | 1 => keep(4),
                2 => keep(10),
                op => Err(RfbError(format!("unknown QEMU audio message {op}"))),
            },
            message::QEMU => Err(RfbError(format!("unknown QEMU message {}", h[1]))),
            other => Err(RfbError(format!("unknown RFB message type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDSHAKE: &[u8] = b"RFB 003.008\n\x01\x01";

    fn set_encodings() -> Vec<u8> {
        let mut m = vec![2, 0, 0, 2];
        m.extend_from_slice(&0i32.to_be_bytes());
        m.extend_from_slice(&(-223i32).to_be_bytes());
        m
    }

    fn update_request() -> Vec<u8> {
        vec![3, 1, 0, 0, 0, 0, 2, 128, 1, 224]
    }

    fn key(down: bool) -> Vec<u8> {
        vec![4, u8::from(down), 0, 0, 0, 0, 0, b'a']
    }

    fn cut_text(text: &[u8]) -> Vec<u8> {
        let mut m = vec![6, 0, 0, 0];
        m.extend_from_slice(&(text.len() as u32).to_be_bytes());
        m.extend_from_slice(text);
        m
    }

    #[test]
    fn handshake_and_screen_requests_pass_input_is_dropped() {
        let mut stream = HANDSHAKE.to_vec();
        let mut expected = HANDSHAKE.to_vec();
        for (message, kept) in [
            (vec![0; 20], true),
            (set_encodings(), true),
            (update_request(), true),
            (key(true), false),
            (vec![5, 1, 0, 10, 0, 20], false),
            (cut_text(b"rm -rf /"), false),
            (vec![255, 0, 0, 1, 0, 0, 0, 97, 0, 0, 0, 30], false),
            (vec![250, 0, 1, 4], false),
            (vec![150, 1, 0, 0, 0, 0, 2, 128, 1, 224], true),
            (vec![248, 0, 0, 0, 0, 0, 0, 1, 2, 7, 7], true),
            (update_request(), true),
        ] {
            stream.extend_from_slice(&message);
            if kept {
                expected.extend_from_slice(&message);
            }
        }
        // Whole, and one byte at a time: chunk boundaries must not matter.
        assert_eq!(RfbFilter::view_only().filter(&stream).unwrap(), expected);
        let mut filter = RfbFilter::view_only();
        let bytewise: Vec<u8> = stream
            .iter()
            .flat_map(|b| filter.filter(std::slice::from_ref(b)).unwrap())
            .collect();
        assert_eq!(bytewise, expected);
    }

    #[test]
    fn a_large_clipboard_is_skipped_without_being_held() {
        let mut filter = RfbFilter::view_only();
        filter.filter(HANDSHAKE).unwrap();
        let big = cut_text(&vec![b'x'; 1 << 20]);
        for chunk in big.chunks(4096) {
            assert!(filter.filter(chunk).unwrap().is_empty());
        }
        assert!(filter.header.capacity() < 64);
        assert_eq!(filter.filter(&update_request()).unwrap(), update_request());
    }

    #[test]
    fn vnc_authentication_and_old_protocol_versions_are_followed() {
        let mut filter = RfbFilter::view_only();
        let mut stream = b"RFB 003.008\n\x02".to_vec();
        stream.extend_from_slice(&[9; 16]);
        stream.push(1);
        assert_eq!(filter.filter(&stream).unwrap(), stream);
        assert!(filter.filter(&key(false)).unwrap().is_empty());

        // 3.3: the server picks the security type; the client goes straight to ClientInit.
        let mut filter = RfbFilter::view_only();
        assert_eq!(filter.filter(b"RFB 003.003\n\x01").unwrap().len(), 13);
        assert_eq!(filter.filter(&update_request()).unwrap(), update_request());
    }

    #[test]
    fn every_viewer_asks_for_a_shared_session_and_full_viewers_pass_untouched() {
        let exclusive = b"RFB 003.008\n\x01\x00";
        let shared = b"RFB 003.008\n\x01\x01";
        assert_eq!(RfbFilter::view_only().filter(exclusive).unwrap(), shared);
        let mut full = RfbFilter::full();
        assert_eq!(full.filter(exclusive).unwrap(), shared);
        let input = [key(true), vec![99, 1, 2, 3]].concat();
        assert_eq!(full.filter(&input).unwrap(), input);
    }

    #[test]
    fn only_versions_qemu_reads_the_same_way_are_accepted() {
        // QEMU's sscanf would read "3.8" here while a lax parse of the digits at fixed places
        // reads 3.3: the two would frame every later message differently.
        for version in [
            &b"RFB 3.8 003\n"[..],
            b"RFB 3.3 008\n",
            b"RFB 003.009\n",
            b"RFB 004.008\n",
            b"RFB 003.0 8\n",
            b"RFB 003.008 ",
        ] {
            assert!(
                RfbFilter::view_only().filter(version).is_err(),
                "{}",
                String::from_utf8_lossy(version)
            );
        }
        for version in [b"RFB 003.007\n", b"RFB 003.005\n"] {
            assert!(RfbFilter::view_only().filter(version).is_ok());
        }
    }

    #[test]
    fn what_cannot_be_framed_is_refused() {
        let mut filter = RfbFilter::view_only();
        filter.filter(HANDSHAKE).unwrap();
        assert!(filter.filter(&[99]).is_err());
        assert!(RfbFilter::view_only().filter(b"HTTP/1.1 200\n").is_err());
        assert!(RfbFilter::view_only().filter(b"RFB 003.008\n\x10").is_err());
    }
}
