-- Data for the "mail" sample application (SQLite). Run on the freshly created schema
-- (mail.sqlite.sql), with PRAGMA foreign_keys = ON or off. sample.rs substitutes the parameters
-- in double braces: tenants (bulk tenants t001..), users (users per bulk tenant), mails
-- (mail_metadata rows per bulk user), heavy (rows owned by the heavy subject, user 900).
-- All times are relative to 'now' (UTC), written as 'YYYY-MM-DD HH:MM:SS'.
-- Ids: the fixed people and their rows below 1000, the heavy subject's rows 1000 + n, bulk
-- rows from 1000000 (shared bulk mailboxes 2000000 + tenant number).
-- Series come from recursive CTEs, whose first row is guarded by "WHERE N >= 1" so that a
-- parameter of 0 means none.

-- The fixed people --------------------------------------------------------------------------

INSERT INTO tenant_settings (tenant_id, whatsapp_retention_days) VALUES
    ('acme', 90),
    ('globex', 30);

-- carl invited ann, ann invited bob (listed in that order: MariaDB checks each row at once).
-- globex has an ann@example.test of its own: the same address in another tenant.
INSERT INTO users (id, tenant_id, email, display_name, invited_by, created_at) VALUES
    (3, 'acme', 'carl@example.test', 'Carl Example', NULL, datetime('now', '-900 days')),
    (1, 'acme', 'ann@example.test', 'Ann Example', 3, datetime('now', '-800 days')),
    (2, 'acme', 'bob@example.test', 'Bob Example', 1, datetime('now', '-700 days')),
    (900, 'acme', 'heavy@example.test', 'Heavy Example', NULL, datetime('now', '-365 days')),
    (500, 'globex', 'ann@example.test', 'Ann Example', NULL, datetime('now', '-600 days'));

-- ann's phone has spaces (normalised: +31612345678)
INSERT INTO profiles (user_id, tenant_id, phone, locale, signature) VALUES
    (1, 'acme', '+31 6 1234 5678', 'nl', 'Met vriendelijke groet, Ann Example'),
    (2, 'acme', '06-87654321', 'en', 'Kind regards, Bob'),
    (900, 'acme', NULL, 'en', NULL),
    (500, 'globex', '+31 6 1234 5678', 'nl', 'Ann (Globex)');
-- carl's locale is the column default
INSERT INTO profiles (user_id, tenant_id) VALUES (3, 'acme');

INSERT INTO mailboxes (id, tenant_id, address, name, created_at) VALUES
    (10, 'acme', 'ann@example.test', 'Ann', datetime('now', '-800 days')),
    (11, 'acme', 'support@acme.test', 'Acme support', datetime('now', '-800 days')),
    (900, 'acme', 'heavy@example.test', 'Heavy', datetime('now', '-365 days')),
    (500, 'globex', 'ann@example.test', 'Ann', datetime('now', '-600 days'));

INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role) VALUES
    (10, 1, 'acme', 'owner'),
    (11, 1, 'acme', 'member'),
    (11, 2, 'acme', 'owner'),
    (900, 900, 'acme', 'owner'),
    (500, 500, 'globex', 'owner');

-- ann: 3 mails in her own mailbox, 2 in the shared one. bob: 2 mails in the shared mailbox
-- that cc ann by a case variant of her address, 1 that does not.
INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at) VALUES
    (101, 'acme', 10, 1, '<101@mail.acme.test>', 'klant@customer.test', 'Offerte aanvraag', '{"cc": []}', datetime('now', '-1 days')),
    (102, 'acme', 10, 1, '<102@mail.acme.test>', 'verkoop@supplier.test', 'Levering week 12', '{"cc": ["inkoop@supplier.test"]}', datetime('now', '-10 days')),
    (103, 'acme', 10, 1, '<103@mail.acme.test>', 'news@list.test', 'Nieuwsbrief', '{"cc": [], "list_id": "<news.list.test>"}', datetime('now', '-20 days')),
    (104, 'acme', 11, 1, '<104@mail.acme.test>', 'klant2@customer.test', 'Vraag over factuur', '{"cc": []}', datetime('now', '-2 days')),
    (105, 'acme', 11, 1, '<105@mail.acme.test>', 'klant3@customer.test', NULL, '{"cc": []}', datetime('now', '-15 days')),
    (111, 'acme', 11, 2, '<111@mail.acme.test>', 'erin@customer.test', 'Project kickoff', '{"cc": ["ANN@example.test", "dave@example.test"]}', datetime('now', '-3 days')),
    (112, 'acme', 11, 2, '<112@mail.acme.test>', 'erin@customer.test', 'Re: Project kickoff', '{"cc": ["ANN@example.test", "dave@example.test"]}', datetime('now', '-12 days')),
    (113, 'acme', 11, 2, '<113@mail.acme.test>', 'frank@customer.test', 'Planning', '{"cc": ["dave@example.test"]}', datetime('now', '-5 days')),
    (501, 'globex', 500, 500, '<501@mail.globex.test>', 'klant@customer.test', 'Globex order', '{"cc": []}', datetime('now', '-4 days'));

INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at) VALUES
    (201, 'acme', 1, 101, 'Beste klant, hierbij de offerte.', 'waiting', datetime('now', '-23 hours'), NULL),
    (202, 'acme', 1, 102, 'Dank voor de bevestiging van de levering.', 'approved', datetime('now', '-10 days', '+1 hours'), datetime('now', '-9 days')),
    (211, 'acme', 2, 111, 'Thanks, see you at the kickoff.', 'approved', datetime('now', '-3 days', '+1 hours'), datetime('now', '-2 days'));

-- bob approved ann's draft, ann approved bob's
INSERT INTO approvals (id, tenant_id, draft_id, approver_id, decision, decided_at) VALUES
    (301, 'acme', 202, 2, 'approved', datetime('now', '-9 days')),
    (302, 'acme', 211, 1, 'approved', datetime('now', '-2 days'));

INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at) VALUES
    (401, 'acme', 1, '+31 6 5555 0001', 'Oud bericht', datetime('now', '-210 days'), datetime('now', '-200 days')),
    (402, 'acme', 1, '+31 6 5555 0001', 'Ben onderweg', datetime('now', '-1 days'), NULL),
    (403, 'acme', 1, '+31 6 5555 0002', 'Kun je bellen?', datetime('now', '-3 days'), NULL),
    (404, 'acme', 1, '+31 6 5555 0003', 'Tot morgen', datetime('now', '-5 days'), NULL),
    (411, 'acme', 2, '+31 6 5555 0004', 'On my way', datetime('now', '-2 days'), NULL),
    (412, 'acme', 2, '+31 6 5555 0005', 'Call me', datetime('now', '-4 days'), NULL),
    (501, 'globex', 500, '+31 6 5555 0006', 'Globex hier', datetime('now', '-1 days'), NULL);

INSERT INTO invoices (id, tenant_id, user_id, number, billing_email, amount_cents, issued_at) VALUES
    (601, 'acme', 1, 'INV-601', 'ann@example.test', 12100, datetime('now', '-730 days')),
    (602, 'acme', 1, 'INV-602', 'ann@example.test', 4840, datetime('now', '-2922 days')),
    (611, 'acme', 2, 'INV-611', 'bob@example.test', 9900, datetime('now', '-365 days'));

-- The heavy subject: user 900 in mailbox 900, {{heavy}} rows split by n % 10 --------------
-- (0-5 mail_metadata, 6-8 whatsapp_messages, 9 drafts on the mail four rows before). "age" is
-- a row's age in seconds: a multiplicative hash of its number spreads the rows evenly over
-- 30 days (mail, drafts) or 180 days (WhatsApp).

WITH RECURSIVE n(n) AS (SELECT 1 WHERE {{heavy}} >= 1 UNION ALL SELECT n + 1 FROM n WHERE n + 1 <= {{heavy}})
INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at)
SELECT 1000 + n, 'acme', 900, 900, '<' || (1000 + n) || '@heavy.acme.test>', 'sender' || (n % 97) || '@external.test',
       'Heavy subject ' || n, '{"cc": ["ops@acme.test"]}', datetime(unixepoch('now') - ((n * 2654435761) % 2592000), 'unixepoch')
FROM n
WHERE n % 10 < 6;

WITH RECURSIVE n(n) AS (SELECT 1 WHERE {{heavy}} >= 1 UNION ALL SELECT n + 1 FROM n WHERE n + 1 <= {{heavy}})
INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at)
SELECT 1000 + n, 'acme', 900, '+31 6 ' || printf('%08d', (n * 104729) % 100000000), 'Heavy message ' || n,
       datetime(unixepoch('now') - ((n * 2654435761) % 15552000), 'unixepoch'), NULL
FROM n
WHERE n % 10 BETWEEN 6 AND 8;

-- a draft is written just after its mail came in (1% of the mail's age later) and decided
-- half-way between the mail and now
WITH RECURSIVE n(n) AS (SELECT 1 WHERE {{heavy}} >= 1 UNION ALL SELECT n + 1 FROM n WHERE n + 1 <= {{heavy}})
INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at)
SELECT 1000 + n, 'acme', 900, 1000 + n - 4, 'Heavy draft ' || n,
       CASE (n / 10) % 3 WHEN 0 THEN 'waiting' WHEN 1 THEN 'approved' ELSE 'skipped' END,
       datetime(unixepoch('now') - (age - age / 100), 'unixepoch'),
       CASE WHEN (n / 10) % 3 <> 0 THEN datetime(unixepoch('now') - (age / 2), 'unixepoch') END
FROM (
    SELECT n, ((n - 4) * 2654435761) % 2592000 AS age
    FROM n
    WHERE n % 10 = 9
) AS g;

-- Bulk: {{tenants}} tenants t001.. with {{users}} users each --------------------------------
-- User u of tenant t has id 1000000 + (t - 1) * users + u and email u<u>@t<ttt>.test; user 1
-- of each tenant invited the others. Mail k (counted over all bulk mail from 1, user after
-- user) has id 1000000 + k. Mail number m of a user lies in the tenant's shared mailbox when
-- m % 5 = 0; when m % 4 = 0 a WhatsApp message (id 1000000 + k) goes beside it, soft-deleted
-- when m % 40 = 0; when m % 10 = 0 a draft (id 1000000 + k) answers it, and the next user of
-- the tenant decided two in three of those drafts (an approval, id 1000000 + k).

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}})
INSERT INTO tenant_settings (tenant_id)
SELECT 't' || printf('%03d', t)
FROM t;

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}})
INSERT INTO users (id, tenant_id, email, display_name, invited_by, created_at)
SELECT 1000000 + (t - 1) * {{users}} + u, 't' || printf('%03d', t), 'u' || u || '@t' || printf('%03d', t) || '.test',
       'User ' || u, CASE WHEN u > 1 THEN 1000000 + (t - 1) * {{users}} + 1 END,
       datetime(unixepoch('now') - (400 * 86400 - (u * 2654435761) % 2592000), 'unixepoch')
FROM t, u
ORDER BY t, u;

INSERT INTO profiles (user_id, tenant_id, phone, locale, signature)
SELECT id, tenant_id, '+31 6 ' || printf('%08d', (id * 104729) % 100000000),
       CASE id % 3 WHEN 0 THEN 'nl' WHEN 1 THEN 'en' ELSE 'de' END, 'Regards, ' || display_name
FROM users
WHERE id >= 1000000;

INSERT INTO mailboxes (id, tenant_id, address, name, created_at)
SELECT id, tenant_id, email, display_name, created_at
FROM users
WHERE id >= 1000000;

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}})
INSERT INTO mailboxes (id, tenant_id, address, name, created_at)
SELECT 2000000 + t, 't' || printf('%03d', t), 'support@t' || printf('%03d', t) || '.test', 'Support', datetime('now', '-400 days')
FROM t;

INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role)
SELECT id, id, tenant_id, 'owner'
FROM users
WHERE id >= 1000000;

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}})
INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role)
SELECT 2000000 + t, 1000000 + (t - 1) * {{users}} + u, 't' || printf('%03d', t), CASE WHEN u = 1 THEN 'owner' ELSE 'member' END
FROM t, u;

-- cc names the next user of the same tenant
WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}}), m(m) AS (SELECT 1 WHERE {{mails}} >= 1 UNION ALL SELECT m + 1 FROM m WHERE m + 1 <= {{mails}})
INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at)
SELECT 1000000 + k, tenant, CASE WHEN m % 5 = 0 THEN 2000000 + t ELSE uid END, uid,
       '<' || (1000000 + k) || '@mail.test>', 'sender' || (k % 97) || '@external.test', 'Subject ' || m,
       '{"cc": ["u' || (u % {{users}} + 1) || '@' || tenant || '.test"]}',
       datetime(unixepoch('now') - ((k * 2654435761) % 2592000), 'unixepoch')
FROM (
    SELECT t, u, m, ((t - 1) * {{users}} + (u - 1)) * {{mails}} + m AS k, 1000000 + (t - 1) * {{users}} + u AS uid,
           't' || printf('%03d', t) AS tenant
    FROM t, u, m
) AS g;

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}}), m(m) AS (SELECT 4 WHERE {{mails}} >= 4 UNION ALL SELECT m + 4 FROM m WHERE m + 4 <= {{mails}})
INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at)
SELECT 1000000 + k, tenant, uid, '+31 6 ' || printf('%08d', (k * 104729) % 100000000), 'Message ' || m,
       datetime(unixepoch('now') - (age), 'unixepoch'),
       CASE WHEN m % 40 = 0 THEN datetime(unixepoch('now') - (age / 2), 'unixepoch') END
FROM (
    SELECT m, k, uid, tenant, (k * 2654435761) % 15552000 AS age
    FROM (
        SELECT m, ((t - 1) * {{users}} + (u - 1)) * {{mails}} + m AS k, 1000000 + (t - 1) * {{users}} + u AS uid,
               't' || printf('%03d', t) AS tenant
        FROM t, u, m
    ) AS g
) AS h;

-- a draft is written just after its mail came in (1% of the mail's age later) and decided
-- half-way between the mail and now
WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}}), m(m) AS (SELECT 10 WHERE {{mails}} >= 10 UNION ALL SELECT m + 10 FROM m WHERE m + 10 <= {{mails}})
INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at)
SELECT 1000000 + k, tenant, uid, 1000000 + k, 'Draft reply ' || m,
       CASE (m / 10) % 3 WHEN 0 THEN 'waiting' WHEN 1 THEN 'approved' ELSE 'skipped' END,
       datetime(unixepoch('now') - (age - age / 100), 'unixepoch'),
       CASE WHEN (m / 10) % 3 <> 0 THEN datetime(unixepoch('now') - (age / 2), 'unixepoch') END
FROM (
    SELECT m, k, uid, tenant, (k * 2654435761) % 2592000 AS age
    FROM (
        SELECT m, ((t - 1) * {{users}} + (u - 1)) * {{mails}} + m AS k, 1000000 + (t - 1) * {{users}} + u AS uid,
               't' || printf('%03d', t) AS tenant
        FROM t, u, m
    ) AS g
) AS h;

WITH RECURSIVE t(t) AS (SELECT 1 WHERE {{tenants}} >= 1 UNION ALL SELECT t + 1 FROM t WHERE t + 1 <= {{tenants}}), u(u) AS (SELECT 1 WHERE {{users}} >= 1 UNION ALL SELECT u + 1 FROM u WHERE u + 1 <= {{users}}), m(m) AS (SELECT 10 WHERE {{mails}} >= 10 UNION ALL SELECT m + 10 FROM m WHERE m + 10 <= {{mails}})
INSERT INTO approvals (id, tenant_id, draft_id, approver_id, decision, decided_at)
SELECT 1000000 + k, tenant, 1000000 + k, 1000000 + (t - 1) * {{users}} + (u % {{users}} + 1),
       CASE (m / 10) % 3 WHEN 1 THEN 'approved' ELSE 'skipped' END,
       datetime(unixepoch('now') - ((k * 2654435761) % 2592000 / 2), 'unixepoch')
FROM (
    SELECT t, u, m, ((t - 1) * {{users}} + (u - 1)) * {{mails}} + m AS k, 't' || printf('%03d', t) AS tenant
    FROM t, u, m
    WHERE (m / 10) % 3 <> 0
) AS g;

-- two invoices per user, issued over the last ten years
INSERT INTO invoices (id, tenant_id, user_id, number, billing_email, amount_cents, issued_at)
SELECT j, tenant_id, id, 'INV-' || j, email, (j * 1237) % 100000, datetime(unixepoch('now') - ((j * 2654435761) % 315360000), 'unixepoch')
FROM (
    SELECT 1000000 + (id - 1000001) * 2 + i AS j, id, tenant_id, email
    FROM users, (SELECT 1 AS i UNION ALL SELECT 2) AS two
    WHERE id >= 1000000
) AS g;

ANALYZE;
