-- Up Migration

-- Any router replica serves any inference request: each replica writes, with the heartbeats it
-- already batches, which replica holds an agent's connection, the address other replicas reach
-- that replica on, and the load the agent last reported. A replica that does not hold the
-- chosen agent hands the stream to the one that does (docs/fleet.md). Columns go stale with the
-- heartbeat itself, so a dead replica's agents drop out of every directory with their leases.
ALTER TABLE agents ADD COLUMN held_by text,
  ADD COLUMN held_by_url text,
  ADD COLUMN lease_load jsonb;

-- Down Migration

ALTER TABLE agents DROP COLUMN lease_load, DROP COLUMN held_by_url, DROP COLUMN held_by;
