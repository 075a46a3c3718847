-- The audit log's common combined filters: one index each, so "VmStarted by alice" or
-- "ConsoleOpened on this VM" reads only matching entries instead of filtering one column's
-- (measured at 1,000,000 entries: actor + action took 21 ms at p50 and 560 ms at p99 with the
-- single-column indexes).
CREATE INDEX audit_log_actor_action ON audit_log (actor, action, chain_index);
CREATE INDEX audit_log_vm_action ON audit_log (vm_id, action, chain_index) WHERE vm_id IS NOT NULL;
