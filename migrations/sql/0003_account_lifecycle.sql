-- Accounts can be disabled; a password change or a disable ends every session opened before it.

ALTER TABLE accounts
    ADD COLUMN disabled             boolean NOT NULL DEFAULT false,
    -- Sessions created before this moment are dead (password changed, account disabled).
    ADD COLUMN sessions_valid_after timestamptz;

CREATE INDEX sessions_account ON sessions (account_id);

-- Failed logins per account and per client address in the current window: operational state
-- for throttling, not history (the events record every attempt).
CREATE TABLE login_throttle
(
    key            text PRIMARY KEY,
    failures       integer     NOT NULL,
    window_started timestamptz NOT NULL
);
