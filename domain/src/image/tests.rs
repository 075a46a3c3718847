//! Given/when/then tests of every `Image` rule, including every refusal.

use cqrs_es::test::TestFramework;

use super::*;
use crate::{DomainError, ErrorKind};

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn image() -> TestFramework<Image> {
    TestFramework::with(())
}

fn described(name: &str) -> MetadataInput {
    MetadataInput {
        name: name.to_owned(),
        os_family: Some("debian".to_owned()),
        os_version: Some("12".to_owned()),
        default_user: Some("debian".to_owned()),
        firmware: Some("UEFI".to_owned()),
        description: None,
    }
}

fn metadata(name: &str) -> ImageMetadata {
    ImageMetadata::parse(described(name)).unwrap()
}

fn from_url() -> ImageSource {
    ImageSource::url("https://cloud.example.org/debian-12.qcow2", Some(SHA), None).unwrap()
}

fn requested() -> ImageEvent {
    ImageEvent::ImageImportRequested {
        metadata: metadata("Debian 12"),
        source: from_url(),
    }
}

fn facts() -> ImageFacts {
    ImageFacts {
        file: "img.qcow2".to_owned(),
        format: "qcow2".to_owned(),
        virtual_size_bytes: 2 << 30,
        size_bytes: 300 << 20,
        sha256: SHA.to_owned(),
        converted_from: None,
    }
}

fn imported() -> ImageEvent {
    ImageEvent::ImageImported(facts())
}

fn refused(kind: ErrorKind, field: Option<&'static str>, message: &str) -> DomainError {
    DomainError {
        kind,
        message: message.to_owned(),
        field,
    }
}

#[test]
fn an_import_is_requested_then_reported() {
    image()
        .given_no_previous_events()
        .when(ImageCommand::RequestImport {
            metadata: described("  Debian 12 "),
            source: from_url(),
        })
        .then_expect_events(vec![requested()]);
    image()
        .given(vec![requested()])
        .when(ImageCommand::ReportImported(facts()))
        .then_expect_events(vec![imported()]);
    image()
        .given(vec![requested()])
        .when(ImageCommand::ReportImportFailed {
            reason: "checksum mismatch".to_owned(),
        })
        .then_expect_events(vec![ImageEvent::ImageImportFailed {
            reason: "checksum mismatch".to_owned(),
        }]);
}

#[test]
fn metadata_is_validated_and_firmware_normalised() {
    assert_eq!(metadata("x").firmware, Firmware::Uefi);
    let bad = |input: MetadataInput| ImageMetadata::parse(input).unwrap_err().field;
    assert_eq!(bad(described(" ")), Some("name"));
    assert_eq!(
        bad(MetadataInput {
            firmware: Some("coreboot".to_owned()),
            ..described("x")
        }),
        Some("firmware")
    );
    assert_eq!(
        bad(MetadataInput {
            default_user: Some("Root User".to_owned()),
            ..described("x")
        }),
        Some("defaultUser")
    );
    assert_eq!(
        bad(MetadataInput {
            os_version: Some("1\u{7}".to_owned()),
            ..described("x")
        }),
        Some("osVersion")
    );
    assert_eq!(
        bad(MetadataInput {
            description: Some("d".repeat(2001)),
            ..described("x")
        }),
        Some("description")
    );
    let multiline = MetadataInput {
        description: Some("line one\nline two".to_owned()),
        ..described("x")
    };
    assert!(ImageMetadata::parse(multiline).is_ok());
}

#[test]
fn sources_are_validated() {
    let field = |r: Result<ImageSource, DomainError>| r.unwrap_err().field;
    assert_eq!(
        field(ImageSource::url("ftp://x/y", None, None)),
        Some("url")
    );
    assert_eq!(field(ImageSource::url("https://", None, None)), Some("url"));
    assert_eq!(
        field(ImageSource::url("https://a/b c", None, None)),
        Some("url")
    );
    assert_eq!(
        field(ImageSource::url("https://a/b", Some("abc"), None)),
        Some("sha256")
    );
    assert_eq!(
        field(ImageSource::url("https://a/b", None, Some("file:///etc/x"))),
        Some("checksumUrl")
    );
    assert_eq!(
        field(ImageSource::url(
            "https://a/b",
            Some(SHA),
            Some("https://a/SUMS")
        )),
        Some("checksumUrl")
    );
    // Upper-case digests are accepted and kept lower-case; the length tells the algorithm.
    let source = ImageSource::url("HTTPS://a/b", Some(&SHA.to_uppercase()), None).unwrap();
    assert_eq!(
        source,
        ImageSource::Url {
            url: "HTTPS://a/b".to_owned(),
            digest: Some(Digest::Sha256(SHA.to_owned())),
            checksum_url: None
        }
    );
    assert_eq!(
        Digest::from_hex(&"a".repeat(128)).unwrap().algorithm(),
        "SHA-512"
    );
    assert!(Digest::from_hex("xyz").is_err());
}

#[test]
fn an_id_is_imported_once() {
    image()
        .given(vec![requested(), imported()])
        .when(ImageCommand::RequestImport {
            metadata: described("Again"),
            source: from_url(),
        })
        .then_expect_error(refused(
            ErrorKind::Conflict,
            None,
            "an image with this id already exists",
        ));
}

#[test]
fn outcomes_are_reported_only_while_importing() {
    for given in [
        vec![requested(), imported()],
        vec![requested(), ImageEvent::ImageDeleted],
    ] {
        let result = image()
            .given(given)
            .when(ImageCommand::ReportImported(facts()))
            .inspect_result();
        assert!(result.is_err(), "a late report must be refused");
    }
    image()
        .given_no_previous_events()
        .when(ImageCommand::ReportImportFailed {
            reason: "x".to_owned(),
        })
        .then_expect_error(refused(ErrorKind::NotFound, None, "image not found"));
}

#[test]
fn failed_downloads_are_retried_but_uploads_are_not() {
    let failed = ImageEvent::ImageImportFailed {
        reason: "connection reset".to_owned(),
    };
    image()
        .given(vec![requested(), failed.clone()])
        .when(ImageCommand::RetryImport)
        .then_expect_events(vec![ImageEvent::ImageImportRetried]);
    let upload = ImageEvent::ImageImportRequested {
        metadata: metadata("Mine"),
        source: ImageSource::Upload {
            file_name: "mine.qcow2".to_owned(),
        },
    };
    image()
        .given(vec![upload, failed])
        .when(ImageCommand::RetryImport)
        .then_expect_error(refused(
            ErrorKind::Conflict,
            None,
            "an upload cannot be fetched again: upload the file once more",
        ));
    image()
        .given(vec![requested(), imported()])
        .when(ImageCommand::RetryImport)
        .then_expect_error(refused(
            ErrorKind::Conflict,
            None,
            "only a failed import can be retried",
        ));
}

#[test]
fn retiring_hides_an_image_until_reinstated() {
    let ready = vec![requested(), imported()];
    image()
        .given(ready.clone())
        .when(ImageCommand::Retire)
        .then_expect_events(vec![ImageEvent::ImageRetired]);
    let mut retired = ready.clone();
    retired.push(ImageEvent::ImageRetired);
    image()
        .given(retired.clone())
        .when(ImageCommand::Retire)
        .then_expect_events(vec![]);
    image()
        .given(retired)
        .when(ImageCommand::Reinstate)
        .then_expect_events(vec![ImageEvent::ImageReinstated]);
    image()
        .given(vec![requested()])
        .when(ImageCommand::Retire)
        .then_expect_error(refused(
            ErrorKind::Conflict,
            None,
            "only a ready image can be retired; this one is importing",
        ));
}

#[test]
fn an_image_in_use_is_not_deleted() {
    image()
        .given(vec![requested(), imported()])
        .when(ImageCommand::Delete {
            used_by: vec!["web".to_owned(), "db".to_owned()],
        })
        .then_expect_error(refused(
            ErrorKind::Conflict,
            None,
            "the disks of VMs web, db are built on this image; delete them first, or retire the image",
        ));
    // Deleting an import in progress cancels it.
    image()
        .given(vec![requested()])
        .when(ImageCommand::Delete { used_by: vec![] })
        .then_expect_events(vec![ImageEvent::ImageDeleted]);
    image()
        .given(vec![requested(), ImageEvent::ImageDeleted])
        .when(ImageCommand::Delete { used_by: vec![] })
        .then_expect_error(refused(ErrorKind::NotFound, None, "image not found"));
}

#[test]
fn metadata_changes_only_when_it_differs() {
    let ready = vec![requested(), imported()];
    image()
        .given(ready.clone())
        .when(ImageCommand::ChangeMetadata(described("Debian 12")))
        .then_expect_events(vec![]);
    image()
        .given(ready)
        .when(ImageCommand::ChangeMetadata(described("Debian bookworm")))
        .then_expect_events(vec![ImageEvent::ImageMetadataChanged {
            metadata: metadata("Debian bookworm"),
        }]);
}

#[test]
fn only_ready_images_are_usable() {
    let mut image = Image::default();
    let refusal = |image: &Image| image.summary("deb").require_usable().unwrap_err().message;
    assert_eq!(refusal(&image), "image `deb` is unknown");
    for (event, expected) in [
        (requested(), Some("image `deb` is still being imported")),
        (imported(), None),
        (ImageEvent::ImageRetired, Some("image `deb` is retired")),
    ] {
        cqrs_es::Aggregate::apply(&mut image, event);
        match expected {
            Some(message) => assert_eq!(refusal(&image), message),
            None => assert!(image.summary("deb").require_usable().is_ok()),
        }
    }
    assert_eq!(image.summary("deb").virtual_size_bytes, 2 << 30);
}
