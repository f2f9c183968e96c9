-- Data for the "telemetry" sample application (PostgreSQL). Run on the freshly created schema
-- (telemetry.postgres.sql). sample.rs substitutes the parameters in double braces: machines
-- (bulk machines, five to a bulk organisation) and days (days of readings per bulk machine).
-- All times are relative to now(); day and hour boundaries are those of UTC.
-- Ids: the fixed rows below 1000, bulk rows from 1000000.
-- Readings: three metrics (temperature, pressure, rpm); value = (base + h % spread) / scale
-- for a hash h of the machine and the reading's slot.

-- The fixed people --------------------------------------------------------------------------
-- acme: organisation 1 (operators olga and piet, machines 1 and 2) and organisation 2, whose
-- contract ended 120 days ago (operator quinn, machine 3). globex: organisation 500 with an
-- operator olga@example.test of its own (the same address in another tenant), machine 500.

INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at) VALUES
    (1, 'acme', 'Acme Machines', 'pro', NULL),
    (2, 'acme', 'Oldfield Bakery', 'basic', now() - interval '120 days'),
    (500, 'globex', 'Globex Plant', 'enterprise', NULL);

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at) VALUES
    (1, 'acme', 1, 'olga@example.test', 'Olga Example', '+49 170 1234567', now() - interval '500 days'),
    (2, 'acme', 1, 'piet@example.test', 'Piet Example', NULL, now() - interval '400 days'),
    (3, 'acme', 2, 'quinn@example.test', 'Quinn Example', '+44 7700 900123', now() - interval '700 days'),
    (500, 'globex', 500, 'olga@example.test', 'Olga Example', '+49 170 1234567', now() - interval '300 days');

INSERT INTO machines (id, tenant_id, organisation_id, serial) VALUES
    (1, 'acme', 1, 'ACME-0001'),
    (2, 'acme', 1, 'ACME-0002'),
    (3, 'acme', 2, 'ACME-0003'),
    (500, 'globex', 500, 'GLBX-0500');

-- olga on machine 1 yesterday 08:00-12:00 and three days ago 13:00-14:00, piet on machine 1
-- two days ago 09:00-11:00, quinn on machine 3 before the contract ended, globex's olga on
-- machine 500 in the same hours as acme's olga yesterday
INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at) VALUES
    (1, 'acme', 1, 1, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' + interval '8 hours') AT TIME ZONE 'UTC',
        (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' + interval '12 hours') AT TIME ZONE 'UTC'),
    (2, 'acme', 1, 1, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '3 days' + interval '13 hours') AT TIME ZONE 'UTC',
        (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '3 days' + interval '14 hours') AT TIME ZONE 'UTC'),
    (3, 'acme', 2, 1, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '2 days' + interval '9 hours') AT TIME ZONE 'UTC',
        (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '2 days' + interval '11 hours') AT TIME ZONE 'UTC'),
    (4, 'acme', 3, 3, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '130 days' + interval '8 hours') AT TIME ZONE 'UTC',
        (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '130 days' + interval '16 hours') AT TIME ZONE 'UTC'),
    (500, 'globex', 500, 500, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' + interval '8 hours') AT TIME ZONE 'UTC',
        (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' + interval '12 hours') AT TIME ZONE 'UTC');

-- machine 1: every 5 minutes for the last 4 days up to the current hour (1152 slots), which
-- covers olga's and piet's sessions. machine 2: every 5 minutes for the last day (288 slots).
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', machine_id, date_trunc('hour', now(), 'UTC') - s * 5 * interval '1 minute', metric,
       (base + (machine_id * 7 + s * 13) % spread)::double precision / scale
FROM (VALUES (1, 1152), (2, 288)) AS mach (machine_id, slots),
     generate_series(0, 1151) AS s,
     (VALUES ('temperature', 400, 400, 10), ('pressure', 100, 300, 100), ('rpm', 1000, 2000, 1)) AS metrics (metric, base, spread, scale)
WHERE s < slots;

-- machine 3: every 4 hours for the 30 days before its organisation's contract ended
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', 3, date_trunc('hour', now(), 'UTC') - interval '120 days' - s * 4 * interval '1 hour', metric,
       (base + (3 * 7 + s * 13) % spread)::double precision / scale
FROM generate_series(0, 179) AS s,
     (VALUES ('temperature', 400, 400, 10), ('pressure', 100, 300, 100), ('rpm', 1000, 2000, 1)) AS metrics (metric, base, spread, scale);

-- machine 500: every 5 minutes during globex's olga's session yesterday 08:00-12:00
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'globex', 500, (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' + interval '8 hours') AT TIME ZONE 'UTC' + s * 5 * interval '1 minute',
       metric, (base + (500 * 7 + s * 13) % spread)::double precision / scale
FROM generate_series(0, 47) AS s,
     (VALUES ('temperature', 400, 400, 10), ('pressure', 100, 300, 100), ('rpm', 1000, 2000, 1)) AS metrics (metric, base, spread, scale);

-- Bulk: {{machines}} machines over {{days}} days -------------------------------------------
-- Machine k (id 1000000 + k) belongs to organisation j = (k - 1) / 5 + 1 (id 1000000 + j) in
-- tenant t<jjj>, which has three operators op1..op3@t<jjj>.test (ids 1000000 + (j - 1) * 3 +
-- 1..3). Each machine has a session on each of the last {{days}} days, 08:00-16:00 (the one
-- of yesterday still open on every second machine), and a reading of each metric every 3
-- minutes (480 slots a day) from the current minute back.

INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at)
SELECT 1000000 + j, 't' || lpad(j::text, 3, '0'), 'Organisation ' || j,
       CASE j % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END, NULL
FROM (
    SELECT (k - 1) / 5 + 1 AS j
    FROM generate_series(1, {{machines}}) AS k
    WHERE (k - 1) % 5 = 0
) AS g;

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at)
SELECT 1000000 + (o.id - 1000001) * 3 + i, o.tenant_id, o.id, 'op' || i || '@' || o.tenant_id || '.test', 'Operator ' || i,
       '+49 170 ' || lpad((((o.id * 3 + i) * 104729) % 10000000)::text, 7, '0'), now() - interval '365 days'
FROM organisations AS o, generate_series(1, 3) AS i
WHERE o.id > 1000000;

INSERT INTO machines (id, tenant_id, organisation_id, serial)
SELECT 1000000 + k, 't' || lpad(((k - 1) / 5 + 1)::text, 3, '0'), 1000000 + (k - 1) / 5 + 1, 'SN-' || (1000000 + k)
FROM generate_series(1, {{machines}}) AS k;

INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at)
SELECT 1000000 + (k - 1) * {{days}} + d, 't' || lpad(((k - 1) / 5 + 1)::text, 3, '0'), 1000000 + ((k - 1) / 5) * 3 + 1 + d % 3,
       1000000 + k, (date_trunc('day', now() AT TIME ZONE 'UTC') - d * interval '1 day' + interval '8 hours') AT TIME ZONE 'UTC',
       CASE WHEN d > 1 OR k % 2 = 1 THEN (date_trunc('day', now() AT TIME ZONE 'UTC') - d * interval '1 day' + interval '16 hours') AT TIME ZONE 'UTC' END
FROM generate_series(1, {{machines}}) AS k, generate_series(1, {{days}}) AS d;

INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 't' || lpad(((k - 1) / 5 + 1)::text, 3, '0'), 1000000 + k,
       date_trunc('minute', now(), 'UTC') - ((d - 1) * 480 + s) * 3 * interval '1 minute', metric,
       (base + ((1000000 + k) * 7 + ((d - 1) * 480 + s) * 13) % spread)::double precision / scale
FROM generate_series(1::bigint, {{machines}}) AS k, generate_series(1::bigint, {{days}}) AS d, generate_series(0::bigint, 479) AS s,
     (VALUES ('temperature', 400, 400, 10), ('pressure', 100, 300, 100), ('rpm', 1000, 2000, 1)) AS metrics (metric, base, spread, scale);

ANALYZE organisations, operators, machines, sessions, telemetry;
