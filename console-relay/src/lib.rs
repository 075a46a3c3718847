//! Console access: short-lived single-use tickets, and the websocket relay between a browser and
//! a VM's console. Every byte between a user and a VM passes through here.

mod origin;
mod relay;
mod tickets;

pub use origin::OriginPolicy;
pub use relay::{router, ConsoleBackend, ConsoleRelay, ConsoleStream};
pub use tickets::{IssuedTicket, Ticket, TicketError, TicketStore, TICKET_TTL};
