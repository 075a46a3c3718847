//! Time series for charts: a VM's or the host's samples in equal buckets over a period.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::IN_PERIOD;

/// Buckets a chart gets at most: about one per two pixels of a wide chart.
const MAX_POINTS: i64 = 400;

/// Bucket widths to choose from, in seconds: round numbers a reader recognises.
const STEPS: [i64; 12] = [
    5,
    15,
    30,
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
];

/// The bucket width for a chart of `[from, to)`: the smallest round step giving at most
/// [`MAX_POINTS`] buckets, never finer than the samples (`sample_every`), and at least an hour
/// where the period reaches back to samples already folded into hours (`raw_since`), so a
/// folded hour never lands whole in one small bucket.
pub fn step_for(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sample_every: Duration,
    raw_since: DateTime<Utc>,
) -> i64 {
    let span = (to - from).num_seconds().max(1);
    let floor = if from < raw_since {
        3600
    } else {
        sample_every.num_seconds().max(1)
    };
    STEPS
        .into_iter()
        .find(|step| *step >= floor && span / step <= MAX_POINTS)
        .unwrap_or(86400)
}

/// One bucket of a VM's samples; `None` where no sample fell in it (the VM was off).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct VmPoint {
    pub at: DateTime<Utc>,
    /// 100 = one host CPU busy all the time.
    pub cpu_percent: Option<f64>,
    pub memory_avg_mib: Option<f64>,
    pub memory_peak_mib: Option<f64>,
    pub disk_read_bytes_per_second: Option<f64>,
    pub disk_write_bytes_per_second: Option<f64>,
    pub net_rx_bytes_per_second: Option<f64>,
    pub net_tx_bytes_per_second: Option<f64>,
}

/// One bucket of the host's samples.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HostPoint {
    pub at: DateTime<Utc>,
    /// 100 = every CPU busy.
    pub cpu_percent: Option<f64>,
    pub memory_used_mib: Option<f64>,
    pub memory_total_mib: Option<f64>,
    pub disk_used_gib: Option<f64>,
    pub disk_total_gib: Option<f64>,
}

/// Every bucket start of `[$1, $2)` in steps of `$3` seconds, aligned to the epoch so that
/// charts of overlapping periods agree.
const BUCKETS: &str = "
    buckets AS (
        SELECT generate_series(
                   to_timestamp(floor(extract(epoch FROM $1::timestamptz) / $3) * $3),
                   $2::timestamptz - interval '1 microsecond',
                   make_interval(secs => $3)) AS at)";

/// The bucket of a sample row's `at`.
const BUCKET: &str = "to_timestamp(floor(extract(epoch FROM at) / $3) * $3)";

/// VM `vm`'s samples over `[from, to)` in buckets of `step` seconds.
pub async fn vm_series(
    pool: &PgPool,
    vm: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: i64,
) -> Result<Vec<VmPoint>, sqlx::Error> {
    let sql = format!(
        "WITH {BUCKETS},
         sums AS (
            SELECT {BUCKET} AS at,
                   sum(span_seconds) AS span,
                   sum(cpu_seconds) AS cpu,
                   sum(memory_avg_kib::float8 * samples) / sum(samples) / 1024 AS memory_avg_mib,
                   max(memory_peak_kib) / 1024.0 AS memory_peak_mib,
                   sum(disk_read_bytes) AS disk_read, sum(disk_write_bytes) AS disk_write,
                   sum(net_rx_bytes) AS net_rx, sum(net_tx_bytes) AS net_tx
              FROM usage_samples
             WHERE vm_id = $4 AND {IN_PERIOD}
             GROUP BY 1)
         SELECT b.at,
                100 * s.cpu / nullif(s.span, 0) AS cpu_percent,
                s.memory_avg_mib::float8 AS memory_avg_mib,
                s.memory_peak_mib::float8 AS memory_peak_mib,
                (s.disk_read / nullif(s.span, 0))::float8 AS disk_read_bytes_per_second,
                (s.disk_write / nullif(s.span, 0))::float8 AS disk_write_bytes_per_second,
                (s.net_rx / nullif(s.span, 0))::float8 AS net_rx_bytes_per_second,
                (s.net_tx / nullif(s.span, 0))::float8 AS net_tx_bytes_per_second
           FROM buckets b LEFT JOIN sums s USING (at)
          ORDER BY b.at",
    );
    sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .bind(step as f64)
        .bind(vm)
        .fetch_all(pool)
        .await
}

/// The host's samples over `[from, to)` in buckets of `step` seconds.
pub async fn host_series(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: i64,
) -> Result<Vec<HostPoint>, sqlx::Error> {
    let sql = format!(
        "WITH {BUCKETS},
         sums AS (
            SELECT {BUCKET} AS at,
                   sum(cpu_busy_seconds) / nullif(sum(span_seconds * cpus), 0) AS busy,
                   sum(memory_used_kib::float8 * samples) / sum(samples) / 1024 AS memory_used_mib,
                   max(memory_total_kib) / 1024.0 AS memory_total_mib,
                   sum(disk_used_bytes::float8 * samples) / sum(samples) / 1073741824
                       AS disk_used_gib,
                   max(disk_total_bytes) / 1073741824.0 AS disk_total_gib
              FROM host_samples
             WHERE {IN_PERIOD}
             GROUP BY 1)
         SELECT b.at,
                100 * s.busy AS cpu_percent,
                s.memory_used_mib::float8 AS memory_used_mib,
                s.memory_total_mib::float8 AS memory_total_mib,
                s.disk_used_gib::float8 AS disk_used_gib,
                s.disk_total_gib::float8 AS disk_total_gib
           FROM buckets b LEFT JOIN sums s USING (at)
          ORDER BY b.at",
    );
    sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .bind(step as f64)
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_bounded_and_never_finer_than_the_data() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let every = Duration::seconds(15);
        let long_ago = now - Duration::days(365);
        // An hour of 15 s samples: 240 buckets fit.
        assert_eq!(step_for(now - Duration::hours(1), now, every, long_ago), 15);
        // A day: 15 s would give 5,760 buckets; 300 s gives 288.
        assert_eq!(step_for(now - Duration::days(1), now, every, long_ago), 300);
        // A minute of 15 s samples is not split finer than 15 s.
        assert_eq!(
            step_for(now - Duration::minutes(1), now, every, long_ago),
            15
        );
        // Reaching back past the raw samples: hours at least.
        assert_eq!(
            step_for(
                now - Duration::hours(3),
                now,
                every,
                now - Duration::hours(2)
            ),
            3600
        );
        // A year: days.
        assert_eq!(
            step_for(now - Duration::days(366), now, every, long_ago),
            86400
        );
    }
}

/// A running VM's use at its latest sample: CPU across all its vCPUs (100 = every vCPU busy)
/// and the memory its QEMU process holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveUse {
    pub at: DateTime<Utc>,
    pub cpu_percent: f64,
    pub memory_kib: i64,
}

/// VM `vm`'s latest raw sample if it is younger than `max_age`; older ones describe a VM that
/// has since stopped or a sampler that has.
pub async fn vm_live_use(
    pool: &PgPool,
    vm: Uuid,
    vcpus: u32,
    max_age: Duration,
) -> Result<Option<LiveUse>, sqlx::Error> {
    let row: Option<(DateTime<Utc>, f64, f64, i64)> = sqlx::query_as(
        "SELECT at, span_seconds, cpu_seconds, memory_avg_kib FROM usage_samples
          WHERE vm_id = $1 AND resolution = 'raw' AND at > now() - make_interval(secs => $2)
          ORDER BY at DESC LIMIT 1",
    )
    .bind(vm)
    .bind(max_age.num_milliseconds() as f64 / 1000.0)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .filter(|(_, span, _, _)| *span > 0.0)
        .map(|(at, span, cpu, memory_kib)| LiveUse {
            at,
            cpu_percent: (cpu / span / f64::from(vcpus.max(1)) * 100.0).clamp(0.0, 100.0),
            memory_kib,
        }))
}
