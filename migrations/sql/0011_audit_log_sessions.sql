-- A console session's close names who opened it: the audit log looks the opening entry up by
-- session when it shows a close.
CREATE INDEX audit_log_session ON audit_log (session_id) WHERE session_id IS NOT NULL;
