-- Read models: disposable, rebuilt from the event log by their projections.

CREATE TABLE vms
(
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    image       text        NOT NULL,
    owner       uuid        NOT NULL,
    vcpus       integer     NOT NULL,
    memory_mib  bigint      NOT NULL,
    disk_gib    bigint      NOT NULL,
    state       text        NOT NULL,
    failure     text,
    -- The whole aggregate state, so the projection applies events with the domain's own rules.
    aggregate   jsonb       NOT NULL,
    -- Sequence of the last event applied: lets a writer wait until its own change is visible.
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Keyset pagination in creation order.
CREATE INDEX vms_created ON vms (created_at, id);

CREATE TABLE accounts
(
    id            uuid PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    policies      text[]      NOT NULL,
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL
);

-- Login sessions. Not a projection: the command side writes a row when a login succeeds (the
-- LoggedIn event records it) and only the SHA-256 of the bearer token is kept.
CREATE TABLE sessions
(
    token_hash   bytea PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    account_id   uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
