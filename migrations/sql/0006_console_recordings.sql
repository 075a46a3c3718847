-- Serial console sessions, recorded as a timestamped transcript of what the viewer was shown
-- (typed commands appear as the guest echoed them) for audit and replay. Not events: a console can print megabytes a minute, and the log is for decisions.
-- `session_id` is the session of the VM's ConsoleOpened/ConsoleClosed events.

CREATE TABLE console_recordings
(
    session_id  uuid PRIMARY KEY,
    vm_id       uuid        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    -- Bytes the recorder could not keep up with (the console was never slowed down for it).
    lost_bytes  bigint      NOT NULL DEFAULT 0
);

CREATE INDEX console_recordings_vm ON console_recordings (vm_id, started_at);

CREATE TABLE console_recording_frames
(
    session_id uuid    NOT NULL REFERENCES console_recordings ON DELETE CASCADE,
    seq        bigint  NOT NULL,
    -- Milliseconds since the session opened.
    at_ms      bigint  NOT NULL,
    data       bytea   NOT NULL,
    PRIMARY KEY (session_id, seq)
);
