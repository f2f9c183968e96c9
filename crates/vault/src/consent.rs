//! Consent and processing decisions on stored data (PRODUCT.md C6, C7): the append-only consent
//! ledger per subject and purpose (Art. 7), acceptances of statement versions, Global Privacy
//! Control, the marketing suppression list, approval gates with one-time tokens, and the decision
//! call that gathers all of it for `custos_consent::decision::decide`.
//!
//! The ledger's rules are `custos_consent::ledger`'s (pure); this module stores entries and
//! derives state from them, one transaction per change, each audited without the proof.

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use custos_consent::approval::{self, TokenRefusal};
use custos_consent::decision::{Decision, DecisionInput};
use custos_consent::ledger::{self, ConsentEntry, ConsentError, ConsentKind, ConsentState};
use custos_consent::proof::has_full_ip;
use custos_consent::suppression::SuppressionKey;
use custos_policy::Policy;

use crate::error::{Result, VaultError};
use crate::ids::{RecordId, SubjectId, hex};
use crate::keys;
use crate::rights::{Flag, flags_for};
use crate::store::{Tx, Val};
use crate::vault::TenantVault;

pub use crate::error::ConsentCallError;

impl From<TokenRefusal> for ConsentCallError {
    fn from(r: TokenRefusal) -> Self {
        match r {
            TokenRefusal::Used(at) => ConsentCallError::TokenUsed(at),
            TokenRefusal::Expired(at) => ConsentCallError::TokenExpired(at),
            TokenRefusal::OtherAction { approved, asked } => {
                ConsentCallError::TokenForOtherAction { approved, asked }
            }
            TokenRefusal::OtherItem => ConsentCallError::TokenForOtherItem,
            TokenRefusal::OtherSubject => ConsentCallError::TokenForOtherSubject,
        }
    }
}

impl From<ConsentCallError> for VaultError {
    fn from(e: ConsentCallError) -> Self {
        VaultError::Consent(e)
    }
}

impl From<ConsentError> for VaultError {
    fn from(e: ConsentError) -> Self {
        VaultError::Consent(ConsentCallError::Ledger(e))
    }
}

/// A grant or withdrawal as the app reports it.
#[derive(Debug, Clone)]
pub struct ConsentRecord {
    /// The purpose.
    pub purpose: String,
    /// Grant or withdraw.
    pub kind: ConsentKind,
    /// When the person did it.
    pub at: Timestamp,
    /// The version of the notice the person saw.
    pub notice_version: String,
    /// SHA-256 (hex) of the notice text the person saw.
    pub notice_hash: String,
    /// Through which channel (`web`, `app`, `email`, `gpc`).
    pub channel: String,
    /// Proof: a form id, a truncated IP. Never a full IP address.
    pub proof: String,
}

/// A purpose's consent as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct PurposeConsent {
    /// The purpose.
    pub purpose: String,
    /// Never, granted (when, under which notice version) or withdrawn (when).
    pub consent: ConsentState,
    /// Given under a notice version whose change requires consent again (`custos diff`).
    pub stale: bool,
}

/// An approval gate's item as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    /// Its id: 32 hex digits.
    pub approval_id: String,
    /// The action it gates, e.g. `draft.send`.
    pub action: String,
    /// The app's reference for the item (e.g. a draft id); opaque, no personal data.
    pub item: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    /// Who asked (an API key id).
    pub requested_by: String,
    /// When.
    pub requested_at: Timestamp,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// Why (rejections).
    pub reason: Option<String>,
    /// Until when the token is good.
    pub token_expires_at: Option<Timestamp>,
    /// When the token was used.
    pub token_used_at: Option<Timestamp>,
}

/// How long an approval token is good for.
pub const TOKEN_VALID_SECONDS: i64 = 15 * 60;

/// What the app asks.
#[derive(Debug, Clone)]
pub struct DecisionQuery<'a> {
    /// The subject.
    pub subject: &'a SubjectId,
    /// The purpose.
    pub purpose: &'a str,
    /// The category.
    pub category: &'a str,
    /// The record concerned, if one: its retention expiry counts.
    pub record: Option<&'a RecordId>,
    /// The person's e-mail address or phone number, for the suppression list (never stored).
    pub address: Option<&'a str>,
    /// The request carried `Sec-GPC: 1`.
    pub gpc: bool,
    /// The action about to be taken, for approval gates. It must be an action the policy gates
    /// (`approval = { action = … }`); any other is refused (a misspelt action must not slip past
    /// its gate).
    pub action: Option<&'a str>,
    /// The app's reference for the item the action is taken on (the draft id), as given when
    /// the approval was asked for: a token approves one item.
    pub item: Option<&'a str>,
    /// The approval token presented for that action. It is used up only when the decision
    /// allows.
    pub approval_token: Option<&'a str>,
    /// Notice versions whose change needs consent again (from `custos diff`).
    pub stale_versions: &'a [&'a str],
}

fn check_text(value: &str, field: &'static str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ConsentCallError::Empty(field).into());
    }
    Ok(())
}

fn check_hash(hash: &str) -> Result<()> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ConsentCallError::BadHash.into())
    }
}

fn ts(m: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(m)
        .map_err(|_| VaultError::Corrupt("a stored time is out of range".into()))
}

fn entry_of(row: &[Val]) -> Result<ConsentEntry> {
    let bad = || VaultError::Corrupt("a consent entry is unreadable".into());
    let text = |i: usize| {
        row.get(i)
            .and_then(Val::text)
            .map(str::to_owned)
            .ok_or_else(bad)
    };
    Ok(ConsentEntry {
        purpose: text(0)?,
        kind: match text(1)?.as_str() {
            "grant" => ConsentKind::Grant,
            "withdraw" => ConsentKind::Withdraw,
            _ => return Err(bad()),
        },
        at: ts(row.get(2).and_then(Val::int).ok_or_else(bad)?)?,
        notice_version: text(3)?,
        notice_hash: text(4)?,
        channel: text(5)?,
        proof: text(6)?,
    })
}

const ENTRY_COLUMNS: &str = "purpose, kind, at, notice_version, notice_hash, channel, proof";

fn ledger_of(
    tx: &mut dyn Tx,
    tenant: &str,
    pseudonym: &str,
    purpose: Option<&str>,
) -> Result<Vec<ConsentEntry>> {
    let rows = match purpose {
        Some(p) => tx.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM consent_entries WHERE tenant_id = $1 AND pseudonym = $2 AND purpose = $3 ORDER BY seq"),
            &[tenant.into(), pseudonym.into(), p.into()],
        )?,
        None => tx.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM consent_entries WHERE tenant_id = $1 AND pseudonym = $2 ORDER BY at, purpose, seq"),
            &[tenant.into(), pseudonym.into()],
        )?,
    };
    rows.iter().map(|r| entry_of(r)).collect()
}

/// Registers the tenant and the subject (if new) and locks the subject's row, so two changes to
/// one subject's ledger take turns.
fn lock_subject(tx: &mut dyn Tx, tenant: &str, pseudonym: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[tenant.into(), now.into()],
    )?;
    tx.execute(
        "INSERT INTO subjects (tenant_id, pseudonym, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[tenant.into(), pseudonym.into(), now.into()],
    )?;
    if tx.postgres() {
        tx.query(
            "SELECT 1 FROM subjects WHERE tenant_id = $1 AND pseudonym = $2 FOR UPDATE",
            &[tenant.into(), pseudonym.into()],
        )?;
    }
    Ok(())
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

const APPROVAL_COLUMNS: &str = "approval_id, action, item, state, requested_by, requested_at, decided_by, decided_at, reason, token_expires_at, token_used_at";
/// How many columns [`APPROVAL_COLUMNS`] names.
const APPROVAL_COLUMN_COUNT: usize = 11;

/// Refuses an action the policy does not gate, naming the nearest one that it does.
fn check_action(policy: &Policy, action: &str) -> Result<()> {
    let declared = policy.approval_actions();
    if declared.contains(&action) {
        return Ok(());
    }
    Err(ConsentCallError::UnknownAction {
        action: action.to_owned(),
        nearest: custos_policy::diag::nearest(action, declared).map(str::to_owned),
    }
    .into())
}

fn approval_of(row: &[Val]) -> Result<Approval> {
    let bad = || VaultError::Corrupt("an approval is unreadable".into());
    let text = |i: usize| row.get(i).and_then(Val::text).map(str::to_owned);
    let time = |i: usize| row.get(i).and_then(Val::int).map(ts).transpose();
    Ok(Approval {
        approval_id: text(0).ok_or_else(bad)?,
        action: text(1).ok_or_else(bad)?,
        item: text(2).ok_or_else(bad)?,
        state: text(3).ok_or_else(bad)?,
        requested_by: text(4).ok_or_else(bad)?,
        requested_at: time(5)?.ok_or_else(bad)?,
        decided_by: text(6),
        decided_at: time(7)?,
        reason: text(8),
        token_expires_at: time(9)?,
        token_used_at: time(10)?,
    })
}

impl TenantVault<'_> {
    fn suppression_key(&self) -> SuppressionKey {
        SuppressionKey::new(*self.tenant_key("consent/suppression"))
    }

    /// Appends a grant or a withdrawal to the subject's ledger (Art. 7): refused for an undefined
    /// purpose, a purpose not based on consent, a withdrawal with nothing to withdraw, or an entry
    /// older than the purpose's last one. Withdrawing is one call, as easy as giving (Art. 7(3));
    /// it also records the `consent.withdrawn` retention event for the purpose, so data kept only
    /// until then runs out. Returns the purpose's state after the entry.
    pub fn record_consent(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        c: &ConsentRecord,
        now: Timestamp,
    ) -> Result<ConsentState> {
        check_text(&c.notice_version, "notice_version")?;
        check_hash(&c.notice_hash)?;
        check_text(&c.channel, "channel")?;
        check_text(&c.proof, "proof")?;
        if has_full_ip(&c.proof) {
            return Err(ConsentCallError::FullIp.into());
        }
        if custos_types::limits::beyond_skew(c.at.as_second(), now.as_second()) {
            return Err(VaultError::EventInFuture {
                event: format!(
                    "consent.{}",
                    if c.kind == ConsentKind::Grant {
                        "granted"
                    } else {
                        "withdrawn"
                    }
                ),
                at: c.at,
                now,
                skew_seconds: 300,
            });
        }
        let entry = ConsentEntry {
            purpose: c.purpose.clone(),
            kind: c.kind,
            at: c.at,
            notice_version: c.notice_version.trim().to_owned(),
            notice_hash: c.notice_hash.to_ascii_lowercase(),
            channel: c.channel.trim().to_owned(),
            proof: c.proof.trim().to_owned(),
        };
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let mut state = ConsentState::Never;
        self.store().in_tx(&tenant, "recording consent", &mut |tx| {
            lock_subject(tx, &tenant, &pseudonym, now.as_microsecond())?;
            let ledger_now = ledger_of(tx, &tenant, &pseudonym, Some(&entry.purpose))?;
            ledger::validate(policy, &ledger_now, &entry)?;
            let seq = ledger_now.len() as i64 + 1;
            tx.execute(
                &format!("INSERT INTO consent_entries (tenant_id, pseudonym, seq, recorded_at, {ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
                &[
                    tenant.as_str().into(),
                    pseudonym.as_str().into(),
                    seq.into(),
                    now.as_microsecond().into(),
                    entry.purpose.as_str().into(),
                    (if entry.kind == ConsentKind::Grant { "grant" } else { "withdraw" }).into(),
                    entry.at.as_microsecond().into(),
                    entry.notice_version.as_str().into(),
                    entry.notice_hash.as_str().into(),
                    entry.channel.as_str().into(),
                    entry.proof.as_str().into(),
                ],
            )?;
            let mut all = ledger_now;
            all.push(entry.clone());
            state = ledger::state(&all, &entry.purpose);
            let action = if entry.kind == ConsentKind::Grant { "consent.granted" } else { "consent.withdrawn" };
            ctx.audit(
                tx,
                action,
                Some(pseudonym.clone()),
                serde_json::json!({
                    "purpose": entry.purpose,
                    "at": entry.at,
                    "notice_version": entry.notice_version,
                    "notice_hash": entry.notice_hash,
                    "channel": entry.channel,
                }),
            )
        })?;
        if c.kind == ConsentKind::Withdraw {
            let target = crate::EventTarget::Subject {
                subject: subject.clone(),
                purpose: Some(c.purpose.clone()),
            };
            match self.record_event(policy, &target, "consent.withdrawn", c.at, now) {
                Ok(_) | Err(VaultError::UnknownSubject | VaultError::UnknownEvent { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(state)
    }

    /// The subject's whole ledger, oldest first.
    pub fn consent_history(&mut self, subject: &SubjectId) -> Result<Vec<ConsentEntry>> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store()
            .in_tx(&tenant, "reading the consent ledger", &mut |tx| {
                out = ledger_of(tx, &tenant, &pseudonym, None)?;
                Ok(())
            })?;
        Ok(out)
    }

    /// The subject's consent for every consent-based purpose of the policy, each marked stale
    /// when given under a notice version the purpose lists in `stale_consent` or under one of
    /// `stale_versions` (the notice versions whose change needs consent again, as `custos diff`
    /// reports them).
    pub fn consent_states(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        stale_versions: &[&str],
    ) -> Result<Vec<PurposeConsent>> {
        let history = self.consent_history(subject)?;
        Ok(policy
            .purposes
            .iter()
            .filter(|p| ledger::is_consent_purpose(policy, &p.id).unwrap_or(false))
            .map(|p| {
                let consent = ledger::state(&history, &p.id);
                PurposeConsent {
                    purpose: p.id.clone(),
                    stale: ledger::is_stale(&consent, Some(p), stale_versions),
                    consent,
                }
            })
            .collect())
    }

    /// Records that the subject accepted statement `version` (whose text hashes to
    /// `notice_hash`). Accepting the same version again changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn accept_statement(
        &mut self,
        subject: &SubjectId,
        version: &str,
        notice_hash: &str,
        at: Timestamp,
        channel: &str,
        proof: &str,
        now: Timestamp,
    ) -> Result<bool> {
        check_text(version, "version")?;
        check_hash(notice_hash)?;
        check_text(channel, "channel")?;
        check_text(proof, "proof")?;
        if has_full_ip(proof) {
            return Err(ConsentCallError::FullIp.into());
        }
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let mut added = false;
        self.store().in_tx(&tenant, "recording an acceptance", &mut |tx| {
            lock_subject(tx, &tenant, &pseudonym, now.as_microsecond())?;
            added = tx.execute(
                "INSERT INTO acceptances (tenant_id, pseudonym, version, notice_hash, at, channel, proof) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    tenant.as_str().into(),
                    pseudonym.as_str().into(),
                    version.trim().into(),
                    notice_hash.to_ascii_lowercase().into(),
                    at.as_microsecond().into(),
                    channel.trim().into(),
                    proof.trim().into(),
                ],
            )? == 1;
            if added {
                ctx.audit(
                    tx,
                    "statement.accepted",
                    Some(pseudonym.clone()),
                    serde_json::json!({ "version": version.trim(), "notice_hash": notice_hash.to_ascii_lowercase(), "at": at, "channel": channel.trim() }),
                )?;
            }
            Ok(())
        })?;
        Ok(added)
    }

    /// Whether the subject must accept statement `current` at the next login: it has not
    /// accepted that version.
    pub fn must_accept(&mut self, subject: &SubjectId, current: &str) -> Result<bool> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let mut accepted = false;
        self.store().in_read_tx(&tenant, "reading acceptances", &mut |tx| {
            accepted = !tx
                .query(
                    "SELECT 1 FROM acceptances WHERE tenant_id = $1 AND pseudonym = $2 AND version = $3",
                    &[tenant.as_str().into(), pseudonym.as_str().into(), current.trim().into()],
                )?
                .is_empty();
            Ok(())
        })?;
        Ok(!accepted)
    }

    /// Adds an address (e-mail or phone) to the marketing suppression list: from now on no
    /// marketing purpose is allowed for it, even after the subject is erased. Only a keyed hash
    /// is stored. Idempotent.
    pub fn suppress(&mut self, address: &str, reason: &str, now: Timestamp) -> Result<bool> {
        check_text(address, "address")?;
        let entry = self.suppression_key().entry(address);
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let mut added = false;
        self.store().in_tx(&tenant, "adding to the suppression list", &mut |tx| {
            tx.execute(
                "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), now.as_microsecond().into()],
            )?;
            added = tx.execute(
                "INSERT INTO suppression (tenant_id, entry, reason, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), entry.as_str().into(), reason.into(), now.as_microsecond().into()],
            )? == 1;
            if added {
                ctx.audit(tx, "suppression.added", None, serde_json::json!({ "reason": reason }))?;
            }
            Ok(())
        })?;
        Ok(added)
    }

    /// Whether an address is on the suppression list.
    pub fn is_suppressed(&mut self, address: &str) -> Result<bool> {
        let entry = self.suppression_key().entry(address);
        let tenant = self.tenant_id().as_str().to_owned();
        let mut found = false;
        self.store()
            .in_tx(&tenant, "reading the suppression list", &mut |tx| {
                found = !tx
                    .query(
                        "SELECT 1 FROM suppression WHERE tenant_id = $1 AND entry = $2",
                        &[tenant.as_str().into(), entry.as_str().into()],
                    )?
                    .is_empty();
                Ok(())
            })?;
        Ok(found)
    }

    /// Records a Global Privacy Control signal (`Sec-GPC: 1`) from the subject: an objection to
    /// the sale or sharing of their data and to direct marketing (a `gpc` flag every decision
    /// sees), and, when the address is known, its place on the suppression list. Idempotent.
    pub fn record_gpc(
        &mut self,
        subject: &SubjectId,
        address: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let mut added = false;
        self.store().in_tx(&tenant, "recording a GPC signal", &mut |tx| {
            lock_subject(tx, &tenant, &pseudonym, now.as_microsecond())?;
            added = tx.execute(
                "INSERT INTO subject_flags (tenant_id, pseudonym, flag, purpose, set_at, request_id, lifted_at) VALUES ($1, $2, 'gpc', '', $3, NULL, NULL) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), pseudonym.as_str().into(), now.as_microsecond().into()],
            )? == 1;
            if added {
                ctx.audit(tx, "gpc.received", Some(pseudonym.clone()), serde_json::json!({ "objects_to": ["sale_or_sharing", "direct_marketing"] }))?;
            }
            Ok(())
        })?;
        if let Some(a) = address {
            self.suppress(a, "gpc", now)?;
        }
        Ok(added)
    }

    /// Registers an item that needs a person's approval before `action` (e.g. an AI draft before
    /// `draft.send`). `item` is the app's own reference (no personal data); `subject` is the
    /// person the item concerns. The token an approval yields is good only for this action, this
    /// item and this subject. `action` must be one the policy gates (`approval = { action = … }`):
    /// an approval for an undeclared action would gate nothing. Audited.
    pub fn request_approval(
        &mut self,
        policy: &Policy,
        action: &str,
        item: &str,
        subject: &SubjectId,
        now: Timestamp,
    ) -> Result<Approval> {
        check_text(action, "action")?;
        check_text(item, "item")?;
        check_action(policy, action.trim())?;
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let mut raw = [0u8; 16];
        keys::fill_random(&mut raw)?;
        let id = hex(&raw);
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        self.store().in_tx(&tenant, "requesting an approval", &mut |tx| {
            tx.execute(
                "INSERT INTO approvals (tenant_id, approval_id, action, item, state, requested_by, requested_at, pseudonym) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
                &[tenant.as_str().into(), id.as_str().into(), action.trim().into(), item.trim().into(), ctx.actor.as_str().into(), now.as_microsecond().into(), pseudonym.as_str().into()],
            )?;
            ctx.audit(tx, "approval.requested", Some(pseudonym.clone()), serde_json::json!({ "approval_id": id, "action": action.trim(), "item": item.trim() }))
        })?;
        self.approval(&id)
    }

    /// One approval.
    pub fn approval(&mut self, approval_id: &str) -> Result<Approval> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = None;
        self.store().in_read_tx(&tenant, "reading an approval", &mut |tx| {
            let rows = tx.query(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE tenant_id = $1 AND approval_id = $2"),
                &[tenant.as_str().into(), approval_id.into()],
            )?;
            out = rows.first().map(|r| approval_of(r)).transpose()?;
            Ok(())
        })?;
        out.ok_or_else(|| ConsentCallError::ApprovalNotFound(approval_id.to_owned()).into())
    }

    /// The tenant's approvals, pending ones only unless `all`, oldest first.
    pub fn approvals(&mut self, all: bool) -> Result<Vec<Approval>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let filter = if all { "" } else { " AND state = 'pending'" };
        let mut out = Vec::new();
        self.store().in_read_tx(&tenant, "listing approvals", &mut |tx| {
            let rows = tx.query(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE tenant_id = $1{filter} ORDER BY requested_at, approval_id"),
                &[tenant.as_str().into()],
            )?;
            out = rows.iter().map(|r| approval_of(r)).collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// A person approves (`approve = true`) or rejects an item; who and when go into the audit
    /// trail (use `acting_as` with the person's identity). An approval returns the one-time token
    /// the app presents to the decision call for the action; only its hash is stored.
    pub fn decide_approval(
        &mut self,
        approval_id: &str,
        approve: bool,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(Approval, Option<String>)> {
        if !approve && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(ConsentCallError::Empty("reason").into());
        }
        let token = if approve {
            let mut raw = [0u8; 32];
            keys::fill_random(&mut raw)?;
            Some(hex(&raw))
        } else {
            None
        };
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        self.store().in_tx(&tenant, "deciding an approval", &mut |tx| {
            let lock = tx.for_update();
            let rows = tx.query(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE tenant_id = $1 AND approval_id = $2{lock}"),
                &[tenant.as_str().into(), approval_id.into()],
            )?;
            let a = rows
                .first()
                .map(|r| approval_of(r))
                .transpose()?
                .ok_or_else(|| ConsentCallError::ApprovalNotFound(approval_id.to_owned()))?;
            if a.state != "pending" {
                return Err(ConsentCallError::AlreadyDecided { id: a.approval_id, state: a.state }.into());
            }
            let state = if approve { "approved" } else { "rejected" };
            tx.execute(
                "UPDATE approvals SET state = $3, decided_by = $4, decided_at = $5, reason = $6, token_hash = $7, token_expires_at = $8 WHERE tenant_id = $1 AND approval_id = $2",
                &[
                    tenant.as_str().into(),
                    approval_id.into(),
                    state.into(),
                    ctx.actor.as_str().into(),
                    now.as_microsecond().into(),
                    reason.map(|r| r.trim().to_owned()).into(),
                    token.as_deref().map(token_hash).into(),
                    token.as_ref().map(|_| now.as_microsecond() + TOKEN_VALID_SECONDS * 1_000_000).into(),
                ],
            )?;
            ctx.audit(
                tx,
                &format!("approval.{state}"),
                None,
                serde_json::json!({ "approval_id": approval_id, "action": a.action, "item": a.item, "reason": reason.map(str::trim) }),
            )
        })?;
        Ok((self.approval(approval_id)?, token))
    }

    /// Uses up an approval token for `action` on `item` of `subject`: refused when unknown, used
    /// before, expired, or given for another action, item or subject. Audited. The decision call
    /// does this itself when everything else allows; this is for an app that gates an action
    /// outside the decision call.
    pub fn use_approval_token(
        &mut self,
        action: &str,
        item: &str,
        subject: &SubjectId,
        token: &str,
        now: Timestamp,
    ) -> Result<Approval> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        self.spend_token(action, Some(item), &pseudonym, token, now)
    }

    fn spend_token(
        &mut self,
        action: &str,
        item: Option<&str>,
        pseudonym: &str,
        token: &str,
        now: Timestamp,
    ) -> Result<Approval> {
        let hash = token_hash(token);
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let mut out = None;
        self.store().in_tx(&tenant, "using an approval token", &mut |tx| {
            let lock = tx.for_update();
            let rows = tx.query(
                &format!("SELECT {APPROVAL_COLUMNS}, pseudonym FROM approvals WHERE tenant_id = $1 AND token_hash = $2{lock}"),
                &[tenant.as_str().into(), hash.as_str().into()],
            )?;
            let Some(row) = rows.first() else {
                return Err(ConsentCallError::TokenInvalid.into());
            };
            let a = approval_of(row)?;
            let token = approval::Token {
                action: &a.action,
                item: &a.item,
                subject: row.get(APPROVAL_COLUMN_COUNT).and_then(Val::text),
                expires_at: a.token_expires_at,
                used_at: a.token_used_at,
            };
            let presented = approval::Presented { action, item, subject: pseudonym };
            approval::check_token(&token, &presented, now).map_err(ConsentCallError::from)?;
            tx.execute(
                "UPDATE approvals SET token_used_at = $3 WHERE tenant_id = $1 AND approval_id = $2",
                &[tenant.as_str().into(), a.approval_id.as_str().into(), now.as_microsecond().into()],
            )?;
            ctx.audit(tx, "approval.used", Some(pseudonym.to_owned()), serde_json::json!({ "approval_id": a.approval_id, "action": action, "item": a.item }))?;
            out = Some(Approval { token_used_at: Some(now), ..a });
            Ok(())
        })?;
        out.ok_or_else(|| VaultError::Corrupt("a token use returned nothing".into()))
    }

    /// The decision: may this subject's data of this category be processed for this purpose,
    /// now, and why (see `custos_consent::decision::decide`)? Gathers the subject's consent,
    /// restriction, objection and GPC flags, the suppression list (for `address`), the record's
    /// retention expiry, and the approval token. A token is used up only when everything else
    /// allows; a token that fails (used, expired, other action) is a denial naming why.
    pub fn decide(
        &mut self,
        policy: &Policy,
        q: &DecisionQuery<'_>,
        now: Timestamp,
    ) -> Result<Decision> {
        if let Some(action) = q.action {
            check_action(policy, action)?;
        }
        // Everything the decision needs, in one read transaction.
        let pseudonym = self.pseudonym(q.subject).as_str().to_owned();
        let consent_based = ledger::is_consent_purpose(policy, q.purpose).unwrap_or(false);
        let entry = q.address.map(|a| self.suppression_key().entry(a));
        let tenant = self.tenant_id().as_str().to_owned();
        let mut flags: Vec<Flag> = Vec::new();
        let mut history: Vec<ConsentEntry> = Vec::new();
        let mut suppressed = false;
        let mut expires = None;
        self.store()
            .in_read_tx(&tenant, "gathering a decision's facts", &mut |tx| {
                flags = crate::rights::read_flags(tx, &tenant, &pseudonym)?;
                history = if consent_based {
                    ledger_of(tx, &tenant, &pseudonym, Some(q.purpose))?
                } else {
                    Vec::new()
                };
                suppressed = match &entry {
                    Some(e) => !tx
                        .query(
                            "SELECT 1 FROM suppression WHERE tenant_id = $1 AND entry = $2",
                            &[tenant.as_str().into(), e.as_str().into()],
                        )?
                        .is_empty(),
                    None => false,
                };
                expires = match q.record {
                    Some(id) => record_expiry_in(tx, &tenant, id)?,
                    None => None,
                };
                Ok(())
            })?;
        let consent = if consent_based {
            ledger::state(&history, q.purpose)
        } else {
            ConsentState::Never
        };
        let f = flags_for(policy, &flags, q.purpose);
        let gpc = q.gpc || flags.iter().any(|f| f.flag == "gpc");
        let stale = ledger::is_stale(&consent, policy.purpose(q.purpose), q.stale_versions);
        let consent = if stale { ConsentState::Never } else { consent };
        let input = |approved: bool| DecisionInput {
            purpose: q.purpose,
            category: q.category,
            now,
            consent: &consent,
            restricted: f.restricted,
            objected: f.objected || f.withdrawn,
            suppressed,
            gpc,
            expires,
            action: q.action,
            approved,
        };
        let first = custos_consent::decision::decide(policy, &input(false));
        let (Some(action), Some(token)) = (q.action, q.approval_token) else {
            return Ok(first);
        };
        // Would the token make the difference, or is it denied anyway?
        let with_token = custos_consent::decision::decide(policy, &input(true));
        if !with_token.allowed {
            return Ok(with_token);
        }
        match self.spend_token(action, q.item, &pseudonym, token, now) {
            Ok(_) => Ok(with_token),
            Err(VaultError::Consent(e)) => {
                let mut d = first;
                d.allowed = false;
                d.reasons.push(custos_consent::decision::Reason {
                    rule: "approval.token",
                    effect: custos_consent::decision::Effect::Deny,
                    article: "Art. 22(3) GDPR; C7 approval gate",
                    detail: e.to_string().into(),
                });
                Ok(d)
            }
            Err(e) => Err(e),
        }
    }
}

/// A record's retention expiry (`None` while it waits for an event), inside a transaction.
fn record_expiry_in(tx: &mut dyn Tx, tenant: &str, id: &RecordId) -> Result<Option<Timestamp>> {
    let rows = tx.query(
        "SELECT expires_at FROM records WHERE tenant_id = $1 AND record_id = $2",
        &[tenant.into(), id.as_str().into()],
    )?;
    let Some(row) = rows.first() else {
        return Err(VaultError::RecordNotFound(id.clone()));
    };
    row.first().and_then(Val::int).map(ts).transpose()
}
