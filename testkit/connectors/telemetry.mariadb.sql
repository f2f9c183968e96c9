-- The "telemetry" sample application (MariaDB, InnoDB): industrial telemetry modelled on
-- JetLink. Machines of customer organisations stream sensor readings; operators log in to
-- sessions on a machine. Every table carries tenant_id. Keys are supplied by the generator.
-- Timestamps are DATETIME(6) holding UTC.
-- Reruns: every table is dropped first, children before parents. One statement per ';' at a
-- line end (sample.rs splits on that), so no ';' inside literals.

DROP TABLE IF EXISTS telemetry;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS machines;
DROP TABLE IF EXISTS operators;
DROP TABLE IF EXISTS organisations;

-- A customer of the tenant. Its data is due for deletion some time after contract_ended_at.
CREATE TABLE organisations (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    name VARCHAR(200) NOT NULL,
    tier VARCHAR(16) NOT NULL CHECK (tier IN ('basic', 'pro', 'enterprise')),
    contract_ended_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE operators (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    organisation_id BIGINT NOT NULL,
    email VARCHAR(320) NOT NULL,
    name VARCHAR(200) NOT NULL,
    phone VARCHAR(64) NULL,
    created_at DATETIME(6) NOT NULL,
    KEY operators_organisation_id (organisation_id),
    CONSTRAINT operators_organisation_fk FOREIGN KEY (organisation_id) REFERENCES organisations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE machines (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    organisation_id BIGINT NOT NULL,
    serial VARCHAR(64) NOT NULL,
    UNIQUE KEY machines_serial (serial),
    KEY machines_organisation_id (organisation_id),
    CONSTRAINT machines_organisation_fk FOREIGN KEY (organisation_id) REFERENCES organisations (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An operator logged in on a machine; ended_at is NULL while the session is open.
CREATE TABLE sessions (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    operator_id BIGINT NOT NULL,
    machine_id BIGINT NOT NULL,
    started_at DATETIME(6) NOT NULL,
    ended_at DATETIME(6) NULL,
    KEY sessions_operator_id (operator_id),
    KEY sessions_machine_id (machine_id),
    CONSTRAINT sessions_operator_fk FOREIGN KEY (operator_id) REFERENCES operators (id),
    CONSTRAINT sessions_machine_fk FOREIGN KEY (machine_id) REFERENCES machines (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Sensor readings. machine_id refers to machines without a declared foreign key (InnoDB has
-- none on a partitioned table: the same in all three dialects). Readings name no person: they
-- become personal data only joined with the sessions of an operator.
-- Partitioned by month of recorded_at (UTC): one partition per month from 26 months before the
-- month the schema was created to one month after it, named by their distance from that month
-- (m26 .. m00 is the month of creation, p01 the next), "older" below them and "later" above.
-- Partition bounds must be constants in MariaDB, so the table is created with "later" alone
-- and the statement that splits it is built from the current date and run with EXECUTE
-- IMMEDIATE (which a driver must send as plain text, not as a prepared statement).
CREATE TABLE telemetry (
    tenant_id VARCHAR(64) NOT NULL,
    machine_id BIGINT NOT NULL,
    recorded_at DATETIME(6) NOT NULL,
    metric VARCHAR(64) NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (tenant_id, machine_id, recorded_at, metric),
    KEY telemetry_tenant_recorded (tenant_id, recorded_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
PARTITION BY RANGE COLUMNS (recorded_at) (
    PARTITION later VALUES LESS THAN (MAXVALUE)
);

SET @telemetry_partitions = (
    SELECT CONCAT(
        'ALTER TABLE telemetry REORGANIZE PARTITION later INTO (PARTITION older VALUES LESS THAN (''',
        DATE_FORMAT(DATE_FORMAT(UTC_DATE(), '%Y-%m-01') - INTERVAL 26 MONTH, '%Y-%m-%d'), '''), ',
        GROUP_CONCAT(
            CONCAT(
                'PARTITION ', CASE WHEN seq <= 26 THEN CONCAT('m', LPAD(26 - seq, 2, '0')) ELSE 'p01' END,
                ' VALUES LESS THAN (''',
                DATE_FORMAT(DATE_FORMAT(UTC_DATE(), '%Y-%m-01') - INTERVAL 25 MONTH + INTERVAL seq MONTH, '%Y-%m-%d'), ''')'
            )
            ORDER BY seq SEPARATOR ', '
        ),
        ', PARTITION later VALUES LESS THAN (MAXVALUE))'
    )
    FROM seq_0_to_27
);
EXECUTE IMMEDIATE @telemetry_partitions;
SET @telemetry_partitions = NULL;
