-- Up Migration

-- The W3C trace context of the request that made a call, so its dispatch, run and result
-- (which happen later, elsewhere) continue the same trace.
ALTER TABLE invocations ADD COLUMN trace jsonb;

-- Down Migration

ALTER TABLE invocations DROP COLUMN trace;
