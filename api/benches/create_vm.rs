//! Target: createVm → RUNNING within 1.2× of `virsh define && virsh start` of the same XML.
//!
//! Measured side by side in one run on the real `qemu:///system` (domain type `qemu`, TCG),
//! alternating the two so drift and noise hit both alike:
//!
//! - **A, Distribox**: the `createVm` mutation with `start: true`, timed from sending it until the
//!   `vmEvents` subscription says RUNNING. Force stop and delete afterwards are not timed.
//! - **B, baseline**: what a person would type for the same VM: `qemu-img create` of the same
//!   qcow2 overlay (Distribox's time includes it), then `virsh define` of the XML Distribox
//!   defined (its `dumpxml --inactive`, with the name, uuid and disk path replaced), then
//!   `virsh start`. Destroy, undefine and removing the disk afterwards are not timed.
//!
//! `cargo bench -p distribox-api --bench create_vm`; `BENCH_ITERATIONS` (default 10) pairs.
//! Needs what the end-to-end tests need: PostgreSQL, libvirtd and the test guest image.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use support::{spawn_app_with, Libvirt, Subscription, TestApp};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use uuid::Uuid;

const TARGET_RATIO: f64 = 1.2;
const TIMEOUT: Duration = Duration::from_secs(120);
const URI: &str = "qemu:///system";

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .map(|n| n.parse().expect("BENCH_ITERATIONS is a number"))
        .unwrap_or(10);
    assert!(iterations > 0, "BENCH_ITERATIONS must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(iterations));
}

/// Where Distribox's time went in one iteration. Timestamps from the event log (`recorded_at`,
/// each event's transaction start), the hypervisor projector's `converging` log line, and QEMU's
/// `starting up` line in libvirt's domain log — all on this machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
struct Phases {
    /// Request sent → `VmCreated` + `VmStartRequested` committed.
    command: Duration,
    /// → the hypervisor projector starts converging: NOTIFY, runner wake-up, aggregate load.
    wake: Duration,
    /// → libvirt launches QEMU: `qemu-img create`, lookups, define, libvirt's preparation.
    prepare: Duration,
    /// → `VmProvisioned` committed: QEMU launch until `virDomainCreate` returns, first report.
    launch: Duration,
    /// → `VmStarted` committed: the second report's command.
    report: Duration,
    /// → RUNNING received: read model, subscription, websocket.
    delivery: Duration,
}

/// One baseline run, step by step.
#[derive(Debug, Clone, Copy, Default)]
struct Steps {
    qemu_img: Duration,
    /// The cloud-init seed ISO with genisoimage, when Distribox's XML attaches one.
    seed: Duration,
    define: Duration,
    /// `virsh start` → libvirt launches QEMU (virsh's own start-up and connection included).
    prepare: Duration,
    /// → `virsh start` exits.
    launch: Duration,
}

/// When the hypervisor projector first logged `converging` for each VM, by VM id.
#[derive(Clone, Default)]
struct ConvergeLog(Arc<Mutex<HashMap<String, DateTime<Utc>>>>);

#[derive(Default)]
struct ConvergeFields {
    message: String,
    vm: String,
}

impl Visit for ConvergeFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "vm" => self.vm = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for ConvergeLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let at = Utc::now();
        let mut fields = ConvergeFields::default();
        event.record(&mut fields);
        if fields.message == "converging" {
            let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
            seen.entry(fields.vm).or_insert(at);
        }
    }
}

impl ConvergeLog {
    fn install() -> Self {
        let log = Self::default();
        let only = tracing_subscriber::filter::Targets::new()
            .with_target("distribox_projections::hypervisor", tracing::Level::INFO);
        tracing_subscriber::registry()
            .with(log.clone().with_filter(only))
            .init();
        log
    }

    fn take(&self, vm: &str) -> Option<DateTime<Utc>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(vm)
    }
}

/// When libvirt last launched QEMU for `domain`, from its domain log (root-only readable).
fn qemu_launched(domain: &str) -> Option<DateTime<Utc>> {
    let log = std::fs::read_to_string(format!("/var/log/libvirt/qemu/{domain}.log")).ok()?;
    let line = log.lines().rev().find(|l| l.contains(": starting up "))?;
    let stamp = line.split(": starting up ").next()?;
    DateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.f%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn span(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Duration {
    match (from, to) {
        (Some(from), Some(to)) => (to - from).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

struct Bench {
    app: TestApp,
    token: String,
    events: Subscription,
    image: PathBuf,
    baseline_dir: PathBuf,
    created: usize,
    converging: ConvergeLog,
}

async fn run(iterations: usize) {
    preflight();
    let converging = ConvergeLog::install();
    let app = spawn_app_with(Libvirt::System, |_| {}).await;
    let token = app.login().await;
    let events = Subscription::start(
        &app,
        &token,
        "subscription { vmEvents { vmId state event at } }",
    )
    .await;
    let image = app.data_dir.join("images").join("test-guest.qcow2");
    let baseline_dir = app.data_dir.join("baseline");
    make_dir(&baseline_dir);
    let mut bench = Bench {
        app,
        token,
        events,
        image,
        baseline_dir,
        created: 0,
        converging,
    };

    // A warm-up pair, not counted: first boots load QEMU and firmware into the page cache, and
    // Distribox's first VM gives B its XML.
    let (warm_a, _, template) = bench.distribox().await;
    let (warm_b, _) = bench.baseline(&template).await;
    println!(
        "createVm → RUNNING vs qemu-img create && virsh define && virsh start ({URI}, TCG)\n\
         warm-up (not counted): A {} ms, B {} ms\n",
        ms(warm_a),
        ms(warm_b)
    );

    let mut a = Vec::with_capacity(iterations);
    let mut b = Vec::with_capacity(iterations);
    let mut phases = Vec::with_capacity(iterations);
    let mut steps = Vec::with_capacity(iterations);
    println!(
        "A = Distribox, B = baseline; ms. A: cmd → VmCreated committed, wake → projector \
         converging, prep → QEMU launched, launch → VmProvisioned, rep → VmStarted, deliv → \
         RUNNING received.\nB: qemu-img, seed ISO, virsh define, prep → QEMU launched, launch → \
         virsh start exits.\n"
    );
    print_row(&[
        "iter",
        "order",
        "A",
        "B",
        "A/B",
        "A:cmd",
        "A:wake",
        "A:prep",
        "A:launch",
        "A:rep",
        "A:deliv",
        "B:qemuimg",
        "B:seed",
        "B:define",
        "B:prep",
        "B:launch",
    ]);
    for i in 0..iterations {
        // Alternate which goes first.
        let ((ta, pa, _), (tb, sb)) = if i % 2 == 0 {
            let first = bench.distribox().await;
            (first, bench.baseline(&template).await)
        } else {
            let second = bench.baseline(&template).await;
            (bench.distribox().await, second)
        };
        print_row(&[
            &(i + 1).to_string(),
            if i % 2 == 0 { "A,B" } else { "B,A" },
            &ms(ta),
            &ms(tb),
            &format!("{:.2}", ta.as_secs_f64() / tb.as_secs_f64()),
            &ms(pa.command),
            &ms(pa.wake),
            &ms(pa.prepare),
            &ms(pa.launch),
            &ms(pa.report),
            &ms(pa.delivery),
            &ms(sb.qemu_img),
            &ms(sb.seed),
            &ms(sb.define),
            &ms(sb.prepare),
            &ms(sb.launch),
        ]);
        a.push(ta);
        b.push(tb);
        phases.push(pa);
        steps.push(sb);
    }

    let (median_a, p90_a) = (median(&a), percentile(&a, 90.0));
    let (median_b, p90_b) = (median(&b), percentile(&b, 90.0));
    let ratio = median_a.as_secs_f64() / median_b.as_secs_f64();
    let med_a = |f: fn(&Phases) -> Duration| ms(median(&phases.iter().map(f).collect::<Vec<_>>()));
    let med_b = |f: fn(&Steps) -> Duration| ms(median(&steps.iter().map(f).collect::<Vec<_>>()));
    println!();
    println!("{:<28} {:>9} {:>9}", "", "median", "p90");
    println!(
        "{:<28} {:>9} {:>9}",
        "A Distribox createVm (ms)",
        ms(median_a),
        ms(p90_a)
    );
    println!(
        "{:<28} {:>9} {:>9}",
        "B virsh baseline (ms)",
        ms(median_b),
        ms(p90_b)
    );
    println!(
        "A phases, median (ms): command {}, wake-up {}, prepare {}, launch {}, report {}, delivery {}",
        med_a(|p| p.command),
        med_a(|p| p.wake),
        med_a(|p| p.prepare),
        med_a(|p| p.launch),
        med_a(|p| p.report),
        med_a(|p| p.delivery)
    );
    println!(
        "B steps, median (ms): qemu-img {}, seed ISO {}, virsh define {}, prepare {}, launch {}",
        med_b(|s| s.qemu_img),
        med_b(|s| s.seed),
        med_b(|s| s.define),
        med_b(|s| s.prepare),
        med_b(|s| s.launch)
    );
    println!(
        "ratio median(A)/median(B) = {ratio:.3} — target ≤ {TARGET_RATIO}: {}",
        if ratio <= TARGET_RATIO {
            "MET"
        } else {
            "MISSED"
        }
    );

    let _ = std::fs::remove_dir_all(&bench.app.data_dir);
}

impl Bench {
    /// A: createVm with start → RUNNING seen on the subscription. Returns the time, its phases
    /// and the domain's inactive XML.
    async fn distribox(&mut self) -> (Duration, Phases, String) {
        self.created += 1;
        let name = format!("bench {}", self.created);
        let sent_at = Utc::now();
        let began = Instant::now();
        let vm = self.app.create_vm(&self.token, &name, true).await;
        let id = vm["id"].as_str().expect("VM id").to_owned();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.events.next(left).await["vmEvents"].clone();
            if event["vmId"] == id.as_str() {
                match event["state"].as_str() {
                    Some("RUNNING") => break,
                    Some("FAILED" | "CRASHED") => panic!("VM {id} did not start: {event}"),
                    _ => {}
                }
            }
        }
        let elapsed = began.elapsed();
        let received_at = Utc::now();
        let phases = self.phases(&id, sent_at, received_at).await;

        let xml = virsh_output(&["dumpxml", "--inactive", &format!("distribox-{id}")]);
        let stopped = self
            .app
            .data(
                &self.token,
                "mutation($id: ID!) { forceStopVm(id: $id) { state } }",
                json!({ "id": id }),
            )
            .await;
        assert!(stopped.get("forceStopVm").is_some(), "{stopped}");
        self.app
            .wait_for_state(&self.token, &id, Some("STOPPED"), TIMEOUT)
            .await;
        let deleted = self
            .app
            .data(
                &self.token,
                "mutation($id: ID!) { deleteVm(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["deleteVm"], true);
        self.app
            .wait_for_state(&self.token, &id, None, TIMEOUT)
            .await;
        let template = xml.replace(&id, "@ID@").replace(
            &self.app.data_dir.join("vms").display().to_string(),
            "@DIR@",
        );
        (elapsed, phases, template)
    }

    async fn phases(&self, id: &str, sent_at: DateTime<Utc>, received_at: DateTime<Utc>) -> Phases {
        let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT event_type, recorded_at FROM events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(id)
        .fetch_all(&self.app.db.pool)
        .await
        .expect("events of the VM");
        let at = |wanted: &str| {
            rows.iter()
                .find(|(event, _)| event == wanted)
                .map(|(_, at)| *at)
        };
        let created = at("VmCreated");
        let converging = self.converging.take(id);
        let launched = qemu_launched(&format!("distribox-{id}"));
        let provisioned = at("VmProvisioned");
        let started = at("VmStarted");
        Phases {
            command: span(Some(sent_at), created),
            wake: span(created, converging),
            prepare: span(converging, launched),
            launch: span(launched, provisioned),
            report: span(provisioned, started),
            delivery: span(started, Some(received_at)),
        }
    }

    /// B: `qemu-img create`, `virsh define`, `virsh start` of the same XML for a fresh uuid.
    async fn baseline(&mut self, template: &str) -> (Duration, Steps) {
        let id = Uuid::new_v4();
        let name = format!("bench-baseline-{id}");
        let dir = self.baseline_dir.join(id.to_string());
        let disk = dir.join("disk.qcow2");
        let xml = template
            .replace("@DIR@", &self.baseline_dir.display().to_string())
            .replace(
                "<name>distribox-@ID@</name>",
                &format!("<name>{name}</name>"),
            )
            .replace("@ID@", &id.to_string());
        assert!(
            xml.contains(&format!("<name>{name}</name>"))
                && xml.contains(&disk.display().to_string()),
            "the template did not take the baseline's name and disk:\n{xml}"
        );
        let xml_file = self.baseline_dir.join(format!("{id}.xml"));
        std::fs::write(&xml_file, &xml).expect("write the baseline XML");

        let began_at = Utc::now();
        let began = Instant::now();
        make_dir(&dir);
        run_ok(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                .arg(&self.image)
                .arg(&disk)
                .arg("1G"),
        );
        let qemu_img = began.elapsed();
        let iso = dir.join("seed.iso");
        if xml.contains(&iso.display().to_string()) {
            make_seed_iso(&dir, &iso, id);
        }
        let seed = began.elapsed() - qemu_img;
        virsh_output(&["define", &xml_file.display().to_string()]);
        let define = began.elapsed() - qemu_img - seed;
        virsh_output(&["start", &name]);
        let elapsed = began.elapsed();
        let start = elapsed - qemu_img - seed - define;
        // When libvirt launched QEMU, relative to this run's own clock.
        let launched =
            span(Some(began_at), qemu_launched(&name)).saturating_sub(qemu_img + seed + define);
        let launched = launched.min(start);
        let steps = Steps {
            qemu_img,
            seed,
            define,
            prepare: launched,
            launch: start - launched,
        };

        virsh_output(&["destroy", &name]);
        virsh_output(&["undefine", &name]);
        std::fs::remove_dir_all(&dir).expect("remove the baseline disk");
        std::fs::remove_file(&xml_file).expect("remove the baseline XML");
        let _ = std::fs::remove_file(format!("/var/log/libvirt/qemu/{name}.log"));
        (elapsed, steps)
    }
}

/// A NoCloud seed like Distribox's: `meta-data` and `user-data` on a `cidata` ISO, built the same
/// way.
fn make_seed_iso(dir: &Path, iso: &Path, id: Uuid) {
    let files = dir.join("seed");
    std::fs::create_dir_all(&files).expect("create the seed folder");
    let hostname = format!("vm-{}", &id.to_string()[..8]);
    std::fs::write(
        files.join("meta-data"),
        format!("instance-id: iid-{id}\nlocal-hostname: {hostname}\n"),
    )
    .expect("write meta-data");
    let user_data = json!({ "hostname": hostname, "preserve_hostname": false });
    std::fs::write(
        files.join("user-data"),
        format!("#cloud-config\n{user_data:#}\n"),
    )
    .expect("write user-data");
    run_ok(
        Command::new("genisoimage")
            .args(["-quiet", "-volid", "cidata", "-joliet", "-rock", "-output"])
            .arg(iso)
            .arg(files.join("meta-data"))
            .arg(files.join("user-data")),
    );
    std::fs::remove_dir_all(&files).expect("remove the seed folder");
}

/// Fails early and clearly when the machine can't run the bench.
fn preflight() {
    let version = Command::new("virsh").args(["-c", URI, "version"]).output();
    match version {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "libvirt at {URI} is not usable: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => panic!("cannot run virsh: {err}"),
    }
}

fn make_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("create a directory");
    // QEMU runs as libvirt-qemu.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .expect("make the directory traversable");
}

fn run_ok(command: &mut Command) -> String {
    let out = command.output().expect("run a command");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn virsh_output(args: &[&str]) -> String {
    run_ok(Command::new("virsh").args(["-c", URI]).args(args))
}

fn print_row(cells: &[&str]) {
    let mut line = format!("{:>4} {:>5}", cells[0], cells[1]);
    for cell in &cells[2..] {
        line.push_str(&format!(" {cell:>9}"));
    }
    println!("{line}");
}

/// The median: the middle sample, or the mean of the two middle ones.
fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Nearest-rank percentile.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
