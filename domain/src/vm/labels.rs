//! A VM's note and tags: what people write on a VM to find it again and to tell it apart from
//! others of the same name. They mean nothing to the hypervisor.

use serde::{Deserialize, Serialize};

use crate::DomainError;

pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 32;

/// A VM's labels, normalised: a trimmed note (none when blank), tags lower-cased, unique and
/// sorted so two equal label sets compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub note: Option<String>,
    pub tags: Vec<String>,
}

impl Labels {
    pub fn parse(note: Option<&str>, tags: &[String]) -> Result<Self, DomainError> {
        let note = note.map(str::trim).filter(|note| !note.is_empty());
        if let Some(note) = note {
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(DomainError::bad_input(format!(
                    "a note has at most {MAX_NOTE_CHARS} characters"
                ))
                .in_field("note"));
            }
            if note.chars().any(|c| c.is_control() && c != '\n') {
                return Err(
                    DomainError::bad_input("a note has no control characters").in_field("note")
                );
            }
        }
        let mut parsed = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = tag.trim().to_lowercase();
            let valid = (1..=MAX_TAG_CHARS).contains(&tag.len())
                && tag
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            if !valid {
                return Err(DomainError::bad_input(format!(
                    "a tag is 1–{MAX_TAG_CHARS} letters, digits, dots, dashes or underscores \
                     (`{tag}` is not)"
                ))
                .in_field("tags"));
            }
            parsed.push(tag);
        }
        parsed.sort();
        parsed.dedup();
        if parsed.len() > MAX_TAGS {
            return Err(
                DomainError::bad_input(format!("a VM has at most {MAX_TAGS} tags"))
                    .in_field("tags"),
            );
        }
        Ok(Self {
            note: note.map(str::to_owned),
            tags: parsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn labels_are_normalised() {
        let labels = Labels::parse(
            Some("  for the Tuesday class \n"),
            &tags(&["Web", "lab-2", "web"]),
        )
        .unwrap();
        assert_eq!(labels.note.as_deref(), Some("for the Tuesday class"));
        assert_eq!(labels.tags, tags(&["lab-2", "web"]));
        assert_eq!(Labels::parse(Some("   "), &[]).unwrap(), Labels::default());
    }

    #[test]
    fn bad_labels_are_refused_on_their_field() {
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            Labels::parse(Some(&long), &[]).unwrap_err().field,
            Some("note")
        );
        assert_eq!(
            Labels::parse(Some("a\u{7}b"), &[]).unwrap_err().field,
            Some("note")
        );
        for bad in ["", "has space", "ünï", &"t".repeat(MAX_TAG_CHARS + 1)] {
            let refused = Labels::parse(None, &tags(&[bad])).unwrap_err();
            assert_eq!(refused.field, Some("tags"), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(Labels::parse(None, &many).unwrap_err().field, Some("tags"));
    }
}
