//! The one error type every aggregate refuses commands with.

/// How the outer layers should classify a refusal; they map it to the stable API codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input itself is wrong (out of range, malformed, unknown reference).
    BadInput,
    /// The input is fine but the aggregate's current state does not allow it.
    Conflict,
    /// The aggregate does not exist (or no longer does).
    NotFound,
}

/// A refused command. The message is written for the person who sent the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub message: String,
    /// The one input the refusal is about, named as the API's client spells it (`memoryMib`,
    /// `sshKeys`, `expiresAt`), so a form can show the message next to that field.
    pub field: Option<&'static str>,
}

impl DomainError {
    /// Wrong input that is no single field's fault (a combination of fields, say).
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::BadInput,
            message: message.into(),
            field: None,
        }
    }

    /// Wrong input in `field`, named as the API's client spells it.
    pub fn bad_field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::bad_input(message)
        }
    }

    /// The same refusal about `field`: for a value parsed by a rule that does not know which
    /// input it came from. Only wrong input concerns a field; other refusals stay as they are.
    pub fn in_field(self, field: &'static str) -> Self {
        match self.kind {
            ErrorKind::BadInput => Self {
                field: Some(field),
                ..self
            },
            _ => self,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            message: message.into(),
            field: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
            field: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_field_is_bad_input_about_that_field() {
        let err = DomainError::bad_field("memoryMib", "too small");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert_eq!(err.field, Some("memoryMib"));
        assert_eq!(err.to_string(), "too small");
        assert_eq!(DomainError::bad_input("both wrong").field, None);
    }

    #[test]
    fn only_bad_input_is_put_in_a_field() {
        assert_eq!(
            DomainError::bad_input("unknown policy").in_field("policies"),
            DomainError::bad_field("policies", "unknown policy")
        );
        assert_eq!(DomainError::conflict("taken").in_field("name").field, None);
    }
}
