-- rls: a caller of tenant A sees and changes none of tenant B's rows, by
-- SELECT, UPDATE, DELETE, INSERT with B's tenant_id, or FK/UNIQUE probes.
-- Queries run as machi_owner (what api.handle runs as) under machi.act_as.
\set VERBOSITY terse
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12103, 'tenant_admin'), ('staff', 12103, 'staff');
SELECT account_id AS chuo_admin FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' \gset
SELECT account_id AS inage_admin FROM machi.account WHERE tenant_id = 12103 AND role_name = 'tenant_admin' \gset
SELECT account_id AS inage_staff FROM machi.account WHERE tenant_id = 12103 AND role_name = 'staff' \gset
SELECT department_id AS inage_roads FROM machi.department WHERE tenant_id = 12103 AND name = '土木事務所' \gset
INSERT INTO machi.department (tenant_id, name) VALUES (12103, '稲毛区だけの課');
SELECT department_id AS chuo_roads FROM machi.department WHERE tenant_id = 12101 AND name = '土木事務所' \gset
BEGIN;
SELECT machi.act_as(:chuo_admin, 'rls test: tenant A');
SET LOCAL ROLE machi_owner;
-- SELECT: only own tenant's accounts
SELECT tenant_id, role_name FROM machi.account ORDER BY account_id;
SELECT count(*) AS b_accounts FROM machi.account WHERE tenant_id = 12103;
SELECT count(*) AS b_accounts_by_id FROM machi.account WHERE account_id = :inage_staff;
-- UPDATE and DELETE of B's rows touch nothing
WITH u AS (UPDATE machi.account SET state = 'disabled' WHERE tenant_id = 12103 RETURNING 1) SELECT count(*) AS accounts_updated FROM u;
WITH u AS (UPDATE machi.department SET name = 'pwned' WHERE tenant_id = 12103 RETURNING 1) SELECT count(*) AS departments_updated FROM u;
WITH d AS (DELETE FROM machi.category WHERE tenant_id = 12103 RETURNING 1) SELECT count(*) AS categories_deleted FROM d;
WITH d AS (DELETE FROM machi.department WHERE department_id = :inage_roads RETURNING 1) SELECT count(*) AS departments_deleted FROM d;
WITH u AS (UPDATE machi.tenant SET name = 'pwned' WHERE tenant_id = 12103 RETURNING 1) SELECT count(*) AS tenants_updated FROM u;
-- INSERT with B's tenant_id is refused
SAVEPOINT s;
INSERT INTO machi.department (tenant_id, name) VALUES (12103, 'planted');
ROLLBACK TO SAVEPOINT s;
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12103, 'staff');
ROLLBACK TO SAVEPOINT s;
-- moving an own row into B is refused
UPDATE machi.department SET tenant_id = 12103 WHERE department_id = :chuo_roads;
ROLLBACK TO SAVEPOINT s;
-- a tenant admin cannot make an operator
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('operator', NULL, 'system_admin');
ROLLBACK TO SAVEPOINT s;
-- FK probe: B's department id answers exactly like an id that does not exist
INSERT INTO machi.category (tenant_id, code, name, department_id) VALUES (12101, 'probe1', 'p', :inage_roads);
ROLLBACK TO SAVEPOINT s;
INSERT INTO machi.category (tenant_id, code, name, department_id) VALUES (12101, 'probe1', 'p', 987654321);
ROLLBACK TO SAVEPOINT s;
-- UNIQUE probe: names are unique per tenant, so B's names reveal nothing
INSERT INTO machi.department (tenant_id, name) VALUES (12101, '稲毛区だけの課') RETURNING tenant_id, name;
ROLLBACK TO SAVEPOINT s;
-- own rows can be changed
WITH u AS (UPDATE machi.department SET name_en = 'Roads' WHERE department_id = :chuo_roads RETURNING 1) SELECT count(*) AS own_updated FROM u;
ROLLBACK;
-- nothing of B changed
SELECT tenant_id, name FROM machi.tenant WHERE tenant_id = 12103;
SELECT count(*) AS b_departments, bool_and(name <> 'pwned') AS untouched FROM machi.department WHERE tenant_id = 12103;
SELECT count(*) AS b_categories FROM machi.category WHERE tenant_id = 12103;
SELECT count(*) FILTER (WHERE state = 'active') AS b_active_accounts FROM machi.account WHERE tenant_id = 12103;
-- a plain staff member of B may read departments but not accounts or change categories
BEGIN;
SELECT machi.act_as(:inage_staff, 'rls test: staff role');
SET LOCAL ROLE machi_owner;
SELECT count(*) AS accounts_visible FROM machi.account;
WITH u AS (UPDATE machi.category SET name = 'renamed' WHERE tenant_id = 12103 RETURNING 1) SELECT count(*) AS categories_renamed FROM u;
ROLLBACK;
-- nobody (no context): no account is visible, nothing can be written
BEGIN;
SET LOCAL ROLE machi_owner;
SELECT count(*) AS accounts_visible FROM machi.account;
WITH u AS (UPDATE machi.department SET name = 'x' RETURNING 1) SELECT count(*) AS departments_renamed FROM u;
INSERT INTO machi.tenant (tenant_id, name, boundary) SELECT 1, 'x', boundary FROM machi.tenant LIMIT 1;
ROLLBACK;
