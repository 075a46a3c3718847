use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest URL accepted: long enough for signed download links, short enough to show.
const MAX_URL_CHARS: usize = 2048;

/// Where an image's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Downloaded over HTTP(S), verified against `digest` (given, or read from `checksum_url`).
    Url {
        url: String,
        digest: Option<Digest>,
        checksum_url: Option<String>,
    },
    /// Streamed from a browser or the CLI; `file_name` is what the sender called it.
    Upload { file_name: String },
    /// Found in the images folder, placed there by the host before images were in the log.
    Folder { file: String },
}

impl ImageSource {
    /// A download from `url`, checked against a hex `sha256` digest or the vendor's checksum
    /// file at `checksum_url` (at most one of the two).
    pub fn url(
        url: &str,
        sha256: Option<&str>,
        checksum_url: Option<&str>,
    ) -> Result<Self, DomainError> {
        let url = http_url("url", url)?;
        if sha256.is_some() && checksum_url.is_some() {
            return Err(DomainError::bad_field(
                "checksumUrl",
                "give either sha256 or checksumUrl, not both",
            ));
        }
        let digest = sha256
            .map(|hex| Digest::sha256(hex).map_err(|e| e.in_field("sha256")))
            .transpose()?;
        let checksum_url = checksum_url
            .map(|u| http_url("checksumUrl", u))
            .transpose()?;
        Ok(ImageSource::Url {
            url,
            digest,
            checksum_url,
        })
    }

    /// Whether the importer can fetch the bytes again by itself (after a failure or a restart):
    /// from the URL, or from the folder where the file lies.
    pub fn is_refetchable(&self) -> bool {
        matches!(self, ImageSource::Url { .. } | ImageSource::Folder { .. })
    }
}

fn http_url(field: &'static str, raw: &str) -> Result<String, DomainError> {
    let url = raw.trim();
    let scheme_ok = ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && url.len() > scheme.len()
    });
    if !scheme_ok {
        return Err(DomainError::bad_field(
            field,
            format!("{field} must be an http:// or https:// URL"),
        ));
    }
    if url.chars().count() > MAX_URL_CHARS
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DomainError::bad_field(
            field,
            format!("{field} must be a URL of at most {MAX_URL_CHARS} characters without spaces"),
        ));
    }
    Ok(url.to_owned())
}

/// An expected checksum: the algorithm and its lower-case hex digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "algorithm", content = "hex")]
pub enum Digest {
    Sha256(String),
    Sha512(String),
}

impl Digest {
    pub fn sha256(hex: &str) -> Result<Self, DomainError> {
        hex_digest(hex, 64, "SHA-256").map(Digest::Sha256)
    }

    pub fn sha512(hex: &str) -> Result<Self, DomainError> {
        hex_digest(hex, 128, "SHA-512").map(Digest::Sha512)
    }

    /// A digest whose algorithm is told by its length (64 or 128 hex digits), as in
    /// `sha256sum`/`sha512sum` output.
    pub fn from_hex(hex: &str) -> Result<Self, DomainError> {
        match hex.trim().len() {
            128 => Self::sha512(hex),
            _ => Self::sha256(hex),
        }
    }

    pub fn hex(&self) -> &str {
        match self {
            Digest::Sha256(hex) | Digest::Sha512(hex) => hex,
        }
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            Digest::Sha256(_) => "SHA-256",
            Digest::Sha512(_) => "SHA-512",
        }
    }
}

fn hex_digest(raw: &str, digits: usize, algorithm: &str) -> Result<String, DomainError> {
    let hex = raw.trim().to_ascii_lowercase();
    if hex.len() != digits || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DomainError::bad_input(format!(
            "a {algorithm} digest is {digits} hexadecimal digits"
        )));
    }
    Ok(hex)
}
