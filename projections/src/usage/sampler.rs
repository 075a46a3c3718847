//! The usage sampler: on every tick it reads what running VMs and the host have used since the
//! previous tick and writes it as one row each (`usage_samples`, `host_samples`); every so
//! often it folds raw rows older than the retention into hourly ones.
//!
//! It stays out of the API's way: libvirt is read on a blocking thread through a connection of
//! its own, each tick costs one insert per table, and a tick that runs late delays the next
//! rather than bunching up.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::host::{self, HostReading};
use crate::hypervisor::{StatsReader, VmCounters};
use crate::runner::session_lock;

/// How often and how long raw samples are kept.
#[derive(Debug, Clone, Copy)]
pub struct SamplerOptions {
    pub interval: Duration,
    /// Raw rows older than this are folded into hours.
    pub raw_retention: Duration,
}

/// What the sampler read last: cumulative counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct LatestUsage {
    pub at: Option<DateTime<Utc>>,
    pub vms: HashMap<Uuid, VmCounters>,
    pub host: Option<HostReading>,
}

/// A shared view of [`LatestUsage`], updated on every tick.
#[derive(Debug, Clone, Default)]
pub struct LatestUsageHandle(Arc<RwLock<LatestUsage>>);

impl LatestUsageHandle {
    pub fn get(&self) -> LatestUsage {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, latest: LatestUsage) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = latest;
    }
}

/// First key of the advisory lock that keeps one sampler per database.
const SAMPLER_LOCK_CLASS: i32 = 0x0d15_7b0e;

/// How often raw rows past the retention are folded.
const FOLD_EVERY: Duration = Duration::from_secs(600);

pub struct Sampler {
    pool: PgPool,
    reader: Arc<Mutex<StatsReader>>,
    data_dir: PathBuf,
    options: SamplerOptions,
    latest: LatestUsageHandle,
}

/// One tick's readings, kept to subtract from the next. `vms` is `None` when libvirt could
/// not be read: the next tick then has nothing to subtract from (rather than counting every
/// VM's whole counters as if it had just started).
struct Tick {
    when: Instant,
    vms: Option<HashMap<Uuid, VmCounters>>,
    /// Running VMs whose statistics could not be read this tick: they get no row, and the
    /// previous tick's counters stay their baseline.
    unreadable: HashSet<Uuid>,
    host: Option<HostReading>,
}

impl Sampler {
    /// `data_dir`'s filesystem is the host disk that is sampled.
    pub fn new(
        pool: PgPool,
        libvirt_uri: &str,
        data_dir: PathBuf,
        options: SamplerOptions,
    ) -> Self {
        Self {
            pool,
            reader: Arc::new(Mutex::new(StatsReader::new(libvirt_uri))),
            data_dir,
            options,
            latest: LatestUsageHandle::default(),
        }
    }

    pub fn latest(&self) -> LatestUsageHandle {
        self.latest.clone()
    }

    /// Samples forever; only one Distribox at a time samples a database (two would count
    /// everything twice).
    pub async fn run(self) {
        let _lock = self.exclusive_lock().await;
        let mut ticker = tokio::time::interval(self.options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut previous: Option<Tick> = None;
        let mut libvirt_ok = true;
        let mut next_fold = Instant::now();
        loop {
            ticker.tick().await;
            let tick = self.read(previous.as_ref(), &mut libvirt_ok).await;
            if let Some(previous) = &previous {
                if let Err(err) = self.write(previous, &tick).await {
                    tracing::warn!(error = %err, "cannot store usage samples");
                }
            }
            self.latest.set(LatestUsage {
                at: Some(Utc::now()),
                vms: tick.vms.clone().unwrap_or_default(),
                host: tick.host,
            });
            previous = Some(tick);
            if Instant::now() >= next_fold {
                let cutoff = Utc::now() - self.options.raw_retention;
                if let Err(err) = fold(&self.pool, cutoff).await {
                    tracing::warn!(error = %err, "cannot fold old usage samples");
                }
                next_fold = Instant::now() + FOLD_EVERY;
            }
        }
    }

    async fn exclusive_lock(&self) -> sqlx::PgConnection {
        let mut warned = false;
        loop {
            match session_lock(&self.pool, SAMPLER_LOCK_CLASS, "usage").await {
                Ok(Some(session)) => return session,
                Ok(None) if !warned => {
                    tracing::warn!("another Distribox samples usage into this database; waiting");
                    warned = true;
                }
                Ok(None) => {}
                Err(err) => tracing::error!(error = %err, "cannot take the sampler's lock"),
            }
            tokio::time::sleep(self.options.interval).await;
        }
    }

    /// Reads libvirt and the host on a blocking thread. When libvirt is unreachable the tick
    /// has no VMs (said once, not every tick); the host is still sampled.
    async fn read(&self, previous: Option<&Tick>, libvirt_ok: &mut bool) -> Tick {
        let reader = self.reader.clone();
        let data_dir = self.data_dir.clone();
        let read = tokio::task::spawn_blocking(move || {
            let vms = reader.lock().unwrap_or_else(|p| p.into_inner()).read();
            (vms, host::read(&data_dir))
        })
        .await;
        let (vms, host) = match read {
            Ok(read) => read,
            Err(err) => {
                tracing::error!(error = %err, "usage sampling panicked");
                return Tick {
                    when: Instant::now(),
                    vms: None,
                    unreadable: HashSet::new(),
                    host: None,
                };
            }
        };
        let mut unreadable = HashSet::new();
        let vms = match vms {
            Ok(readings) => {
                if !*libvirt_ok {
                    tracing::info!("usage sampling reads libvirt again");
                }
                *libvirt_ok = true;
                let mut vms: HashMap<Uuid, VmCounters> = readings.counters.into_iter().collect();
                let before = previous.and_then(|tick| tick.vms.as_ref());
                for vm in readings.unreadable {
                    if let Some(counters) = before.and_then(|before| before.get(&vm)) {
                        vms.insert(vm, *counters);
                    }
                    unreadable.insert(vm);
                }
                Some(vms)
            }
            Err(err) => {
                if *libvirt_ok {
                    tracing::warn!(error = %err, "usage sampling cannot read libvirt");
                }
                *libvirt_ok = false;
                None
            }
        };
        let host = host
            .inspect_err(|err| tracing::debug!(error = %err, "cannot read the host"))
            .ok();
        Tick {
            when: Instant::now(),
            vms,
            unreadable,
            host,
        }
    }

    async fn write(&self, previous: &Tick, tick: &Tick) -> Result<(), sqlx::Error> {
        let span = tick.when.duration_since(previous.when).as_secs_f64();
        let at = Utc::now();
        let rows = match (&previous.vms, &tick.vms) {
            (Some(before), Some(now)) => {
                let mut rows = vm_rows(before, now, span);
                rows.retain(|row| !tick.unreadable.contains(&row.vm));
                rows
            }
            _ => Vec::new(),
        };
        let mut tx = self.pool.begin().await?;
        if !rows.is_empty() {
            insert_vm_rows(&mut tx, at, span, &rows).await?;
        }
        if let (Some(before), Some(now)) = (previous.host, tick.host) {
            insert_host_row(&mut tx, at, span, &before, &now).await?;
        }
        tx.commit().await
    }
}

/// What one VM used between two ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct VmRow {
    vm: Uuid,
    cpu_seconds: f64,
    memory_kib: u64,
    disk_read_bytes: u64,
    disk_write_bytes: u64,
    net_rx_bytes: u64,
    net_tx_bytes: u64,
}

/// The use of each VM running now since the previous tick, `span` seconds ago. A VM that
/// wasn't running then started since, so all of its counters are new; so are the counters of
/// one whose CPU time went backwards (its domain restarted in between). But a VM with more CPU
/// time than it could have used in the span was running before and only unreadable then: it
/// gets no row this time, and its counters are the baseline for the next.
fn vm_rows(
    previous: &HashMap<Uuid, VmCounters>,
    now: &HashMap<Uuid, VmCounters>,
    span: f64,
) -> Vec<VmRow> {
    let mut rows: Vec<VmRow> = now
        .iter()
        .filter_map(|(vm, now)| {
            let before = match previous.get(vm) {
                Some(before) if before.cpu_time_ns <= now.cpu_time_ns => *before,
                _ if now.cpu_time_ns as f64 / 1e9 <= could_use(now, span) => VmCounters::default(),
                _ => return None,
            };
            let since = |now: u64, before: u64| now.checked_sub(before).unwrap_or(now);
            Some(VmRow {
                vm: *vm,
                cpu_seconds: since(now.cpu_time_ns, before.cpu_time_ns) as f64 / 1e9,
                memory_kib: now.memory_kib,
                disk_read_bytes: since(now.disk_read_bytes, before.disk_read_bytes),
                disk_write_bytes: since(now.disk_write_bytes, before.disk_write_bytes),
                net_rx_bytes: since(now.net_rx_bytes, before.net_rx_bytes),
                net_tx_bytes: since(now.net_tx_bytes, before.net_tx_bytes),
            })
        })
        .collect();
    rows.sort_by_key(|row| row.vm);
    rows
}

/// The most CPU time a domain with `now.vcpus` vCPUs can use in `span` seconds: every vCPU
/// busy, plus one more CPU for QEMU's own threads, plus a second of slack.
fn could_use(now: &VmCounters, span: f64) -> f64 {
    (f64::from(now.vcpus) + 1.0) * span + 1.0
}

async fn insert_vm_rows(
    tx: &mut sqlx::PgConnection,
    at: DateTime<Utc>,
    span: f64,
    rows: &[VmRow],
) -> Result<(), sqlx::Error> {
    let column = |f: fn(&VmRow) -> u64| rows.iter().map(|r| f(r) as i64).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO usage_samples (vm_id, resolution, at, span_seconds, samples, cpu_seconds,
                                    memory_avg_kib, memory_peak_kib, disk_read_bytes,
                                    disk_write_bytes, net_rx_bytes, net_tx_bytes)
         SELECT vm_id, 'raw', $2, $3, 1, cpu, memory, memory, dr, dw, rx, tx
           FROM UNNEST($1::uuid[], $4::float8[], $5::bigint[], $6::bigint[], $7::bigint[],
                       $8::bigint[], $9::bigint[]) AS r(vm_id, cpu, memory, dr, dw, rx, tx)
         ON CONFLICT DO NOTHING",
    )
    .bind(rows.iter().map(|r| r.vm).collect::<Vec<_>>())
    .bind(at)
    .bind(span)
    .bind(rows.iter().map(|r| r.cpu_seconds).collect::<Vec<_>>())
    .bind(column(|r| r.memory_kib))
    .bind(column(|r| r.disk_read_bytes))
    .bind(column(|r| r.disk_write_bytes))
    .bind(column(|r| r.net_rx_bytes))
    .bind(column(|r| r.net_tx_bytes))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_host_row(
    tx: &mut sqlx::PgConnection,
    at: DateTime<Utc>,
    span: f64,
    before: &HostReading,
    now: &HostReading,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO host_samples (resolution, at, span_seconds, samples, cpu_busy_seconds, cpus,
                                   memory_used_kib, memory_total_kib, disk_used_bytes,
                                   disk_total_bytes)
         VALUES ('raw', $1, $2, 1, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
    )
    .bind(at)
    .bind(span)
    .bind((now.cpu_busy_seconds - before.cpu_busy_seconds).max(0.0))
    .bind(now.cpus as i32)
    .bind(
        now.memory_total_kib
            .saturating_sub(now.memory_available_kib) as i64,
    )
    .bind(now.memory_total_kib as i64)
    .bind(
        now.disk_total_bytes
            .saturating_sub(now.disk_available_bytes) as i64,
    )
    .bind(now.disk_total_bytes as i64)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Folds the raw rows of every whole hour before `cutoff` into one row per VM and hour (and one
/// for the host), in one transaction: sums stay sums, averages are weighted by sample count,
/// peaks stay peaks. Folding into an hour that already has a row merges with it.
pub async fn fold(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "WITH moved AS (
            DELETE FROM usage_samples
             WHERE resolution = 'raw' AND at < date_trunc('hour', $1::timestamptz, 'UTC')
            RETURNING *)
         INSERT INTO usage_samples AS h (vm_id, resolution, at, span_seconds, samples, cpu_seconds,
                                         memory_avg_kib, memory_peak_kib, disk_read_bytes,
                                         disk_write_bytes, net_rx_bytes, net_tx_bytes)
         SELECT vm_id, 'hour', date_trunc('hour', at, 'UTC'), sum(span_seconds), sum(samples),
                sum(cpu_seconds), (sum(memory_avg_kib::numeric * samples) / sum(samples))::bigint,
                max(memory_peak_kib), sum(disk_read_bytes), sum(disk_write_bytes),
                sum(net_rx_bytes), sum(net_tx_bytes)
           FROM moved GROUP BY vm_id, date_trunc('hour', at, 'UTC')
         ON CONFLICT (vm_id, resolution, at) DO UPDATE SET
            span_seconds = h.span_seconds + excluded.span_seconds,
            samples = h.samples + excluded.samples,
            cpu_seconds = h.cpu_seconds + excluded.cpu_seconds,
            memory_avg_kib = (h.memory_avg_kib::numeric * h.samples
                              + excluded.memory_avg_kib::numeric * excluded.samples)
                             / (h.samples + excluded.samples),
            memory_peak_kib = greatest(h.memory_peak_kib, excluded.memory_peak_kib),
            disk_read_bytes = h.disk_read_bytes + excluded.disk_read_bytes,
            disk_write_bytes = h.disk_write_bytes + excluded.disk_write_bytes,
            net_rx_bytes = h.net_rx_bytes + excluded.net_rx_bytes,
            net_tx_bytes = h.net_tx_bytes + excluded.net_tx_bytes",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH moved AS (
            DELETE FROM host_samples
             WHERE resolution = 'raw' AND at < date_trunc('hour', $1::timestamptz, 'UTC')
            RETURNING *)
         INSERT INTO host_samples AS h (resolution, at, span_seconds, samples, cpu_busy_seconds,
                                        cpus, memory_used_kib, memory_total_kib,
                                        disk_used_bytes, disk_total_bytes)
         SELECT 'hour', date_trunc('hour', at, 'UTC'), sum(span_seconds), sum(samples),
                sum(cpu_busy_seconds), max(cpus),
                (sum(memory_used_kib::numeric * samples) / sum(samples))::bigint,
                max(memory_total_kib),
                (sum(disk_used_bytes::numeric * samples) / sum(samples))::bigint,
                max(disk_total_bytes)
           FROM moved GROUP BY date_trunc('hour', at, 'UTC')
         ON CONFLICT (resolution, at) DO UPDATE SET
            span_seconds = h.span_seconds + excluded.span_seconds,
            samples = h.samples + excluded.samples,
            cpu_busy_seconds = h.cpu_busy_seconds + excluded.cpu_busy_seconds,
            cpus = greatest(h.cpus, excluded.cpus),
            memory_used_kib = (h.memory_used_kib::numeric * h.samples
                               + excluded.memory_used_kib::numeric * excluded.samples)
                              / (h.samples + excluded.samples),
            memory_total_kib = greatest(h.memory_total_kib, excluded.memory_total_kib),
            disk_used_bytes = (h.disk_used_bytes::numeric * h.samples
                               + excluded.disk_used_bytes::numeric * excluded.samples)
                              / (h.samples + excluded.samples),
            disk_total_bytes = greatest(h.disk_total_bytes, excluded.disk_total_bytes)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(cpu_s: u64, memory_kib: u64, bytes: u64) -> VmCounters {
        VmCounters {
            vcpus: 1,
            cpu_time_ns: cpu_s * 1_000_000_000,
            memory_kib,
            disk_read_bytes: bytes,
            disk_write_bytes: 2 * bytes,
            net_rx_bytes: 3 * bytes,
            net_tx_bytes: 4 * bytes,
        }
    }

    #[test]
    fn rows_are_differences_and_restarts_count_from_zero() {
        let (kept, started, restarted, stopped) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let previous = HashMap::from([
            (kept, counters(10, 100, 1000)),
            (restarted, counters(50, 100, 1000)),
            (stopped, counters(5, 5, 5)),
        ]);
        let now = HashMap::from([
            (kept, counters(12, 300, 1500)),
            (started, counters(3, 200, 10)),
            (restarted, counters(1, 150, 20)),
        ]);
        let rows = vm_rows(&previous, &now, 15.0);
        let row = |vm| *rows.iter().find(|row| row.vm == vm).unwrap();
        assert_eq!(rows.len(), 3, "a VM that stopped has no row");
        let kept = row(kept);
        assert_eq!(kept.cpu_seconds, 2.0);
        assert_eq!(kept.memory_kib, 300);
        assert_eq!(
            (
                kept.disk_read_bytes,
                kept.disk_write_bytes,
                kept.net_rx_bytes,
                kept.net_tx_bytes
            ),
            (500, 1000, 1500, 2000)
        );
        assert_eq!(row(started).cpu_seconds, 3.0);
        assert_eq!(row(started).net_tx_bytes, 40);
        assert_eq!(row(restarted).cpu_seconds, 1.0);
        assert_eq!(row(restarted).disk_read_bytes, 20);

        // Unreadable at the previous tick, not new: 100 s of CPU can't fit in 15 s of 1 vCPU.
        let unseen = Uuid::from_u128(5);
        let now = HashMap::from([(unseen, counters(100, 1, 1))]);
        assert_eq!(vm_rows(&HashMap::new(), &now, 15.0), vec![]);
        let rows = vm_rows(&now, &HashMap::from([(unseen, counters(103, 1, 1))]), 15.0);
        assert_eq!(rows[0].cpu_seconds, 3.0);
    }
}
