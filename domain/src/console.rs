//! Consoles a VM offers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsoleKind {
    /// The first serial port: a text terminal.
    Serial,
    /// The graphical screen over RFB.
    Vnc,
}

impl ConsoleKind {
    /// Lower-case name, as read models and reports store it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleKind::Serial => "serial",
            ConsoleKind::Vnc => "vnc",
        }
    }
}
