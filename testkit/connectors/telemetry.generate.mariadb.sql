-- Data for the "telemetry" sample application (MariaDB). Run on the freshly created schema
-- (telemetry.mariadb.sql). sample.rs substitutes the parameters in double braces: machines
-- (bulk machines, five to a bulk organisation) and days (days of readings per bulk machine).
-- All times are relative to UTC_TIMESTAMP(6): DATETIME columns hold UTC.
-- Ids: the fixed rows below 1000, bulk rows from 1000000.
-- Readings: three metrics (temperature, pressure, rpm); value = (base + h % spread) / scale
-- for a hash h of the machine and the reading's slot.
-- Series come from the SEQUENCE engine's seq_M_to_N tables. seq_1_to_0 is not empty (it counts
-- down: 1, 0), so every use also says "seq BETWEEN 1 AND N" and a parameter of 0 means none.
-- '||' is OR in MariaDB's default sql_mode: strings are joined with CONCAT.

-- The fixed people --------------------------------------------------------------------------
-- acme: organisation 1 (operators olga and piet, machines 1 and 2) and organisation 2, whose
-- contract ended 120 days ago (operator quinn, machine 3). globex: organisation 500 with an
-- operator olga@example.test of its own (the same address in another tenant), machine 500.

INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at) VALUES
    (1, 'acme', 'Acme Machines', 'pro', NULL),
    (2, 'acme', 'Oldfield Bakery', 'basic', UTC_TIMESTAMP(6) - INTERVAL 120 DAY),
    (500, 'globex', 'Globex Plant', 'enterprise', NULL);

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at) VALUES
    (1, 'acme', 1, 'olga@example.test', 'Olga Example', '+49 170 1234567', UTC_TIMESTAMP(6) - INTERVAL 500 DAY),
    (2, 'acme', 1, 'piet@example.test', 'Piet Example', NULL, UTC_TIMESTAMP(6) - INTERVAL 400 DAY),
    (3, 'acme', 2, 'quinn@example.test', 'Quinn Example', '+44 7700 900123', UTC_TIMESTAMP(6) - INTERVAL 700 DAY),
    (500, 'globex', 500, 'olga@example.test', 'Olga Example', '+49 170 1234567', UTC_TIMESTAMP(6) - INTERVAL 300 DAY);

INSERT INTO machines (id, tenant_id, organisation_id, serial) VALUES
    (1, 'acme', 1, 'ACME-0001'),
    (2, 'acme', 1, 'ACME-0002'),
    (3, 'acme', 2, 'ACME-0003'),
    (500, 'globex', 500, 'GLBX-0500');

-- olga on machine 1 yesterday 08:00-12:00 and three days ago 13:00-14:00, piet on machine 1
-- two days ago 09:00-11:00, quinn on machine 3 before the contract ended, globex's olga on
-- machine 500 in the same hours as acme's olga yesterday
INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at) VALUES
    (1, 'acme', 1, 1, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 1 DAY + INTERVAL 8 HOUR,
        CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 1 DAY + INTERVAL 12 HOUR),
    (2, 'acme', 1, 1, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 3 DAY + INTERVAL 13 HOUR,
        CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 3 DAY + INTERVAL 14 HOUR),
    (3, 'acme', 2, 1, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 2 DAY + INTERVAL 9 HOUR,
        CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 2 DAY + INTERVAL 11 HOUR),
    (4, 'acme', 3, 3, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 130 DAY + INTERVAL 8 HOUR,
        CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 130 DAY + INTERVAL 16 HOUR),
    (500, 'globex', 500, 500, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 1 DAY + INTERVAL 8 HOUR,
        CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 1 DAY + INTERVAL 12 HOUR);

-- machine 1: every 5 minutes for the last 4 days up to the current hour (1152 slots), which
-- covers olga's and piet's sessions. machine 2: every 5 minutes for the last day (288 slots).
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', mach.machine_id, CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00') AS DATETIME(6)) - INTERVAL (s.seq * 5) MINUTE,
       metrics.metric, (metrics.base + (mach.machine_id * 7 + s.seq * 13) % metrics.spread) / metrics.scale
FROM (SELECT 1 AS machine_id, 1152 AS slots UNION ALL SELECT 2, 288) AS mach,
     seq_0_to_1151 AS s,
     (SELECT 'temperature' AS metric, 400 AS base, 400 AS spread, 10 AS scale
      UNION ALL SELECT 'pressure', 100, 300, 100
      UNION ALL SELECT 'rpm', 1000, 2000, 1) AS metrics
WHERE s.seq < mach.slots;

-- machine 3: every 4 hours for the 30 days before its organisation's contract ended
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'acme', 3, CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00') AS DATETIME(6)) - INTERVAL 120 DAY - INTERVAL (s.seq * 4) HOUR,
       metrics.metric, (metrics.base + (3 * 7 + s.seq * 13) % metrics.spread) / metrics.scale
FROM seq_0_to_179 AS s,
     (SELECT 'temperature' AS metric, 400 AS base, 400 AS spread, 10 AS scale
      UNION ALL SELECT 'pressure', 100, 300, 100
      UNION ALL SELECT 'rpm', 1000, 2000, 1) AS metrics;

-- machine 500: every 5 minutes during globex's olga's session yesterday 08:00-12:00
INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT 'globex', 500, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL 1 DAY + INTERVAL 8 HOUR + INTERVAL (s.seq * 5) MINUTE,
       metrics.metric, (metrics.base + (500 * 7 + s.seq * 13) % metrics.spread) / metrics.scale
FROM seq_0_to_47 AS s,
     (SELECT 'temperature' AS metric, 400 AS base, 400 AS spread, 10 AS scale
      UNION ALL SELECT 'pressure', 100, 300, 100
      UNION ALL SELECT 'rpm', 1000, 2000, 1) AS metrics;

-- Bulk: {{machines}} machines over {{days}} days -------------------------------------------
-- Machine k (id 1000000 + k) belongs to organisation j = (k - 1) / 5 + 1 (id 1000000 + j) in
-- tenant t<jjj>, which has three operators op1..op3@t<jjj>.test (ids 1000000 + (j - 1) * 3 +
-- 1..3). Each machine has a session on each of the last {{days}} days, 08:00-16:00 (the one
-- of yesterday still open on every second machine), and a reading of each metric every 3
-- minutes (480 slots a day) from the current minute back.

INSERT INTO organisations (id, tenant_id, name, tier, contract_ended_at)
SELECT 1000000 + j, CONCAT('t', LPAD(j, 3, '0')), CONCAT('Organisation ', j),
       CASE j % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END, NULL
FROM (
    SELECT (seq - 1) DIV 5 + 1 AS j
    FROM seq_1_to_{{machines}}
    WHERE seq BETWEEN 1 AND {{machines}} AND (seq - 1) % 5 = 0
) AS g;

INSERT INTO operators (id, tenant_id, organisation_id, email, name, phone, created_at)
SELECT 1000000 + (o.id - 1000001) * 3 + i.seq, o.tenant_id, o.id, CONCAT('op', i.seq, '@', o.tenant_id, '.test'), CONCAT('Operator ', i.seq),
       CONCAT('+49 170 ', LPAD(((o.id * 3 + i.seq) * 104729) % 10000000, 7, '0')), UTC_TIMESTAMP(6) - INTERVAL 365 DAY
FROM organisations AS o, seq_1_to_3 AS i
WHERE o.id > 1000000;

INSERT INTO machines (id, tenant_id, organisation_id, serial)
SELECT 1000000 + seq, CONCAT('t', LPAD((seq - 1) DIV 5 + 1, 3, '0')), 1000000 + (seq - 1) DIV 5 + 1, CONCAT('SN-', 1000000 + seq)
FROM seq_1_to_{{machines}}
WHERE seq BETWEEN 1 AND {{machines}};

INSERT INTO sessions (id, tenant_id, operator_id, machine_id, started_at, ended_at)
SELECT 1000000 + (k.seq - 1) * {{days}} + d.seq, CONCAT('t', LPAD((k.seq - 1) DIV 5 + 1, 3, '0')), 1000000 + ((k.seq - 1) DIV 5) * 3 + 1 + d.seq % 3,
       1000000 + k.seq, CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL d.seq DAY + INTERVAL 8 HOUR,
       CASE WHEN d.seq > 1 OR k.seq % 2 = 1 THEN CAST(UTC_DATE() AS DATETIME(6)) - INTERVAL d.seq DAY + INTERVAL 16 HOUR END
FROM seq_1_to_{{machines}} AS k, seq_1_to_{{days}} AS d
WHERE k.seq BETWEEN 1 AND {{machines}} AND d.seq BETWEEN 1 AND {{days}};

INSERT INTO telemetry (tenant_id, machine_id, recorded_at, metric, value)
SELECT CONCAT('t', LPAD((k.seq - 1) DIV 5 + 1, 3, '0')), 1000000 + k.seq,
       CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00') AS DATETIME(6)) - INTERVAL (((d.seq - 1) * 480 + s.seq) * 3) MINUTE,
       metrics.metric, (metrics.base + ((1000000 + k.seq) * 7 + ((d.seq - 1) * 480 + s.seq) * 13) % metrics.spread) / metrics.scale
FROM seq_1_to_{{machines}} AS k, seq_1_to_{{days}} AS d, seq_0_to_479 AS s,
     (SELECT 'temperature' AS metric, 400 AS base, 400 AS spread, 10 AS scale
      UNION ALL SELECT 'pressure', 100, 300, 100
      UNION ALL SELECT 'rpm', 1000, 2000, 1) AS metrics
WHERE k.seq BETWEEN 1 AND {{machines}} AND d.seq BETWEEN 1 AND {{days}};
