-- The "mail" sample application (SQLite): a mail assistant modelled on JBSync. An AI drafts
-- replies to incoming mail, a person approves or skips every draft, WhatsApp messages come in
-- beside the mail. Every table carries tenant_id. Keys are supplied by the generator.
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS'; JSON is text checked with json_valid.
-- Foreign keys hold only with PRAGMA foreign_keys = ON (per connection): the scripts are valid
-- with it on. Reruns: every table is dropped first, children before parents. One statement per
-- ';' at a line end (sample.rs splits on that), so no ';' inside literals.

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
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- who invited this user: a reference from the table to itself
    invited_by INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_invited_by ON users (invited_by);

CREATE TABLE profiles (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    phone TEXT NULL,
    locale TEXT NOT NULL DEFAULT 'nl',
    signature TEXT NULL
);

-- A mailbox may be shared by several users (mailbox_members).
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Many-to-many link with a composite key and no ON DELETE action: a user cannot be deleted
-- while still a member.
CREATE TABLE mailbox_members (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (mailbox_id, user_id)
);
CREATE INDEX mailbox_members_user_id ON mailbox_members (user_id);

-- headers: a JSON object such as {"cc": ["a@x", "b@y"], "list_id": "..."}; cc can name other
-- people. mailbox_id is left without an index on purpose (SQLite does not index a foreign key
-- column by itself): deleting a mailbox scans this table.
CREATE TABLE mail_metadata (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    message_id TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject_line TEXT NULL,
    headers TEXT NOT NULL CHECK (json_valid(headers)),
    received_at TEXT NOT NULL
);
CREATE INDEX mail_metadata_tenant_received ON mail_metadata (tenant_id, received_at);
CREATE INDEX mail_metadata_user_id ON mail_metadata (user_id);

CREATE TABLE drafts (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    mail_id INTEGER NULL REFERENCES mail_metadata (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'approved', 'skipped')),
    created_at TEXT NOT NULL,
    decided_at TEXT NULL
);
CREATE INDEX drafts_user_id ON drafts (user_id);
CREATE INDEX drafts_mail_id ON drafts (mail_id);

-- The audit table of human approvals: kept when the draft or the approver goes.
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    draft_id INTEGER NULL REFERENCES drafts (id) ON DELETE SET NULL,
    approver_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'skipped')),
    decided_at TEXT NOT NULL
);
CREATE INDEX approvals_draft_id ON approvals (draft_id);
CREATE INDEX approvals_approver_id ON approvals (approver_id);

-- Soft delete: deleted_at set, the row stays.
CREATE TABLE whatsapp_messages (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    peer_phone TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    deleted_at TEXT NULL
);
CREATE INDEX whatsapp_messages_user_id ON whatsapp_messages (user_id);
CREATE INDEX whatsapp_messages_tenant_sent ON whatsapp_messages (tenant_id, sent_at);

-- Kept seven years by law (bookkeeping): erasure must keep the row.
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    number TEXT NOT NULL UNIQUE,
    billing_email TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    issued_at TEXT NOT NULL
);
CREATE INDEX invoices_user_id ON invoices (user_id);

-- No personal data.
CREATE TABLE tenant_settings (
    tenant_id TEXT PRIMARY KEY,
    whatsapp_retention_days INTEGER NOT NULL DEFAULT 90
);
