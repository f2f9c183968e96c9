//! Telling people of a breach, with proof of each delivery (PRODUCT.md C7, issue 21).
//!
//! Two kinds of letter leave the register:
//!
//! - **Letters to the people affected** (Art. 34(1) GDPR), once a person decided they are to be
//!   told ([`TenantVault::queue_subject_letters`]). The controller gives the addresses (Custos
//!   does not guess them from the vault); each is told once per breach.
//! - **A processor's notice to its controller** (Art. 33(2); Clause 9.2 of the standard
//!   contractual clauses of Decision (EU) 2021/915): when Custos serves a processor, the notice
//!   lands in the controller-tenant's own register as a breach of its own, its clock running
//!   from the notice (the controller is aware once its processor told it, EDPB Guidelines
//!   9/2022, ¶41), with that tenant's counts only, and goes by e-mail to the tenant's contacts
//!   and by signed webhook to its application ([`TenantVault::receive_processor_notice`]).
//!   Idempotent by the processor's reference: sending the same notice again tells no one twice.
//!
//! The letter's text is kept once, as sent. Each delivery is a record per channel and target:
//! the target is a keyed digest of the address, never the address; the address itself is kept
//! sealed (AES-256-GCM under a key of its own, bound to the tenant, the letter and the digest)
//! only while the letter may still be sent, and forgotten once it was delivered or every attempt
//! failed. An e-mail server that is down costs retries on the webhook backoff, each recorded,
//! never a lost letter. Webhooks go through the notifications outbox (signed, retried, dead
//! letters listed) like every other event; their state is the outbox's.
//!
//! The deadline reminders ([`TenantVault::remind_breach_deadlines`]) tell the application by
//! webhook when an open breach's deadline is near or past, each threshold once.

use std::collections::BTreeMap;

use custos_audit::Event;
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::announcements::{DELIVERY_COLUMNS, Delivery, WITH_OUTBOX, delivery_of};
use crate::announcements::{check_address, into_vault, settings_in, truncate};
use crate::app_events::{APP, hooked, queue_for_app};
use crate::breaches::{
    BreachError, Entry, RegisterSettings, StoredBreach, Writer, read as read_breach,
};
use crate::error::{Result, VaultError};
use crate::recipients::random_id;
use crate::store::{Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, TenantVault};

/// At most this many addresses per call of [`TenantVault::queue_subject_letters`].
pub const MAX_ADDRESSES: usize = 1000;

const EMAIL: &str = "email";
const WEBHOOK: &str = "webhook";

/// Which letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    /// To the people affected (Art. 34).
    SubjectLetter,
    /// A processor's notice to this tenant, its controller (Art. 33(2)).
    ControllerNotice,
}

impl LetterKind {
    fn as_str(self) -> &'static str {
        match self {
            LetterKind::SubjectLetter => "subject_letter",
            LetterKind::ControllerNotice => "controller_notice",
        }
    }

    fn parse(s: &str) -> Option<LetterKind> {
        match s {
            "subject_letter" => Some(LetterKind::SubjectLetter),
            "controller_notice" => Some(LetterKind::ControllerNotice),
            _ => None,
        }
    }
}

/// A letter as it is to be sent: language, subject line and plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `nl` or `en`.
    pub lang: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
}

impl Outgoing {
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(
            format!("{}\n{}\n{}", self.lang, self.subject, self.body).as_bytes(),
        ))
    }
}

/// What queuing letters did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queued {
    /// The letter's id.
    pub letter_id: String,
    /// SHA-256 of the letter (language, subject, text), as the audit trail records it.
    pub letter_sha256: String,
    /// Deliveries queued now.
    pub queued: usize,
    /// Targets told (or being told) of this breach already, left as they were.
    pub already: usize,
    /// Channels nobody could be told by (no contacts, no webhook).
    pub not_configured: Vec<&'static str>,
}

/// A processor's notice as the controller-tenant received it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// The breach in the tenant's register.
    pub breach: StoredBreach,
    /// The notice's deliveries.
    pub queued: Queued,
    /// Whether this call recorded it (`false`: the same reference was received before).
    pub new: bool,
}

/// A letter of a breach with its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LetterRecord {
    /// The letter's id.
    pub letter_id: String,
    /// Which letter.
    pub kind: LetterKind,
    /// Its language.
    pub lang: String,
    /// Its subject line.
    pub subject: String,
    /// Its text as sent.
    pub body: String,
    /// The processor's reference (controller notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When it was written.
    pub created_at: Timestamp,
    /// Deliveries per state.
    pub counts: BTreeMap<String, u64>,
    /// The deliveries not delivered yet or dead, and all of a controller notice's (at most
    /// [`LISTED`]).
    pub deliveries: Vec<Delivery>,
}

/// At most this many deliveries are listed per letter (the counts cover all).
pub const LISTED: usize = 200;

/// An e-mail of a breach letter due to be sent, claimed for one attempt. Not `Debug`: it holds
/// the address.
pub struct DueLetter {
    /// The letter.
    pub letter_id: String,
    /// The breach.
    pub breach_id: String,
    /// Which letter.
    pub kind: LetterKind,
    /// `nl` or `en`.
    pub lang: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// The address, opened for this attempt.
    pub to: String,
    /// The address's digest (the delivery's target).
    pub target: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
}

/// What recording an e-mail attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterRecorded {
    /// Sent.
    Delivered,
    /// Tried again at the given time.
    Retry(Timestamp),
    /// Every attempt failed: dead, listed with its error.
    Dead,
    /// The claim was stale: nothing recorded.
    Stale,
}

/// A deadline reminder given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The breach.
    pub breach_id: String,
    /// The threshold it was given at (hours before the deadline; 0: the deadline passed).
    pub hours_before: u32,
    /// The deadline.
    pub deadline_at: Timestamp,
    /// Whether the application's webhook was told (without one the console and the metrics
    /// still show it).
    pub webhook: bool,
}

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("a breach letter's {what} is unreadable"))
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.and_then(|m| Timestamp::from_microsecond(m).ok())
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> VaultError {
    VaultError::InvalidBreach(vec![custos_breach::Invalid {
        field: field.into(),
        reason: reason.into(),
    }])
}

impl TenantVault<'_> {
    /// The key ring and the store at once (the letters seal and open addresses inside the
    /// store's transactions).
    fn keys_and_store(&mut self) -> (&crate::keys::KeyRing, &mut dyn crate::store::Store) {
        let vault = &mut *self.vault;
        (&vault.keys, vault.store.as_mut())
    }

    fn letter_writer(&self) -> Writer {
        Writer {
            tenant: self.tenant_id().as_str().to_owned(),
            actor: self.actor().to_owned(),
            key: self.audit_key().clone(),
        }
    }

    /// Queues `letter` by e-mail to each of `addresses` (at most [`MAX_ADDRESSES`]; each a real
    /// address, refused with its index otherwise) for the people affected by breach
    /// `breach_id`: only once a person decided they are to be told (Art. 34(1); refused
    /// otherwise, fail closed). An address told of this breach before is left as it was. The
    /// letter's digest and the counts go into the audit trail (`breach.letters_queued`), never an
    /// address.
    pub fn queue_subject_letters(
        &mut self,
        breach_id: &str,
        letter: &Outgoing,
        addresses: &[String],
        now: Timestamp,
    ) -> Result<Queued> {
        if addresses.is_empty() {
            return Err(invalid("/addresses", "name at least one address"));
        }
        if addresses.len() > MAX_ADDRESSES {
            return Err(invalid(
                "/addresses",
                format!(
                    "{} addresses; at most {MAX_ADDRESSES} per call",
                    addresses.len()
                ),
            ));
        }
        for (i, a) in addresses.iter().enumerate() {
            check_address(a.trim()).map_err(|why| invalid(format!("/addresses/{i}"), why))?;
        }
        let entry = self.breach(breach_id)?.entry()?;
        if !entry.decision.as_ref().is_some_and(|d| d.notify_subjects) {
            return Err(invalid(
                "/decision",
                "no one decided to tell the people affected (Art. 34(1) GDPR): record that decision first",
            ));
        }
        let w = self.letter_writer();
        let tenant = self.tenant_id().clone();
        let (keys, store) = self.keys_and_store();
        let targets: Vec<(String, String)> = addresses
            .iter()
            .map(|a| {
                let a = a.trim();
                (keys.letter_target(&tenant, breach_id, a), a.to_owned())
            })
            .collect();
        let letter_sha256 = letter.digest();
        let new_letter_id = random_id("ltr")?;
        let mut out = None;
        store
            .in_tx(&w.tenant.clone(), "queuing breach letters", &mut |tx| {
                let t = w.tenant.as_str();
                crate::breaches::register_tenant(tx, t, now)?;
                // The same text again for this breach is the same letter.
                let existing = tx.query(
                    "SELECT letter_id, lang, subject, body FROM breach_letters WHERE tenant_id = $1 AND breach_id = $2 AND kind = $3",
                    &[t.into(), breach_id.into(), LetterKind::SubjectLetter.as_str().into()],
                )?;
                let mut letter_id = None;
                for r in existing {
                    let mut it = r.into_iter().map(Val::into_text);
                    let id = it.next().flatten().ok_or_else(|| corrupt("id"))?;
                    let same = Outgoing {
                        lang: it.next().flatten().unwrap_or_default(),
                        subject: it.next().flatten().unwrap_or_default(),
                        body: it.next().flatten().unwrap_or_default(),
                    } == *letter;
                    if same {
                        letter_id = Some(id);
                    }
                }
                let letter_id = match letter_id {
                    Some(id) => id,
                    None => {
                        insert_letter(tx, t, &new_letter_id, breach_id, LetterKind::SubjectLetter, letter, None, now)?;
                        new_letter_id.clone()
                    }
                };
                let (mut queued, mut already) = (0, 0);
                for (target, address) in &targets {
                    let told = !tx
                        .query(
                            "SELECT 1 FROM breach_deliveries WHERE tenant_id = $1 AND breach_id = $2 AND kind = $3 AND channel = $4 AND target = $5",
                            &[t.into(), breach_id.into(), LetterKind::SubjectLetter.as_str().into(), EMAIL.into(), target.as_str().into()],
                        )?
                        .is_empty();
                    if told {
                        already += 1;
                        continue;
                    }
                    let seal = keys.seal_letter_address(&tenant, &letter_id, target, address)?;
                    insert_delivery(tx, t, &letter_id, breach_id, LetterKind::SubjectLetter, EMAIL, target, Some(seal), "pending", None, now)?;
                    queued += 1;
                }
                let ev = Event::new(
                    t,
                    &w.actor,
                    "breach.letters_queued",
                    None,
                    serde_json::json!({
                        "breach_id": breach_id,
                        "letter_id": letter_id,
                        "letter_sha256": letter_sha256,
                        "queued": queued,
                        "already": already,
                        "article": "Art. 34(1) GDPR",
                    }),
                );
                tx.append_audit(&mut |head| {
                    custos_audit::build(head, std::slice::from_ref(&ev), now, &w.key, AUDIT_CHECKPOINT_EVERY)
                })?;
                out = Some(Queued {
                    letter_id,
                    letter_sha256: letter_sha256.clone(),
                    queued,
                    already,
                    not_configured: Vec::new(),
                });
                Ok(())
            })?;
        out.ok_or_else(|| corrupt("queue"))
    }

    /// Receives a processor's notice (`reference`, its own id for the breach) in this tenant's
    /// register: `breach` is recorded as a breach of this tenant (the caller made it this
    /// tenant's: its counts, awareness at the notice), and `letter` is queued by e-mail to the
    /// tenant's contacts and by signed webhook to its application, all in one transaction with
    /// `breach.notice_received` in the trail. The same reference again returns what was received
    /// the first time and queues nothing (no one is told twice, no notice lost on a retry).
    pub fn receive_processor_notice(
        &mut self,
        reference: &str,
        breach: custos_breach::record::Breach,
        letter: &Outgoing,
        settings: &RegisterSettings,
        now: Timestamp,
    ) -> Result<Received> {
        let reference = reference.trim();
        custos_breach::record::BreachId::new(reference)
            .map_err(|e| invalid("/reference", e.reason))?;
        let (breach_id, record, columns) = crate::breaches::new_entry(breach, settings, now)?;
        let w = self.letter_writer();
        let tenant = self.tenant_id().clone();
        let letter_id = random_id("ltr")?;
        let letter_sha256 = letter.digest();
        let (keys, store) = self.keys_and_store();
        let mut out = None;
        store
            .in_tx(&w.tenant.clone(), "receiving a processor's notice", &mut |tx| {
                let t = w.tenant.as_str();
                let before = tx.query(
                    "SELECT letter_id, breach_id FROM breach_letters WHERE tenant_id = $1 AND reference = $2",
                    &[t.into(), reference.into()],
                )?;
                if let Some(r) = before.into_iter().next() {
                    let mut it = r.into_iter().map(Val::into_text);
                    let (id, b) = (it.next().flatten().ok_or_else(|| corrupt("id"))?, it.next().flatten().ok_or_else(|| corrupt("breach"))?);
                    let stored = read_breach(tx, t, &b)?.ok_or_else(|| corrupt("breach"))?;
                    out = Some(Received {
                        breach: stored,
                        queued: Queued { letter_id: id, letter_sha256: letter_sha256.clone(), queued: 0, already: 0, not_configured: Vec::new() },
                        new: false,
                    });
                    return Ok(());
                }
                let stored = w.write(tx, &breach_id, None, &record, &columns, now)?;
                insert_letter(tx, t, &letter_id, &breach_id, LetterKind::ControllerNotice, letter, Some(reference), now)?;
                let contacts = settings_in(tx, t).map_err(into_vault)?.contacts;
                let mut queued = 0;
                let mut not_configured = Vec::new();
                if contacts.is_empty() {
                    insert_delivery(tx, t, &letter_id, &breach_id, LetterKind::ControllerNotice, EMAIL, "", None, "not_configured", None, now)?;
                    not_configured.push(EMAIL);
                }
                for c in &contacts {
                    let target = keys.letter_target(&tenant, &breach_id, c);
                    let seal = keys.seal_letter_address(&tenant, &letter_id, &target, c)?;
                    insert_delivery(tx, t, &letter_id, &breach_id, LetterKind::ControllerNotice, EMAIL, &target, Some(seal), "pending", None, now)?;
                    queued += 1;
                }
                if hooked(tx, t)? {
                    let id = random_id("ntf")?;
                    let body = serde_json::json!({
                        "id": id,
                        "type": "breach.notice",
                        "tenant": t,
                        "occurred_at": now.to_string(),
                        "breach_id": breach_id,
                        "reference": reference,
                        "deadline_at": columns.deadline_at.to_string(),
                        "lang": letter.lang,
                        "subject": letter.subject,
                        "text": letter.body,
                        "article": "Art. 33(2) GDPR",
                    });
                    queue_for_app(tx, t, &id, &body, now)?;
                    insert_delivery(tx, t, &letter_id, &breach_id, LetterKind::ControllerNotice, WEBHOOK, APP, None, "pending", Some(&id), now)?;
                    queued += 1;
                } else {
                    insert_delivery(tx, t, &letter_id, &breach_id, LetterKind::ControllerNotice, WEBHOOK, "", None, "not_configured", None, now)?;
                    not_configured.push(WEBHOOK);
                }
                let ev = Event::new(
                    t,
                    &w.actor,
                    "breach.notice_received",
                    None,
                    serde_json::json!({
                        "breach_id": breach_id,
                        "reference": reference,
                        "letter_id": letter_id,
                        "letter_sha256": letter_sha256,
                        "deliveries": queued,
                        "not_configured": not_configured,
                        "article": "Art. 33(2) GDPR",
                    }),
                );
                tx.append_audit(&mut |head| {
                    custos_audit::build(head, std::slice::from_ref(&ev), now, &w.key, AUDIT_CHECKPOINT_EVERY)
                })?;
                out = Some(Received {
                    breach: stored,
                    queued: Queued { letter_id: letter_id.clone(), letter_sha256: letter_sha256.clone(), queued, already: 0, not_configured },
                    new: true,
                });
                Ok(())
            })?;
        out.ok_or_else(|| corrupt("notice"))
    }

    /// The letters of breach `breach_id`, oldest first, each with its deliveries counted per
    /// state and listed (see [`LetterRecord::deliveries`]).
    pub fn breach_letters(&mut self, breach_id: &str) -> Result<Vec<LetterRecord>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store()
            .in_read_tx(&tenant, "listing a breach's letters", &mut |tx| {
                out.clear();
                if read_breach(tx, &tenant, breach_id)?.is_none() {
                    return Err(VaultError::Breach(BreachError::NotFound(breach_id.to_owned())));
                }
                let letters = tx.query(
                    "SELECT letter_id, kind, lang, subject, body, reference, created_at FROM breach_letters WHERE tenant_id = $1 AND breach_id = $2 ORDER BY created_at, letter_id",
                    &[tenant.as_str().into(), breach_id.into()],
                )?;
                for r in letters {
                    let mut it = r.into_iter();
                    let mut text = || it.next().and_then(Val::into_text);
                    let letter_id = text().ok_or_else(|| corrupt("id"))?;
                    let kind = text().as_deref().and_then(LetterKind::parse).ok_or_else(|| corrupt("kind"))?;
                    let (lang, subject, body, reference) = (text().unwrap_or_default(), text().unwrap_or_default(), text().unwrap_or_default(), text());
                    let created_at = ts(it.next().and_then(|v| v.int())).ok_or_else(|| corrupt("time"))?;
                    let deliveries = deliveries_in(tx, &tenant, &letter_id)?;
                    let mut counts = BTreeMap::new();
                    for d in &deliveries {
                        *counts.entry(d.state.clone()).or_insert(0) += 1;
                    }
                    let deliveries = deliveries
                        .into_iter()
                        .filter(|d| kind == LetterKind::ControllerNotice || d.state != "delivered")
                        .take(LISTED)
                        .collect();
                    out.push(LetterRecord { letter_id, kind, lang, subject, body, reference, created_at, counts, deliveries });
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// Claims up to `limit` breach-letter e-mails due at `now` for `lease` (each claim counts as
    /// an attempt; another claimer does not get them until the lease runs out). An address that
    /// no longer opens is recorded dead, never sent.
    pub fn claim_breach_mail(
        &mut self,
        now: Timestamp,
        limit: u32,
        lease: jiff::SignedDuration,
    ) -> Result<Vec<DueLetter>> {
        let tenant = self.tenant_id().clone();
        let t = tenant.as_str().to_owned();
        let until = now
            .checked_add(lease)
            .unwrap_or(Timestamp::MAX)
            .as_microsecond();
        // Each claimed letter with its address still sealed.
        let mut claimed: Vec<(DueLetter, Vec<u8>)> = Vec::new();
        self.store()
            .in_tx(&t, "claiming breach letters", &mut |tx| {
                claimed.clear();
                let lock = tx.for_update_skip_locked();
                let due = tx.query(
                    &format!(
                        "SELECT d.letter_id, d.breach_id, d.target, d.kind, l.lang, l.subject, l.body, d.sealed, d.attempts \
                         FROM breach_deliveries d JOIN breach_letters l ON l.tenant_id = d.tenant_id AND l.letter_id = d.letter_id \
                         WHERE d.tenant_id = $1 AND d.channel = $2 AND d.state = 'pending' AND d.next_attempt_at <= $3 \
                         ORDER BY d.next_attempt_at, d.letter_id, d.target LIMIT $4{}",
                        if lock.is_empty() { "" } else { " FOR UPDATE OF d SKIP LOCKED" }
                    ),
                    &[t.as_str().into(), EMAIL.into(), now.as_microsecond().into(), i64::from(limit.max(1)).into()],
                )?;
                for r in due {
                    let mut it = r.into_iter();
                    let mut text = || it.next().and_then(Val::into_text);
                    let (letter_id, breach_id, target) = (text().ok_or_else(|| corrupt("id"))?, text().ok_or_else(|| corrupt("breach"))?, text().ok_or_else(|| corrupt("target"))?);
                    let kind = text().as_deref().and_then(LetterKind::parse).ok_or_else(|| corrupt("kind"))?;
                    let (lang, subject, body) = (text().unwrap_or_default(), text().unwrap_or_default(), text().unwrap_or_default());
                    let sealed = it.next().and_then(Val::into_bytes).unwrap_or_default();
                    let attempts = it.next().and_then(|v| v.int()).unwrap_or(0);
                    tx.execute(
                        "UPDATE breach_deliveries SET attempts = attempts + 1, next_attempt_at = $5 \
                         WHERE tenant_id = $1 AND letter_id = $2 AND channel = $3 AND target = $4",
                        &[t.as_str().into(), letter_id.as_str().into(), EMAIL.into(), target.as_str().into(), until.into()],
                    )?;
                    let attempt = u32::try_from(attempts + 1).unwrap_or(u32::MAX);
                    let due = DueLetter { letter_id, breach_id, kind, lang, subject, body, to: String::new(), target, attempt };
                    claimed.push((due, sealed));
                }
                Ok(())
            })?;
        let mut out = Vec::with_capacity(claimed.len());
        for (mut due, sealed) in claimed {
            let to =
                self.vault
                    .keys
                    .open_letter_address(&tenant, &due.letter_id, &due.target, &sealed);
            due.to = to.clone().unwrap_or_default();
            if to.is_none() {
                self.record_breach_mail(
                    &due,
                    Err((
                        None,
                        "the address is no longer kept (it does not open)".into(),
                    )),
                    now,
                )?;
                continue;
            }
            out.push(due);
        }
        Ok(out)
    }

    /// Records the outcome of an e-mail attempt: delivered, failed and due again at `retry_at`,
    /// or dead when `retry_at` is `None`. Delivered and dead ones forget the address and go into
    /// the audit trail with the target's digest. `error` says what failed (never the address; cut
    /// to 500 characters). A stale claim (another attempt since) records nothing.
    pub fn record_breach_mail(
        &mut self,
        mail: &DueLetter,
        outcome: std::result::Result<(), (Option<Timestamp>, String)>,
        now: Timestamp,
    ) -> Result<LetterRecorded> {
        let w = self.letter_writer();
        let mut recorded = LetterRecorded::Stale;
        self.store()
            .in_tx(&w.tenant.clone(), "recording a breach letter", &mut |tx| {
                let fence = "tenant_id = $1 AND letter_id = $2 AND channel = $3 AND target = $4 AND attempts = $5 AND state = 'pending'";
                let mut params: Vec<Val> = vec![
                    w.tenant.as_str().into(),
                    mail.letter_id.as_str().into(),
                    EMAIL.into(),
                    mail.target.as_str().into(),
                    i64::from(mail.attempt).into(),
                ];
                let (sql, result, state, error) = match &outcome {
                    Ok(()) => {
                        params.push(now.as_microsecond().into());
                        (format!("UPDATE breach_deliveries SET state = 'delivered', delivered_at = $6, last_error = NULL, sealed = NULL WHERE {fence}"), LetterRecorded::Delivered, "delivered", None)
                    }
                    Err((Some(at), why)) => {
                        params.push(truncate(why).into());
                        params.push(at.as_microsecond().into());
                        (format!("UPDATE breach_deliveries SET last_error = $6, next_attempt_at = $7 WHERE {fence}"), LetterRecorded::Retry(*at), "pending", None)
                    }
                    Err((None, why)) => {
                        params.push(truncate(why).into());
                        (format!("UPDATE breach_deliveries SET state = 'dead', last_error = $6, sealed = NULL WHERE {fence}"), LetterRecorded::Dead, "dead", Some(truncate(why)))
                    }
                };
                if tx.execute(&sql, &params)? == 0 {
                    recorded = LetterRecorded::Stale;
                    return Ok(());
                }
                recorded = result;
                if state != "pending" {
                    let ev = Event::new(
                        &w.tenant,
                        &w.actor,
                        "breach.letter_delivery",
                        None,
                        serde_json::json!({
                            "breach_id": mail.breach_id,
                            "letter_id": mail.letter_id,
                            "kind": mail.kind.as_str(),
                            "channel": EMAIL,
                            "target": mail.target,
                            "state": state,
                            "attempts": mail.attempt,
                            "error": error,
                        }),
                    );
                    tx.append_audit(&mut |head| {
                        custos_audit::build(head, std::slice::from_ref(&ev), now, &w.key, AUDIT_CHECKPOINT_EVERY)
                    })?;
                }
                Ok(())
            })?;
        Ok(recorded)
    }

    /// Gives the deadline reminders due at `now` for this tenant's open breaches whose authority
    /// (as processor: whose controller) was not told yet and that no one decided to leave
    /// unnotified: `hours` before the deadline for each threshold of `hours`, and once more when
    /// it passed. Each threshold once per breach; when several are due at once (Custos was down)
    /// only the most urgent is sent. Sent to the application's webhook when it has one (type
    /// `breach.deadline`, signed and retried like every event); recorded either way, with
    /// `breach.reminded` in the trail.
    pub fn remind_breach_deadlines(
        &mut self,
        now: Timestamp,
        hours: &[u32],
    ) -> Result<Vec<Reminder>> {
        let w = self.letter_writer();
        let mut out = Vec::new();
        let widest = i64::from(hours.iter().copied().max().unwrap_or(0));
        let horizon = now
            .checked_add(jiff::SignedDuration::from_hours(widest))
            .unwrap_or(Timestamp::MAX)
            .as_microsecond();
        self.store()
            .in_tx(&w.tenant.clone(), "reminding of breach deadlines", &mut |tx| {
                out.clear();
                let t = w.tenant.as_str();
                // Every server's timer reminds: a breach another is reminding right now (it holds
                // the row) is left to it, so the reminder is queued once and no one fails on its key.
                let lock = tx.for_update_skip_locked();
                let open = tx.query(
                    &format!("SELECT breach_id, deadline_at, record FROM breaches WHERE tenant_id = $1 AND closed_at IS NULL AND authority_notified_at IS NULL AND deadline_at <= $2 ORDER BY deadline_at{lock}"),
                    &[t.into(), horizon.into()],
                )?;
                if open.is_empty() {
                    return Ok(());
                }
                let webhook = hooked(tx, t)?;
                for r in open {
                    let mut it = r.into_iter();
                    let breach_id = it.next().and_then(Val::into_text).ok_or_else(|| corrupt("breach"))?;
                    let deadline_at = ts(it.next().and_then(|v| v.int())).ok_or_else(|| corrupt("deadline"))?;
                    let entry: Entry = it
                        .next()
                        .and_then(Val::into_text)
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .ok_or_else(|| corrupt("record"))?;
                    if entry.decision.as_ref().is_some_and(|d| !d.notify_authority) {
                        continue;
                    }
                    let given: Vec<i64> = tx
                        .query(
                            "SELECT hours_before FROM breach_reminders WHERE tenant_id = $1 AND breach_id = $2",
                            &[t.into(), breach_id.as_str().into()],
                        )?
                        .into_iter()
                        .filter_map(|r| r.first().and_then(Val::int))
                        .collect();
                    let left = deadline_at.as_microsecond() - now.as_microsecond();
                    let mut due: Vec<u32> = hours
                        .iter()
                        .copied()
                        .chain([0])
                        .filter(|h| left <= i64::from(*h) * 3_600_000_000)
                        .filter(|h| !given.contains(&i64::from(*h)))
                        .collect();
                    due.sort_unstable();
                    due.dedup();
                    let Some(&most_urgent) = due.first() else {
                        continue;
                    };
                    let notification = if webhook {
                        let id = random_id("ntf")?;
                        let body = serde_json::json!({
                            "id": id,
                            "type": "breach.deadline",
                            "tenant": t,
                            "occurred_at": now.to_string(),
                            "breach_id": breach_id,
                            "deadline_at": deadline_at.to_string(),
                            "hours_before": most_urgent,
                            "passed": left <= 0,
                            "article": "Art. 33(1) GDPR",
                        });
                        queue_for_app(tx, t, &id, &body, now)?;
                        Some(id)
                    } else {
                        None
                    };
                    for h in &due {
                        tx.execute(
                            "INSERT INTO breach_reminders (tenant_id, breach_id, hours_before, sent_at, notification_id) VALUES ($1, $2, $3, $4, $5)",
                            &[t.into(), breach_id.as_str().into(), i64::from(*h).into(), now.as_microsecond().into(), notification.clone().into()],
                        )?;
                    }
                    out.push(Reminder { breach_id, hours_before: most_urgent, deadline_at, webhook: notification.is_some() });
                }
                if !out.is_empty() {
                    let events: Vec<Event> = out
                        .iter()
                        .map(|r| {
                            Event::new(t, &w.actor, "breach.reminded", None, serde_json::json!({
                                "breach_id": r.breach_id,
                                "hours_before": r.hours_before,
                                "deadline_at": r.deadline_at.to_string(),
                                "webhook": r.webhook,
                            }))
                        })
                        .collect();
                    tx.append_audit(&mut |head| {
                        custos_audit::build(head, &events, now, &w.key, AUDIT_CHECKPOINT_EVERY)
                    })?;
                }
                Ok(())
            })?;
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_letter(
    tx: &mut dyn Tx,
    tenant: &str,
    letter_id: &str,
    breach_id: &str,
    kind: LetterKind,
    letter: &Outgoing,
    reference: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO breach_letters (tenant_id, letter_id, breach_id, kind, lang, subject, body, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            tenant.into(),
            letter_id.into(),
            breach_id.into(),
            kind.as_str().into(),
            letter.lang.as_str().into(),
            letter.subject.as_str().into(),
            letter.body.as_str().into(),
            reference.map(str::to_owned).into(),
            now.as_microsecond().into(),
        ],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_delivery(
    tx: &mut dyn Tx,
    tenant: &str,
    letter_id: &str,
    breach_id: &str,
    kind: LetterKind,
    channel: &str,
    target: &str,
    sealed: Option<Vec<u8>>,
    state: &str,
    notification_id: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO breach_deliveries (tenant_id, letter_id, breach_id, kind, channel, target, sealed, state, attempts, next_attempt_at, last_error, created_at, delivered_at, notification_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, NULL, $9, NULL, $10)",
        &[
            tenant.into(),
            letter_id.into(),
            breach_id.into(),
            kind.as_str().into(),
            channel.into(),
            target.into(),
            Val::Bytes(sealed),
            state.into(),
            now.as_microsecond().into(),
            notification_id.map(str::to_owned).into(),
        ],
    )?;
    Ok(())
}

fn deliveries_in(tx: &mut dyn Tx, tenant: &str, letter_id: &str) -> Result<Vec<Delivery>> {
    tx.query(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM breach_deliveries d {WITH_OUTBOX} \
             WHERE d.tenant_id = $1 AND d.letter_id = $2 ORDER BY d.channel, d.target"
        ),
        &[tenant.into(), letter_id.into()],
    )?
    .into_iter()
    .map(|r| delivery_of(r).map_err(into_vault))
    .collect()
}
