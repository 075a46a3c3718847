//! Prometheus metrics (`GET /metrics`, OpenMetrics text).
//!
//! Requests and commands are counted as they happen. Everything else is read when scraped, so
//! it is never stale and costs nothing between scrapes: per-VM gauges from the `vms` read
//! model, per-VM counters from the usage sampler's last reading, the host, each projection's
//! lag, and the consoles open now.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use distribox_commands::CommandOutcome;
use distribox_domain::console::ConsoleKind;
use distribox_projections::usage::LatestUsage;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use uuid::Uuid;

use crate::app::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/graphql`, `/console/ws`, …); the web app's pages are `web`, so
    /// arbitrary paths never become series.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    aggregate: String,
    command: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandNameLabels {
    aggregate: String,
    command: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VmLabels {
    vm: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VmStateLabels {
    vm: String,
    name: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionLabels {
    projection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type Seconds = Family<RouteLabels, Histogram, fn() -> Histogram>;
type CommandSeconds = Family<CommandNameLabels, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// 1 ms to ~16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The metrics counted as things happen. Clones share them.
#[derive(Clone)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    request_seconds: Seconds,
    commands: Family<CommandLabels, Counter>,
    command_seconds: CommandSeconds,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            commands: Family::default(),
            command_seconds: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_command(&self, outcome: &CommandOutcome<'_>) {
        self.commands
            .get_or_create(&CommandLabels {
                aggregate: outcome.aggregate.to_owned(),
                command: outcome.command.to_owned(),
                outcome: outcome.outcome.to_owned(),
            })
            .inc();
        self.command_seconds
            .get_or_create(&CommandNameLabels {
                aggregate: outcome.aggregate.to_owned(),
                command: outcome.command.to_owned(),
            })
            .observe(outcome.elapsed.as_secs_f64());
    }

    /// Everything, as OpenMetrics text.
    pub async fn render(&self, state: &AppState) -> anyhow::Result<String> {
        let mut registry = Registry::with_prefix("distribox");
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer HTTP requests (websockets: until upgraded)",
            Unit::Seconds,
            self.request_seconds.clone(),
        );
        registry.register(
            "commands",
            "Commands executed, by outcome (ok or the refusal's code)",
            self.commands.clone(),
        );
        registry.register_with_unit(
            "command_duration",
            "Time to execute commands, conflict retries included",
            Unit::Seconds,
            self.command_seconds.clone(),
        );
        let latest = state.usage.latest.get();
        vms(&mut registry, state, &latest).await?;
        host(&mut registry, &latest);
        projections(&mut registry, state).await?;
        consoles(&mut registry, state);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        Ok(text)
    }
}

fn gauge_family<L>(registry: &mut Registry, name: &str, help: &str) -> Family<L, FloatGauge>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let family = Family::<L, FloatGauge>::default();
    registry.register(name, help, family.clone());
    family
}

fn counter_family<L>(registry: &mut Registry, name: &str, help: &str) -> Family<L, FloatCounter>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
{
    let family = Family::<L, FloatCounter>::default();
    registry.register(name, help, family.clone());
    family
}

/// Each VM's state and size, and what its domain has used since it started.
async fn vms(
    registry: &mut Registry,
    state: &AppState,
    latest: &LatestUsage,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(Uuid, String, String, i32, i64)> =
        sqlx::query_as("SELECT id, name, state, vcpus, memory_mib FROM vms")
            .fetch_all(&state.pool)
            .await?;
    let states = gauge_family::<VmStateLabels>(registry, "vm_state", "1 for the VM's state");
    let vcpus = gauge_family::<VmLabels>(registry, "vm_vcpus", "vCPUs the VM is given");
    let memory = gauge_family::<VmLabels>(
        registry,
        "vm_memory_allocated_bytes",
        "Memory the VM is given",
    );
    let resident = gauge_family::<VmLabels>(
        registry,
        "vm_memory_resident_bytes",
        "Resident memory of the running VM's QEMU process at the last sample (where the driver \
         reports none, the memory the guest was given)",
    );
    let cpu = counter_family::<VmLabels>(
        registry,
        "vm_cpu_seconds",
        "CPU time the running VM's domain has used since it started",
    );
    let byte_counters = [
        (
            "vm_disk_read_bytes",
            "Bytes read from disks since the domain started",
        ),
        (
            "vm_disk_written_bytes",
            "Bytes written to disks since the domain started",
        ),
        (
            "vm_network_received_bytes",
            "Bytes received since the domain started",
        ),
        (
            "vm_network_transmitted_bytes",
            "Bytes sent since the domain started",
        ),
    ]
    .map(|(name, help)| counter_family::<VmLabels>(registry, name, help));
    for (id, name, vm_state, vm_vcpus, memory_mib) in rows {
        let labels = VmLabels {
            vm: id.to_string(),
            name,
        };
        states
            .get_or_create(&VmStateLabels {
                vm: labels.vm.clone(),
                name: labels.name.clone(),
                state: vm_state.to_lowercase(),
            })
            .set(1.0);
        vcpus.get_or_create(&labels).set(vm_vcpus.into());
        memory
            .get_or_create(&labels)
            .set(memory_mib as f64 * 1024.0 * 1024.0);
        if let Some(counters) = latest.vms.get(&id) {
            resident
                .get_or_create(&labels)
                .set(counters.memory_kib as f64 * 1024.0);
            cpu.get_or_create(&labels)
                .inc_by(counters.cpu_time_ns as f64 / 1e9);
            let values = [
                counters.disk_read_bytes,
                counters.disk_write_bytes,
                counters.net_rx_bytes,
                counters.net_tx_bytes,
            ];
            for (family, value) in byte_counters.iter().zip(values) {
                family.get_or_create(&labels).inc_by(value as f64);
            }
        }
    }
    Ok(())
}

/// The host at the sampler's last reading, and when that was (a stalled sampler shows as an
/// old timestamp).
fn host(registry: &mut Registry, latest: &LatestUsage) {
    if let Some(at) = latest.at {
        let sampled = FloatGauge::default();
        sampled.set(at.timestamp_millis() as f64 / 1000.0);
        registry.register(
            "usage_last_sample_timestamp_seconds",
            "When the usage sampler last read libvirt and the host (Unix time)",
            sampled,
        );
    }
    let Some(host) = latest.host else {
        return;
    };
    let gauges = [
        ("host_cpus", "CPUs", host.cpus as f64),
        (
            "host_memory_total_bytes",
            "Memory",
            host.memory_total_kib as f64 * 1024.0,
        ),
        (
            "host_memory_available_bytes",
            "Memory that can be allocated without swapping",
            host.memory_available_kib as f64 * 1024.0,
        ),
        (
            "host_disk_total_bytes",
            "Size of the filesystem holding images and VM disks",
            host.disk_total_bytes as f64,
        ),
        (
            "host_disk_available_bytes",
            "Free space on that filesystem",
            host.disk_available_bytes as f64,
        ),
    ];
    for (name, help, value) in gauges {
        let gauge = FloatGauge::default();
        gauge.set(value);
        registry.register(name, help, gauge);
    }
    let busy = FloatCounter::default();
    busy.inc_by(host.cpu_busy_seconds);
    registry.register(
        "host_cpu_busy_seconds",
        "Busy CPU time over all CPUs since boot",
        busy,
    );
}

/// Where each projection is: how far behind the log, and for how long.
async fn projections(registry: &mut Registry, state: &AppState) -> Result<(), sqlx::Error> {
    let lag = gauge_family::<ProjectionLabels>(
        registry,
        "projection_lag_seconds",
        "How long the oldest committed event the projection has not applied has waited",
    );
    let behind = gauge_family::<ProjectionLabels>(
        registry,
        "projection_behind_events",
        "Committed events the projection has not applied",
    );
    let position = gauge_family::<ProjectionLabels>(
        registry,
        "projection_position",
        "Position of the last event the projection applied",
    );
    for status in distribox_projections::status::status(&state.pool).await? {
        let labels = ProjectionLabels {
            projection: status.projection,
        };
        lag.get_or_create(&labels).set(status.lag_seconds);
        behind.get_or_create(&labels).set(status.behind as f64);
        position.get_or_create(&labels).set(status.position as f64);
    }
    Ok(())
}

fn consoles(registry: &mut Registry, state: &AppState) {
    let open = gauge_family::<KindLabels>(
        registry,
        "console_sessions_open",
        "Console sessions open now",
    );
    for kind in [ConsoleKind::Serial, ConsoleKind::Vnc] {
        open.get_or_create(&KindLabels {
            kind: kind.as_str().to_owned(),
        })
        .set(state.relay.open_sessions(kind) as f64);
    }
}
