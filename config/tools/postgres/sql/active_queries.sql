SELECT pid, usename AS "user", datname AS database, state, now() - query_start AS running_for, left(query, 200) AS query
FROM pg_stat_activity
WHERE state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY query_start NULLS LAST;
