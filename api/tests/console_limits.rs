//! A console's limits: it ends after its idle timeout, after its maximum lifetime however busy,
//! and on a frame larger than the relay takes; pings keep it alive, and a viewer that stops
//! answering them is let go.

mod support;

use std::time::{Duration, Instant};

use support::{spawn_app_with, Console, Libvirt};
use tokio_tungstenite::tungstenite::Message;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn idle_lifetime_and_frame_size_limits() {
    let app = spawn_app_with(Libvirt::System, |config| {
        config.console_idle = 3;
        config.console_lifetime = 9;
    })
    .await;
    let token = app.login().await;
    let vm = app.running_vm(&token, "limited").await;

    // Once the guest is up, a console that stays quiet for 3 s is closed as idle.
    let mut booting = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    booting.wait_for_shell(BOOT_TIMEOUT).await;
    booting.close().await;
    let mut console = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    console.read_for(Duration::from_millis(300)).await; // the scroll-back
    let quiet = Instant::now();
    let closed = console.closed_within(Duration::from_secs(6)).await;
    assert_eq!(closed, Some((4003, "idle for 3 s".to_owned())));
    assert!(
        quiet.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        quiet.elapsed()
    );

    // Busy, but past its 9 s lifetime: closed all the same.
    let mut console = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    let opened = Instant::now();
    let closed = loop {
        console.type_text("echo busy\n").await;
        if let Some(closed) = console.closed_within(Duration::from_millis(500)).await {
            break closed;
        }
        assert!(opened.elapsed() < Duration::from_secs(13), "never closed");
    };
    assert_eq!(
        closed,
        (4004, "consoles last at most 9 s; open it again".to_owned())
    );
    assert!(opened.elapsed() >= Duration::from_millis(8500));

    // A frame over 64 KiB is refused: the connection ends.
    let mut console = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    console
        .send_raw(Message::binary(vec![b'x'; 100 * 1024]))
        .await;
    let closed = console.closed_within(Duration::from_secs(3)).await;
    assert!(closed.is_some(), "a 100 KiB frame was accepted");
}

#[tokio::test]
async fn pings_keep_a_console_alive_and_find_viewers_that_are_gone() {
    let app = spawn_app_with(Libvirt::System, |config| config.console_keepalive = 1).await;
    let token = app.login().await;
    let vm = app.running_vm(&token, "pinged").await;

    // A viewer that answers (tungstenite answers pings while reading, as browsers do) gets a
    // ping a second and stays connected well past three unanswered periods; one that reads
    // nothing answers nothing and is closed after three. (That one may not see the close
    // frame: the pongs it queues on reading again meet a closed socket.)
    let mut silent = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    let mut answering = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    let pings = answering.pings_for(Duration::from_millis(4500)).await;
    assert!((3..=6).contains(&pings), "{pings} pings in 4.5 s");
    assert!(silent.closed_within(Duration::from_secs(1)).await.is_some());
    assert_eq!(
        app.console_close_reasons(&vm).await,
        ["the viewer stopped answering"]
    );
    assert_eq!(
        answering.closed_within(Duration::from_millis(100)).await,
        None
    );
}
