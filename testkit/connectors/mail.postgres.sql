-- The "mail" sample application (PostgreSQL): a mail assistant modelled on JBSync. An AI drafts
-- replies to incoming mail, a person approves or skips every draft, WhatsApp messages come in
-- beside the mail. Every table carries tenant_id. Keys are supplied by the generator.
-- Reruns: every table is dropped first. One statement per ';' at a line end (sample.rs splits
-- on that), so no ';' inside literals.

DROP TABLE IF EXISTS tenant_settings CASCADE;
DROP TABLE IF EXISTS invoices CASCADE;
DROP TABLE IF EXISTS whatsapp_messages CASCADE;
DROP TABLE IF EXISTS approvals CASCADE;
DROP TABLE IF EXISTS drafts CASCADE;
DROP TABLE IF EXISTS mail_metadata CASCADE;
DROP TABLE IF EXISTS mailbox_members CASCADE;
DROP TABLE IF EXISTS mailboxes CASCADE;
DROP TABLE IF EXISTS profiles CASCADE;
DROP TABLE IF EXISTS users CASCADE;

CREATE TABLE users (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    email text NOT NULL,
    display_name text NOT NULL,
    -- who invited this user: a reference from the table to itself
    invited_by bigint NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_invited_by ON users (invited_by);

CREATE TABLE profiles (
    user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id text NOT NULL,
    phone text NULL,
    locale text NOT NULL DEFAULT 'nl',
    signature text NULL
);

-- A mailbox may be shared by several users (mailbox_members).
CREATE TABLE mailboxes (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    address text NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);

-- Many-to-many link with a composite key and no ON DELETE action: a user cannot be deleted
-- while still a member.
CREATE TABLE mailbox_members (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id),
    user_id bigint NOT NULL REFERENCES users (id),
    tenant_id text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (mailbox_id, user_id)
);
CREATE INDEX mailbox_members_user_id ON mailbox_members (user_id);

-- headers: a JSON object such as {"cc": ["a@x", "b@y"], "list_id": "..."}; cc can name other
-- people. mailbox_id is left without an index on purpose (PostgreSQL does not index a foreign
-- key column by itself): deleting a mailbox scans this table.
CREATE TABLE mail_metadata (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id),
    user_id bigint NOT NULL REFERENCES users (id),
    message_id text NOT NULL,
    from_address text NOT NULL,
    subject_line text NULL,
    headers jsonb NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX mail_metadata_tenant_received ON mail_metadata (tenant_id, received_at);
CREATE INDEX mail_metadata_user_id ON mail_metadata (user_id);

CREATE TABLE drafts (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id bigint NOT NULL REFERENCES users (id),
    mail_id bigint NULL REFERENCES mail_metadata (id) ON DELETE SET NULL,
    body text NOT NULL,
    status text NOT NULL CHECK (status IN ('waiting', 'approved', 'skipped')),
    created_at timestamptz NOT NULL,
    decided_at timestamptz NULL
);
CREATE INDEX drafts_user_id ON drafts (user_id);
CREATE INDEX drafts_mail_id ON drafts (mail_id);

-- The audit table of human approvals: kept when the draft or the approver goes.
CREATE TABLE approvals (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    draft_id bigint NULL REFERENCES drafts (id) ON DELETE SET NULL,
    approver_id bigint NULL REFERENCES users (id) ON DELETE SET NULL,
    decision text NOT NULL CHECK (decision IN ('approved', 'skipped')),
    decided_at timestamptz NOT NULL
);
CREATE INDEX approvals_draft_id ON approvals (draft_id);
CREATE INDEX approvals_approver_id ON approvals (approver_id);

-- Soft delete: deleted_at set, the row stays.
CREATE TABLE whatsapp_messages (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id bigint NOT NULL REFERENCES users (id),
    peer_phone text NOT NULL,
    body text NOT NULL,
    sent_at timestamptz NOT NULL,
    deleted_at timestamptz NULL
);
CREATE INDEX whatsapp_messages_user_id ON whatsapp_messages (user_id);
CREATE INDEX whatsapp_messages_tenant_sent ON whatsapp_messages (tenant_id, sent_at);

-- Kept seven years by law (bookkeeping): erasure must keep the row.
CREATE TABLE invoices (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL,
    user_id bigint NULL REFERENCES users (id) ON DELETE SET NULL,
    number text NOT NULL UNIQUE,
    billing_email text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    issued_at timestamptz NOT NULL
);
CREATE INDEX invoices_user_id ON invoices (user_id);

-- No personal data.
CREATE TABLE tenant_settings (
    tenant_id text PRIMARY KEY,
    whatsapp_retention_days integer NOT NULL DEFAULT 90
);
