-- A deliverer claims webhooks before sending them (claimed_by, and
-- claimed_until in Unix milliseconds, as the outbox does), so that a
-- checkout and the sweep never send the same webhook at once; a checkout
-- finds its own charge's webhooks by charge_id.
ALTER TABLE sandbox_webhooks ADD COLUMN claimed_by TEXT NULL;
ALTER TABLE sandbox_webhooks ADD COLUMN claimed_until BIGINT NULL;
CREATE INDEX sandbox_webhooks_charge ON sandbox_webhooks (charge_id);
