//! Several viewers on one serial console: everyone sees the same output, a newcomer first gets
//! the recent scroll-back, a view-only viewer's keystrokes never reach the guest, and ending the
//! session that opened them closes them all.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{spawn_app, Console, Libvirt, TestApp};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

async fn console(app: &TestApp, token: &str, vm: &str, view_only: bool) -> Console {
    let opened = app
        .data(
            token,
            "mutation($vm: ID!, $v: Boolean!) { openConsole(vmId: $vm, kind: SERIAL, viewOnly: $v) { url } }",
            json!({ "vm": vm, "v": view_only }),
        )
        .await;
    Console::connect(app, opened["openConsole"]["url"].as_str().unwrap()).await
}

/// Reads until a line of `console`'s output is `line`, failing after a few seconds.
async fn sees(console: &mut Console, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !console.seen.lines().any(|l| l.trim() == line) {
        assert!(
            Instant::now() < deadline,
            "never saw `{line}`: {}",
            console.seen
        );
        console.read_for(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn viewers_share_the_console_and_view_only_ones_cannot_type() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let vm = app.running_vm(&token, "shared").await;

    let mut first = console(&app, &token, &vm, false).await;
    first.wait_for_shell(BOOT_TIMEOUT).await;
    let mut second = console(&app, &token, &vm, false).await;
    let mut watcher = console(&app, &token, &vm, true).await;

    // What one viewer types, every viewer sees; the first viewer is not kicked out.
    second.type_text("echo hub-$((1+1))\n").await;
    for viewer in [&mut first, &mut second, &mut watcher] {
        sees(viewer, "hub-2").await;
    }

    // A view-only viewer's keystrokes go nowhere; a resize message is not a keystroke either.
    watcher.type_text("echo view-only-$((2+3))\n").await;
    second
        .type_text(r#"{"type":"resize","cols":120,"rows":40}"#)
        .await;
    first.type_text("echo after-$((3+4))\n").await;
    sees(&mut first, "after-7").await;
    for viewer in [&first, &second, &watcher] {
        assert!(
            !viewer.seen.contains("view-only-5") && !viewer.seen.contains("resize"),
            "{}",
            viewer.seen
        );
    }

    // A newcomer starts with the scroll-back: the recent output is there at once.
    let mut late = console(&app, &token, &vm, true).await;
    late.read_for(Duration::from_millis(500)).await;
    assert!(
        late.seen.lines().any(|l| l.trim() == "after-7"),
        "{}",
        late.seen
    );

    // Ending the session that opened them closes them all.
    app.data(&token, "mutation { logout }", json!({})).await;
    for viewer in [&mut first, &mut second, &mut watcher, &mut late] {
        let closed = viewer.closed_within(Duration::from_secs(2)).await;
        assert_eq!(closed, Some((4001, "logged out".to_owned())));
    }

    // Each session is in the VM's history: who, which kind, how long, bytes each way, why it
    // ended. The view-only viewers typed nothing into the guest.
    let deadline = Instant::now() + Duration::from_secs(10);
    let closed: Vec<(String, bool, i64, String)> = loop {
        let closed: Vec<(String, bool, i64, String)> = sqlx::query_as(
            "SELECT o.payload->'ConsoleOpened'->>'principal',
                    (o.payload->'ConsoleOpened'->>'view_only')::boolean,
                    (c.payload->'ConsoleClosed'->>'bytes_in')::bigint,
                    c.payload->'ConsoleClosed'->>'reason'
               FROM events o JOIN events c
                 ON c.payload->'ConsoleClosed'->>'session' = o.payload->'ConsoleOpened'->>'session'
              WHERE o.aggregate_id = $1 AND o.event_type = 'ConsoleOpened'
              ORDER BY o.sequence",
        )
        .bind(&vm)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        if closed.len() == 4 || Instant::now() > deadline {
            break closed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(closed.len(), 4, "{closed:?}");
    for (principal, view_only, bytes_in, reason) in &closed {
        assert!(principal.starts_with("account:"));
        assert_eq!(reason, "logged out");
        assert_eq!(*view_only, *bytes_in == 0, "{closed:?}");
    }

    // Each session was recorded as the viewer saw it, and replays through the API: the
    // viewers present then saw the typed command echoed and answered; the late one starts with
    // the scroll-back; the view-only viewer's attempt is nowhere.
    let sessions: Vec<String> = sqlx::query_scalar(
        "SELECT payload->'ConsoleOpened'->>'session'
           FROM events WHERE aggregate_id = $1 AND event_type = 'ConsoleOpened' ORDER BY sequence",
    )
    .bind(&vm)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let admin = app.login().await;
    let mut transcripts = Vec::new();
    for session in &sessions {
        let replay = recording(&app, &admin, session).await;
        assert_eq!(replay["lostBytes"], 0);
        transcripts.push(transcript(&replay));
    }
    for shown in &transcripts[..3] {
        assert!(shown.contains("echo hub-$((1+1))"), "{shown}");
        assert!(shown.lines().any(|l| l.trim() == "hub-2"), "{shown}");
    }
    assert!(transcripts[3].lines().any(|l| l.trim() == "after-7"));
    assert!(transcripts.iter().all(|shown| !shown.contains("view-only")));

    // The audit log's entry of each session leads to its replay, and names who opened it.
    let data = app
        .data(
            &admin,
            "query($vm: ID!) { auditLog(vmId: $vm, action: \"ConsoleOpened\", first: 10) {
                edges { node { actor sessionId recording { session finishedAt } } } } }",
            json!({ "vm": vm }),
        )
        .await;
    let entries = data["auditLog"]["edges"].as_array().unwrap();
    assert_eq!(entries.len(), sessions.len(), "{data}");
    for edge in entries {
        let node = &edge["node"];
        assert!(
            node["actor"].as_str().unwrap().starts_with("account:"),
            "{node}"
        );
        assert_eq!(node["recording"]["session"], node["sessionId"], "{node}");
        assert!(sessions.contains(&node["sessionId"].as_str().unwrap().to_owned()));
    }
}

/// A finished recording through `consoleRecording`, waiting for its writer to finish it.
async fn recording(app: &TestApp, token: &str, session: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = app
            .data(
                token,
                "query($s: ID!) { consoleRecording(session: $s) {
                    finishedAt lostBytes frames(first: 5000) { seq atMs text base64 } } }",
                json!({ "s": session }),
            )
            .await;
        let replay = data["consoleRecording"].clone();
        if !replay["finishedAt"].is_null() {
            return replay;
        }
        assert!(
            Instant::now() < deadline,
            "recording {session} never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The recording's frames concatenated, checking they are in order and that each frame's text
/// is its bytes.
fn transcript(replay: &serde_json::Value) -> String {
    use base64::Engine;
    let mut last_at = 0;
    let mut text = String::new();
    for (i, frame) in replay["frames"].as_array().unwrap().iter().enumerate() {
        assert_eq!(frame["seq"], i as u64);
        let at = frame["atMs"].as_u64().unwrap();
        assert!(at >= last_at);
        last_at = at;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(frame["base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            frame["text"].as_str().unwrap()
        );
        text.push_str(frame["text"].as_str().unwrap());
    }
    text
}
