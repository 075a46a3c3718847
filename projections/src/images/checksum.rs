//! Vendors' checksum files: the digest they list for one file name.
//!
//! Understood: GNU coreutils lines (`<hex>  name`, `<hex> *name`: Debian's `SHA512SUMS`,
//! Ubuntu's `SHA256SUMS`, Arch's and Alpine's `.sha256`/`.sha512`), BSD-style lines
//! (`SHA256 (name) = <hex>`: Fedora's, AlmaLinux's and Rocky's `CHECKSUM`), a lone digest, and
//! any of these inside a PGP-signed message or among `#` comments.

use distribox_domain::image::Digest;

/// The digest `text` lists for `file_name` (compared by its last path segment). A file listing
/// a single digest without a name is taken as that file's.
pub fn find(text: &str, file_name: &str) -> Result<Digest, String> {
    let mut unnamed = Vec::new();
    let mut listed = 0usize;
    for line in text.lines().map(str::trim) {
        let Some((name, digest)) = parse_line(line) else {
            continue;
        };
        listed += 1;
        match name {
            Some(name) if base_name(name) == file_name => return Ok(digest),
            Some(_) => {}
            None => unnamed.push(digest),
        }
    }
    match (listed, unnamed.len()) {
        (0, _) => Err("the checksum file lists no SHA-256 or SHA-512 digest".to_owned()),
        (1, 1) => Ok(unnamed.remove(0)),
        _ => Err(format!("the checksum file has no entry for `{file_name}`")),
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One line's file name (if it names one) and digest.
fn parse_line(line: &str) -> Option<(Option<&str>, Digest)> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // BSD style: `SHA256 (name) = hex`.
    for (label, parse) in [
        ("SHA256 (", Digest::sha256 as fn(&str) -> _),
        ("SHA512 (", Digest::sha512),
    ] {
        if let Some(rest) = line.strip_prefix(label) {
            let (name, hex) = rest.rsplit_once(") = ")?;
            return parse(hex).ok().map(|digest| (Some(name), digest));
        }
    }
    // GNU style: `hex  name`, `hex *name`, or a lone `hex`.
    let (hex, name) = match line.split_once(char::is_whitespace) {
        Some((hex, name)) => (hex, Some(name.trim_start().trim_start_matches('*'))),
        None => (line, None),
    };
    if hex.len() != 64 && hex.len() != 128 {
        return None;
    }
    let digest = Digest::from_hex(hex).ok()?;
    Some((name.filter(|n| !n.is_empty()), digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn gnu_lines_as_debian_ubuntu_arch_and_alpine_write_them() {
        let sums = format!(
            "{A}  debian-12-genericcloud-amd64.qcow2\n{B}  debian-12-nocloud-amd64.qcow2\n"
        );
        assert_eq!(
            find(&sums, "debian-12-nocloud-amd64.qcow2").unwrap(),
            Digest::Sha256(B.to_owned())
        );
        let ubuntu = format!("{A} *noble-server-cloudimg-amd64.img\n");
        assert_eq!(
            find(&ubuntu, "noble-server-cloudimg-amd64.img").unwrap(),
            Digest::Sha256(A.to_owned())
        );
        let sha512 = "c".repeat(128);
        let debian = format!("{sha512}  debian-13-generic-amd64.qcow2\n");
        assert_eq!(
            find(&debian, "debian-13-generic-amd64.qcow2").unwrap(),
            Digest::Sha512(sha512)
        );
    }

    #[test]
    fn bsd_lines_in_a_signed_fedora_or_rocky_file() {
        let fedora = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
             # Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2: 491716608 bytes\n\
             SHA256 (Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2) = {A}\n\
             SHA256 (Fedora-Cloud-Base-41-1.4.x86_64.raw.xz) = {B}\n\
             -----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(
            find(&fedora, "Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2").unwrap(),
            Digest::Sha256(A.to_owned())
        );
    }

    #[test]
    fn a_lone_digest_names_the_one_file() {
        assert_eq!(
            find(&format!("{A}\n"), "x.qcow2").unwrap(),
            Digest::Sha256(A.to_owned())
        );
    }

    #[test]
    fn a_missing_entry_or_an_empty_file_is_an_error() {
        let sums = format!("{A}  other.qcow2\n");
        assert_eq!(
            find(&sums, "x.qcow2").unwrap_err(),
            "the checksum file has no entry for `x.qcow2`"
        );
        assert!(find("<html>not found</html>", "x.qcow2")
            .unwrap_err()
            .contains("lists no"));
        // A path in the listing matches by its last segment.
        let nested = format!("{B}  ./images/x.qcow2\n");
        assert_eq!(
            find(&nested, "x.qcow2").unwrap(),
            Digest::Sha256(B.to_owned())
        );
    }
}
