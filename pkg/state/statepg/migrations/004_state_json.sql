-- A run's state is the engine's own document: every decision writes it whole
-- and the scheduler reads it back whole. Stored as json it is checked and
-- kept as written; as jsonb every write parsed it into a tree and sorted its
-- keys, the largest single cost of a decision's commit on the server. It is
-- still JSON to SQL (state::jsonb -> ... works for ad hoc queries).
-- Rewrites the table once.
ALTER TABLE runs ALTER COLUMN state TYPE json USING state::json;

-- Where the server has lz4 (PostgreSQL 14+ built with it, as the common
-- packages are), state values large enough to be compressed use it: several
-- times faster than the default pglz, and the state is rewritten on every
-- decision. Applies to values written from now on.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE runs ALTER COLUMN state SET COMPRESSION lz4;
    END IF;
END
$$;
