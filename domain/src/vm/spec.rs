//! Value objects describing a VM's shape, validated once at the command boundary.
//!
//! Deserialising skips validation on purpose: events are facts, and a rule tightened later must
//! not make an old event unreadable.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::DomainError;

pub const VCPUS: RangeInclusive<u32> = 1..=64;
pub const MEMORY_MIB: RangeInclusive<u64> = 64..=262_144;
pub const DISK_GIB: RangeInclusive<u64> = 1..=4_096;
pub const NAME_MAX_CHARS: usize = 64;

/// A VM's display name. Any printable text, including quotes, `<`, `&` and `;`: it is stored and
/// shown verbatim and never becomes part of a libvirt name, a path or a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VmName(String);

impl VmName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(DomainError::bad_input("VM name must not be empty"));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(DomainError::bad_input(format!(
                "VM name must be at most {NAME_MAX_CHARS} characters"
            )));
        }
        // Control characters and the two noncharacters XML 1.0 forbids (the name becomes a
        // domain's title in libvirt's XML).
        if name
            .chars()
            .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
        {
            return Err(DomainError::bad_input(
                "VM name must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The resources a VM asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    pub name: VmName,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
}

impl VmSpec {
    pub fn new(
        name: &str,
        vcpus: u32,
        memory_mib: u64,
        disk_gib: u64,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            name: VmName::parse(name)?,
            vcpus: in_range("vcpus", vcpus, VCPUS)?,
            memory_mib: in_range("memoryMib", memory_mib, MEMORY_MIB)?,
            disk_gib: in_range("diskGib", disk_gib, DISK_GIB)?,
        })
    }

    pub fn disk_bytes(&self) -> u64 {
        self.disk_gib * 1024 * 1024 * 1024
    }
}

fn in_range<T>(field: &str, value: T, range: RangeInclusive<T>) -> Result<T, DomainError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::bad_input(format!(
            "{field} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_kept_verbatim() {
        let name = VmName::parse("  <b>'; DROP TABLE vms; --&amp;  ").unwrap();
        assert_eq!(name.as_str(), "<b>'; DROP TABLE vms; --&amp;");
        assert_eq!(
            VmName::parse("é".repeat(64).as_str())
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(VmName::parse("   ").is_err());
        assert!(VmName::parse(&"x".repeat(65)).is_err());
        assert!(VmName::parse("tab\there").is_err());
        assert!(VmName::parse("line\nbreak").is_err());
        assert!(VmName::parse("not\u{FFFE}xml").is_err());
    }

    #[test]
    fn resources_out_of_range_are_refused_with_the_field_name() {
        assert_eq!(
            VmSpec::new("a", 0, 512, 1).unwrap_err().message,
            "vcpus must be between 1 and 64, got 0"
        );
        assert!(VmSpec::new("a", 65, 512, 1).is_err());
        assert!(VmSpec::new("a", 1, 63, 1)
            .unwrap_err()
            .message
            .starts_with("memoryMib"));
        assert!(VmSpec::new("a", 1, 512, 0)
            .unwrap_err()
            .message
            .starts_with("diskGib"));
        assert!(VmSpec::new("a", 1, 512, 4097).is_err());
        assert!(VmSpec::new("a", 64, 262_144, 4_096).is_ok());
    }
}
