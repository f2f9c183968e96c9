-- The "telemetry" sample application (SQLite): industrial telemetry modelled on JetLink.
-- Machines of customer organisations stream sensor readings; operators log in to sessions on
-- a machine. Every table carries tenant_id. Keys are supplied by the generator.
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS'. Foreign keys hold only with
-- PRAGMA foreign_keys = ON (per connection): the scripts are valid with it on.
-- Reruns: every table is dropped first, children before parents. One statement per ';' at a
-- line end (sample.rs splits on that), so no ';' inside literals.

DROP TABLE IF EXISTS telemetry;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS machines;
DROP TABLE IF EXISTS operators;
DROP TABLE IF EXISTS organisations;

-- A customer of the tenant. Its data is due for deletion some time after contract_ended_at.
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('basic', 'pro', 'enterprise')),
    contract_ended_at TEXT NULL
);

CREATE TABLE operators (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX operators_organisation_id ON operators (organisation_id);

CREATE TABLE machines (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    serial TEXT NOT NULL UNIQUE
);
CREATE INDEX machines_organisation_id ON machines (organisation_id);

-- An operator logged in on a machine; ended_at is NULL while the session is open.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    machine_id INTEGER NOT NULL REFERENCES machines (id),
    started_at TEXT NOT NULL,
    ended_at TEXT NULL
);
CREATE INDEX sessions_operator_id ON sessions (operator_id);
CREATE INDEX sessions_machine_id ON sessions (machine_id);

-- Sensor readings. machine_id refers to machines without a declared foreign key (MariaDB
-- cannot have one on a partitioned table: the same in all three dialects). Readings name no
-- person: they become personal data only joined with the sessions of an operator.
-- Partitioned in PostgreSQL and MariaDB; a plain (rowid) table here.
CREATE TABLE telemetry (
    tenant_id TEXT NOT NULL,
    machine_id INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (tenant_id, machine_id, recorded_at, metric)
);
CREATE INDEX telemetry_tenant_recorded ON telemetry (tenant_id, recorded_at);
