-- Accounts can be disabled; a password change or a disable ends every session opened before it.

ALTER TABLE accounts
    ADD COLUMN disabled             boolean NOT NULL DEFAULT false,
    -- Sessions created before this moment are dead (password changed, account disabled).
    ADD COLUMN sessions_valid_after timestamptz;

CREATE INDEX sessions_account ON sessions (account_id);
