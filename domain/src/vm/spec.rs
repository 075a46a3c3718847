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

/// A name people give something (a VM, a snapshot), trimmed: any printable text up to
/// [`NAME_MAX_CHARS`] characters. `what` starts the refusal message, which is about the `name`
/// input (every command that takes such a name calls it `name`).
pub(crate) fn display_name(what: &str, raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(DomainError::bad_field(
            "name",
            format!("{what} must not be empty"),
        ));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(DomainError::bad_field(
            "name",
            format!("{what} must be at most {NAME_MAX_CHARS} characters"),
        ));
    }
    // Control characters and the two noncharacters XML 1.0 forbids (names end up in libvirt's
    // XML).
    if name
        .chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(DomainError::bad_field(
            "name",
            format!("{what} must not contain control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A VM's display name. Any printable text, including quotes, `<`, `&` and `;`: it is stored and
/// shown verbatim and never becomes part of a libvirt name, a path or a command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VmName(String);

impl VmName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        display_name("VM name", raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The keyboard layouts a VM can have: QEMU's keymap name (`qemu-system-x86_64 -k help`), which
/// the graphical console speaks, and the XKB layout and variant the guest is configured with.
const LAYOUTS: &[(&str, &str, &str)] = &[
    ("ar", "ara", ""),
    ("bepo", "fr", "bepo"),
    ("cz", "cz", ""),
    ("da", "dk", ""),
    ("de", "de", ""),
    ("de-ch", "ch", "de"),
    ("en-gb", "gb", ""),
    ("en-us", "us", ""),
    ("es", "es", ""),
    ("et", "ee", ""),
    ("fi", "fi", ""),
    ("fo", "fo", ""),
    ("fr", "fr", ""),
    ("fr-be", "be", ""),
    ("fr-ca", "ca", ""),
    ("fr-ch", "ch", "fr"),
    ("hr", "hr", ""),
    ("hu", "hu", ""),
    ("is", "is", ""),
    ("it", "it", ""),
    ("ja", "jp", ""),
    ("lt", "lt", ""),
    ("lv", "lv", ""),
    ("mk", "mk", ""),
    ("nl", "nl", ""),
    ("no", "no", ""),
    ("pl", "pl", ""),
    ("pt", "pt", ""),
    ("pt-br", "br", ""),
    ("ru", "ru", ""),
    ("sl", "si", ""),
    ("sv", "se", ""),
    ("th", "th", ""),
    ("tr", "tr", ""),
];

/// One of the keyboard layouts Distribox knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyboardLayout(String);

impl KeyboardLayout {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if LAYOUTS.iter().any(|(qemu, _, _)| *qemu == raw) {
            Ok(Self(raw.to_owned()))
        } else {
            let names: Vec<&str> = Self::names().collect();
            Err(DomainError::bad_field(
                "keyboardLayout",
                format!("keyboardLayout `{raw}` is not one of {}", names.join(", ")),
            ))
        }
    }

    /// Every layout's name, as accepted by [`KeyboardLayout::parse`].
    pub fn names() -> impl Iterator<Item = &'static str> {
        LAYOUTS.iter().map(|(qemu, _, _)| *qemu)
    }

    /// The QEMU keymap name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The guest's XKB layout and variant (empty for none).
    pub fn xkb(&self) -> (&'static str, &'static str) {
        LAYOUTS
            .iter()
            .find(|(qemu, _, _)| *qemu == self.0)
            .map(|(_, layout, variant)| (*layout, *variant))
            .unwrap_or(("us", ""))
    }
}

impl Default for KeyboardLayout {
    fn default() -> Self {
        Self("en-us".to_owned())
    }
}

/// The resources a VM asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    pub name: VmName,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// Absent in VMs created before layouts could be chosen.
    #[serde(default)]
    pub keyboard: KeyboardLayout,
    /// Start the VM when the host boots (libvirt's autostart).
    #[serde(default)]
    pub autostart: bool,
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
            keyboard: KeyboardLayout::default(),
            autostart: false,
        })
    }

    /// The same VM with other resources, validated like a new one. Disks only grow: shrinking
    /// one would cut off whatever the guest keeps at its end.
    pub fn resized(&self, vcpus: u32, memory_mib: u64, disk_gib: u64) -> Result<Self, DomainError> {
        let resized = Self {
            vcpus: in_range("vcpus", vcpus, VCPUS)?,
            memory_mib: in_range("memoryMib", memory_mib, MEMORY_MIB)?,
            disk_gib: in_range("diskGib", disk_gib, DISK_GIB)?,
            ..self.clone()
        };
        if resized.disk_gib < self.disk_gib {
            return Err(DomainError::bad_field(
                "diskGib",
                format!("diskGib can only grow: the disk has {} GiB", self.disk_gib),
            ));
        }
        Ok(resized)
    }

    pub fn disk_bytes(&self) -> u64 {
        self.disk_gib * 1024 * 1024 * 1024
    }
}

/// `field` is the input's name as the client spells it; it starts the message too.
fn in_range<T>(field: &'static str, value: T, range: RangeInclusive<T>) -> Result<T, DomainError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::bad_field(
            field,
            format!(
                "{field} must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ))
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

    #[test]
    fn resizing_validates_like_creation_and_never_shrinks_the_disk() {
        let spec = VmSpec::new("a", 1, 512, 4).unwrap();
        let bigger = spec.resized(2, 1024, 8).unwrap();
        assert_eq!(
            (bigger.vcpus, bigger.memory_mib, bigger.disk_gib),
            (2, 1024, 8)
        );
        assert_eq!(bigger.name, spec.name);
        assert_eq!(spec.resized(1, 256, 4).unwrap().memory_mib, 256);
        assert_eq!(
            spec.resized(1, 512, 3).unwrap_err().message,
            "diskGib can only grow: the disk has 4 GiB"
        );
        assert!(spec.resized(0, 512, 4).is_err());
        assert!(spec.resized(1, 10, 4).is_err());
    }

    #[test]
    fn keyboard_layouts_are_qemu_keymaps() {
        assert_eq!(KeyboardLayout::parse("de-ch").unwrap().as_str(), "de-ch");
        assert_eq!(KeyboardLayout::default().as_str(), "en-us");
        assert_eq!(KeyboardLayout::default().xkb(), ("us", ""));
        assert_eq!(KeyboardLayout::parse("fr-ch").unwrap().xkb(), ("ch", "fr"));
        let err = KeyboardLayout::parse("../../etc/passwd").unwrap_err();
        assert!(err
            .message
            .starts_with("keyboardLayout `../../etc/passwd` is not one of ar,"));
    }
}
