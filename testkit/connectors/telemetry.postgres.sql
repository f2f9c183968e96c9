-- The "telemetry" sample application (PostgreSQL): industrial telemetry modelled on JetLink.
-- Machines of customer organisations stream sensor readings; operators log in to sessions on
-- a machine. Every table carries tenant_id. Keys are supplied by the generator.
-- Reruns: every table is dropped first. One statement per ';' at a line end (sample.rs splits
-- on that), so no ';' inside literals.

DROP TABLE IF EXISTS telemetry CASCADE;
DROP TABLE IF EXISTS sessions CASCADE;
DROP TABLE IF EXISTS machines CASCADE;
DROP TABLE IF EXISTS operators CASCADE;
DROP TABLE IF EXISTS organisations CASCADE;

-- A customer of the tenant. Its data is due for deletion some time after contract_ended_at.
CREATE TABLE organisations (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    name text NOT NULL,
    tier text NOT NULL CHECK (tier IN ('basic', 'pro', 'enterprise')),
    contract_ended_at timestamptz NULL
);

CREATE TABLE operators (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    email text NOT NULL,
    name text NOT NULL,
    phone text NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX operators_organisation_id ON operators (organisation_id);

CREATE TABLE machines (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    organisation_id bigint NOT NULL REFERENCES organisations (id),
    serial text NOT NULL UNIQUE
);
CREATE INDEX machines_organisation_id ON machines (organisation_id);

-- An operator logged in on a machine; ended_at is NULL while the session is open.
CREATE TABLE sessions (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    operator_id bigint NOT NULL REFERENCES operators (id),
    machine_id bigint NOT NULL REFERENCES machines (id),
    started_at timestamptz NOT NULL,
    ended_at timestamptz NULL
);
CREATE INDEX sessions_operator_id ON sessions (operator_id);
CREATE INDEX sessions_machine_id ON sessions (machine_id);

-- Sensor readings. machine_id refers to machines without a declared foreign key (MariaDB
-- cannot have one on a partitioned table: the same in all three dialects). Readings name no
-- person: they become personal data only joined with the sessions of an operator.
-- Partitioned by month of recorded_at: one partition per month from 26 months before the
-- month the schema was created to one month after it, named by their distance from that month
-- (telemetry_m26 .. telemetry_m00 is the month of creation, telemetry_p01 the next), and a
-- DEFAULT partition for anything outside. The bounds are computed when the schema is created
-- (PostgreSQL evaluates a partition bound expression, now() included, once at CREATE), in UTC.
CREATE TABLE telemetry (
    tenant_id text NOT NULL,
    machine_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    metric text NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (tenant_id, machine_id, recorded_at, metric)
) PARTITION BY RANGE (recorded_at);
CREATE TABLE telemetry_m26 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '26 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '25 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m25 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '25 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '24 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m24 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '24 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '23 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m23 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '23 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '22 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m22 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '22 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '21 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m21 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '21 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '20 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m20 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '20 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '19 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m19 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '19 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '18 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m18 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '18 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '17 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m17 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '17 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '16 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m16 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '16 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '15 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m15 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '15 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '14 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m14 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '14 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '13 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m13 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '13 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '12 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m12 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '12 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m11 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '10 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m10 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '10 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '9 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m09 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '9 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '8 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m08 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '8 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '7 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m07 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '7 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '6 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m06 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '6 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '5 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m05 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '5 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '4 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m04 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '4 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '3 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m03 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '3 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '2 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m02 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '2 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m01 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 months') AT TIME ZONE 'UTC') TO (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_m00 PARTITION OF telemetry
    FOR VALUES FROM (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_p01 PARTITION OF telemetry
    FOR VALUES FROM ((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 months') AT TIME ZONE 'UTC') TO ((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months') AT TIME ZONE 'UTC');
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;
CREATE INDEX telemetry_tenant_recorded ON telemetry (tenant_id, recorded_at);
