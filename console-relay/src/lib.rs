//! Console access: short-lived single-use tickets, and the websocket relay between a browser and
//! a VM's console. Every byte between a user and a VM passes through here.

mod hub;
mod origin;
mod recording;
mod relay;
mod revocation;
mod rfb;
mod socket;
mod tickets;

pub use hub::{SerialHub, SCROLLBACK_BYTES};
pub use origin::OriginPolicy;
pub use recording::{ConsoleRecorder, RecordedFrame};
pub use relay::{
    close_code, router, ConsoleBackend, ConsoleLimits, ConsoleLog, ConsoleRelay, ConsoleStream,
};
pub use revocation::{Revocable, Revocations};
pub use tickets::{IssuedTicket, Ticket, TicketError, TicketStore, TICKET_TTL};
