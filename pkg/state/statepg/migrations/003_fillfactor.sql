-- Every decision rewrites its run's row and most update a step attempt.
-- Free room on each page lets Postgres put the new row version beside the
-- old one (a HOT update) instead of on another page, which would add an
-- entry to every index of the table; at the default fillfactor of 100 the
-- pages are full from the inserts and about a third of run updates were not
-- HOT. Applies to pages written from now on.
ALTER TABLE runs SET (fillfactor = 50);
ALTER TABLE step_attempts SET (fillfactor = 80);
