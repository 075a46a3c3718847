//! Importing images from a local HTTP server: every checksum-file format, both disk formats, a
//! real guest booted from an imported image, and every refusal leaving no file behind.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{spawn_app, Console, Libvirt, Subscription, TestApp};

/// Files the server serves, and how many requests it answered for each.
#[derive(Default)]
struct Files {
    bodies: HashMap<String, Vec<u8>>,
    /// Files whose first response stops halfway, as a dropped connection does.
    drop_first: Vec<String>,
    /// Files sent slowly (64 KiB every 20 ms), without `Content-Length`.
    slow: Vec<String>,
    /// Files not found the first time they are asked for (published a moment later).
    late: Vec<String>,
    requests: HashMap<String, AtomicUsize>,
    /// The first byte of every range requested.
    ranges: std::sync::Mutex<Vec<usize>>,
}

async fn serve(
    State(files): State<Arc<Files>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(body) = files.bodies.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let served = files
        .requests
        .get(&name)
        .map_or(0, |n| n.fetch_add(1, Ordering::SeqCst));
    if served == 0 && files.late.contains(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let start = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.trim_end_matches('-').parse::<usize>().ok());
    if let Some(start) = start {
        files.ranges.lock().unwrap().push(start);
    }
    let (status, slice) = match start {
        Some(start) => (StatusCode::PARTIAL_CONTENT, &body[start..]),
        None => (StatusCode::OK, &body[..]),
    };
    if files.slow.contains(&name) {
        let chunks: Vec<Vec<u8>> = slice.chunks(64 << 10).map(<[u8]>::to_vec).collect();
        let stream = futures::stream::iter(chunks).then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))
        });
        let mut response = Response::builder()
            .status(status)
            .header(header::ETAG, "\"v1\"");
        if let Some(start) = start {
            response = response.header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
            );
        }
        return response.body(Body::from_stream(stream)).unwrap();
    }
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, slice.len())
        .header(header::ETAG, "\"v1\"");
    if let Some(start) = start {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
        );
    }
    if served == 0 && files.drop_first.contains(&name) {
        // Half the body, then the connection breaks.
        let half = slice[..slice.len() / 2].to_vec();
        let stream = futures::stream::iter(vec![
            Ok(bytes::Bytes::from(half)),
            Err(std::io::Error::other("connection dropped")),
        ]);
        return response.body(Body::from_stream(stream)).unwrap();
    }
    response.body(Body::from(slice.to_vec())).unwrap()
}

/// Serves `files` on a random local port; the base URL.
async fn file_server(files: Files) -> (String, Arc<Files>) {
    let files = Arc::new(files);
    let router = axum::Router::new()
        .route("/files/{name}", axum::routing::get(serve))
        .with_state(files.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/files"), files)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn qemu_img(args: &[&str]) {
    let status = std::process::Command::new("qemu-img")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "qemu-img {args:?}");
}

/// The test guest as qcow2 and as raw, and a qcow2 that points at another file.
fn test_files(scratch: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let qcow2_path = support::test_images_dir().join("test-guest.qcow2");
    let raw_path = scratch.join("guest.raw");
    qemu_img(&[
        "convert",
        "-O",
        "raw",
        qcow2_path.to_str().unwrap(),
        raw_path.to_str().unwrap(),
    ]);
    let backed = scratch.join("backed.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        "/etc/shadow",
        backed.to_str().unwrap(),
        "64M",
    ]);
    (
        std::fs::read(qcow2_path).unwrap(),
        std::fs::read(raw_path).unwrap(),
        std::fs::read(backed).unwrap(),
    )
}

const IMAGE_FIELDS: &str =
    "id name status format sha256 sizeBytes virtualSizeBytes failure usedBy sourceKind";

async fn import(app: &TestApp, token: &str, input: Value) -> Value {
    let data = app
        .data(
            token,
            &format!("mutation($input: ImportImageInput!) {{ importImage(input: $input) {{ {IMAGE_FIELDS} }} }}"),
            json!({ "input": input }),
        )
        .await;
    data["importImage"].clone()
}

/// Polls image `id` until the catalogue shows it and it is no longer importing.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let image = app
            .data(
                token,
                &format!("query($id: ID!) {{ image(id: $id) {{ {IMAGE_FIELDS} }} }}"),
                json!({ "id": id }),
            )
            .await["image"]
            .clone();
        // Not listed yet (imported by another process a moment ago), or still importing.
        if !image.is_null() && image["status"] != "IMPORTING" {
            return image;
        }
        assert!(Instant::now() < deadline, "image {id} still importing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The files in the images folder besides the test guest's.
fn images_folder(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app.data_dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("test-guest"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn imports_are_verified_and_refusals_leave_nothing() {
    let scratch = support::test_data_dir();
    let (qcow2, raw, backed) = test_files(&scratch);
    let (qcow2_sum, raw_sum) = (sha256(&qcow2), sha256(&raw));
    let garbage = b"<html><body>502 Bad Gateway</body></html>".repeat(20);
    let mut files = Files::default();
    for (name, body) in [
        ("guest.qcow2", qcow2.clone()),
        ("guest.raw", raw.clone()),
        ("flaky.qcow2", qcow2.clone()),
        ("backed.qcow2", backed.clone()),
        ("garbage.qcow2", garbage.clone()),
        ("late.qcow2", qcow2.clone()),
        (
            "SHA256SUMS",
            format!("{qcow2_sum} *guest.qcow2\n{raw_sum}  other.raw\n").into_bytes(),
        ),
        (
            "CHECKSUM",
            format!(
                "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# guest.raw: {} bytes\nSHA256 (guest.raw) = {raw_sum}\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n",
                raw.len()
            )
            .into_bytes(),
        ),
    ] {
        files.bodies.insert(name.to_owned(), body);
        files.requests.insert(name.to_owned(), AtomicUsize::new(0));
    }
    files.drop_first.push("flaky.qcow2".to_owned());
    files.late.push("late.qcow2".to_owned());
    let (base, served) = file_server(files).await;

    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;

    // A qcow2 checked against a GNU-style SHA256SUMS, and a raw one against a signed BSD-style
    // CHECKSUM, imported at once.
    let from_sums = import(
        &app,
        &token,
        json!({ "url": format!("{base}/guest.qcow2"), "checksumUrl": format!("{base}/SHA256SUMS"),
                "name": "Guest qcow2", "osFamily": "linux", "firmware": "bios" }),
    )
    .await;
    assert_eq!(from_sums["status"], "IMPORTING");
    let from_checksum = import(
        &app,
        &token,
        json!({ "url": format!("{base}/guest.raw"), "checksumUrl": format!("{base}/CHECKSUM"), "name": "Guest raw" }),
    )
    .await;
    let qcow2_image = settled(&app, &token, from_sums["id"].as_str().unwrap()).await;
    let raw_image = settled(&app, &token, from_checksum["id"].as_str().unwrap()).await;
    assert_eq!(qcow2_image["status"], "READY", "{qcow2_image}");
    assert_eq!(qcow2_image["format"], "qcow2");
    assert_eq!(qcow2_image["sha256"], qcow2_sum.as_str());
    assert_eq!(qcow2_image["virtualSizeBytes"], 64 << 20);
    assert_eq!(raw_image["status"], "READY", "{raw_image}");
    assert_eq!(raw_image["format"], "raw");
    assert_eq!(raw_image["sizeBytes"], raw.len());

    // A connection dropped halfway is resumed with a Range request.
    let flaky = import(
        &app,
        &token,
        json!({ "url": format!("{base}/flaky.qcow2"), "sha256": qcow2_sum, "name": "Flaky" }),
    )
    .await;
    let flaky = settled(&app, &token, flaky["id"].as_str().unwrap()).await;
    assert_eq!(flaky["status"], "READY", "{flaky}");
    assert_eq!(flaky["sha256"], qcow2_sum.as_str());
    assert_eq!(served.requests["flaky.qcow2"].load(Ordering::SeqCst), 2);

    // Refusals: each says why and leaves no file.
    for (file, sha, reason) in [
        ("guest.qcow2", raw_sum.as_str(), "checksum mismatch"),
        ("backed.qcow2", &sha256(&backed), "refers to a backing file"),
        ("garbage.qcow2", &sha256(&garbage), "not a disk image"),
    ] {
        let refused = import(
            &app,
            &token,
            json!({ "url": format!("{base}/{file}"), "sha256": sha, "name": file }),
        )
        .await;
        let refused = settled(&app, &token, refused["id"].as_str().unwrap()).await;
        assert_eq!(refused["status"], "FAILED", "{refused}");
        let failure = refused["failure"].as_str().unwrap();
        assert!(failure.contains(reason), "{file}: {failure}");
    }
    let missing = import(
        &app,
        &token,
        json!({ "url": format!("{base}/guest.qcow2"), "checksumUrl": format!("{base}/nothing"), "name": "No sums" }),
    )
    .await;
    let missing = settled(&app, &token, missing["id"].as_str().unwrap()).await;
    assert!(
        missing["failure"].as_str().unwrap().contains("404"),
        "{missing}"
    );
    // A failed download is retried on request, and the second time the file is there.
    let late = import(
        &app,
        &token,
        json!({ "url": format!("{base}/late.qcow2"), "sha256": qcow2_sum, "name": "Late" }),
    )
    .await;
    let late_id = late["id"].as_str().unwrap();
    let late = settled(&app, &token, late_id).await;
    assert!(late["failure"].as_str().unwrap().contains("404"), "{late}");
    let retried = app
        .data(
            &token,
            "mutation($id: ID!) { retryImageImport(id: $id) { status failure } }",
            json!({ "id": late_id }),
        )
        .await;
    assert_eq!(
        retried["retryImageImport"],
        json!({ "status": "IMPORTING", "failure": null })
    );
    let late = settled(&app, &token, late_id).await;
    assert_eq!(late["status"], "READY", "{late}");
    let again = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { retryImageImport(id: $id) { status } }",
            json!({ "id": late_id }),
        )
        .await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT");
    let bad_input = app
        .gql(
            Some(&token),
            "mutation { importImage(input: { url: \"file:///etc/shadow\", name: \"x\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(bad_input["errors"][0]["extensions"]["code"], "BAD_INPUT");
    assert_eq!(bad_input["errors"][0]["extensions"]["field"], "url");
    for (input, field) in [
        (
            json!({ "url": format!("{base}/guest.qcow2"), "sha256": "abc", "name": "x" }),
            "sha256",
        ),
        (
            json!({ "url": format!("{base}/guest.qcow2"), "sha256": qcow2_sum,
                    "checksumUrl": format!("{base}/SHA256SUMS"), "name": "x" }),
            "checksumUrl",
        ),
        (
            json!({ "url": format!("{base}/guest.qcow2"), "name": " " }),
            "name",
        ),
        (
            json!({ "url": format!("{base}/guest.qcow2"), "name": "x", "firmware": "coreboot" }),
            "firmware",
        ),
    ] {
        let refused = app
            .gql(
                Some(&token),
                "mutation($input: ImportImageInput!) { importImage(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "BAD_INPUT",
            "{refused}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], field,
            "{refused}"
        );
    }

    let mut expected = vec![
        format!("{}.qcow2", from_sums["id"].as_str().unwrap()),
        format!("{}.raw", from_checksum["id"].as_str().unwrap()),
        format!("{}.qcow2", flaky["id"].as_str().unwrap()),
        format!("{late_id}.qcow2"),
    ];
    expected.sort();
    assert_eq!(images_folder(&app), expected, "only accepted images remain");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let images = app.data_dir.join("images");
        assert_eq!(mode(&images), 0o711, "others may pass, not list");
        assert_eq!(
            mode(&images.join(&expected[0])),
            0o640,
            "no other user reads an image"
        );
    }

    // Deleting an image a VM is built on is refused, naming the VM; retiring hides it.
    let id = qcow2_image["id"].as_str().unwrap();
    let vm = app
        .data(
            &token,
            "mutation($input: CreateVmInput!) { createVm(input: $input) { id } }",
            json!({ "input": { "name": "on-imported", "image": id, "vcpus": 1, "memoryMib": 128, "diskGib": 1 } }),
        )
        .await;
    let refused = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteImage(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("on-imported"));
    let retired = app
        .data(
            &token,
            "mutation($id: ID!) { retireImage(id: $id) { status usedBy } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        retired["retireImage"],
        json!({ "status": "RETIRED", "usedBy": 1 })
    );
    let not_usable = app
        .gql(
            Some(&token),
            "mutation($input: CreateVmInput!) { createVm(input: $input) { id } }",
            json!({ "input": { "name": "late", "image": id, "vcpus": 1, "memoryMib": 128, "diskGib": 1 } }),
        )
        .await;
    assert_eq!(not_usable["errors"][0]["extensions"]["field"], "image");
    assert!(vm["createVm"]["id"].is_string());
    // An image no VM uses is deleted, and its file with it.
    let id = flaky["id"].as_str().unwrap();
    let deleted = app
        .data(
            &token,
            "mutation($id: ID!) { deleteImage(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteImage"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while images_folder(&app).contains(&format!("{id}.qcow2")) {
        assert!(Instant::now() < deadline, "the deleted image's file stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(&app.data_dir);
}

/// An imported image boots: a real guest on the qcow2 downloaded from the local server.
#[tokio::test]
async fn a_guest_boots_from_an_imported_image() {
    let qcow2 = std::fs::read(support::test_images_dir().join("test-guest.qcow2")).unwrap();
    let sum = sha256(&qcow2);
    let mut files = Files::default();
    files.bodies.insert("guest.qcow2".to_owned(), qcow2);
    let (base, _) = file_server(files).await;
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let image = import(
        &app,
        &token,
        json!({ "url": format!("{base}/guest.qcow2"), "sha256": sum, "name": "Imported guest" }),
    )
    .await;
    let image = settled(&app, &token, image["id"].as_str().unwrap()).await;
    assert_eq!(image["status"], "READY", "{image}");
    let vm = app
        .data(
            &token,
            "mutation($input: CreateVmInput!) { createVm(input: $input) { id } }",
            json!({ "input": { "name": "from-import", "image": image["id"], "vcpus": 1, "memoryMib": 256, "diskGib": 1, "start": true } }),
        )
        .await;
    let vm = vm["createVm"]["id"].as_str().unwrap().to_owned();
    app.wait_for_state(&token, &vm, Some("RUNNING"), Duration::from_secs(90))
        .await;
    let url = app.open_console(&token, &vm).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(Duration::from_secs(90)).await;
    app.data(
        &token,
        "mutation($id: ID!) { deleteVm(id: $id, force: true) }",
        json!({ "id": vm }),
    )
    .await;
    app.wait_for_state(&token, &vm, None, Duration::from_secs(60))
        .await;
    let _ = std::fs::remove_dir_all(&app.data_dir);
}

/// A server stopped in the middle of a download resumes it when it starts again: the
/// temporary file is kept and the rest is asked for with a `Range` request.
#[tokio::test]
async fn a_restart_during_a_download_resumes_it() {
    let qcow2 = std::fs::read(support::test_images_dir().join("test-guest.qcow2")).unwrap();
    let sum = sha256(&qcow2);
    let mut files = Files::default();
    files.bodies.insert("slow.qcow2".to_owned(), qcow2.clone());
    files.slow.push("slow.qcow2".to_owned());
    let (base, served) = file_server(files).await;
    let first = spawn_app(Libvirt::TestDriver).await;
    let token = first.login().await;
    let image = import(
        &first,
        &token,
        json!({ "url": format!("{base}/slow.qcow2"), "sha256": sum, "name": "Slow" }),
    )
    .await;
    let id = image["id"].as_str().unwrap().to_owned();
    let partial = first.data_dir.join("images").join(format!(".{id}.partial"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 2 << 20 {
        assert!(Instant::now() < deadline, "the download never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The process stops; another starts on the same database and folder.
    let TestApp {
        app,
        db,
        data_dir,
        http,
        config,
        ..
    } = first;
    drop(app);
    // A half-written file no import owns (an upload cut off by the stop) is there too.
    let stray = data_dir
        .join("images")
        .join(format!(".{}.partial", uuid::Uuid::new_v4()));
    std::fs::write(&stray, b"half an upload").unwrap();
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept < qcow2.len() as u64);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = distribox_api::App::start(config.clone(), listener)
        .await
        .unwrap();
    let second = TestApp {
        app,
        addr,
        db,
        data_dir,
        http,
        config,
    };
    let token = second.login().await;
    let image = settled(&second, &token, &id).await;
    assert_eq!(image["status"], "READY", "{image}");
    assert_eq!(image["sha256"], sum.as_str());
    let resumed_at = served.ranges.lock().unwrap().clone();
    assert!(
        resumed_at.iter().any(|&start| start > 0),
        "no Range request: {resumed_at:?}"
    );
    assert!(!partial.exists());
    assert!(!stray.exists(), "the stray file is removed at start");
    let _ = std::fs::remove_dir_all(&second.data_dir);
}

/// Unmounts the small filesystem when the test ends, pass or fail.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(&self.0)
            .status();
    }
}

/// An images folder on a filesystem too small for the image: the import fails saying so,
/// leaves nothing behind, and the server goes on working.
#[tokio::test]
async fn a_full_disk_fails_the_import_and_leaves_nothing() {
    let scratch = support::test_data_dir();
    let (_, raw, _) = test_files(&scratch);
    let sum = sha256(&raw);
    let mut files = Files::default();
    files.bodies.insert("sized.raw".to_owned(), raw.clone());
    files.bodies.insert("unsized.raw".to_owned(), raw);
    files.slow.push("unsized.raw".to_owned());
    let (base, _) = file_server(files).await;
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let images = app.data_dir.join("images");
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m,mode=0711", "tmpfs"])
        .arg(&images)
        .status()
        .unwrap();
    assert!(status.success(), "mounting a small tmpfs");
    let _mounted = Mounted(images.clone());

    for (file, reason) in [
        // Announced size: refused before a byte is written.
        ("sized.raw", "not enough disk space"),
        // No size announced: the disk fills up on the way.
        ("unsized.raw", "disk"),
    ] {
        let image = import(
            &app,
            &token,
            json!({ "url": format!("{base}/{file}"), "sha256": sum, "name": file }),
        )
        .await;
        let image = settled(&app, &token, image["id"].as_str().unwrap()).await;
        assert_eq!(image["status"], "FAILED", "{image}");
        let failure = image["failure"].as_str().unwrap();
        assert!(failure.contains(reason), "{file}: {failure}");
        let left: Vec<_> = std::fs::read_dir(&images).unwrap().collect();
        assert!(left.is_empty(), "{file} left {left:?}");
    }
    let me = app.data(&token, "{ me { id } }", json!({})).await;
    assert!(me["me"]["id"].is_string());
    drop(_mounted);
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(&app.data_dir);
}

/// A vmdk is converted to qcow2, and `imageProgress` follows the import through its phases.
#[tokio::test]
async fn a_vmdk_is_converted_and_its_progress_followed() {
    let scratch = support::test_data_dir();
    let vmdk = scratch.join("guest.vmdk");
    qemu_img(&[
        "convert",
        "-O",
        "vmdk",
        support::test_images_dir()
            .join("test-guest.qcow2")
            .to_str()
            .unwrap(),
        vmdk.to_str().unwrap(),
    ]);
    let body = std::fs::read(&vmdk).unwrap();
    let sum = sha256(&body);
    let mut files = Files::default();
    files.bodies.insert("guest.vmdk".to_owned(), body);
    files.slow.push("guest.vmdk".to_owned());
    let (base, _) = file_server(files).await;
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let mut progress = Subscription::start(
        &app,
        &token,
        "subscription { imageProgress { imageId phase bytes total rate error } }",
    )
    .await;
    let image = import(
        &app,
        &token,
        json!({ "url": format!("{base}/guest.vmdk"), "sha256": sum, "name": "From vmdk" }),
    )
    .await;
    let id = image["id"].as_str().unwrap();
    let mut phases: Vec<String> = Vec::new();
    let mut most = 0;
    loop {
        let update = progress.next(Duration::from_secs(60)).await["imageProgress"].clone();
        assert_eq!(update["imageId"], id);
        let phase = update["phase"].as_str().unwrap().to_owned();
        most = most.max(update["bytes"].as_i64().unwrap());
        if phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        if phase == "READY" || phase == "FAILED" {
            break;
        }
    }
    assert_eq!(
        phases,
        ["DOWNLOADING", "VERIFYING", "CONVERTING", "READY"],
        "phases in order"
    );
    assert!(most > 0, "bytes were counted");
    let image = settled(&app, &token, id).await;
    assert_eq!(image["status"], "READY", "{image}");
    assert_eq!(image["format"], "qcow2");
    let converted = app
        .data(
            &token,
            "query($id: ID!) { image(id: $id) { convertedFrom } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(converted["image"]["convertedFrom"], "vmdk");
    assert_eq!(images_folder(&app), [format!("{id}.qcow2")]);
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(&app.data_dir);
}

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_distribox"))
        .args(["images"])
        .args(args)
        .env("DISTRIBOX_DATABASE_URL", &app.db.url)
        .env("DISTRIBOX_DATA_DIR", &app.data_dir)
        .env("DISTRIBOX_DISK_RESERVE_GIB", "0")
        .env("DISTRIBOX_CONFIG", "/dev/null")
        .output()
        .unwrap()
}

/// `distribox images import|list|rm` go through the same commands as the API: the server's
/// catalogue shows what the CLI imported, and refusals say why.
#[tokio::test]
async fn the_cli_imports_lists_and_deletes() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let guest = support::test_images_dir().join("test-guest.qcow2");
    let guest = guest.to_str().unwrap();
    let sum = sha256(&std::fs::read(guest).unwrap());

    let imported = cli(
        &app,
        &["import", guest, "--name", "From the CLI", "--sha256", &sum],
    );
    assert!(imported.status.success(), "{imported:?}");
    let stdout = String::from_utf8_lossy(&imported.stdout);
    let id = stdout
        .strip_prefix("image ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned();
    let image = settled(&app, &token, &id).await;
    assert_eq!(image["status"], "READY", "{image}");
    assert_eq!(image["sourceKind"], "upload");
    assert_eq!(image["name"], "From the CLI");

    let listed = cli(&app, &["list"]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    let line = listing
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(
        line.contains("ready") && line.contains("From the CLI"),
        "{line}"
    );
    assert!(listing.contains("test-guest"), "{listing}");

    let wrong = cli(&app, &["import", guest, "--sha256", &"0".repeat(64)]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("checksum mismatch"),
        "{wrong:?}"
    );
    let missing = cli(&app, &["import", "/nonexistent/disk.qcow2"]);
    assert!(!missing.status.success());

    let removed = cli(&app, &["rm", &id]);
    assert!(removed.status.success(), "{removed:?}");
    let refused = cli(&app, &["rm", &id]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not found"),
        "{refused:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !images_folder(&app).is_empty() {
        assert!(Instant::now() < deadline, "left {:?}", images_folder(&app));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&app.data_dir);
}

/// `POST /images/upload`: a streamed body becomes a ready image; a caller without the policy,
/// bad parameters and a wrong checksum are refused with their code, and leave no file.
#[tokio::test]
async fn uploads_are_accepted_and_refusals_say_why() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    app.create_account(&token, "viewer", &["images:get"]).await;
    let viewer = app.login_account("viewer").await;
    let qcow2 = std::fs::read(support::test_images_dir().join("test-guest.qcow2")).unwrap();
    let sum = sha256(&qcow2);
    let upload = |query: String, token: Option<&str>| {
        let mut request = app
            .http
            .post(app.url(&format!("/images/upload?{query}")))
            .body(qcow2.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };

    let (status, body) = answer(
        upload(
            format!("name=Uploaded&fileName=guest.qcow2&sha256={sum}"),
            Some(&token),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "READY");
    let id = body["id"].as_str().unwrap();
    let image = settled(&app, &token, id).await;
    assert_eq!(image["sourceKind"], "upload");
    assert_eq!(image["sha256"], sum.as_str());

    for (query, token, status, code, field) in [
        ("name=x".to_owned(), None, 401, "UNAUTHENTICATED", None),
        (
            "name=x".to_owned(),
            Some(viewer.as_str()),
            403,
            "FORBIDDEN",
            None,
        ),
        (
            "fileName=x".to_owned(),
            Some(token.as_str()),
            400,
            "BAD_INPUT",
            Some("name"),
        ),
        (
            "name=%20".to_owned(),
            Some(token.as_str()),
            400,
            "BAD_INPUT",
            Some("name"),
        ),
        (
            "name=x&sha256=abc".to_owned(),
            Some(token.as_str()),
            400,
            "BAD_INPUT",
            Some("sha256"),
        ),
        (
            "name=x&firmware=coreboot".to_owned(),
            Some(token.as_str()),
            400,
            "BAD_INPUT",
            Some("firmware"),
        ),
    ] {
        let (got, body) = answer(upload(query.clone(), token).await.unwrap()).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["code"], code, "{query}: {body}");
        assert_eq!(body["field"].as_str(), field, "{query}: {body}");
    }
    let (got, body) = answer(
        upload(
            format!("name=Wrong&sha256={}", "0".repeat(64)),
            Some(&token),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(got, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{body}"
    );
    assert_eq!(
        images_folder(&app),
        [format!("{id}.qcow2")],
        "nothing else was kept"
    );
    let _ = std::fs::remove_dir_all(&app.data_dir);
}
