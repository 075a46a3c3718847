use serde::{Deserialize, Serialize};

use crate::vm::spec::display_name;
use crate::DomainError;

const SHORT_TEXT_CHARS: usize = 64;
const DESCRIPTION_CHARS: usize = 2000;

/// How an image boots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Firmware {
    #[default]
    Bios,
    Uefi,
}

impl Firmware {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "bios" | "" => Ok(Firmware::Bios),
            "uefi" | "efi" => Ok(Firmware::Uefi),
            other => Err(DomainError::bad_field(
                "firmware",
                format!("firmware `{other}` is not one of bios, uefi"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// Unvalidated description of an image, as a caller gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataInput {
    pub name: String,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    pub default_user: Option<String>,
    pub firmware: Option<String>,
    pub description: Option<String>,
}

/// What a host says about an image: shown in the catalogue and used to boot it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    pub name: String,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    /// The login user the image's cloud-init creates (`debian`, `ubuntu`, `fedora`, …).
    pub default_user: Option<String>,
    pub firmware: Firmware,
    pub description: Option<String>,
}

impl ImageMetadata {
    pub fn parse(input: MetadataInput) -> Result<Self, DomainError> {
        let name = display_name("image name", &input.name)?;
        let short = |field: &'static str, value: Option<String>| {
            optional_text(field, value, SHORT_TEXT_CHARS, false)
        };
        let default_user = short("defaultUser", input.default_user)?;
        if let Some(user) = &default_user {
            let valid = user
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && user
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
            if !valid {
                return Err(DomainError::bad_field(
                    "defaultUser",
                    "defaultUser must be a Linux user name (a-z, 0-9, '.', '_', '-')",
                ));
            }
        }
        Ok(Self {
            name,
            os_family: short("osFamily", input.os_family)?,
            os_version: short("osVersion", input.os_version)?,
            default_user,
            firmware: input
                .firmware
                .as_deref()
                .map(Firmware::parse)
                .transpose()?
                .unwrap_or_default(),
            description: optional_text("description", input.description, DESCRIPTION_CHARS, true)?,
        })
    }
}

/// Trimmed text, absent when empty; refused when too long or holding control characters
/// (line breaks only where `multiline`).
fn optional_text(
    field: &'static str,
    value: Option<String>,
    max_chars: usize,
    multiline: bool,
) -> Result<Option<String>, DomainError> {
    let Some(text) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max_chars {
        return Err(DomainError::bad_field(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
    {
        return Err(DomainError::bad_field(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(Some(text))
}
