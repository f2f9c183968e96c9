//! The breach register (Art. 33(5), PRODUCT.md C7): every breach of a tenant, notified or not,
//! with each version of its record kept (a notification may be given in phases, Art. 33(4)), and
//! the query that finds who a breach affected in the vault. The record itself (the EDPB's
//! template, the clock, the proposals) is `custos_breach`'s; the vault stores it as written,
//! with the few columns a register is listed and watched by, and writes every version and every
//! query into the audit trail: a digest of the record, never the record (its free text is
//! written by people and may name someone).

use custos_breach::assess::{self, Decision, Proposal};
use custos_breach::clock::Clock;
use custos_breach::record::{Breach, BreachId, Party};
use custos_breach::rules::{self, LegalRules};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};
use crate::keys;
use crate::store::{Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, TenantVault};

/// What the register keeps of a breach: the record and, once a person decided on notifying,
/// the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The record (the EDPB template).
    pub breach: Breach,
    /// Whether to notify the authority and the people affected, as a person decided it.
    #[serde(default)]
    pub decision: Option<Decision>,
}

/// How the register counts and proposes: the legal rule sets by date (the GDPR's, and the
/// Digital Omnibus proposal's only from a date the operator configures), the hours a processing
/// contract gives a processor, and the national settings of the proposal.
#[derive(Debug, Clone)]
pub struct RegisterSettings {
    /// The rule sets, each with the date it takes effect.
    pub rules: Vec<LegalRules>,
    /// Hours a processing agreement gives this organisation, as processor, to tell its
    /// controllers (Art. 33(2) sets none).
    pub contract_hours: Option<u32>,
    /// National settings (UAVG art. 42).
    pub national: assess::Settings,
}

impl Default for RegisterSettings {
    fn default() -> Self {
        RegisterSettings {
            rules: rules::builtin(None),
            contract_hours: None,
            national: assess::Settings::default(),
        }
    }
}

impl RegisterSettings {
    /// The rule set in force when the organisation became aware of `breach`.
    pub fn rules_for(&self, breach: &Breach) -> Result<&LegalRules> {
        rules::rules_on(
            breach
                .aware_at
                .value
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date(),
            &self.rules,
        )
        .map_err(|e| {
            VaultError::InvalidBreach(vec![custos_breach::Invalid {
                field: "/aware_at".into(),
                reason: e.to_string(),
            }])
        })
    }

    /// The breach's clock under the rules in force at its awareness.
    pub fn clock(&self, breach: &Breach) -> Result<Clock> {
        Ok(Clock::of(
            breach,
            self.rules_for(breach)?,
            self.contract_hours,
        ))
    }

    /// Custos's proposal for the breach (a person decides).
    pub fn propose(&self, breach: &Breach) -> Result<Proposal> {
        Ok(assess::propose(
            breach,
            self.rules_for(breach)?,
            &self.national,
        ))
    }

    /// The columns the register lists and watches the entry by.
    fn columns(&self, entry: &Entry) -> Result<BreachColumns> {
        let b = &entry.breach;
        let clock = self.clock(b)?;
        let told =
            |f: &dyn Fn(&Party) -> bool| b.told.iter().filter(|t| f(&t.party)).map(|t| t.at).min();
        let authority = match b.role {
            custos_breach::record::Role::Controller => {
                told(&|p| matches!(p, Party::Authority { .. }))
            }
            custos_breach::record::Role::Processor => {
                told(&|p| matches!(p, Party::Controller { .. }))
            }
        };
        let subjects = told(&|p| matches!(p, Party::Subjects | Party::Public));
        let closed = entry.decision.as_ref().is_some_and(|d| {
            (!d.notify_authority || authority.is_some())
                && (!d.notify_subjects || subjects.is_some())
        });
        Ok(BreachColumns {
            aware_at: b.aware_at.value,
            deadline_at: clock
                .deadline()
                .unwrap_or_else(|| clock.controller_deadline_earliest()),
            authority_notified_at: authority,
            closed,
        })
    }
}

impl StoredBreach {
    /// The entry this version holds.
    pub fn entry(&self) -> Result<Entry> {
        serde_json::from_value(self.record.clone())
            .map_err(|e| VaultError::Corrupt(format!("a stored breach record does not read: {e}")))
    }
}

/// One version of a breach's record as the register keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredBreach {
    /// The breach's id (32 hex digits).
    pub breach_id: String,
    /// This version's number: 1 for the first record, one more for each follow-up.
    pub version: i64,
    /// When it was first recorded.
    pub opened_at: Timestamp,
    /// When the controller became aware of it (Art. 33(1): the clock runs from here).
    pub aware_at: Timestamp,
    /// When the authority must have been notified, as the rules in force counted it.
    pub deadline_at: Timestamp,
    /// When the authority was notified, if it was.
    pub authority_notified_at: Option<Timestamp>,
    /// When the breach was closed in the register, if it was.
    pub closed_at: Option<Timestamp>,
    /// When this version was written.
    pub recorded_at: Timestamp,
    /// Who wrote this version (a console account, an API key, the CLI's operator).
    pub actor: String,
    /// The record (`custos_breach::Breach` as JSON).
    pub record: serde_json::Value,
}

/// The columns a register is listed and watched by, taken from the record by its caller.
#[derive(Debug, Clone)]
pub struct BreachColumns {
    /// When the controller became aware.
    pub aware_at: Timestamp,
    /// The authority's deadline under the rules in force.
    pub deadline_at: Timestamp,
    /// When the authority was notified, if it was.
    pub authority_notified_at: Option<Timestamp>,
    /// Whether the breach is closed in the register.
    pub closed: bool,
}

/// Why a breach was not written.
#[derive(Debug, thiserror::Error)]
pub enum BreachError {
    /// No breach with this id in this tenant.
    #[error("breach {0} does not exist in this tenant")]
    NotFound(String),
    /// Someone wrote another version in between: read it again and write on top of it.
    #[error("breach {breach_id} is at version {current}, not {expected}: read it again")]
    Stale {
        /// The breach.
        breach_id: String,
        /// The version the writer read.
        expected: i64,
        /// The version the register holds.
        current: i64,
    },
}

/// Who a breach may have affected, from the vault: counts only, nothing that names anyone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Affected {
    /// The categories asked about.
    pub categories: Vec<String>,
    /// The window asked about (start, end).
    pub from: Timestamp,
    /// The window's end.
    pub to: Timestamp,
    /// Distinct subjects with at least one record of those categories stored by the window's
    /// end and still in the vault.
    pub subjects: u64,
    /// Their records of those categories.
    pub records: u64,
    /// Per category: records and distinct subjects.
    pub per_category: Vec<CategoryCount>,
    /// Subjects erased since the window opened: their data was there during the breach, and
    /// which categories it held is no longer known (count them as possibly affected).
    pub erased_since: u64,
    /// Whether every record counted was encrypted at rest (AES-256-GCM under per-subject keys);
    /// unintelligible to whoever took it unless the keys were compromised too (Art. 34(3)(a)).
    pub encrypted_at_rest: bool,
    /// SHA-256 of this answer's counts, as the audit trail records it.
    pub digest: String,
}

/// Records and subjects of one category.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CategoryCount {
    /// The category.
    pub category: String,
    /// Records.
    pub records: u64,
    /// Distinct subjects.
    pub subjects: u64,
}

const COLUMNS: &str = "breach_id, version, opened_at, aware_at, deadline_at, authority_notified_at, closed_at, updated_at, actor, record";

fn ts(v: Option<&Val>) -> Option<Timestamp> {
    v.and_then(Val::int)
        .and_then(|m| Timestamp::from_microsecond(m).ok())
}

fn row(r: Vec<Val>) -> Result<StoredBreach> {
    let bad = |what: &str| VaultError::Corrupt(format!("a breach row has an unreadable {what}"));
    Ok(StoredBreach {
        breach_id: r
            .first()
            .and_then(Val::text)
            .ok_or_else(|| bad("id"))?
            .to_owned(),
        version: r.get(1).and_then(Val::int).ok_or_else(|| bad("version"))?,
        opened_at: ts(r.get(2)).ok_or_else(|| bad("opening time"))?,
        aware_at: ts(r.get(3)).ok_or_else(|| bad("awareness time"))?,
        deadline_at: ts(r.get(4)).ok_or_else(|| bad("deadline"))?,
        authority_notified_at: ts(r.get(5)),
        closed_at: ts(r.get(6)),
        recorded_at: ts(r.get(7)).ok_or_else(|| bad("time"))?,
        actor: r
            .get(8)
            .and_then(Val::text)
            .ok_or_else(|| bad("actor"))?
            .to_owned(),
        record: r
            .get(9)
            .and_then(Val::text)
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(|| bad("record"))?,
    })
}

/// The hex SHA-256 of `bytes`.
fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl TenantVault<'_> {
    /// Records a new breach (its id is given here; whatever `breach.id` held is replaced),
    /// after checking it ([`Breach::validate`]: refused with every invalid field): its first
    /// version, and `breach.recorded` in the audit trail (with the record's digest, never its
    /// text). Every breach is recorded, notified or not (Art. 33(5)).
    pub fn record_breach(
        &mut self,
        breach: Breach,
        settings: &RegisterSettings,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let (id, record, columns) = new_entry(breach, settings, now)?;
        self.write_breach(&id, None, &record, &columns, now)
    }

    /// Writes the next version of breach `breach_id`'s record on top of version `expected`
    /// (refused as stale when another was written in between, so no follow-up overwrites one it
    /// did not see, Art. 33(4)); the decision made earlier stays. `breach.updated` in the trail.
    pub fn update_breach(
        &mut self,
        breach_id: &str,
        expected: i64,
        mut breach: Breach,
        settings: &RegisterSettings,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let current = self.breach(breach_id)?.entry()?;
        breach.id = current.breach.id.clone();
        breach.validate(now).map_err(VaultError::InvalidBreach)?;
        self.write_entry(
            breach_id,
            expected,
            Entry {
                breach,
                decision: current.decision,
            },
            settings,
            now,
        )
    }

    /// Records what a person decided on notifying (checked against Custos's proposal: departing
    /// from it needs reasons that say so), as the next version on top of `expected`.
    pub fn decide_breach(
        &mut self,
        breach_id: &str,
        expected: i64,
        decision: Decision,
        settings: &RegisterSettings,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let current = self.breach(breach_id)?.entry()?;
        let proposal = settings.propose(&current.breach)?;
        decision.check(&current.breach, &proposal).map_err(|e| {
            VaultError::InvalidBreach(vec![custos_breach::Invalid {
                field: "/decision".into(),
                reason: e.to_string(),
            }])
        })?;
        self.write_entry(
            breach_id,
            expected,
            Entry {
                breach: current.breach,
                decision: Some(decision),
            },
            settings,
            now,
        )
    }

    fn write_entry(
        &mut self,
        breach_id: &str,
        expected: i64,
        entry: Entry,
        settings: &RegisterSettings,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let columns = settings.columns(&entry)?;
        let record = serde_json::to_value(&entry).map_err(|e| {
            VaultError::Corrupt(format!("a breach record would not serialise: {e}"))
        })?;
        self.write_breach(breach_id, Some(expected), &record, &columns, now)
    }

    fn write_breach(
        &mut self,
        breach_id: &str,
        expected: Option<i64>,
        record: &serde_json::Value,
        columns: &BreachColumns,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let w = Writer {
            tenant: self.tenant_id().as_str().to_owned(),
            actor: self.actor().to_owned(),
            key: self.audit_key().clone(),
        };
        let mut out = None;
        self.store()
            .in_tx(&w.tenant.clone(), "recording a breach", &mut |tx| {
                out = Some(w.write(tx, breach_id, expected, record, columns, now)?);
                Ok(())
            })?;
        out.ok_or_else(|| VaultError::Corrupt("a breach just written is not there".into()))
    }

    /// Breach `breach_id` as it stands (its newest version).
    pub fn breach(&mut self, breach_id: &str) -> Result<StoredBreach> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = None;
        self.store()
            .in_read_tx(&tenant, "reading a breach", &mut |tx| {
                out = read(tx, &tenant, breach_id)?;
                Ok(())
            })?;
        out.ok_or_else(|| VaultError::Breach(BreachError::NotFound(breach_id.to_owned())))
    }

    /// The tenant's breaches, the most urgent first (open ones by deadline, then closed ones,
    /// newest first); closed ones only if `all`.
    pub fn breaches(&mut self, all: bool) -> Result<Vec<StoredBreach>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let filter = if all { "" } else { " AND closed_at IS NULL" };
        let mut out = Vec::new();
        self.store()
            .in_read_tx(&tenant, "listing breaches", &mut |tx| {
                out = tx
                    .query(
                        &format!("SELECT {COLUMNS} FROM breaches WHERE tenant_id = $1{filter} ORDER BY (closed_at IS NOT NULL), deadline_at, breach_id"),
                        &[tenant.as_str().into()],
                    )?
                    .into_iter()
                    .map(row)
                    .collect::<Result<_>>()?;
                Ok(())
            })?;
        Ok(out)
    }

    /// Every version of breach `breach_id`, oldest first: the phases of its notification.
    pub fn breach_versions(&mut self, breach_id: &str) -> Result<Vec<StoredBreach>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store()
            .in_read_tx(&tenant, "reading a breach's versions", &mut |tx| {
                let Some(current) = read(tx, &tenant, breach_id)? else {
                    return Err(VaultError::Breach(BreachError::NotFound(breach_id.to_owned())));
                };
                out = tx
                    .query(
                        "SELECT version, recorded_at, actor, record FROM breach_versions WHERE tenant_id = $1 AND breach_id = $2 ORDER BY version",
                        &[tenant.as_str().into(), breach_id.into()],
                    )?
                    .into_iter()
                    .map(|r| {
                        let bad = || VaultError::Corrupt("a breach version is unreadable".into());
                        Ok(StoredBreach {
                            version: r.first().and_then(Val::int).ok_or_else(bad)?,
                            recorded_at: ts(r.get(1)).ok_or_else(bad)?,
                            actor: r.get(2).and_then(Val::text).ok_or_else(bad)?.to_owned(),
                            record: r
                                .get(3)
                                .and_then(Val::text)
                                .and_then(|t| serde_json::from_str(t).ok())
                                .ok_or_else(bad)?,
                            ..current.clone()
                        })
                    })
                    .collect::<Result<_>>()?;
                Ok(())
            })?;
        Ok(out)
    }

    /// Who a breach of `categories` between `from` and `to` may have affected in the vault:
    /// distinct subjects and records stored by `to` and still here, per category; the subjects
    /// erased since `from` (there during the breach, gone now); and whether all of it was
    /// encrypted at rest. Counts only: nothing that names anyone is returned or copied into the
    /// register. The query and the digest of its answer go into the audit trail
    /// (`breach.affected_queried`), so the counts a notification gives can be traced to it.
    pub fn breach_affected(
        &mut self,
        breach_id: Option<&str>,
        categories: &[String],
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Affected> {
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut categories: Vec<String> = categories.to_vec();
        categories.sort();
        categories.dedup();
        let mut out = None;
        self.store()
            .in_tx(&tenant, "finding who a breach affected", &mut |tx| {
                let mut per_category = Vec::new();
                for category in &categories {
                    let counted = tx.query(
                        "SELECT COUNT(*), COUNT(DISTINCT pseudonym) FROM records WHERE tenant_id = $1 AND category = $2 AND created_at <= $3",
                        &[tenant.as_str().into(), category.as_str().into(), to.as_microsecond().into()],
                    )?;
                    let r = counted.first();
                    let n = |i: usize| {
                        r.and_then(|r| r.get(i))
                            .and_then(Val::int)
                            .and_then(|n| u64::try_from(n).ok())
                            .unwrap_or(0)
                    };
                    per_category.push(CategoryCount {
                        category: category.clone(),
                        records: n(0),
                        subjects: n(1),
                    });
                }
                // Distinct over all the categories at once (a subject in two counts once).
                let mut args: Vec<Val> = vec![tenant.as_str().into(), to.as_microsecond().into()];
                let mut placeholders = Vec::new();
                for c in &categories {
                    args.push(c.as_str().into());
                    placeholders.push(format!("${}", args.len()));
                }
                let (subjects, records) = if categories.is_empty() {
                    (0, 0)
                } else {
                    let all = tx.query(
                        &format!("SELECT COUNT(DISTINCT pseudonym), COUNT(*) FROM records WHERE tenant_id = $1 AND created_at <= $2 AND category IN ({})", placeholders.join(", ")),
                        &args,
                    )?;
                    let n = |i: usize| {
                        all.first()
                            .and_then(|r| r.get(i))
                            .and_then(Val::int)
                            .and_then(|n| u64::try_from(n).ok())
                            .unwrap_or(0)
                    };
                    (n(0), n(1))
                };
                let erased = tx.query(
                    "SELECT COUNT(DISTINCT pseudonym) FROM erasures WHERE tenant_id = $1 AND erased_at >= $2",
                    &[tenant.as_str().into(), from.as_microsecond().into()],
                )?;
                let erased_since = erased
                    .first()
                    .and_then(|r| r.first())
                    .and_then(Val::int)
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0);
                let mut answer = Affected {
                    categories: categories.clone(),
                    from,
                    to,
                    subjects,
                    records,
                    per_category,
                    erased_since,
                    encrypted_at_rest: true,
                    digest: String::new(),
                };
                answer.digest = digest(
                    serde_json::to_string(&answer)
                        .unwrap_or_default()
                        .as_bytes(),
                );
                let ev = custos_audit::Event {
                    tenant: tenant.clone(),
                    actor: actor.clone(),
                    action: "breach.affected_queried".into(),
                    subject: None,
                    details: serde_json::json!({
                        "breach_id": breach_id,
                        "categories": categories,
                        "from": from.to_string(),
                        "to": to.to_string(),
                        "result_sha256": answer.digest,
                    }),
                };
                tx.append_audit(&mut |head| {
                    custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY)
                })?;
                out = Some(answer);
                Ok(())
            })?;
        out.ok_or_else(|| VaultError::Corrupt("the affected query returned nothing".into()))
    }
}

/// A new breach's id, its first entry as stored, and its columns: the record checked
/// ([`Breach::validate`]) with the id the register gives it.
pub(crate) fn new_entry(
    mut breach: Breach,
    settings: &RegisterSettings,
    now: Timestamp,
) -> Result<(String, serde_json::Value, BreachColumns)> {
    let mut raw = [0u8; 16];
    keys::fill_random(&mut raw)?;
    let id = hex::encode(raw);
    breach.id = BreachId::new(id.clone()).map_err(|e| VaultError::InvalidBreach(vec![e]))?;
    breach.validate(now).map_err(VaultError::InvalidBreach)?;
    let entry = Entry {
        breach,
        decision: None,
    };
    let columns = settings.columns(&entry)?;
    let record = serde_json::to_value(&entry)
        .map_err(|e| VaultError::Corrupt(format!("a breach record would not serialise: {e}")))?;
    Ok((id, record, columns))
}

/// Who writes a breach version, for a write inside a transaction of its caller's.
pub(crate) struct Writer {
    pub(crate) tenant: String,
    pub(crate) actor: String,
    pub(crate) key: custos_audit::SigningKey,
}

impl Writer {
    /// Writes version `expected + 1` (the first when `expected` is `None`) of breach
    /// `breach_id` in `tx`, with its version row and `breach.recorded`/`breach.updated` in the
    /// trail.
    pub(crate) fn write(
        &self,
        tx: &mut dyn Tx,
        breach_id: &str,
        expected: Option<i64>,
        record: &serde_json::Value,
        columns: &BreachColumns,
        now: Timestamp,
    ) -> Result<StoredBreach> {
        let (tenant, actor, key) = (&self.tenant, &self.actor, &self.key);
        register_tenant(tx, tenant, now)?;
        let text = record.to_string();
        let record_digest = digest(text.as_bytes());
        let current = read(tx, tenant, breach_id)?;
        let (version, opened_at) = match (expected, &current) {
            (None, None) => (1, now),
            (Some(e), Some(c)) if c.version == e => (e + 1, c.opened_at),
            (Some(e), Some(c)) => {
                return Err(VaultError::Breach(BreachError::Stale {
                    breach_id: breach_id.to_owned(),
                    expected: e,
                    current: c.version,
                }));
            }
            (Some(_), None) => {
                return Err(VaultError::Breach(BreachError::NotFound(
                    breach_id.to_owned(),
                )));
            }
            (None, Some(_)) => {
                return Err(VaultError::Corrupt("a new breach's id is taken".into()));
            }
        };
        let closed_at = match (&current, columns.closed) {
            (Some(c), true) => Some(c.closed_at.unwrap_or(now)),
            (None, true) => Some(now),
            (_, false) => None,
        };
        let micros = |t: Option<Timestamp>| Val::Int(t.map(|t| t.as_microsecond()));
        let values = [
            tenant.as_str().into(),
            breach_id.into(),
            version.into(),
            opened_at.as_microsecond().into(),
            columns.aware_at.as_microsecond().into(),
            columns.deadline_at.as_microsecond().into(),
            micros(columns.authority_notified_at),
            micros(closed_at),
            now.as_microsecond().into(),
            actor.as_str().into(),
            text.as_str().into(),
        ];
        if current.is_some() {
            tx.execute(
                "UPDATE breaches SET version = $3, opened_at = $4, aware_at = $5, deadline_at = $6, authority_notified_at = $7, closed_at = $8, updated_at = $9, actor = $10, record = $11 WHERE tenant_id = $1 AND breach_id = $2",
                &values,
            )?;
        } else {
            tx.execute(
                &format!("INSERT INTO breaches (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
                &values,
            )?;
        }
        tx.execute(
            "INSERT INTO breach_versions (tenant_id, breach_id, version, recorded_at, actor, record) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                tenant.as_str().into(),
                breach_id.into(),
                version.into(),
                now.as_microsecond().into(),
                actor.as_str().into(),
                text.as_str().into(),
            ],
        )?;
        let ev = custos_audit::Event {
            tenant: tenant.clone(),
            actor: actor.clone(),
            action: if version == 1 {
                "breach.recorded"
            } else {
                "breach.updated"
            }
            .into(),
            subject: None,
            details: serde_json::json!({
                "breach_id": breach_id,
                "version": version,
                "record_sha256": record_digest,
                "aware_at": columns.aware_at.to_string(),
                "deadline_at": columns.deadline_at.to_string(),
                "article": "Art. 33(5) GDPR",
            }),
        };
        tx.append_audit(&mut |head| {
            custos_audit::build(
                head,
                std::slice::from_ref(&ev),
                now,
                key,
                AUDIT_CHECKPOINT_EVERY,
            )
        })?;
        read(tx, tenant, breach_id)?
            .ok_or_else(|| VaultError::Corrupt("a breach just written is not there".into()))
    }
}

/// Registers the tenant, so the timers that go over every tenant (letters, reminders) reach it
/// even when it keeps no records.
pub(crate) fn register_tenant(tx: &mut dyn Tx, tenant: &str, now: Timestamp) -> Result<()> {
    tx.execute(
        "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[tenant.into(), now.as_microsecond().into()],
    )?;
    Ok(())
}

/// The newest version of a breach, if the tenant has it.
pub(crate) fn read(tx: &mut dyn Tx, tenant: &str, breach_id: &str) -> Result<Option<StoredBreach>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM breaches WHERE tenant_id = $1 AND breach_id = $2"),
        &[tenant.into(), breach_id.into()],
    )?
    .into_iter()
    .next()
    .map(row)
    .transpose()
}
