//! Announcements of new sub-processors and material policy changes (PRODUCT.md C7; issue 21).
//!
//! A server serves one policy to every tenant, and every version it starts with is recorded
//! ([`crate::policy_versions`]). When a version differs from the one before it in a way that
//! must be announced — a material change (Art. 13(3), 14(4) GDPR), a new or replaced
//! sub-processor (Art. 28(2), (4); SCC 2021/915 clause 7.7(a)), or a new statement customers
//! must accept at their next login — one [`Announcement`] is recorded for the pair of versions
//! ([`Vault::announce`]; idempotent by the pair of fingerprints). It holds what changed (the
//! items of [`custos_policy::diff`], never personal data), when it was published and when it
//! takes effect: publication plus the notice period the policy's `[notice]` sets. A tenant
//! whose contract promises a longer notice has it as a stored setting
//! ([`TenantVault::set_contract_notice`]); for that tenant the change takes effect later.
//!
//! Per tenant:
//!
//! - **Delivery** to the tenant's contacts ([`TenantVault::set_announcement_contacts`]) by
//!   e-mail, and to the tenant's application by its signed webhook (`PUT /v1/app/webhook`),
//!   through the same notifications outbox as the Art. 19 notices (same signature, retries and
//!   dead letters; the body's `type` is `announcement.published`). Each (channel, target) has a
//!   delivery record; an e-mail that cannot be sent is tried again on the webhook backoff and
//!   the failure is recorded, never dropped ([`TenantVault::claim_announcement_mail`],
//!   [`TenantVault::record_announcement_mail`]).
//! - **Objections** ([`TenantVault::object_to_announcement`]) until the change takes effect for
//!   the tenant; after that, refused with [`AnnouncementError::ObjectionClosed`].
//! - **Enforcement** ([`Board::recipient_refusal`]): a recipient announced as new receives no
//!   data before the change takes effect, and never from a tenant whose objection is open. The
//!   [`Board`] is everything that check needs, loaded once ([`Vault::announcement_board`]) and
//!   held in memory, so the decision call makes no query for it.
//!
//! Announcements, contacts, objections and the publication are audited; the audit entries name
//! announcement ids, counts and lengths, never an address or an objection's text.

use std::collections::{BTreeMap, BTreeSet};

use custos_policy::Policy;
use custos_policy::diff::Kind;
use custos_policy::model::Acceptance;
use custos_policy::period::Period;
use jiff::Timestamp;
use serde::Serialize;

use crate::error::VaultError;
use crate::policy_versions::policy_fingerprint;
use crate::recipients::random_id;
use crate::store::{NO_TENANT, Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, TenantVault, Vault};

/// The channel of a delivery by e-mail.
pub const EMAIL: &str = "email";
/// The channel of a delivery by the tenant application's webhook.
pub const WEBHOOK: &str = "webhook";
/// The most contact addresses a tenant may give.
pub const MAX_CONTACTS: usize = 20;
/// The longest objection reason, in characters.
pub const MAX_REASON: usize = 2000;

/// The `type` of the webhook body that carries an announcement.
pub const WEBHOOK_TYPE: &str = "announcement.published";

/// Why an announcement call was refused. No message carries an address or an objection's text.
#[derive(Debug, thiserror::Error)]
pub enum AnnouncementError {
    /// No announcement with this id.
    #[error("no announcement `{0}`; list them with GET /v1/announcements or /announcements.json")]
    NotFound(String),
    /// The change took effect for this tenant: the time to object has passed.
    #[error(
        "announcement `{id}` took effect for this tenant at {effective_at}; objections are taken until then (Art. 28(2) GDPR, SCC clause 7.7(a)). Raise it with the provider under the contract instead"
    )]
    ObjectionClosed {
        /// The announcement.
        id: String,
        /// When it took effect for the tenant.
        effective_at: Timestamp,
    },
    /// The contact list cannot be used; the message says which entry (by position) and why.
    #[error("{0}")]
    InvalidContacts(String),
    /// The objection has no reason, or one too long.
    #[error("{0}")]
    InvalidReason(&'static str),
    /// The tenant has no open objection to this announcement.
    #[error("this tenant has no open objection to announcement `{0}`")]
    NoObjection(String),
    /// The contract notice is not a period or is zero.
    #[error("{0}")]
    InvalidNotice(String),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl AnnouncementError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            AnnouncementError::NotFound(_) | AnnouncementError::NoObjection(_) => {
                C::AnnouncementNotFound
            }
            AnnouncementError::ObjectionClosed { .. } => C::ObjectionClosed,
            AnnouncementError::InvalidContacts(_) => C::InvalidContacts,
            AnnouncementError::InvalidReason(_) => C::ReasonRequired,
            AnnouncementError::InvalidNotice(_) => C::Unprocessable,
            AnnouncementError::Vault(e) => e.code(),
        }
    }
}

/// The result type of this module.
pub type Result<T, E = AnnouncementError> = std::result::Result<T, E>;

fn corrupt(what: &str) -> AnnouncementError {
    VaultError::Corrupt(format!("unreadable {what} in the announcements")).into()
}

fn ts(micros: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(micros).map_err(|_| corrupt("time"))
}

/// One item of what changed, as the diff says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AnnouncedChange {
    /// `material` or `editorial`.
    pub kind: String,
    /// What part of the policy: `recipient`, `purpose`, `category`, `retention`, ….
    pub area: String,
    /// The id of the item (empty for singletons).
    pub id: String,
    /// In one sentence.
    pub what: String,
    /// Whether it adds or replaces a sub-processor.
    pub new_subprocessor: bool,
}

/// A change of the published policy that must be announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// Its id, `ann_` and 20 hex digits.
    pub announcement_id: String,
    /// The fingerprint of the version before.
    pub old_fingerprint: String,
    /// The fingerprint of the version announced.
    pub new_fingerprint: String,
    /// The version label before.
    pub old_version: Option<String>,
    /// The version label announced.
    pub new_version: Option<String>,
    /// When it was published (the server first ran with the new version).
    pub published_at: Timestamp,
    /// The notice period the policy sets for these changes (ISO 8601, e.g. `P30D`), if any.
    pub notice: Option<String>,
    /// When it takes effect under the policy's notice: `published_at + notice`. A tenant's
    /// contract may set a later date ([`Board::effective_for`]).
    pub effective_at: Timestamp,
    /// Whether customers must accept the new version at their next login.
    pub acceptance_at_next_login: bool,
    /// Recipients that are new (added, or replaced under the same id): they may receive data
    /// only from the effective date.
    pub new_recipients: Vec<String>,
    /// What changed, material first.
    pub changes: Vec<AnnouncedChange>,
}

impl Announcement {
    /// A title for feeds and e-mail, e.g. `Privacy statement 2.1: new sub-processor openai`.
    pub fn title(&self) -> String {
        let version = self
            .new_version
            .as_deref()
            .map_or_else(|| "new version".to_owned(), |v| format!("version {v}"));
        if self.new_recipients.is_empty() {
            let material = self.changes.iter().filter(|c| c.kind == "material").count();
            if material > 0 {
                format!("Privacy statement {version}: {material} material change(s)")
            } else {
                format!("Privacy statement {version}: to be accepted at next login")
            }
        } else {
            format!(
                "Privacy statement {version}: new recipient(s) {}",
                self.new_recipients.join(", ")
            )
        }
    }
}

/// What [`plan`] found must be announced between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The notice period, if the policy sets one for these changes.
    pub notice: Option<Period>,
    /// Customers accept the new version at their next login.
    pub acceptance_at_next_login: bool,
    /// New recipients.
    pub new_recipients: Vec<String>,
    /// Every change, material first.
    pub changes: Vec<AnnouncedChange>,
}

/// Whether going from `old` to `new` must be announced, and what: a material change, a new or
/// replaced sub-processor, or (where the policy asks customers to accept each new version at
/// their next login, Jet-Stream) a new version label. `None`: nothing to announce.
pub fn plan(old: &Policy, new: &Policy) -> Option<Plan> {
    let report = custos_policy::diff::diff(old, new);
    let new_subprocessor = report.changes.iter().any(|c| c.new_subprocessor);
    let relabelled = new.meta.version.is_some() && new.meta.version != old.meta.version;
    let acceptance = new.notice.acceptance == Acceptance::NextLogin;
    if !(report.material || new_subprocessor || (acceptance && relabelled)) {
        return None;
    }
    let mut new_recipients: BTreeSet<String> = new
        .recipients
        .iter()
        .filter(|r| old.recipient(&r.id).is_none())
        .map(|r| r.id.clone())
        .collect();
    new_recipients.extend(
        report
            .changes
            .iter()
            .filter(|c| c.new_subprocessor && c.area == "recipient")
            .map(|c| c.id.clone()),
    );
    Some(Plan {
        notice: report.notice.as_ref().and_then(|n| n.period),
        acceptance_at_next_login: acceptance && (relabelled || report.material),
        new_recipients: new_recipients.into_iter().collect(),
        changes: report
            .changes
            .iter()
            .map(|c| AnnouncedChange {
                kind: match c.kind {
                    Kind::Material => "material".into(),
                    Kind::Editorial => "editorial".into(),
                },
                area: c.area.to_owned(),
                id: c.id.clone(),
                what: c.what.clone(),
                new_subprocessor: c.new_subprocessor,
            })
            .collect(),
    })
}

/// `from + period`, counted in calendar units in UTC ("1 month" is a calendar month); the
/// latest representable time if it overflows.
pub fn after(from: Timestamp, period: Option<&Period>) -> Timestamp {
    match period {
        None => from,
        Some(p) => from
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(p.span())
            .map_or(Timestamp::MAX, |z| z.timestamp()),
    }
}

/// The tenant's announcement settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Where announcements are e-mailed.
    pub contacts: Vec<String>,
    /// The notice the tenant's contract sets, when longer than the policy's (ISO 8601).
    pub contract_notice: Option<String>,
}

/// A tenant's objection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Objection {
    /// The announcement objected to.
    pub announcement_id: String,
    /// The reason the tenant gave.
    pub reason: String,
    /// When.
    pub objected_at: Timestamp,
    /// Who (the key or account id).
    pub objected_by: String,
    /// `open`, or `withdrawn` with the time.
    pub state: &'static str,
    /// When it was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<Timestamp>,
}

/// One delivery of an announcement to a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// `email` or `webhook`.
    pub channel: String,
    /// The address (an announcement's e-mail) or its keyed digest (a breach letter's: the
    /// record does not keep the address), `@app` (webhook), or empty when the channel is not
    /// configured.
    pub target: String,
    /// `pending`, `delivered`, `dead` (every attempt failed) or `not_configured` (no contacts,
    /// no webhook: nobody could be told this way).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
}

/// An announcement as one tenant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantAnnouncement {
    /// The announcement.
    #[serde(flatten)]
    pub announcement: Announcement,
    /// When it takes effect for this tenant (its contract's notice counted).
    pub effective_for_tenant: Timestamp,
    /// `in_notice` (objections taken) or `in_effect`.
    pub state: &'static str,
    /// The tenant's objection, if it made one.
    pub objection: Option<Objection>,
    /// How it was delivered to the tenant.
    pub deliveries: Vec<Delivery>,
}

/// Why a recipient may not receive data now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule")]
pub enum Refusal {
    /// Announced as new; the notice period has not run for this tenant.
    #[serde(rename = "recipient.in_notice")]
    InNotice {
        /// The recipient.
        recipient: String,
        /// The announcement.
        announcement_id: String,
        /// When it takes effect for the tenant.
        effective_at: Timestamp,
    },
    /// The tenant objected to the announcement that made it a recipient.
    #[serde(rename = "recipient.objected")]
    Objected {
        /// The recipient.
        recipient: String,
        /// The announcement.
        announcement_id: String,
    },
}

impl Refusal {
    /// The stable rule name (`recipient.in_notice`, `recipient.objected`).
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::InNotice { .. } => "recipient.in_notice",
            Refusal::Objected { .. } => "recipient.objected",
        }
    }

    /// The article applied.
    pub fn article(&self) -> &'static str {
        "Art. 28(2) GDPR; SCC 2021/915 clause 7.7(a)"
    }

    /// In one sentence.
    pub fn detail(&self) -> String {
        match self {
            Refusal::InNotice {
                recipient,
                announcement_id,
                effective_at,
            } => format!(
                "recipient `{recipient}` was announced as new ({announcement_id}) and may receive data from {effective_at}, when the notice period ends"
            ),
            Refusal::Objected {
                recipient,
                announcement_id,
            } => format!(
                "this tenant objected to announcement {announcement_id}, which made `{recipient}` a recipient; no data goes to it while the objection is open"
            ),
        }
    }
}

/// Everything the recipient check needs, held in memory: every announcement, each tenant's
/// contract notice and open objections.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Every announcement, newest first.
    pub announcements: Vec<Announcement>,
    contract: BTreeMap<String, Period>,
    objections: BTreeMap<String, BTreeSet<String>>,
}

impl Board {
    /// A board of these facts (for tests and tools; the server loads it from the vault).
    pub fn new(
        announcements: Vec<Announcement>,
        contract: BTreeMap<String, Period>,
        objections: BTreeMap<String, BTreeSet<String>>,
    ) -> Board {
        let mut announcements = announcements;
        announcements.sort_by(|a, b| {
            b.published_at
                .cmp(&a.published_at)
                .then_with(|| b.announcement_id.cmp(&a.announcement_id))
        });
        Board {
            announcements,
            contract,
            objections,
        }
    }

    /// When `a` takes effect for `tenant`: the policy's date, or later where the tenant's
    /// contract sets a longer notice.
    pub fn effective_for(&self, a: &Announcement, tenant: &str) -> Timestamp {
        effective_for(a, self.contract.get(tenant))
    }

    /// Whether `tenant` may disclose data to `recipient` at `now`; `Some` says why not. An
    /// open objection comes first: it holds after the effective date too.
    pub fn recipient_refusal(
        &self,
        tenant: &str,
        recipient: &str,
        now: Timestamp,
    ) -> Option<Refusal> {
        let mut in_notice = None;
        for a in &self.announcements {
            if !a.new_recipients.iter().any(|r| r == recipient) {
                continue;
            }
            if self
                .objections
                .get(tenant)
                .is_some_and(|o| o.contains(&a.announcement_id))
            {
                return Some(Refusal::Objected {
                    recipient: recipient.to_owned(),
                    announcement_id: a.announcement_id.clone(),
                });
            }
            let effective_at = self.effective_for(a, tenant);
            if now < effective_at && in_notice.is_none() {
                in_notice = Some(Refusal::InNotice {
                    recipient: recipient.to_owned(),
                    announcement_id: a.announcement_id.clone(),
                    effective_at,
                });
            }
        }
        in_notice
    }
}

fn effective_for(a: &Announcement, contract: Option<&Period>) -> Timestamp {
    let by_contract = contract.map(|p| after(a.published_at, Some(p)));
    by_contract.map_or(a.effective_at, |c| c.max(a.effective_at))
}

/// The e-mail that tells a tenant's contacts of `a`: subject and plain text, in English with a
/// Dutch opening where the statement is Dutch. No personal data: the changes and dates only.
pub fn mail_text(
    a: &Announcement,
    effective_for_tenant: Timestamp,
    statement_url: Option<&str>,
) -> (String, String) {
    let date = |t: Timestamp| t.strftime("%Y-%m-%d").to_string();
    let subject = a.title();
    let mut body = String::new();
    body.push_str(&format!(
        "Dit is een aankondiging van een wijziging van de privacyverklaring. Zij gaat in op {}.\n\n",
        date(effective_for_tenant)
    ));
    body.push_str(&format!(
        "This announces a change of the privacy statement, published on {}. It takes effect on {}.\n",
        date(a.published_at),
        date(effective_for_tenant)
    ));
    if let Some(n) = &a.notice {
        body.push_str(&format!("Notice period: {n}.\n"));
    }
    body.push_str("\nWhat changes:\n");
    for c in &a.changes {
        body.push_str(&format!("- [{}] {}\n", c.kind, c.what));
    }
    if !a.new_recipients.is_empty() {
        body.push_str(&format!(
            "\nNew recipients receive no data before {}. You may object until then (Art. 28(2) GDPR; SCC clause 7.7(a)): POST /v1/announcements/{}/objections with a DPO key.\n",
            date(effective_for_tenant),
            a.announcement_id
        ));
    }
    if a.acceptance_at_next_login {
        body.push_str("\nCustomers are asked to accept the new version at their next login.\n");
    }
    if let Some(url) = statement_url {
        body.push_str(&format!("\nThe statement: {url}\n"));
    }
    body.push_str(&format!("\nAnnouncement: {}\n", a.announcement_id));
    (subject, body)
}

/// The next column of a row as text (`None` for NULL); an error when the row is short.
fn text(it: &mut std::vec::IntoIter<Val>) -> Result<Option<String>> {
    it.next()
        .ok_or_else(|| corrupt("announcement"))
        .map(Val::into_text)
}

/// Writes one setting in a tenant's transaction; returns the audit action and details.
type SettingWrite<'a> =
    dyn FnMut(&mut dyn Tx, &str) -> crate::Result<(&'static str, serde_json::Value)> + 'a;

const COLUMNS: &str = "announcement_id, old_fingerprint, new_fingerprint, old_version, new_version, published_at, notice, effective_at, acceptance, new_recipients, changes";

fn announcement_row(r: Vec<Val>) -> Result<Announcement> {
    let mut it = r.into_iter();
    let announcement_id = text(&mut it)?.ok_or_else(|| corrupt("announcement id"))?;
    let old_fingerprint = text(&mut it)?.ok_or_else(|| corrupt("fingerprint"))?;
    let new_fingerprint = text(&mut it)?.ok_or_else(|| corrupt("fingerprint"))?;
    let old_version = text(&mut it)?;
    let new_version = text(&mut it)?;
    let published_at = ts(it
        .next()
        .and_then(|v| v.int())
        .ok_or_else(|| corrupt("time"))?)?;
    let notice = it.next().and_then(Val::into_text);
    let effective_at = ts(it
        .next()
        .and_then(|v| v.int())
        .ok_or_else(|| corrupt("time"))?)?;
    let acceptance = it.next().and_then(|v| v.int()).unwrap_or(0) != 0;
    let new_recipients: Vec<String> =
        serde_json::from_str(it.next().as_ref().and_then(Val::text).unwrap_or_default())
            .map_err(|_| corrupt("recipients"))?;
    let changes: Vec<AnnouncedChange> =
        serde_json::from_str(it.next().as_ref().and_then(Val::text).unwrap_or_default())
            .map_err(|_| corrupt("changes"))?;
    Ok(Announcement {
        announcement_id,
        old_fingerprint,
        new_fingerprint,
        old_version,
        new_version,
        published_at,
        notice,
        effective_at,
        acceptance_at_next_login: acceptance,
        new_recipients,
        changes,
    })
}

fn all_in(tx: &mut dyn Tx) -> Result<Vec<Announcement>> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM announcements ORDER BY published_at DESC, announcement_id DESC"
        ),
        &[],
    )?
    .into_iter()
    .map(announcement_row)
    .collect()
}

fn parse_notice(stored: Option<String>) -> Option<Period> {
    stored.and_then(|s| Period::parse(&s).ok())
}

/// The tenant's settings, inside its transaction.
pub(crate) fn settings_in(tx: &mut dyn Tx, tenant: &str) -> Result<Settings> {
    let row = tx
        .query(
            "SELECT contacts, contract_notice FROM announcement_settings WHERE tenant_id = $1",
            &[tenant.into()],
        )?
        .into_iter()
        .next();
    let Some(row) = row else {
        return Ok(Settings::default());
    };
    let mut it = row.into_iter();
    let contacts: Vec<String> =
        serde_json::from_str(it.next().as_ref().and_then(Val::text).unwrap_or("[]"))
            .map_err(|_| corrupt("contacts"))?;
    Ok(Settings {
        contacts,
        contract_notice: it.next().and_then(Val::into_text),
    })
}

/// Queues what is still missing of the deliveries of `a` to `tenant`, inside its transaction:
/// one e-mail per contact, one webhook event when the application has a webhook, and a
/// `not_configured` record for a channel with nobody to tell. Returns how many were queued.
fn queue_deliveries_in(
    tx: &mut dyn Tx,
    tenant: &str,
    a: &Announcement,
    settings: &Settings,
    now: Timestamp,
) -> Result<usize> {
    let now_us = now.as_microsecond();
    let insert = "INSERT INTO announcement_deliveries (tenant_id, announcement_id, channel, target, state, attempts, next_attempt_at, last_error, created_at, delivered_at, notification_id) \
                  VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, $6, NULL, $7) ON CONFLICT (tenant_id, announcement_id, channel, target) DO NOTHING";
    let mut queued = 0;
    if settings.contacts.is_empty() {
        tx.execute(
            insert,
            &[
                tenant.into(),
                a.announcement_id.as_str().into(),
                EMAIL.into(),
                "".into(),
                "not_configured".into(),
                now_us.into(),
                Option::<String>::None.into(),
            ],
        )?;
    } else {
        tx.execute(
            "DELETE FROM announcement_deliveries WHERE tenant_id = $1 AND announcement_id = $2 AND channel = $3 AND state = 'not_configured'",
            &[tenant.into(), a.announcement_id.as_str().into(), EMAIL.into()],
        )?;
        for c in &settings.contacts {
            queued += tx.execute(
                insert,
                &[
                    tenant.into(),
                    a.announcement_id.as_str().into(),
                    EMAIL.into(),
                    c.as_str().into(),
                    "pending".into(),
                    now_us.into(),
                    Option::<String>::None.into(),
                ],
            )? as usize;
        }
    }
    let has_webhook = crate::app_events::hooked(tx, tenant)?;
    let webhook_queued = !tx
        .query(
            "SELECT 1 FROM announcement_deliveries WHERE tenant_id = $1 AND announcement_id = $2 AND channel = $3 AND state <> 'not_configured'",
            &[tenant.into(), a.announcement_id.as_str().into(), WEBHOOK.into()],
        )?
        .is_empty();
    if has_webhook && !webhook_queued {
        tx.execute(
            "DELETE FROM announcement_deliveries WHERE tenant_id = $1 AND announcement_id = $2 AND channel = $3",
            &[tenant.into(), a.announcement_id.as_str().into(), WEBHOOK.into()],
        )?;
        let id = random_id("ntf")?;
        let effective = effective_for(a, parse_notice(settings.contract_notice.clone()).as_ref());
        let body = serde_json::json!({
            "id": id,
            "type": WEBHOOK_TYPE,
            "action": "announcement",
            "tenant": tenant,
            "occurred_at": now.to_string(),
            "announcement_id": a.announcement_id,
            "title": a.title(),
            "published_at": a.published_at.to_string(),
            "effective_at": effective.to_string(),
            "new_version": a.new_version,
            "acceptance_at_next_login": a.acceptance_at_next_login,
            "new_recipients": a.new_recipients,
            "changes": a.changes,
        });
        crate::app_events::queue_for_app(tx, tenant, &id, &body, now)?;
        tx.execute(
            insert,
            &[
                tenant.into(),
                a.announcement_id.as_str().into(),
                WEBHOOK.into(),
                crate::app_events::APP.into(),
                "pending".into(),
                now_us.into(),
                Some(id).into(),
            ],
        )?;
        queued += 1;
    } else if !has_webhook && !webhook_queued {
        tx.execute(
            insert,
            &[
                tenant.into(),
                a.announcement_id.as_str().into(),
                WEBHOOK.into(),
                "".into(),
                "not_configured".into(),
                now_us.into(),
                Option::<String>::None.into(),
            ],
        )?;
    }
    Ok(queued)
}

/// Checks a contact address: an e-mail address of at most 254 characters, with one `@`, a dot in
/// the domain, no spaces or control characters. The reason never repeats the address.
pub(crate) fn check_address(a: &str) -> std::result::Result<(), &'static str> {
    if a.is_empty() || a.chars().count() > 254 {
        return Err("empty or longer than 254 characters");
    }
    if a.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters");
    }
    let Some((local, domain)) = a.split_once('@') else {
        return Err("is not an e-mail address (no `@`)");
    };
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.ends_with('.') {
        return Err("is not an e-mail address (`name@domain.tld`)");
    }
    Ok(())
}

impl Vault {
    /// Records the announcement of going from `old` to `new` (policies with their texts'
    /// fingerprints, [`policy_fingerprint`]) at `now`, if [`plan`] says it must be announced;
    /// idempotent by the pair of fingerprints (a second call returns the first record, `now`
    /// ignored). A new announcement is queued for delivery to every tenant of the vault in the
    /// same run, and audited (platform-wide under tenant `-`, and in each tenant's trail).
    pub fn announce(
        &mut self,
        old: (&Policy, &str),
        new: (&Policy, &str),
        now: Timestamp,
    ) -> Result<Option<Announcement>> {
        if old.1 == new.1 {
            return Ok(None);
        }
        let Some(plan) = plan(old.0, new.0) else {
            return Ok(None);
        };
        let candidate = Announcement {
            announcement_id: random_id("ann")?,
            old_fingerprint: old.1.to_owned(),
            new_fingerprint: new.1.to_owned(),
            old_version: old.0.meta.version.clone(),
            new_version: new.0.meta.version.clone(),
            published_at: now,
            notice: plan.notice.map(|p| p.iso()),
            effective_at: after(now, plan.notice.as_ref()),
            acceptance_at_next_login: plan.acceptance_at_next_login,
            new_recipients: plan.new_recipients,
            changes: plan.changes,
        };
        let recipients_json =
            serde_json::to_string(&candidate.new_recipients).map_err(|_| corrupt("recipients"))?;
        let changes_json =
            serde_json::to_string(&candidate.changes).map_err(|_| corrupt("changes"))?;
        let mut stored: Option<(Announcement, bool)> = None;
        self.store
            .in_tx(NO_TENANT, "recording an announcement", &mut |tx| {
                let n = tx.execute(
                    &format!("INSERT INTO announcements ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (old_fingerprint, new_fingerprint) DO NOTHING"),
                    &[
                        candidate.announcement_id.as_str().into(),
                        candidate.old_fingerprint.as_str().into(),
                        candidate.new_fingerprint.as_str().into(),
                        candidate.old_version.clone().into(),
                        candidate.new_version.clone().into(),
                        candidate.published_at.as_microsecond().into(),
                        candidate.notice.clone().into(),
                        candidate.effective_at.as_microsecond().into(),
                        i64::from(candidate.acceptance_at_next_login).into(),
                        recipients_json.as_str().into(),
                        changes_json.as_str().into(),
                    ],
                )?;
                let row = tx
                    .query(
                        &format!("SELECT {COLUMNS} FROM announcements WHERE old_fingerprint = $1 AND new_fingerprint = $2"),
                        &[old.1.into(), new.1.into()],
                    )?
                    .into_iter()
                    .next()
                    .ok_or_else(|| VaultError::Corrupt("an announcement just recorded".into()))?;
                stored = Some((announcement_row(row).map_err(into_vault)?, n == 1));
                Ok(())
            })?;
        let (a, created) = stored.ok_or_else(|| corrupt("announcement"))?;
        if created {
            // The platform's own entry; each tenant's trail gets its own as it is queued.
            let ev = custos_audit::Event::new(
                "-",
                "custos",
                "announcements.published",
                None,
                serde_json::json!({
                    "announcement_id": a.announcement_id,
                    "old_version": a.old_version,
                    "new_version": a.new_version,
                    "effective_at": a.effective_at,
                    "new_recipients": a.new_recipients,
                    "changes": a.changes.len(),
                }),
            );
            self.append_audit(std::slice::from_ref(&ev), now)?;
            for tenant in self.tenant_ids()? {
                let Ok(id) = crate::TenantId::new(&tenant) else {
                    continue;
                };
                self.tenant(&id).queue_announcement(&a, now)?;
            }
        }
        Ok(Some(a))
    }

    /// Announces the published policy `current` (its text `current_text`) against the version
    /// published before it, as recorded in [`crate::policy_versions`]: what a server calls after
    /// recording the version it starts with. `None` when it is the first version, when nothing
    /// must be announced, or when the earlier text no longer loads (it is then left alone; the
    /// caller may log it).
    pub fn announce_published(
        &mut self,
        current: &Policy,
        current_text: &str,
        now: Timestamp,
    ) -> Result<Option<Announcement>> {
        let fingerprint = policy_fingerprint(current_text);
        let versions = self.policy_versions()?;
        let Some(at) = versions.iter().position(|v| v.fingerprint == fingerprint) else {
            return Ok(None);
        };
        let Some(previous) = at.checked_sub(1).map(|i| &versions[i]) else {
            return Ok(None);
        };
        let Some(text) = self.policy_text(&previous.fingerprint)? else {
            return Ok(None);
        };
        let Ok(old) = custos_policy::load_source(custos_policy::SourceFile::new(
            "previous.toml",
            text.as_str(),
        )) else {
            return Ok(None);
        };
        self.announce(
            (&old.policy, &previous.fingerprint),
            (current, &fingerprint),
            now,
        )
    }

    /// The recipients of `policy` the tenants were never told of (Art. 28(2) GDPR; Clause
    /// 7.7(a) of the standard contractual clauses, Decision (EU) 2021/915): neither in the first
    /// published version (what the tenants signed up to) nor new in any announcement, in the
    /// policy's order. Before any version was published there is nothing to compare with: none.
    pub fn unannounced_recipients(&mut self, policy: &Policy) -> Result<Vec<String>> {
        let versions = self.policy_versions()?;
        let Some(first) = versions.first() else {
            return Ok(Vec::new());
        };
        let text = self
            .policy_text(&first.fingerprint)?
            .ok_or_else(|| corrupt("the first published policy's text"))?;
        let baseline = custos_policy::load_source(custos_policy::SourceFile::new(
            "first-published.toml",
            text.as_str(),
        ))
        .map_err(|_| corrupt("the first published policy"))?;
        let announced = self.announcements()?;
        Ok(policy
            .recipients
            .iter()
            .map(|r| r.id.clone())
            .filter(|id| baseline.policy.recipient(id).is_none())
            .filter(|id| !announced.iter().any(|a| a.new_recipients.contains(id)))
            .collect())
    }

    /// Every announcement, newest first.
    pub fn announcements(&mut self) -> Result<Vec<Announcement>> {
        let mut out = Vec::new();
        self.store
            .in_read_tx(NO_TENANT, "listing announcements", &mut |tx| {
                out = all_in(tx).map_err(into_vault)?;
                Ok(())
            })?;
        Ok(out)
    }

    /// The [`Board`]: every announcement with each tenant's contract notice and open
    /// objections, read tenant by tenant (each under its own row-level security).
    pub fn announcement_board(&mut self) -> Result<Board> {
        let announcements = self.announcements()?;
        let mut contract = BTreeMap::new();
        let mut objections = BTreeMap::new();
        if !announcements.is_empty() {
            for tenant in self.tenant_ids()? {
                let mut notice = None;
                let mut open = BTreeSet::new();
                self.store
                    .in_read_tx(&tenant, "reading announcement settings", &mut |tx| {
                        notice = tx
                            .query(
                                "SELECT contract_notice FROM announcement_settings WHERE tenant_id = $1",
                                &[tenant.as_str().into()],
                            )?
                            .into_iter()
                            .next()
                            .and_then(|r| r.into_iter().next())
                            .and_then(Val::into_text);
                        open = tx
                            .query(
                                "SELECT announcement_id FROM announcement_objections WHERE tenant_id = $1 AND withdrawn_at IS NULL",
                                &[tenant.as_str().into()],
                            )?
                            .into_iter()
                            .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
                            .collect();
                        Ok(())
                    })?;
                if let Some(p) = parse_notice(notice) {
                    contract.insert(tenant.clone(), p);
                }
                if !open.is_empty() {
                    objections.insert(tenant, open);
                }
            }
        }
        Ok(Board::new(announcements, contract, objections))
    }
}

pub(crate) fn into_vault(e: AnnouncementError) -> VaultError {
    match e {
        AnnouncementError::Vault(v) => v,
        other => VaultError::Corrupt(other.to_string()),
    }
}

/// An e-mail of an announcement due to be sent, claimed for one attempt.
#[derive(Debug, Clone)]
pub struct DueMail {
    /// The announcement.
    pub announcement: Announcement,
    /// When it takes effect for the tenant.
    pub effective_for_tenant: Timestamp,
    /// The address.
    pub to: String,
    /// This attempt's number (1 for the first); pass it back to
    /// [`TenantVault::record_announcement_mail`].
    pub attempt: u32,
}

/// What recording an e-mail attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRecorded {
    /// Sent.
    Delivered,
    /// Tried again at the given time.
    Retry(Timestamp),
    /// Every attempt failed: dead, listed with its error.
    Dead,
    /// The claim was stale: nothing recorded.
    Stale,
}

impl TenantVault<'_> {
    fn tenant_str(&self) -> String {
        self.tenant_id().as_str().to_owned()
    }

    /// Queues the deliveries of `a` to this tenant (see the module documentation) and audits
    /// it. Idempotent: what is queued already stays as it is.
    pub fn queue_announcement(&mut self, a: &Announcement, now: Timestamp) -> Result<usize> {
        let tenant = self.tenant_str();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut queued = 0;
        self.store()
            .in_tx(&tenant, "queueing an announcement", &mut |tx| {
                let settings = settings_in(tx, &tenant).map_err(into_vault)?;
                queued = queue_deliveries_in(tx, &tenant, a, &settings, now).map_err(into_vault)?;
                if queued > 0 {
                    let ev = custos_audit::Event::new(
                        &tenant,
                        &actor,
                        "announcements.queued",
                        None,
                        serde_json::json!({ "announcement_id": a.announcement_id, "deliveries": queued }),
                    );
                    tx.append_audit(&mut |head| {
                        custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY)
                    })?;
                }
                Ok(())
            })?;
        Ok(queued)
    }

    /// The tenant's settings.
    pub fn announcement_settings(&mut self) -> Result<Settings> {
        let tenant = self.tenant_str();
        let mut out = Settings::default();
        self.store()
            .in_read_tx(&tenant, "reading announcement settings", &mut |tx| {
                out = settings_in(tx, &tenant).map_err(into_vault)?;
                Ok(())
            })?;
        Ok(out)
    }

    /// Sets where this tenant's announcements are e-mailed (replacing the list; at most
    /// [`MAX_CONTACTS`], duplicates dropped, case kept), then queues e-mail to the new addresses
    /// for every announcement still in its notice period for the tenant. Audited with the count
    /// only. Returns the list stored.
    pub fn set_announcement_contacts(
        &mut self,
        addresses: &[String],
        now: Timestamp,
    ) -> Result<Vec<String>> {
        if addresses.len() > MAX_CONTACTS {
            return Err(AnnouncementError::InvalidContacts(format!(
                "{} addresses; at most {MAX_CONTACTS}",
                addresses.len()
            )));
        }
        let mut list: Vec<String> = Vec::new();
        for (i, a) in addresses.iter().enumerate() {
            let a = a.trim();
            check_address(a).map_err(|why| {
                AnnouncementError::InvalidContacts(format!("/addresses/{i} {why}"))
            })?;
            if !list.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                list.push(a.to_owned());
            }
        }
        let json = serde_json::to_string(&list).map_err(|_| corrupt("contacts"))?;
        self.write_settings("setting announcement contacts", now, &mut |tx, tenant| {
            tx.execute(
                "INSERT INTO announcement_settings (tenant_id, contacts, contract_notice, updated_at) VALUES ($1, $2, NULL, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET contacts = excluded.contacts, updated_at = excluded.updated_at",
                &[tenant.into(), json.as_str().into(), now.as_microsecond().into()],
            )?;
            Ok(("announcements.contacts.set", serde_json::json!({ "contacts": list.len() })))
        })?;
        Ok(list)
    }

    /// Sets the notice this tenant's contract promises before a change takes effect for it
    /// (`None`: the policy's own). Only a longer notice has an effect: the later date counts.
    /// Audited.
    pub fn set_contract_notice(&mut self, notice: Option<&str>, now: Timestamp) -> Result<()> {
        let period = match notice {
            None => None,
            Some(text) => {
                let p = Period::parse(text)
                    .map_err(|e| AnnouncementError::InvalidNotice(e.to_string()))?;
                if p.is_zero() {
                    return Err(AnnouncementError::InvalidNotice(
                        "a contract notice of zero changes nothing; leave it out".into(),
                    ));
                }
                Some(p.iso())
            }
        };
        self.write_settings("setting a contract notice", now, &mut |tx, tenant| {
            tx.execute(
                "INSERT INTO announcement_settings (tenant_id, contacts, contract_notice, updated_at) VALUES ($1, '[]', $2, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET contract_notice = excluded.contract_notice, updated_at = excluded.updated_at",
                &[tenant.into(), period.clone().into(), now.as_microsecond().into()],
            )?;
            Ok(("announcements.contract_notice.set", serde_json::json!({ "contract_notice": period })))
        })
    }

    /// Writes a setting with `work` (which returns the audit action and details), registers the
    /// tenant, requeues deliveries of the announcements still in notice for it, and audits.
    fn write_settings(
        &mut self,
        operation: &'static str,
        now: Timestamp,
        work: &mut SettingWrite<'_>,
    ) -> Result<()> {
        let tenant = self.tenant_str();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        self.store().in_tx(&tenant, operation, &mut |tx| {
            // Registers the tenant, so announcements published later reach it.
            tx.execute(
                "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), now.as_microsecond().into()],
            )?;
            let (action, details) = work(tx, &tenant)?;
            let settings = settings_in(tx, &tenant).map_err(into_vault)?;
            let contract = parse_notice(settings.contract_notice.clone());
            let mut queued = 0;
            for a in all_in(tx).map_err(into_vault)? {
                if now < effective_for(&a, contract.as_ref()) {
                    queued += queue_deliveries_in(tx, &tenant, &a, &settings, now)
                        .map_err(into_vault)?;
                }
            }
            let mut details = details;
            details["deliveries_queued"] = queued.into();
            let ev = custos_audit::Event::new(&tenant, &actor, action, None, details);
            tx.append_audit(&mut |head| {
                custos_audit::build(
                    head,
                    std::slice::from_ref(&ev),
                    now,
                    &key,
                    AUDIT_CHECKPOINT_EVERY,
                )
            })
        })?;
        Ok(())
    }

    /// Records this tenant's objection to announcement `id` with `reason` (1–2000 characters),
    /// refused once the change took effect for the tenant. Objecting again while an objection is
    /// open returns it unchanged (`false`); after a withdrawal it opens again. Audited with the
    /// reason's length, never its text.
    pub fn object_to_announcement(
        &mut self,
        id: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(Objection, bool)> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AnnouncementError::InvalidReason(
                "an objection needs its reason (Art. 28(2) GDPR: the objection is to be reasoned)",
            ));
        }
        if reason.chars().count() > MAX_REASON {
            return Err(AnnouncementError::InvalidReason(
                "the reason is longer than 2000 characters",
            ));
        }
        let tenant = self.tenant_str();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let (mut done, mut refused) = (None, None);
        self.store()
            .in_tx(&tenant, "recording an objection", &mut |tx| {
                match object_in(tx, &tenant, &actor, &key, id, reason, now) {
                    Ok(o) => done = Some(o),
                    Err(AnnouncementError::Vault(v)) => return Err(v),
                    // Refused before anything was written.
                    Err(other) => refused = Some(other),
                }
                Ok(())
            })?;
        if let Some(e) = refused {
            return Err(e);
        }
        done.ok_or_else(|| corrupt("objection"))
    }

    /// Withdraws this tenant's open objection to announcement `id`. Audited.
    pub fn withdraw_objection(&mut self, id: &str, now: Timestamp) -> Result<Objection> {
        let tenant = self.tenant_str();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut out = None;
        self.store()
            .in_tx(&tenant, "withdrawing an objection", &mut |tx| {
                let n = tx.execute(
                    "UPDATE announcement_objections SET withdrawn_at = $3 WHERE tenant_id = $1 AND announcement_id = $2 AND withdrawn_at IS NULL",
                    &[tenant.as_str().into(), id.into(), now.as_microsecond().into()],
                )?;
                if n == 0 {
                    return Ok(());
                }
                let ev = custos_audit::Event::new(&tenant, &actor, "announcements.objection.withdrawn", None,
                    serde_json::json!({ "announcement_id": id }));
                tx.append_audit(&mut |head| custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY))?;
                out = objection_in(tx, &tenant, id).map_err(into_vault)?;
                Ok(())
            })?;
        out.ok_or_else(|| AnnouncementError::NoObjection(id.to_owned()))
    }

    /// Every announcement as this tenant sees it at `now`, newest first: its effective date for
    /// the tenant, the state, the tenant's objection and the deliveries.
    pub fn announcements_for_tenant(&mut self, now: Timestamp) -> Result<Vec<TenantAnnouncement>> {
        let tenant = self.tenant_str();
        let mut out = Vec::new();
        self.store()
            .in_read_tx(&tenant, "listing a tenant's announcements", &mut |tx| {
                out.clear();
                let settings = settings_in(tx, &tenant).map_err(into_vault)?;
                let contract = parse_notice(settings.contract_notice);
                for a in all_in(tx).map_err(into_vault)? {
                    let effective = effective_for(&a, contract.as_ref());
                    let objection =
                        objection_in(tx, &tenant, &a.announcement_id).map_err(into_vault)?;
                    let deliveries =
                        deliveries_in(tx, &tenant, &a.announcement_id).map_err(into_vault)?;
                    out.push(TenantAnnouncement {
                        state: if now < effective {
                            "in_notice"
                        } else {
                            "in_effect"
                        },
                        effective_for_tenant: effective,
                        announcement: a,
                        objection,
                        deliveries,
                    });
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// Claims up to `limit` e-mails of announcements due at `now`, for `lease` (each claim counts
    /// as an attempt; another claimer does not get them until the lease runs out).
    pub fn claim_announcement_mail(
        &mut self,
        now: Timestamp,
        limit: u32,
        lease: jiff::SignedDuration,
    ) -> Result<Vec<DueMail>> {
        let tenant = self.tenant_str();
        let until = now
            .checked_add(lease)
            .unwrap_or(Timestamp::MAX)
            .as_microsecond();
        let mut out = Vec::new();
        self.store()
            .in_tx(&tenant, "claiming announcement e-mail", &mut |tx| {
                out.clear();
                let lock = tx.for_update_skip_locked();
                let due = tx.query(
                    &format!(
                        "SELECT announcement_id, target, attempts FROM announcement_deliveries \
                         WHERE tenant_id = $1 AND channel = $2 AND state = 'pending' AND next_attempt_at <= $3 \
                         ORDER BY next_attempt_at, announcement_id, target LIMIT $4{lock}"
                    ),
                    &[tenant.as_str().into(), EMAIL.into(), now.as_microsecond().into(), i64::from(limit.max(1)).into()],
                )?;
                if due.is_empty() {
                    return Ok(());
                }
                let settings = settings_in(tx, &tenant).map_err(into_vault)?;
                let contract = parse_notice(settings.contract_notice);
                let all = all_in(tx).map_err(into_vault)?;
                for r in due {
                    let mut it = r.into_iter();
                    let id = it.next().and_then(Val::into_text).ok_or_else(|| VaultError::Corrupt("delivery".into()))?;
                    let to = it.next().and_then(Val::into_text).ok_or_else(|| VaultError::Corrupt("delivery".into()))?;
                    let attempts = it.next().and_then(|v| v.int()).unwrap_or(0);
                    tx.execute(
                        "UPDATE announcement_deliveries SET attempts = attempts + 1, next_attempt_at = $6 \
                         WHERE tenant_id = $1 AND announcement_id = $2 AND channel = $3 AND target = $4 AND attempts = $5",
                        &[tenant.as_str().into(), id.as_str().into(), EMAIL.into(), to.as_str().into(), attempts.into(), until.into()],
                    )?;
                    let Some(a) = all.iter().find(|a| a.announcement_id == id) else {
                        continue;
                    };
                    out.push(DueMail {
                        effective_for_tenant: effective_for(a, contract.as_ref()),
                        announcement: a.clone(),
                        to,
                        attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
                    });
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// Records the outcome of an e-mail attempt: delivered, failed and due again at `retry_at`,
    /// or dead when `retry_at` is `None` (audited). `error` says what failed (never the address;
    /// cut to 500 characters). A stale claim (another attempt since) records nothing.
    pub fn record_announcement_mail(
        &mut self,
        mail: &DueMail,
        outcome: std::result::Result<(), (Option<Timestamp>, String)>,
        now: Timestamp,
    ) -> Result<MailRecorded> {
        let tenant = self.tenant_str();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let id = mail.announcement.announcement_id.as_str();
        let mut recorded = MailRecorded::Stale;
        self.store()
            .in_tx(&tenant, "recording an announcement e-mail", &mut |tx| {
                let fence = "tenant_id = $1 AND announcement_id = $2 AND channel = $3 AND target = $4 AND attempts = $5 AND state = 'pending'";
                let base: Vec<Val> = vec![
                    tenant.as_str().into(),
                    id.into(),
                    EMAIL.into(),
                    mail.to.as_str().into(),
                    i64::from(mail.attempt).into(),
                ];
                let (sql, extra, result, event): (String, Vec<Val>, MailRecorded, Option<serde_json::Value>) = match &outcome {
                    Ok(()) => (
                        format!("UPDATE announcement_deliveries SET state = 'delivered', delivered_at = $6, last_error = NULL WHERE {fence}"),
                        vec![now.as_microsecond().into()],
                        MailRecorded::Delivered,
                        Some(serde_json::json!({ "announcement_id": id, "channel": EMAIL, "state": "delivered", "attempts": mail.attempt })),
                    ),
                    Err((Some(at), why)) => (
                        format!("UPDATE announcement_deliveries SET last_error = $6, next_attempt_at = $7 WHERE {fence}"),
                        vec![truncate(why).into(), at.as_microsecond().into()],
                        MailRecorded::Retry(*at),
                        None,
                    ),
                    Err((None, why)) => (
                        format!("UPDATE announcement_deliveries SET state = 'dead', last_error = $6 WHERE {fence}"),
                        vec![truncate(why).into()],
                        MailRecorded::Dead,
                        Some(serde_json::json!({ "announcement_id": id, "channel": EMAIL, "state": "dead", "attempts": mail.attempt, "error": truncate(why) })),
                    ),
                };
                let mut params = base.clone();
                params.extend(extra);
                if tx.execute(&sql, &params)? == 0 {
                    recorded = MailRecorded::Stale;
                    return Ok(());
                }
                recorded = result;
                if let Some(details) = event {
                    let ev = custos_audit::Event::new(&tenant, &actor, "announcements.delivery", None, details);
                    tx.append_audit(&mut |head| custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY))?;
                }
                Ok(())
            })?;
        Ok(recorded)
    }
}

pub(crate) fn truncate(s: &str) -> String {
    match s.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn object_in(
    tx: &mut dyn Tx,
    tenant: &str,
    actor: &str,
    key: &custos_audit::SigningKey,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<(Objection, bool)> {
    let a = tx
        .query(
            &format!("SELECT {COLUMNS} FROM announcements WHERE announcement_id = $1"),
            &[id.into()],
        )?
        .into_iter()
        .next()
        .map(announcement_row)
        .transpose()?
        .ok_or_else(|| AnnouncementError::NotFound(id.to_owned()))?;
    let settings = settings_in(tx, tenant)?;
    let effective_at = effective_for(&a, parse_notice(settings.contract_notice).as_ref());
    if let Some(o) = objection_in(tx, tenant, id)?
        && o.withdrawn_at.is_none()
    {
        return Ok((o, false));
    }
    if now >= effective_at {
        return Err(AnnouncementError::ObjectionClosed {
            id: id.to_owned(),
            effective_at,
        });
    }
    // Registers the tenant, so the board (read tenant by tenant) sees its objection.
    tx.execute(
        "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[tenant.into(), now.as_microsecond().into()],
    )?;
    tx.execute(
        "INSERT INTO announcement_objections (tenant_id, announcement_id, reason, objected_at, actor, withdrawn_at) VALUES ($1, $2, $3, $4, $5, NULL) \
         ON CONFLICT (tenant_id, announcement_id) DO UPDATE SET reason = excluded.reason, objected_at = excluded.objected_at, actor = excluded.actor, withdrawn_at = NULL",
        &[tenant.into(), id.into(), reason.into(), now.as_microsecond().into(), actor.into()],
    )?;
    let ev = custos_audit::Event::new(
        tenant,
        actor,
        "announcements.objection",
        None,
        serde_json::json!({
            "announcement_id": id,
            "new_recipients": a.new_recipients,
            "effective_at": effective_at,
            "reason_chars": reason.chars().count(),
        }),
    );
    tx.append_audit(&mut |head| {
        custos_audit::build(
            head,
            std::slice::from_ref(&ev),
            now,
            key,
            AUDIT_CHECKPOINT_EVERY,
        )
    })?;
    let o = objection_in(tx, tenant, id)?.ok_or_else(|| corrupt("objection"))?;
    Ok((o, true))
}

fn objection_in(tx: &mut dyn Tx, tenant: &str, id: &str) -> Result<Option<Objection>> {
    let Some(r) = tx
        .query(
            "SELECT reason, objected_at, actor, withdrawn_at FROM announcement_objections WHERE tenant_id = $1 AND announcement_id = $2",
            &[tenant.into(), id.into()],
        )?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let mut it = r.into_iter();
    let reason = it
        .next()
        .and_then(Val::into_text)
        .ok_or_else(|| corrupt("objection"))?;
    let objected_at = ts(it
        .next()
        .and_then(|v| v.int())
        .ok_or_else(|| corrupt("objection"))?)?;
    let objected_by = it.next().and_then(Val::into_text).unwrap_or_default();
    let withdrawn_at = it.next().and_then(|v| v.int()).map(ts).transpose()?;
    Ok(Some(Objection {
        announcement_id: id.to_owned(),
        reason,
        objected_at,
        objected_by,
        state: if withdrawn_at.is_some() {
            "withdrawn"
        } else {
            "open"
        },
        withdrawn_at,
    }))
}

fn deliveries_in(tx: &mut dyn Tx, tenant: &str, id: &str) -> Result<Vec<Delivery>> {
    tx.query(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM announcement_deliveries d {WITH_OUTBOX} \
             WHERE d.tenant_id = $1 AND d.announcement_id = $2 ORDER BY d.channel, d.target"
        ),
        &[tenant.into(), id.into()],
    )?
    .into_iter()
    .map(delivery_of)
    .collect()
}

/// The columns [`delivery_of`] reads, of a delivery table aliased `d` joined [`WITH_OUTBOX`].
pub(crate) const DELIVERY_COLUMNS: &str = "d.channel, d.target, d.state, d.attempts, d.next_attempt_at, d.last_error, d.delivered_at, \
     n.state, n.attempts, n.next_attempt_at, n.last_error, n.delivered_at";

/// The outbox's notification of a webhook delivery (`d.notification_id`), if it has one.
pub(crate) const WITH_OUTBOX: &str = "LEFT JOIN notifications n ON n.tenant_id = d.tenant_id AND n.notification_id = d.notification_id";

/// A delivery as [`DELIVERY_COLUMNS`] read it. A webhook's delivery is the outbox's
/// notification: when there is one, its state is the record.
pub(crate) fn delivery_of(r: Vec<Val>) -> Result<Delivery> {
    let mut it = r.into_iter();
    let channel = it
        .next()
        .and_then(Val::into_text)
        .ok_or_else(|| corrupt("delivery"))?;
    let target = it.next().and_then(Val::into_text).unwrap_or_default();
    let mut state = it
        .next()
        .and_then(Val::into_text)
        .ok_or_else(|| corrupt("delivery"))?;
    let mut attempts = it.next().and_then(|v| v.int()).unwrap_or(0);
    let mut next = it.next().and_then(|v| v.int());
    let mut last_error = it.next().and_then(Val::into_text);
    let mut delivered = it.next().and_then(|v| v.int());
    if let Some(outbox) = it.next().and_then(Val::into_text) {
        state = outbox;
        attempts = it.next().and_then(|v| v.int()).unwrap_or(0);
        next = it.next().and_then(|v| v.int());
        last_error = it.next().and_then(Val::into_text);
        delivered = it.next().and_then(|v| v.int());
    }
    Ok(Delivery {
        next_attempt_at: if state == "pending" {
            next.map(ts).transpose()?
        } else {
            None
        },
        channel,
        target,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error,
        delivered_at: delivered.map(ts).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(id: &str, recipients: &[&str], published: &str, effective: &str) -> Announcement {
        Announcement {
            announcement_id: id.into(),
            old_fingerprint: "a".into(),
            new_fingerprint: "b".into(),
            old_version: Some("2.0".into()),
            new_version: Some("2.1".into()),
            published_at: published.parse().unwrap(),
            notice: Some("P30D".into()),
            effective_at: effective.parse().unwrap(),
            acceptance_at_next_login: false,
            new_recipients: recipients.iter().map(|s| s.to_string()).collect(),
            changes: Vec::new(),
        }
    }

    #[test]
    fn thirty_days_notice_counts_from_publication() {
        let p = Period::parse("30 days").unwrap();
        assert_eq!(
            after("2026-06-01T09:00:00Z".parse().unwrap(), Some(&p)),
            "2026-07-01T09:00:00Z".parse::<Timestamp>().unwrap()
        );
        let m = Period::parse("1 month").unwrap();
        assert_eq!(
            after("2026-01-31T00:00:00Z".parse().unwrap(), Some(&m)),
            "2026-02-28T00:00:00Z".parse::<Timestamp>().unwrap(),
            "a calendar month, clamped to the month's end"
        );
    }

    #[test]
    fn a_new_recipient_is_refused_until_its_effective_date_and_for_an_objecting_tenant_after() {
        let a = ann(
            "ann_1",
            &["mistral"],
            "2026-06-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
        );
        let mut objections = BTreeMap::new();
        objections.insert("globex".to_owned(), BTreeSet::from(["ann_1".to_owned()]));
        let board = Board::new(vec![a], BTreeMap::new(), objections);
        let before: Timestamp = "2026-06-15T00:00:00Z".parse().unwrap();
        let after_: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            board
                .recipient_refusal("acme", "mistral", before)
                .map(|r| r.rule()),
            Some("recipient.in_notice")
        );
        assert_eq!(board.recipient_refusal("acme", "mistral", after_), None);
        assert_eq!(
            board
                .recipient_refusal("globex", "mistral", after_)
                .map(|r| r.rule()),
            Some("recipient.objected")
        );
        assert_eq!(board.recipient_refusal("acme", "anthropic", before), None);
    }

    #[test]
    fn a_longer_contract_notice_moves_the_date_for_that_tenant_only() {
        let a = ann(
            "ann_1",
            &["mistral"],
            "2026-06-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
        );
        let mut contract = BTreeMap::new();
        contract.insert("acme".to_owned(), Period::parse("60 days").unwrap());
        contract.insert("short".to_owned(), Period::parse("7 days").unwrap());
        let board = Board::new(vec![a.clone()], contract, BTreeMap::new());
        assert_eq!(
            board.effective_for(&a, "acme"),
            "2026-07-31T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            board.effective_for(&a, "short"),
            a.effective_at,
            "a shorter one changes nothing"
        );
        let mid: Timestamp = "2026-07-10T00:00:00Z".parse().unwrap();
        assert!(board.recipient_refusal("acme", "mistral", mid).is_some());
        assert!(board.recipient_refusal("globex", "mistral", mid).is_none());
    }

    #[test]
    fn contact_addresses_are_checked_without_echoing_them() {
        assert!(check_address("dpo@acme.example").is_ok());
        for bad in ["", "dpo", "dpo@acme", "a b@acme.nl", "@acme.nl", "a@b@c.nl"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mail_names_the_changes_and_dates_and_how_to_object() {
        let mut a = ann(
            "ann_1",
            &["mistral"],
            "2026-06-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
        );
        a.changes.push(AnnouncedChange {
            kind: "material".into(),
            area: "recipient".into(),
            id: "mistral".into(),
            what: "recipient `mistral` added, outside the EEA: US".into(),
            new_subprocessor: true,
        });
        let (subject, body) = mail_text(&a, a.effective_at, Some("https://jbsync.com/privacy"));
        assert!(subject.contains("mistral"), "{subject}");
        assert!(body.contains("2026-07-01"), "{body}");
        assert!(body.contains("outside the EEA: US"), "{body}");
        assert!(
            body.contains("/v1/announcements/ann_1/objections"),
            "{body}"
        );
    }
}
