-- Policies granted for chosen VMs only, and owner rights taken away, per account
-- (the domain's ScopedPolicies as JSON).
ALTER TABLE accounts ADD COLUMN scoped jsonb NOT NULL DEFAULT '{}';
