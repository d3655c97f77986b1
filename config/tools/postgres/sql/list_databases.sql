SELECT d.datname AS database, pg_get_userbyid(d.datdba) AS owner, pg_size_pretty(pg_database_size(d.datname)) AS size
FROM pg_database d
WHERE NOT d.datistemplate AND d.datallowconn
ORDER BY pg_database_size(d.datname) DESC;
