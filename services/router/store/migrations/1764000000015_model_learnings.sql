-- Up Migration

-- Learnings a model extracted (the router's learnings_extractor = model) say so: operators weigh
-- a model's reading of a turn differently from a tool's own words or a person's.
ALTER TABLE learnings DROP CONSTRAINT learnings_source_check;
ALTER TABLE learnings ADD CONSTRAINT learnings_source_check CHECK (source IN ('tool', 'chat', 'operator', 'model'));

-- Down Migration

DELETE FROM learnings WHERE source = 'model';
ALTER TABLE learnings DROP CONSTRAINT learnings_source_check;
ALTER TABLE learnings ADD CONSTRAINT learnings_source_check CHECK (source IN ('tool', 'chat', 'operator'));
