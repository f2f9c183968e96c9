-- Data for the "telemetry" sample application (SQLite). Run on the freshly created schema
-- (telemetry.sqlite.sql), with PRAGMA foreign_keys = ON or off. sample.rs substitutes the
-- parameters in double braces: machines (bulk machines, five to a bulk organisation) and days
-- (days of readings per bulk machine). All times are relative to 'now' (UTC), written as
-- 'YYYY-MM-DD HH:MM:SS'.
-- Ids: the fixed rows below 1000, bulk rows from 1000000.
-- Readings: three metrics (temperature, pressure, rpm); value = (base + h % spread) / scale
-- for a hash h of the machine and the reading's slot.
-- Series come from recursive CTEs, whose first row is guarded by "WHERE N >= 1" so that a
-- parameter of 0 means none.

-- The fixed people --------------------------------------------------------------------------
-- acme: organisation 1 (operators olga and piet, machines 1 and 2) and organisation 2, whose
-- contract ended 120 days ago (operator quinn, machine 3). globex: organisation 500 with an
-- operator olga@example.test of its own (the same address in another tenant), machine 500.

INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at) VALUES
    (1, 'acme', 'Acme Machines', 'pro', NULL),
    (2, 'acme', 'Oldfield Bakery', 'basic', datetime('now', '-120 days')),
    (500, 'globex', 'Globex Plant', 'enterprise', NULL);

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at) VALUES
    (1, 'acme', 1, 'olga@example.test', 'Olga Example', '+49 170 1234567', datetime('now', '-500 days')),
    (2, 'acme', 1, 'piet@example.test', 'Piet Example', NULL, datetime('now', '-400 days')),
    (3, 'acme', 2, 'quinn@example.test', 'Quinn Example', '+44 7700 900123', datetime('now', '-700 days')),
    (500, 'globex', 500, 'olga@example.test', 'Olga Example', '+49 170 1234567', datetime('now', '-300 days'));

INSERT INTO machines (id, tenant_id, organisation_id, serial) VALUES
    (1, 'acme', 1, 'ACME-0001'),
    (2, 'acme', 1, 'ACME-0002'),
    (3, 'acme', 2, 'ACME-0003'),
    (500, 'globex', 500, 'GLBX-0500');

-- olga on machine 1 yesterday 08:00-12:00 and three days ago 13:00-14:00, piet on machine 1
-- two days ago 09:00-11:00, quinn on machine 3 before the contract ended, globex's olga on
-- machine 500 in the same hours as acme's olga yesterday
INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at) VALUES
    (1, 'acme', 1, 1, datetime('now', 'start of day', '-1 days', '+8 hours'), datetime('now', 'start of day', '-1 days', '+12 hours')),
    (2, 'acme', 1, 1, datetime('now', 'start of day', '-3 days', '+13 hours'), datetime('now', 'start of day', '-3 days', '+14 hours')),
    (3, 'acme', 2, 1, datetime('now', 'start of day', '-2 days', '+9 hours'), datetime('now', 'start of day', '-2 days', '+11 hours')),
    (4, 'acme', 3, 3, datetime('now', 'start of day', '-130 days', '+8 hours'), datetime('now', 'start of day', '-130 days', '+16 hours')),
    (500, 'globex', 500, 500, datetime('now', 'start of day', '-1 days', '+8 hours'), datetime('now', 'start of day', '-1 days', '+12 hours'));

-- machine 1: every 5 minutes for the last 4 days up to the current hour (1152 slots), which
-- covers olga's and piet's sessions. machine 2: every 5 minutes for the last day (288 slots).
WITH RECURSIVE s(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM s WHERE s < 1151),
    mach(machine_id, slots) AS (VALUES (1, 1152), (2, 288)),
    metrics(metric, base, spread, scale) AS (VALUES ('temperature', 400, 400, 10.0), ('pressure', 100, 300, 100.0), ('rpm', 1000, 2000, 1.0))
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', machine_id, datetime(unixepoch('now') / 3600 * 3600 - s * 300, 'unixepoch'), metric,
       (base + (machine_id * 7 + s * 13) % spread) / scale
FROM mach, s, metrics
WHERE s < slots;

-- machine 3: every 4 hours for the 30 days before its organisation's contract ended
WITH RECURSIVE s(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM s WHERE s < 179),
    metrics(metric, base, spread, scale) AS (VALUES ('temperature', 400, 400, 10.0), ('pressure', 100, 300, 100.0), ('rpm', 1000, 2000, 1.0))
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', 3, datetime(unixepoch('now') / 3600 * 3600 - 120 * 86400 - s * 4 * 3600, 'unixepoch'), metric,
       (base + (3 * 7 + s * 13) % spread) / scale
FROM s, metrics;

-- machine 500: every 5 minutes during globex's olga's session yesterday 08:00-12:00
WITH RECURSIVE s(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM s WHERE s < 47),
    metrics(metric, base, spread, scale) AS (VALUES ('temperature', 400, 400, 10.0), ('pressure', 100, 300, 100.0), ('rpm', 1000, 2000, 1.0))
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'globex', 500, datetime(unixepoch('now') / 86400 * 86400 - 86400 + 8 * 3600 + s * 300, 'unixepoch'), metric,
       (base + (500 * 7 + s * 13) % spread) / scale
FROM s, metrics;

-- Bulk: {{machines}} machines over {{days}} days -------------------------------------------
-- Machine k (id 1000000 + k) belongs to organisation j = (k - 1) / 5 + 1 (id 1000000 + j) in
-- tenant t<jjj>, which has three operators op1..op3@t<jjj>.test (ids 1000000 + (j - 1) * 3 +
-- 1..3). Each machine has a session on each of the last {{days}} days, 08:00-16:00 (the one
-- of yesterday still open on every second machine), and a reading of each metric every 3
-- minutes (480 slots a day) from the current minute back.

WITH RECURSIVE k(k) AS (SELECT 1 WHERE {{machines}} >= 1 UNION ALL SELECT k + 1 FROM k WHERE k + 1 <= {{machines}})
INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at)
SELECT 1000000 + j, 't' || printf('%03d', j), 'Organisation ' || j,
       CASE j % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END, NULL
FROM (
    SELECT (k - 1) / 5 + 1 AS j
    FROM k
    WHERE (k - 1) % 5 = 0
) AS g;

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at)
SELECT 1000000 + (o.id - 1000001) * 3 + i, o.tenant_id, o.id, 'op' || i || '@' || o.tenant_id || '.test', 'Operator ' || i,
       '+49 170 ' || printf('%07d', ((o.id * 3 + i) * 104729) % 10000000), datetime('now', '-365 days')
FROM organisations AS o, (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3) AS three
WHERE o.id > 1000000;

WITH RECURSIVE k(k) AS (SELECT 1 WHERE {{machines}} >= 1 UNION ALL SELECT k + 1 FROM k WHERE k + 1 <= {{machines}})
INSERT INTO machines (id, tenant_id, organisation_id, serial)
SELECT 1000000 + k, 't' || printf('%03d', (k - 1) / 5 + 1), 1000000 + (k - 1) / 5 + 1, 'SN-' || (1000000 + k)
FROM k;

WITH RECURSIVE k(k) AS (SELECT 1 WHERE {{machines}} >= 1 UNION ALL SELECT k + 1 FROM k WHERE k + 1 <= {{machines}}), d(d) AS (SELECT 1 WHERE {{days}} >= 1 UNION ALL SELECT d + 1 FROM d WHERE d + 1 <= {{days}})
INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at)
SELECT 1000000 + (k - 1) * {{days}} + d, 't' || printf('%03d', (k - 1) / 5 + 1), 1000000 + ((k - 1) / 5) * 3 + 1 + d % 3,
       1000000 + k, datetime(unixepoch('now') / 86400 * 86400 - d * 86400 + 8 * 3600, 'unixepoch'),
       CASE WHEN d > 1 OR k % 2 = 1 THEN datetime(unixepoch('now') / 86400 * 86400 - d * 86400 + 16 * 3600, 'unixepoch') END
FROM k, d;

WITH RECURSIVE k(k) AS (SELECT 1 WHERE {{machines}} >= 1 UNION ALL SELECT k + 1 FROM k WHERE k + 1 <= {{machines}}), d(d) AS (SELECT 1 WHERE {{days}} >= 1 UNION ALL SELECT d + 1 FROM d WHERE d + 1 <= {{days}}), s(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM s WHERE s < 479),
    metrics(metric, base, spread, scale) AS (VALUES ('temperature', 400, 400, 10.0), ('pressure', 100, 300, 100.0), ('rpm', 1000, 2000, 1.0))
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 't' || printf('%03d', (k - 1) / 5 + 1), 1000000 + k,
       datetime(unixepoch('now') / 60 * 60 - ((d - 1) * 480 + s) * 180, 'unixepoch'), metric,
       (base + ((1000000 + k) * 7 + ((d - 1) * 480 + s) * 13) % spread) / scale
FROM k, d, s, metrics;

ANALYZE;
