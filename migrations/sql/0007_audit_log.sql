-- The audit log: one row per event of the log (refusals are events too), in the order the
-- catch-up runner applies them, which is commit order. Built by the `audit_log` projection.
--
-- Tamper evidence: `hash` is SHA-256 over the previous row's hash and the event's stored
-- content, so changing, removing or inserting an event in `events` breaks the chain from that
-- position on; `distribox audit verify` recomputes it and names the first position that
-- disagrees.

CREATE TABLE audit_log
(
    -- Chain order: 1, 2, 3, … with no gaps.
    chain_index    bigint PRIMARY KEY,
    position       bigint      NOT NULL UNIQUE,
    at             timestamptz NOT NULL,
    -- `account:<id>`, `credential:<id>`, `system` or `anonymous`.
    actor          text        NOT NULL,
    -- The account's username when the event recorded one.
    actor_name     text,
    client_address text,
    action         text        NOT NULL,
    vm_id          uuid,
    account_id     uuid,
    -- `ok`, `refused` (a login or request that was turned down) or `failed` (libvirt said no).
    outcome        text        NOT NULL,
    -- The event's payload without secrets (hashes, passwords).
    details        jsonb       NOT NULL,
    -- The console session of ConsoleOpened/ConsoleClosed, for its recording.
    session_id     uuid,
    hash           bytea       NOT NULL
);

-- Pages are newest first by chain_index (commit order: a cursor never skips a late commit).
CREATE INDEX audit_log_vm ON audit_log (vm_id, chain_index) WHERE vm_id IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor, chain_index);
CREATE INDEX audit_log_action ON audit_log (action, chain_index);
CREATE INDEX audit_log_outcome ON audit_log (outcome, chain_index) WHERE outcome <> 'ok';
CREATE INDEX audit_log_at ON audit_log (at);
