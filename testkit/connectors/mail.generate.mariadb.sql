-- Data for the "mail" sample application (MariaDB). Run on the freshly created schema
-- (mail.mariadb.sql). sample.rs substitutes the parameters in double braces: tenants (bulk
-- tenants t001..), users (users per bulk tenant), mails (mail_metadata rows per bulk user),
-- heavy (rows owned by the heavy subject, user 900). All times are relative to
-- UTC_TIMESTAMP(6): DATETIME columns hold UTC.
-- Ids: the fixed people and their rows below 1000, the heavy subject's rows 1000 + n, bulk
-- rows from 1000000 (shared bulk mailboxes 2000000 + tenant number).
-- Series come from the SEQUENCE engine's seq_1_to_N tables. seq_1_to_0 is not empty (it counts
-- down: 1, 0), so every use also says "seq BETWEEN 1 AND N" and a parameter of 0 means none.
-- '||' is OR in MariaDB's default sql_mode: strings are joined with CONCAT.

-- The fixed people --------------------------------------------------------------------------

INSERT INTO tenant_settings (tenant_id, whatsapp_retention_days) VALUES
    ('acme', 90),
    ('globex', 30);

-- carl invited ann, ann invited bob (listed in that order: MariaDB checks each row at once).
-- globex has an ann@example.test of its own: the same address in another tenant.
INSERT INTO users (id, tenant_id, email, display_name, invited_by, created_at) VALUES
    (3, 'acme', 'carl@example.test', 'Carl Example', NULL, UTC_TIMESTAMP(6) - INTERVAL 900 DAY),
    (1, 'acme', 'ann@example.test', 'Ann Example', 3, UTC_TIMESTAMP(6) - INTERVAL 800 DAY),
    (2, 'acme', 'bob@example.test', 'Bob Example', 1, UTC_TIMESTAMP(6) - INTERVAL 700 DAY),
    (900, 'acme', 'heavy@example.test', 'Heavy Example', NULL, UTC_TIMESTAMP(6) - INTERVAL 365 DAY),
    (500, 'globex', 'ann@example.test', 'Ann Example', NULL, UTC_TIMESTAMP(6) - INTERVAL 600 DAY);

-- ann's phone has spaces (normalised: +31612345678)
INSERT INTO profiles (user_id, tenant_id, phone, locale, signature) VALUES
    (1, 'acme', '+31 6 1234 5678', 'nl', 'Met vriendelijke groet, Ann Example'),
    (2, 'acme', '06-87654321', 'en', 'Kind regards, Bob'),
    (900, 'acme', NULL, 'en', NULL),
    (500, 'globex', '+31 6 1234 5678', 'nl', 'Ann (Globex)');
-- carl's locale is the column default
INSERT INTO profiles (user_id, tenant_id) VALUES (3, 'acme');

INSERT INTO mailboxes (id, tenant_id, address, name, created_at) VALUES
    (10, 'acme', 'ann@example.test', 'Ann', UTC_TIMESTAMP(6) - INTERVAL 800 DAY),
    (11, 'acme', 'support@acme.test', 'Acme support', UTC_TIMESTAMP(6) - INTERVAL 800 DAY),
    (900, 'acme', 'heavy@example.test', 'Heavy', UTC_TIMESTAMP(6) - INTERVAL 365 DAY),
    (500, 'globex', 'ann@example.test', 'Ann', UTC_TIMESTAMP(6) - INTERVAL 600 DAY);

INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role) VALUES
    (10, 1, 'acme', 'owner'),
    (11, 1, 'acme', 'member'),
    (11, 2, 'acme', 'owner'),
    (900, 900, 'acme', 'owner'),
    (500, 500, 'globex', 'owner');

-- ann: 3 mails in her own mailbox, 2 in the shared one. bob: 2 mails in the shared mailbox
-- that cc ann by a case variant of her address, 1 that does not.
INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at) VALUES
    (101, 'acme', 10, 1, '<101@mail.acme.test>', 'klant@customer.test', 'Offerte aanvraag', '{"cc": []}', UTC_TIMESTAMP(6) - INTERVAL 1 DAY),
    (102, 'acme', 10, 1, '<102@mail.acme.test>', 'verkoop@supplier.test', 'Levering week 12', '{"cc": ["inkoop@supplier.test"]}', UTC_TIMESTAMP(6) - INTERVAL 10 DAY),
    (103, 'acme', 10, 1, '<103@mail.acme.test>', 'news@list.test', 'Nieuwsbrief', '{"cc": [], "list_id": "<news.list.test>"}', UTC_TIMESTAMP(6) - INTERVAL 20 DAY),
    (104, 'acme', 11, 1, '<104@mail.acme.test>', 'klant2@customer.test', 'Vraag over factuur', '{"cc": []}', UTC_TIMESTAMP(6) - INTERVAL 2 DAY),
    (105, 'acme', 11, 1, '<105@mail.acme.test>', 'klant3@customer.test', NULL, '{"cc": []}', UTC_TIMESTAMP(6) - INTERVAL 15 DAY),
    (111, 'acme', 11, 2, '<111@mail.acme.test>', 'erin@customer.test', 'Project kickoff', '{"cc": ["ANN@example.test", "dave@example.test"]}', UTC_TIMESTAMP(6) - INTERVAL 3 DAY),
    (112, 'acme', 11, 2, '<112@mail.acme.test>', 'erin@customer.test', 'Re: Project kickoff', '{"cc": ["ANN@example.test", "dave@example.test"]}', UTC_TIMESTAMP(6) - INTERVAL 12 DAY),
    (113, 'acme', 11, 2, '<113@mail.acme.test>', 'frank@customer.test', 'Planning', '{"cc": ["dave@example.test"]}', UTC_TIMESTAMP(6) - INTERVAL 5 DAY),
    (501, 'globex', 500, 500, '<501@mail.globex.test>', 'klant@customer.test', 'Globex order', '{"cc": []}', UTC_TIMESTAMP(6) - INTERVAL 4 DAY);

INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at) VALUES
    (201, 'acme', 1, 101, 'Beste klant, hierbij de offerte.', 'waiting', UTC_TIMESTAMP(6) - INTERVAL 23 HOUR, NULL),
    (202, 'acme', 1, 102, 'Dank voor de bevestiging van de levering.', 'approved', UTC_TIMESTAMP(6) - INTERVAL 10 DAY + INTERVAL 1 HOUR, UTC_TIMESTAMP(6) - INTERVAL 9 DAY),
    (211, 'acme', 2, 111, 'Thanks, see you at the kickoff.', 'approved', UTC_TIMESTAMP(6) - INTERVAL 3 DAY + INTERVAL 1 HOUR, UTC_TIMESTAMP(6) - INTERVAL 2 DAY);

-- bob approved ann's draft, ann approved bob's
INSERT INTO approvals (id, tenant_id, draft_id, approver_id, decision, decided_at) VALUES
    (301, 'acme', 202, 2, 'approved', UTC_TIMESTAMP(6) - INTERVAL 9 DAY),
    (302, 'acme', 211, 1, 'approved', UTC_TIMESTAMP(6) - INTERVAL 2 DAY);

INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at) VALUES
    (401, 'acme', 1, '+31 6 5555 0001', 'Oud bericht', UTC_TIMESTAMP(6) - INTERVAL 210 DAY, UTC_TIMESTAMP(6) - INTERVAL 200 DAY),
    (402, 'acme', 1, '+31 6 5555 0001', 'Ben onderweg', UTC_TIMESTAMP(6) - INTERVAL 1 DAY, NULL),
    (403, 'acme', 1, '+31 6 5555 0002', 'Kun je bellen?', UTC_TIMESTAMP(6) - INTERVAL 3 DAY, NULL),
    (404, 'acme', 1, '+31 6 5555 0003', 'Tot morgen', UTC_TIMESTAMP(6) - INTERVAL 5 DAY, NULL),
    (411, 'acme', 2, '+31 6 5555 0004', 'On my way', UTC_TIMESTAMP(6) - INTERVAL 2 DAY, NULL),
    (412, 'acme', 2, '+31 6 5555 0005', 'Call me', UTC_TIMESTAMP(6) - INTERVAL 4 DAY, NULL),
    (501, 'globex', 500, '+31 6 5555 0006', 'Globex hier', UTC_TIMESTAMP(6) - INTERVAL 1 DAY, NULL);

INSERT INTO invoices (id, tenant_id, user_id, number, billing_email, amount_cents, issued_at) VALUES
    (601, 'acme', 1, 'INV-601', 'ann@example.test', 12100, UTC_TIMESTAMP(6) - INTERVAL 730 DAY),
    (602, 'acme', 1, 'INV-602', 'ann@example.test', 4840, UTC_TIMESTAMP(6) - INTERVAL 2922 DAY),
    (611, 'acme', 2, 'INV-611', 'bob@example.test', 9900, UTC_TIMESTAMP(6) - INTERVAL 365 DAY);

-- The heavy subject: user 900 in mailbox 900, {{heavy}} rows split by n % 10 --------------
-- (0-5 mail_metadata, 6-8 whatsapp_messages, 9 drafts on the mail four rows before). "age" is
-- a row's age in seconds: a multiplicative hash of its number spreads the rows evenly over
-- 30 days (mail, drafts) or 180 days (WhatsApp).

INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at)
SELECT 1000 + n, 'acme', 900, 900, CONCAT('<', 1000 + n, '@heavy.acme.test>'), CONCAT('sender', n % 97, '@external.test'),
       CONCAT('Heavy subject ', n), '{"cc": ["ops@acme.test"]}', UTC_TIMESTAMP(6) - INTERVAL age SECOND
FROM (
    SELECT seq AS n, (seq * 2654435761) % 2592000 AS age
    FROM seq_1_to_{{heavy}}
    WHERE seq BETWEEN 1 AND {{heavy}} AND seq % 10 < 6
) AS g;

INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at)
SELECT 1000 + n, 'acme', 900, CONCAT('+31 6 ', LPAD((n * 104729) % 100000000, 8, '0')), CONCAT('Heavy message ', n),
       UTC_TIMESTAMP(6) - INTERVAL age SECOND, NULL
FROM (
    SELECT seq AS n, (seq * 2654435761) % 15552000 AS age
    FROM seq_1_to_{{heavy}}
    WHERE seq BETWEEN 1 AND {{heavy}} AND seq % 10 BETWEEN 6 AND 8
) AS g;

-- a draft is written just after its mail came in (1% of the mail's age later) and decided
-- half-way between the mail and now
INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at)
SELECT 1000 + n, 'acme', 900, 1000 + n - 4, CONCAT('Heavy draft ', n),
       CASE (n DIV 10) % 3 WHEN 0 THEN 'waiting' WHEN 1 THEN 'approved' ELSE 'skipped' END,
       UTC_TIMESTAMP(6) - INTERVAL (age - age DIV 100) SECOND,
       CASE WHEN (n DIV 10) % 3 <> 0 THEN UTC_TIMESTAMP(6) - INTERVAL (age DIV 2) SECOND END
FROM (
    SELECT seq AS n, ((seq - 4) * 2654435761) % 2592000 AS age
    FROM seq_1_to_{{heavy}}
    WHERE seq BETWEEN 1 AND {{heavy}} AND seq % 10 = 9
) AS g;

-- Bulk: {{tenants}} tenants t001.. with {{users}} users each --------------------------------
-- User u of tenant t has id 1000000 + (t - 1) * users + u and email u<u>@t<ttt>.test; user 1
-- of each tenant invited the others. Mail k (counted over all bulk mail from 1, user after
-- user) has id 1000000 + k. Mail number m of a user lies in the tenant's shared mailbox when
-- m % 5 = 0; when m % 4 = 0 a WhatsApp message (id 1000000 + k) goes beside it, soft-deleted
-- when m % 40 = 0; when m % 10 = 0 a draft (id 1000000 + k) answers it, and the next user of
-- the tenant decided two in three of those drafts (an approval, id 1000000 + k).

INSERT INTO tenant_settings (tenant_id)
SELECT CONCAT('t', LPAD(seq, 3, '0'))
FROM seq_1_to_{{tenants}}
WHERE seq BETWEEN 1 AND {{tenants}};

-- in order: user 1 of a tenant, who invited the others, must exist before them (InnoDB checks
-- a foreign key at each row, not at the end of the statement)
INSERT INTO users (id, tenant_id, email, display_name, invited_by, created_at)
SELECT 1000000 + (t.seq - 1) * {{users}} + u.seq, CONCAT('t', LPAD(t.seq, 3, '0')), CONCAT('u', u.seq, '@t', LPAD(t.seq, 3, '0'), '.test'),
       CONCAT('User ', u.seq), CASE WHEN u.seq > 1 THEN 1000000 + (t.seq - 1) * {{users}} + 1 END,
       UTC_TIMESTAMP(6) - INTERVAL 400 DAY + INTERVAL ((u.seq * 2654435761) % 2592000) SECOND
FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u
WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}}
ORDER BY t.seq, u.seq;

INSERT INTO profiles (user_id, tenant_id, phone, locale, signature)
SELECT id, tenant_id, CONCAT('+31 6 ', LPAD((id * 104729) % 100000000, 8, '0')),
       CASE id % 3 WHEN 0 THEN 'nl' WHEN 1 THEN 'en' ELSE 'de' END, CONCAT('Regards, ', display_name)
FROM users
WHERE id >= 1000000;

INSERT INTO mailboxes (id, tenant_id, address, name, created_at)
SELECT id, tenant_id, email, display_name, created_at
FROM users
WHERE id >= 1000000;

INSERT INTO mailboxes (id, tenant_id, address, name, created_at)
SELECT 2000000 + seq, CONCAT('t', LPAD(seq, 3, '0')), CONCAT('support@t', LPAD(seq, 3, '0'), '.test'), 'Support', UTC_TIMESTAMP(6) - INTERVAL 400 DAY
FROM seq_1_to_{{tenants}}
WHERE seq BETWEEN 1 AND {{tenants}};

INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role)
SELECT id, id, tenant_id, 'owner'
FROM users
WHERE id >= 1000000;

INSERT INTO mailbox_members (mailbox_id, user_id, tenant_id, role)
SELECT 2000000 + t.seq, 1000000 + (t.seq - 1) * {{users}} + u.seq, CONCAT('t', LPAD(t.seq, 3, '0')), CASE WHEN u.seq = 1 THEN 'owner' ELSE 'member' END
FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u
WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}};

-- cc names the next user of the same tenant
INSERT INTO mail_metadata (id, tenant_id, mailbox_id, user_id, message_id, from_address, subject_line, headers, received_at)
SELECT 1000000 + k, tenant, CASE WHEN m % 5 = 0 THEN 2000000 + t ELSE uid END, uid,
       CONCAT('<', 1000000 + k, '@mail.test>'), CONCAT('sender', k % 97, '@external.test'), CONCAT('Subject ', m),
       CONCAT('{"cc": ["u', u % {{users}} + 1, '@', tenant, '.test"]}'),
       UTC_TIMESTAMP(6) - INTERVAL ((k * 2654435761) % 2592000) SECOND
FROM (
    SELECT t.seq AS t, u.seq AS u, m.seq AS m, ((t.seq - 1) * {{users}} + (u.seq - 1)) * {{mails}} + m.seq AS k,
           1000000 + (t.seq - 1) * {{users}} + u.seq AS uid, CONCAT('t', LPAD(t.seq, 3, '0')) AS tenant
    FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u, seq_1_to_{{mails}} AS m
    WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}} AND m.seq BETWEEN 1 AND {{mails}}
) AS g;

INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at)
SELECT 1000000 + k, tenant, uid, CONCAT('+31 6 ', LPAD((k * 104729) % 100000000, 8, '0')), CONCAT('Message ', m),
       UTC_TIMESTAMP(6) - INTERVAL age SECOND,
       CASE WHEN m % 40 = 0 THEN UTC_TIMESTAMP(6) - INTERVAL (age DIV 2) SECOND END
FROM (
    SELECT m, k, uid, tenant, (k * 2654435761) % 15552000 AS age
    FROM (
        SELECT m.seq AS m, ((t.seq - 1) * {{users}} + (u.seq - 1)) * {{mails}} + m.seq AS k,
               1000000 + (t.seq - 1) * {{users}} + u.seq AS uid, CONCAT('t', LPAD(t.seq, 3, '0')) AS tenant
        FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u, seq_1_to_{{mails}} AS m
        WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}} AND m.seq BETWEEN 1 AND {{mails}}
          AND m.seq % 4 = 0
    ) AS g
) AS h;

-- a draft is written just after its mail came in (1% of the mail's age later) and decided
-- half-way between the mail and now
INSERT INTO drafts (id, tenant_id, user_id, mail_id, body, status, created_at, decided_at)
SELECT 1000000 + k, tenant, uid, 1000000 + k, CONCAT('Draft reply ', m),
       CASE (m DIV 10) % 3 WHEN 0 THEN 'waiting' WHEN 1 THEN 'approved' ELSE 'skipped' END,
       UTC_TIMESTAMP(6) - INTERVAL (age - age DIV 100) SECOND,
       CASE WHEN (m DIV 10) % 3 <> 0 THEN UTC_TIMESTAMP(6) - INTERVAL (age DIV 2) SECOND END
FROM (
    SELECT m, k, uid, tenant, (k * 2654435761) % 2592000 AS age
    FROM (
        SELECT m.seq AS m, ((t.seq - 1) * {{users}} + (u.seq - 1)) * {{mails}} + m.seq AS k,
               1000000 + (t.seq - 1) * {{users}} + u.seq AS uid, CONCAT('t', LPAD(t.seq, 3, '0')) AS tenant
        FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u, seq_1_to_{{mails}} AS m
        WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}} AND m.seq BETWEEN 1 AND {{mails}}
          AND m.seq % 10 = 0
    ) AS g
) AS h;

INSERT INTO approvals (id, tenant_id, draft_id, approver_id, decision, decided_at)
SELECT 1000000 + k, tenant, 1000000 + k, 1000000 + (t - 1) * {{users}} + (u % {{users}} + 1),
       CASE (m DIV 10) % 3 WHEN 1 THEN 'approved' ELSE 'skipped' END,
       UTC_TIMESTAMP(6) - INTERVAL ((k * 2654435761) % 2592000 DIV 2) SECOND
FROM (
    SELECT t.seq AS t, u.seq AS u, m.seq AS m, ((t.seq - 1) * {{users}} + (u.seq - 1)) * {{mails}} + m.seq AS k,
           CONCAT('t', LPAD(t.seq, 3, '0')) AS tenant
    FROM seq_1_to_{{tenants}} AS t, seq_1_to_{{users}} AS u, seq_1_to_{{mails}} AS m
    WHERE t.seq BETWEEN 1 AND {{tenants}} AND u.seq BETWEEN 1 AND {{users}} AND m.seq BETWEEN 1 AND {{mails}}
      AND m.seq % 10 = 0 AND (m.seq DIV 10) % 3 <> 0
) AS g;

-- two invoices per user, issued over the last ten years
INSERT INTO invoices (id, tenant_id, user_id, number, billing_email, amount_cents, issued_at)
SELECT j, tenant_id, id, CONCAT('INV-', j), email, (j * 1237) % 100000, UTC_TIMESTAMP(6) - INTERVAL ((j * 2654435761) % 315360000) SECOND
FROM (
    SELECT 1000000 + (users.id - 1000001) * 2 + i.seq AS j, users.id, users.tenant_id, users.email
    FROM users, seq_1_to_2 AS i
    WHERE users.id >= 1000000
) AS g;
