-- Usage: what each VM, account and credential used. Two sources:
--  * the `usage` projection turns the event log into exact intervals (runs, console sessions)
--    and the labels reports show, deleted VMs and accounts included;
--  * the sampler writes what libvirt and the host report, as time series.

-- The VMs as the usage projection knows them: never deleted, so old reports keep their names.
CREATE TABLE usage_vms
(
    vm_id      uuid PRIMARY KEY,
    name       text    NOT NULL,
    owner      uuid    NOT NULL,
    vcpus      integer NOT NULL,
    memory_mib bigint  NOT NULL
);

-- One row per stretch of time a VM's domain was powered (running or paused), with the size it
-- had then. `stopped_at` is null while it still runs.
CREATE TABLE usage_vm_runs
(
    vm_id      uuid        NOT NULL,
    started_at timestamptz NOT NULL,
    stopped_at timestamptz,
    vcpus      integer     NOT NULL,
    memory_mib bigint      NOT NULL,
    PRIMARY KEY (vm_id, started_at)
);

CREATE UNIQUE INDEX usage_vm_runs_open ON usage_vm_runs (vm_id) WHERE stopped_at IS NULL;
-- A period's runs: those that began before its end and ended (or not yet) after its start.
CREATE INDEX usage_vm_runs_period ON usage_vm_runs (started_at);
CREATE INDEX usage_vm_runs_end ON usage_vm_runs ((coalesce(stopped_at, 'infinity')));

CREATE TABLE usage_console_sessions
(
    session_id uuid PRIMARY KEY,
    vm_id      uuid        NOT NULL,
    -- `account:<id>` or `credential:<id>`.
    principal  text        NOT NULL,
    kind       text        NOT NULL,
    opened_at  timestamptz NOT NULL,
    closed_at  timestamptz,
    bytes_in   bigint,
    bytes_out  bigint
);

CREATE INDEX usage_console_sessions_period ON usage_console_sessions (opened_at);
CREATE INDEX usage_console_sessions_end ON usage_console_sessions ((coalesce(closed_at, 'infinity')));
-- A VM's stop ends its open sessions: found without reading the closed ones.
CREATE INDEX usage_console_sessions_open ON usage_console_sessions (vm_id) WHERE closed_at IS NULL;

-- Labels of accounts and credentials, kept after they are deleted or revoked.
CREATE TABLE usage_accounts
(
    account_id uuid PRIMARY KEY,
    username   text NOT NULL
);

CREATE TABLE usage_credentials
(
    credential_id uuid PRIMARY KEY,
    vm_id         uuid NOT NULL,
    name          text NOT NULL
);

-- What libvirt reported about running VMs. Each row covers `span_seconds` up to `at`; counters
-- are what was used during that span, so rows add up and a restarted domain (its counters back
-- at zero) is no special case. `resolution` is `raw` (one sampler tick) or `hour` (raw rows
-- older than the retention period, folded into the hour they fell in, `at` = the hour's start).
CREATE TABLE usage_samples
(
    vm_id            uuid             NOT NULL,
    resolution       text             NOT NULL,
    at               timestamptz      NOT NULL,
    span_seconds     double precision NOT NULL,
    samples          integer          NOT NULL,
    cpu_seconds      double precision NOT NULL,
    memory_avg_kib   bigint           NOT NULL,
    memory_peak_kib  bigint           NOT NULL,
    disk_read_bytes  bigint           NOT NULL,
    disk_write_bytes bigint           NOT NULL,
    net_rx_bytes     bigint           NOT NULL,
    net_tx_bytes     bigint           NOT NULL,
    PRIMARY KEY (vm_id, resolution, at)
);

CREATE INDEX usage_samples_at ON usage_samples (at);

-- The host, sampled with the VMs.
CREATE TABLE host_samples
(
    resolution        text             NOT NULL,
    at                timestamptz      NOT NULL,
    span_seconds      double precision NOT NULL,
    samples           integer          NOT NULL,
    -- Busy CPU time over all CPUs during the span, and how many CPUs there were.
    cpu_busy_seconds  double precision NOT NULL,
    cpus              integer          NOT NULL,
    memory_used_kib   bigint           NOT NULL,
    memory_total_kib  bigint           NOT NULL,
    disk_used_bytes   bigint           NOT NULL,
    disk_total_bytes  bigint           NOT NULL,
    PRIMARY KEY (resolution, at)
);
