-- The "mail" sample application (MariaDB, InnoDB): a mail assistant modelled on JBSync. An AI
-- drafts replies to incoming mail, a person approves or skips every draft, WhatsApp messages
-- come in beside the mail. Every table carries tenant_id. Keys are supplied by the generator.
-- Timestamps are DATETIME(6) holding UTC. JSON is MariaDB's alias for LONGTEXT with a
-- JSON_VALID check. Strings use the server's default collation (utf8mb4_general_ci): unlike
-- PostgreSQL and SQLite, '=' on email or tenant_id ignores case here.
-- Reruns: every table is dropped first, children before parents. One statement per ';' at a
-- line end (sample.rs splits on that), so no ';' inside literals.

DROP TABLE IF EXISTS tenant_settings;
DROP TABLE IF EXISTS invoices;
DROP TABLE IF EXISTS whatsapp_messages;
DROP TABLE IF EXISTS approvals;
DROP TABLE IF EXISTS drafts;
DROP TABLE IF EXISTS mail_metadata;
DROP TABLE IF EXISTS mailbox_members;
DROP TABLE IF EXISTS mailboxes;
DROP TABLE IF EXISTS profiles;
DROP TABLE IF EXISTS users;

CREATE TABLE users (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    email VARCHAR(320) NOT NULL,
    display_name VARCHAR(200) NOT NULL,
    -- who invited this user: a reference from the table to itself
    invited_by BIGINT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY users_tenant_email (tenant_id, email),
    KEY users_invited_by (invited_by),
    CONSTRAINT users_invited_by_fk FOREIGN KEY (invited_by) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE profiles (
    user_id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    phone VARCHAR(64) NULL,
    locale VARCHAR(16) NOT NULL DEFAULT 'nl',
    signature TEXT NULL,
    CONSTRAINT profiles_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A mailbox may be shared by several users (mailbox_members).
CREATE TABLE mailboxes (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    address VARCHAR(320) NOT NULL,
    name VARCHAR(200) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Many-to-many link with a composite key and no ON DELETE action: a user cannot be deleted
-- while still a member.
CREATE TABLE mailbox_members (
    mailbox_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    tenant_id VARCHAR(64) NOT NULL,
    role VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (mailbox_id, user_id),
    KEY mailbox_members_user_id (user_id),
    CONSTRAINT mailbox_members_mailbox_fk FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id),
    CONSTRAINT mailbox_members_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- headers: a JSON object such as {"cc": ["a@x", "b@y"], "list_id": "..."}; cc can name other
-- people. No index is declared on mailbox_id, but InnoDB creates one for every foreign key
-- by itself (mail_metadata_mailbox_fk), so unlike PostgreSQL and SQLite it is indexed here.
CREATE TABLE mail_metadata (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    mailbox_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    message_id VARCHAR(998) NOT NULL,
    from_address VARCHAR(320) NOT NULL,
    subject_line VARCHAR(998) NULL,
    headers JSON NOT NULL,
    received_at DATETIME(6) NOT NULL,
    KEY mail_metadata_tenant_received (tenant_id, received_at),
    KEY mail_metadata_user_id (user_id),
    CONSTRAINT mail_metadata_mailbox_fk FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id),
    CONSTRAINT mail_metadata_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE drafts (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    user_id BIGINT NOT NULL,
    mail_id BIGINT NULL,
    body TEXT NOT NULL,
    status VARCHAR(16) NOT NULL CHECK (status IN ('waiting', 'approved', 'skipped')),
    created_at DATETIME(6) NOT NULL,
    decided_at DATETIME(6) NULL,
    KEY drafts_user_id (user_id),
    KEY drafts_mail_id (mail_id),
    CONSTRAINT drafts_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT drafts_mail_fk FOREIGN KEY (mail_id) REFERENCES mail_metadata (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The audit table of human approvals: kept when the draft or the approver goes.
CREATE TABLE approvals (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    draft_id BIGINT NULL,
    approver_id BIGINT NULL,
    decision VARCHAR(16) NOT NULL CHECK (decision IN ('approved', 'skipped')),
    decided_at DATETIME(6) NOT NULL,
    KEY approvals_draft_id (draft_id),
    KEY approvals_approver_id (approver_id),
    CONSTRAINT approvals_draft_fk FOREIGN KEY (draft_id) REFERENCES drafts (id) ON DELETE SET NULL,
    CONSTRAINT approvals_approver_fk FOREIGN KEY (approver_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Soft delete: deleted_at set, the row stays.
CREATE TABLE whatsapp_messages (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    user_id BIGINT NOT NULL,
    peer_phone VARCHAR(64) NOT NULL,
    body TEXT NOT NULL,
    sent_at DATETIME(6) NOT NULL,
    deleted_at DATETIME(6) NULL,
    KEY whatsapp_messages_user_id (user_id),
    KEY whatsapp_messages_tenant_sent (tenant_id, sent_at),
    CONSTRAINT whatsapp_messages_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Kept seven years by law (bookkeeping): erasure must keep the row.
CREATE TABLE invoices (
    id BIGINT NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    user_id BIGINT NULL,
    number VARCHAR(64) NOT NULL,
    billing_email VARCHAR(320) NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    issued_at DATETIME(6) NOT NULL,
    UNIQUE KEY invoices_number (number),
    KEY invoices_user_id (user_id),
    CONSTRAINT invoices_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- No personal data.
CREATE TABLE tenant_settings (
    tenant_id VARCHAR(64) NOT NULL PRIMARY KEY,
    whatsapp_retention_days INT NOT NULL DEFAULT 90
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
