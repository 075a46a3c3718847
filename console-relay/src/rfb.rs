//! View-only graphical consoles. QEMU's VNC server has no per-client read-only mode, and dropping
//! a viewer's bytes wholesale (as for serial) would also drop the RFB handshake and the screen
//! update requests. So the relay reads the client's side of RFB and drops only the messages that
//! act on the guest: keys, pointer, clipboard, power (XVP) and desktop resizing.
//!
//! The parser streams: it holds at most a message header, never a whole message, so a huge
//! clipboard message costs no memory. A message type it does not know ends the console, since
//! its length (and so where the next message starts) is unknown.

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

/// Filters a view-only viewer's RFB stream, chunk by chunk.
#[derive(Debug)]
pub struct ViewOnlyFilter {
    stage: Stage,
    /// The current message's header, until its length is known.
    header: Vec<u8>,
    rest: Rest,
}

impl Default for ViewOnlyFilter {
    fn default() -> Self {
        Self {
            stage: Stage::Version,
            header: Vec::with_capacity(12),
            rest: Rest::Pass(0),
        }
    }
}

/// A message is `total` bytes long and is passed on (`keep`) or dropped.
struct Framing {
    total: usize,
    keep: bool,
}

impl ViewOnlyFilter {
    /// What of `input` may reach the VM.
    pub fn filter(&mut self, mut input: &[u8]) -> Result<Vec<u8>, RfbError> {
        let mut out = Vec::with_capacity(input.len());
        while !input.is_empty() {
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
                // "RFB 003.008\n": 3.7 and later let the client choose the security type.
                let minor: u32 = std::str::from_utf8(&h[8..11])
                    .ok()
                    .and_then(|m| m.parse().ok())
                    .ok_or_else(|| RfbError("not an RFB protocol version".to_owned()))?;
                self.stage = if minor >= 7 {
                    Stage::SecurityChoice
                } else {
                    Stage::ClientInit
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
                self.stage = Stage::Messages;
                keep(1)
            }
            Stage::Messages => Self::message_framing(h),
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
        assert_eq!(ViewOnlyFilter::default().filter(&stream).unwrap(), expected);
        let mut filter = ViewOnlyFilter::default();
        let bytewise: Vec<u8> = stream
            .iter()
            .flat_map(|b| filter.filter(std::slice::from_ref(b)).unwrap())
            .collect();
        assert_eq!(bytewise, expected);
    }

    #[test]
    fn a_large_clipboard_is_skipped_without_being_held() {
        let mut filter = ViewOnlyFilter::default();
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
        let mut filter = ViewOnlyFilter::default();
        let mut stream = b"RFB 003.008\n\x02".to_vec();
        stream.extend_from_slice(&[9; 16]);
        stream.push(1);
        assert_eq!(filter.filter(&stream).unwrap(), stream);
        assert!(filter.filter(&key(false)).unwrap().is_empty());

        // 3.3: the server picks the security type; the client goes straight to ClientInit.
        let mut filter = ViewOnlyFilter::default();
        assert_eq!(filter.filter(b"RFB 003.003\n\x01").unwrap().len(), 13);
        assert_eq!(filter.filter(&update_request()).unwrap(), update_request());
    }

    #[test]
    fn what_cannot_be_framed_is_refused() {
        let mut filter = ViewOnlyFilter::default();
        filter.filter(HANDSHAKE).unwrap();
        assert!(filter.filter(&[99]).is_err());
        assert!(ViewOnlyFilter::default().filter(b"HTTP/1.1 200\n").is_err());
        assert!(ViewOnlyFilter::default()
            .filter(b"RFB 003.008\n\x10")
            .is_err());
    }
}
