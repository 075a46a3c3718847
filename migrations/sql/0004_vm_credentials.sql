-- VM credentials, projected from VmCredentialIssued/Revoked. Only the SHA-256 of a secret is
-- stored; `last_used_at` is written when a console is opened with it.

CREATE TABLE vm_credentials
(
    id           uuid PRIMARY KEY,
    vm_id        uuid        NOT NULL,
    name         text        NOT NULL,
    secret_hash  text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE INDEX vm_credentials_vm ON vm_credentials (vm_id, created_at);
