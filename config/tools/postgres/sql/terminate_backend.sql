-- :'pid' is quoted by psql as a literal; the cast rejects anything that is not a number.
SELECT pg_terminate_backend(:'pid'::integer) AS terminated;
