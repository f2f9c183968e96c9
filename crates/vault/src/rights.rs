//! Data-subject requests (PRODUCT.md C5, Art. 12–22 GDPR): their lifecycle, identity
//! verification, deadlines, the flags that restriction (Art. 18), objection (Art. 21) and
//! withdrawal of consent (Art. 7(3)) leave for every later processing decision, and erasure that
//! keeps what a law obliges the controller to keep (Art. 17(3)(b)).
//!
//! A request moves `received → verified → in_progress → completed`, or ends `refused` (with the
//! reason and the right to complain, Art. 12(4)); an extension (Art. 12(3), two further months,
//! with the reason, recorded before the first month runs out) moves its due date. Nothing is
//! disclosed or deleted before identity is verified (Art. 12(6)). Every step is a row in the
//! request's history and an entry in the audit trail, in the same transaction.
//!
//! Deadlines are counted once, at filing, by [`NewRequest::counted`] (`custos_rights::due_date`,
//! Regulation 1182/71, the Dutch calendar) and stored with the request. A request holds the
//! subject's pseudonym, never the subject's identifier.
//!
//! The rules (which step may happen when, the purposes a request may name, what flags mean,
//! deadline risk, what an erasure keeps) are `custos_rights::request` and
//! `custos_rights::erasure`'s; this module stores requests and applies them, and re-exports
//! their types so callers keep one path.

use jiff::{Timestamp, civil::Date};
use serde::Serialize;

use custos_policy::Policy;
use custos_rights::erasure::StatutoryRule;
use custos_rights::request::{Action, Execution, check_code, check_purpose, flag_outcome};

pub use custos_rights::erasure::{DatasetErasure, DatasetKept, ErasureAnswer, Kept, KeptUntil};
pub use custos_rights::request::{
    AT_RISK_DAYS, CODE_ATTEMPTS, CODE_VALID_SECONDS, Flag, FlagsFor, Request, RequestError,
    RequestKind, RequestState, Risk, Verification, ZONE, complaint_text, day_of, flags_for,
    is_direct_marketing,
};

use crate::error::{Result, VaultError};
use crate::ids::{Pseudonym, RequestId, SubjectId};
use crate::keys;
use crate::store::{Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, Erasure, TenantVault};

/// A new request, as filed.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// What is asked.
    pub kind: RequestKind,
    /// Who asks (the app's identifier; only its pseudonym is stored).
    pub subject: SubjectId,
    /// The purpose it concerns: required for a withdrawal, optional for an objection
    /// (without one it concerns all processing on legitimate interests).
    pub purpose: Option<String>,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The day of receipt, in the controller's time zone (it does not count, Reg. 1182/71).
    pub received_on: Date,
    /// When the answer is due (one month, Art. 12(3)).
    pub due_on: Date,
    /// When it is due if extended (two further months).
    pub extended_due_on: Date,
    /// Through which channel it came (`api`, `email`, `opengdpr`, ...).
    pub channel: String,
    /// The id to give it (32 hex digits), when the requester's system names it (OpenGDPR's
    /// `subject_request_id`); a fresh random id otherwise.
    pub request_id: Option<String>,
    /// The language the requester wrote in (`nl`, `en`), for the letters that answer them.
    pub language: Option<String>,
}

impl NewRequest {
    /// A request received at `received_at`, its deadlines counted as the law counts them: one
    /// month, or three with the extension, from the day of receipt in the controller's time zone
    /// (Art. 12(3) GDPR, Regulation 1182/71, see `custos_rights::due_date`) with the public
    /// holidays of `calendar` (the controller's: the Dutch Algemene termijnenwet calendar with
    /// the days equated by decree from configuration, `NlCalendar::with_equated`). `None` only
    /// past the calendar's range.
    pub fn counted(
        kind: RequestKind,
        subject: SubjectId,
        purpose: Option<String>,
        received_at: Timestamp,
        channel: String,
        calendar: &dyn custos_rights::Calendar,
    ) -> Option<NewRequest> {
        let received_on = day_of(received_at);
        let due = custos_rights::due_date(received_on, false, calendar)?;
        let extended = custos_rights::due_date(received_on, true, calendar)?;
        Some(NewRequest {
            kind,
            subject,
            purpose,
            received_at,
            received_on,
            due_on: due.due,
            extended_due_on: extended.due,
            channel,
            request_id: None,
            language: None,
        })
    }
}

/// What filing did.
#[derive(Debug, Clone, Serialize)]
pub struct Filed {
    /// The request (the earlier one for a duplicate).
    pub request: Request,
    /// Whether an open request of the same kind from the same subject already existed; it is
    /// returned instead, and the duplicate is noted in its history.
    pub duplicate: bool,
}

/// One step in a request's history.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1, 2, 3, ...
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// What happened: `received`, `duplicate`, `code_issued`, `verified`, `in_progress`,
    /// `extended`, `completed`, `refused`, ...
    pub step: String,
    /// Who: an API key id, an operator, `custos`.
    pub actor: String,
    /// Details (no personal data).
    pub note: serde_json::Value,
}

/// Which requests a page of the queue shows: open ones (or those in `state`), of `kind` if
/// given, `limit` of them after the first `offset` by due date.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Only this kind of request.
    pub kind: Option<RequestKind>,
    /// Only requests in this state; `None` means every open one.
    pub state: Option<RequestState>,
    /// How many matching requests to skip.
    pub offset: usize,
    /// How many to return at most.
    pub limit: usize,
}

/// A page of requests and the counts of all that matched.
#[derive(Debug, Clone)]
pub struct RequestPage {
    /// How many requests matched.
    pub total: u64,
    /// How many of them are open after their due date.
    pub overdue: u64,
    /// How many of them are open and due within [`AT_RISK_DAYS`] days.
    pub at_risk: u64,
    /// The counts with what they were taken at, to pass back as `known`.
    pub counted: Counted,
    /// The page, earliest due first.
    pub requests: Vec<Request>,
}

/// A query's counts and what they were taken at: the tenant's audit head and the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The tenant's newest audit entry when counted.
    pub head: i64,
    /// The day the risks were counted on.
    pub today: Date,
    /// [`RequestPage::total`].
    pub total: u64,
    /// [`RequestPage::overdue`].
    pub overdue: u64,
    /// [`RequestPage::at_risk`].
    pub at_risk: u64,
}

const COLUMNS: &str = "request_id, kind, state, purpose, pseudonym, received_at, received_on, due_on, extended, verified_at, closed_at, detail";

fn row_to_request(row: Vec<Val>) -> Result<Request> {
    let bad =
        |what: &str| VaultError::Corrupt(format!("a stored request has an unreadable {what}"));
    let text = |i: usize| row.get(i).and_then(Val::text).map(str::to_owned);
    let int = |i: usize| row.get(i).and_then(Val::int);
    let ts = |i: usize| -> Result<Option<Timestamp>> {
        int(i)
            .map(|m| Timestamp::from_microsecond(m).map_err(|_| bad("time")))
            .transpose()
    };
    let date = |i: usize| -> Result<Date> {
        text(i)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("date"))
    };
    let kind = text(1)
        .and_then(|k| RequestKind::parse(&k))
        .ok_or_else(|| bad("kind"))?;
    let purpose = text(3).filter(|p| !p.is_empty());
    Ok(Request {
        request_id: text(0).ok_or_else(|| bad("id"))?,
        kind,
        state: {
            let state = text(2).ok_or_else(|| bad("state"))?;
            RequestState::parse(&state)
                .ok_or_else(|| VaultError::Corrupt(format!("unknown request state `{state}`")))?
        },
        purpose,
        subject: text(4).ok_or_else(|| bad("pseudonym"))?,
        received_at: ts(5)?.ok_or_else(|| bad("time"))?,
        received_on: date(6)?,
        due_on: date(7)?,
        extended: int(8) == Some(1),
        verified_at: ts(9)?,
        closed_at: ts(10)?,
        detail: serde_json::from_str(&text(11).ok_or_else(|| bad("detail"))?)
            .map_err(|_| bad("detail"))?,
    })
}

fn load(tx: &mut dyn Tx, tenant: &str, request_id: &str) -> Result<Request> {
    let lock = tx.for_update();
    let rows = tx.query(
        &format!("SELECT {COLUMNS} FROM requests WHERE tenant_id = $1 AND request_id = $2{lock}"),
        &[tenant.into(), request_id.into()],
    )?;
    match rows.into_iter().next() {
        Some(r) => row_to_request(r),
        None => Err(RequestError::NotFound(request_id.to_owned()).into()),
    }
}

fn save(tx: &mut dyn Tx, tenant: &str, r: &Request) -> Result<()> {
    tx.execute(
        "UPDATE requests SET state = $3, due_on = $4, extended = $5, verified_at = $6, closed_at = $7, detail = $8
         WHERE tenant_id = $1 AND request_id = $2",
        &[
            tenant.into(),
            r.request_id.as_str().into(),
            r.state.as_str().into(),
            r.due_on.to_string().into(),
            i64::from(r.extended).into(),
            r.verified_at.map(|t| t.as_microsecond()).into(),
            r.closed_at.map(|t| t.as_microsecond()).into(),
            r.detail.to_string().into(),
        ],
    )?;
    if r.closed_at.is_some() {
        // Who asked is kept only while the request is open (Art. 5(1)(c)).
        tx.execute(
            "UPDATE requests SET requester = NULL WHERE tenant_id = $1 AND request_id = $2",
            &[tenant.into(), r.request_id.as_str().into()],
        )?;
    }
    Ok(())
}

/// Context for writing one step: the tenant, who acts, the audit key, when.
struct StepCtx<'a> {
    tenant: &'a str,
    actor: &'a str,
    key: &'a custos_audit::SigningKey,
    now: Timestamp,
}

impl StepCtx<'_> {
    /// Appends a step to the request's history and the audit trail.
    fn step(
        &self,
        tx: &mut dyn Tx,
        r: &Request,
        step: &str,
        note: serde_json::Value,
    ) -> Result<()> {
        let seq = tx
            .query(
                "SELECT COALESCE(MAX(seq), 0) FROM request_history WHERE tenant_id = $1 AND request_id = $2",
                &[self.tenant.into(), r.request_id.as_str().into()],
            )?
            .into_iter()
            .next()
            .and_then(|row| row.first().and_then(Val::int))
            .unwrap_or(0)
            + 1;
        tx.execute(
            "INSERT INTO request_history (tenant_id, request_id, seq, at, state, actor, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                self.tenant.into(),
                r.request_id.as_str().into(),
                seq.into(),
                self.now.as_microsecond().into(),
                step.into(),
                self.actor.into(),
                note.to_string().into(),
            ],
        )?;
        let mut details = serde_json::json!({
            "request_id": r.request_id,
            "kind": r.kind.as_str(),
            "state": r.state.as_str(),
            "due_on": r.due_on.to_string(),
        });
        if let (Some(obj), Some(extra)) = (details.as_object_mut(), note.as_object()) {
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let ev = custos_audit::Event {
            tenant: self.tenant.to_owned(),
            actor: self.actor.to_owned(),
            action: format!("request.{step}"),
            subject: Some(r.subject.clone()),
            details,
        };
        let (now, key) = (self.now, self.key);
        tx.append_audit(&mut |head| {
            custos_audit::build(
                head,
                std::slice::from_ref(&ev),
                now,
                key,
                AUDIT_CHECKPOINT_EVERY,
            )
        })
    }
}

/// Keyed hash of a one-time code, bound to its request, so the database never holds a usable code.
fn code_hash(v: &TenantVault<'_>, request_id: &str, code: &str) -> Result<String> {
    let id = SubjectId::new(format!("custos-otp\u{1f}{request_id}\u{1f}{code}"))?;
    Ok(v.pseudonym(&id).as_str().to_owned())
}

fn set_detail(r: &mut Request, key: &str, value: serde_json::Value) {
    if !r.detail.is_object() {
        r.detail = serde_json::json!({});
    }
    if let Some(obj) = r.detail.as_object_mut() {
        obj.insert(key.to_owned(), value);
    }
}

impl TenantVault<'_> {
    /// Runs `work` on one request, locked, inside one transaction that also writes its history
    /// and audit entries.
    fn with_request<T>(
        &mut self,
        operation: &'static str,
        request_id: &str,
        now: Timestamp,
        work: &mut dyn FnMut(&mut dyn Tx, &StepCtx<'_>, &mut Request) -> Result<T>,
    ) -> Result<T> {
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut out = None;
        self.store().in_tx(&tenant, operation, &mut |tx| {
            let ctx = StepCtx {
                tenant: &tenant,
                actor: &actor,
                key: &key,
                now,
            };
            let mut r = load(tx, &tenant, request_id)?;
            out = Some(work(tx, &ctx, &mut r)?);
            Ok(())
        })?;
        out.ok_or_else(|| VaultError::Corrupt("a request transaction returned nothing".into()))
    }

    /// Files a request. Whether the subject has data here is neither checked nor revealed: an
    /// unverified requester learns nothing from the answer. An open request of the same kind
    /// (and purpose) from the same subject is returned instead of a second one, and the
    /// duplicate is noted in its history.
    pub fn file_request(&mut self, policy: &Policy, new: NewRequest) -> Result<Filed> {
        check_purpose(policy, new.kind, new.purpose.as_deref())?;
        let pseudonym = self.pseudonym(&new.subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let request_id = match &new.request_id {
            // The count is of the digits given, dashes left out, as the id is stored.
            Some(id) => RequestId::parse(id)
                .map_err(|_| RequestError::BadId(id.chars().filter(|c| *c != '-').count()))?,
            None => {
                let mut raw = [0u8; 16];
                keys::fill_random(&mut raw)?;
                RequestId::from_bytes(&raw)
            }
        }
        .as_str()
        .to_owned();
        let purpose = new.purpose.clone().unwrap_or_default();
        let sealed = self
            .vault
            .keys
            .seal_requester(self.tenant_id(), &request_id, &new.subject)?;
        let mut out = None;
        self.store().in_tx(&tenant, "filing a request", &mut |tx| {
            let ctx = StepCtx {
                tenant: &tenant,
                actor: &actor,
                key: &key,
                now: new.received_at,
            };
            // The tenant row: requests may come for a tenant that holds no data yet.
            tx.execute(
                "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), new.received_at.as_microsecond().into()],
            )?;
            // The id taken, or an open request of the same kind for the subject: not filed again.
            // Run again when the insert below finds another filing committed meanwhile.
            let filed_before = |tx: &mut dyn Tx| -> Result<Option<Filed>> {
                let open = tx.query(
                    &format!("SELECT {COLUMNS} FROM requests WHERE tenant_id = $1 AND pseudonym = $2 AND kind = $3 AND purpose = $4 AND closed_at IS NULL"),
                    &[tenant.as_str().into(), pseudonym.as_str().into(), new.kind.as_str().into(), purpose.as_str().into()],
                )?;
                let taken = tx.query(
                    "SELECT 1 FROM requests WHERE tenant_id = $1 AND request_id = $2",
                    &[tenant.as_str().into(), request_id.as_str().into()],
                )?;
                if !taken.is_empty() {
                    return Err(RequestError::IdTaken(request_id.clone()).into());
                }
                match open.into_iter().next() {
                    Some(row) => {
                        let r = row_to_request(row)?;
                        ctx.step(tx, &r, "duplicate", serde_json::json!({ "channel": new.channel }))?;
                        Ok(Some(Filed { request: r, duplicate: true }))
                    }
                    None => Ok(None),
                }
            };
            if let Some(f) = filed_before(tx)? {
                out = Some(f);
                return Ok(());
            }
            let r = Request {
                request_id: request_id.clone(),
                kind: new.kind,
                state: RequestState::Received,
                purpose: new.purpose.clone(),
                subject: pseudonym.clone(),
                received_at: new.received_at,
                received_on: new.received_on,
                due_on: new.due_on,
                extended: false,
                verified_at: None,
                closed_at: None,
                detail: serde_json::json!({
                    "channel": new.channel,
                    "article": new.kind.article(),
                    "extended_due_on": new.extended_due_on.to_string(),
                    "language": new.language,
                }),
            };
            // Two servers filing the same request at once (a controller's retry reaching both)
            // both pass the checks above; the second's insert then waits for the first's commit
            // and, finding its row (the id, or the open request of the subject), inserts nothing
            // and answers as a later filing would, instead of failing on the unique key.
            let inserted = tx.execute(
                &format!("INSERT INTO requests (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"),
                &[
                    tenant.as_str().into(),
                    r.request_id.as_str().into(),
                    r.kind.as_str().into(),
                    r.state.as_str().into(),
                    purpose.as_str().into(),
                    r.subject.as_str().into(),
                    r.received_at.as_microsecond().into(),
                    r.received_on.to_string().into(),
                    r.due_on.to_string().into(),
                    0i64.into(),
                    Val::Int(None),
                    Val::Int(None),
                    r.detail.to_string().into(),
                ],
            )?;
            if inserted == 0 {
                out = Some(filed_before(tx)?.ok_or_else(|| {
                    VaultError::Corrupt("a request conflicted with none on record".into())
                })?);
                return Ok(());
            }
            tx.execute(
                "UPDATE requests SET requester = $3 WHERE tenant_id = $1 AND request_id = $2",
                &[tenant.as_str().into(), r.request_id.as_str().into(), sealed.clone().into()],
            )?;
            ctx.step(tx, &r, "received", serde_json::json!({ "channel": new.channel, "received_on": new.received_on.to_string() }))?;
            out = Some(Filed { request: r, duplicate: false });
            Ok(())
        })?;
        out.ok_or_else(|| VaultError::Corrupt("filing returned nothing".into()))
    }

    /// One request.
    pub fn request(&mut self, request_id: &str) -> Result<Request> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = None;
        self.store()
            .in_tx(&tenant, "reading a request", &mut |tx| {
                out = Some(load(tx, &tenant, request_id)?);
                Ok(())
            })?;
        out.ok_or_else(|| RequestError::NotFound(request_id.to_owned()).into())
    }

    /// The tenant's requests by due date, earliest first; closed ones only if `all`.
    pub fn requests(&mut self, all: bool) -> Result<Vec<Request>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let filter = if all { "" } else { " AND closed_at IS NULL" };
        let mut out = Vec::new();
        self.store().in_read_tx(&tenant, "listing requests", &mut |tx| {
            let rows = tx.query(
                &format!("SELECT {COLUMNS} FROM requests WHERE tenant_id = $1{filter} ORDER BY due_on, received_at, request_id"),
                &[tenant.as_str().into()],
            )?;
            out = rows.into_iter().map(row_to_request).collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Who filed open request `request_id`, so the privacy team can carry it out without
    /// knowing the identifier: `None` once the request is closed (it is cleared then) or when it
    /// was filed before requesters were kept. The identifier is checked against the request's
    /// pseudonym.
    pub fn requester(&mut self, request_id: &str) -> Result<Option<SubjectId>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut sealed = None;
        self.store()
            .in_read_tx(&tenant, "reading who filed a request", &mut |tx| {
                let r = load(tx, &tenant, request_id)?;
                let rows = tx.query(
                    "SELECT requester FROM requests WHERE tenant_id = $1 AND request_id = $2",
                    &[tenant.as_str().into(), request_id.into()],
                )?;
                sealed = rows
                    .into_iter()
                    .next()
                    .and_then(|row| row.into_iter().next())
                    .and_then(Val::into_bytes)
                    .map(|b| (b, r.subject));
                Ok(())
            })?;
        let Some((sealed, pseudonym)) = sealed else {
            return Ok(None);
        };
        let subject = self
            .vault
            .keys
            .open_requester(self.tenant_id(), request_id, &sealed)
            .ok_or_else(|| VaultError::Corrupt("a request's requester does not open".into()))?;
        if self.pseudonym(&subject).as_str() != pseudonym {
            return Err(VaultError::Corrupt(
                "a request's requester is not its subject".into(),
            ));
        }
        Ok(Some(subject))
    }

    /// One page of the tenant's requests by due date, earliest first, with the counts of all
    /// that match: the open ones (any state not closed) unless `query.state` names one. Counted
    /// and paged in the database, so a queue of thousands costs one page's rows.
    /// `known`: the counts an earlier page of the same query returned; when nothing changed
    /// since (the tenant's audit trail has the same head, and it is the same day) they are
    /// taken as they are instead of counted again.
    pub fn request_page(
        &mut self,
        query: &RequestQuery,
        today: Date,
        known: Option<&Counted>,
    ) -> Result<RequestPage> {
        let tenant = self.tenant_id().as_str().to_owned();
        // Conditions after the tenant's (`tenant_id = $1` stays in the statements' text).
        let mut filter = String::new();
        let mut args: Vec<Val> = vec![tenant.as_str().into()];
        match query.state {
            Some(state) => {
                args.push(state.as_str().into());
                filter.push_str(&format!(" AND state = ${}", args.len()));
            }
            None => filter.push_str(" AND closed_at IS NULL"),
        }
        if let Some(kind) = query.kind {
            args.push(kind.as_str().into());
            filter.push_str(&format!(" AND kind = ${}", args.len()));
        }
        let (first, last) = custos_rights::request::risk_bounds(today);
        let n = args.len();
        let counts = format!(
            "SELECT COUNT(*), \
               COALESCE(SUM(CASE WHEN closed_at IS NULL AND due_on < ${a} THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN closed_at IS NULL AND due_on >= ${a} AND due_on <= ${b} THEN 1 ELSE 0 END), 0) \
             FROM requests WHERE tenant_id = $1{filter}",
            a = n + 1,
            b = n + 2,
        );
        let mut count_args = args.clone();
        count_args.push(first.to_string().into());
        count_args.push(last.to_string().into());
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE tenant_id = $1{filter} ORDER BY due_on, received_at, request_id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut row_args = args;
        row_args.push(limit.into());
        row_args.push(offset.into());
        let mut out = None;
        self.store()
            .in_read_tx(&tenant, "listing requests", &mut |tx| {
                // Every change to a request appends to the tenant's audit trail in the same
                // transaction: counts taken at the same head are still right.
                let head = tx
                    .query(
                        "SELECT COALESCE(MAX(seq), 0) FROM audit_entries WHERE tenant_id = $1",
                        &[tenant.as_str().into()],
                    )?
                    .first()
                    .and_then(|r| r.first())
                    .and_then(Val::int)
                    .unwrap_or(0);
                let (total, overdue, at_risk) = match known {
                    Some(k) if k.head == head && k.today == today => {
                        (k.total, k.overdue, k.at_risk)
                    }
                    _ => {
                        let counted = tx.query(&counts, &count_args)?;
                        let bad =
                            || VaultError::Corrupt("the request counts are unreadable".into());
                        let row = counted.first().ok_or_else(bad)?;
                        let count = |i: usize| {
                            row.get(i)
                                .and_then(Val::int)
                                .and_then(|n| u64::try_from(n).ok())
                                .ok_or_else(bad)
                        };
                        (count(0)?, count(1)?, count(2)?)
                    }
                };
                let requests = tx
                    .query(&rows_sql, &row_args)?
                    .into_iter()
                    .map(row_to_request)
                    .collect::<Result<_>>()?;
                out = Some(RequestPage {
                    total,
                    overdue,
                    at_risk,
                    counted: Counted {
                        head,
                        today,
                        total,
                        overdue,
                        at_risk,
                    },
                    requests,
                });
                Ok(())
            })?;
        out.ok_or_else(|| VaultError::Corrupt("listing requests returned nothing".into()))
    }

    /// A request's history, oldest first.
    pub fn request_history(&mut self, request_id: &str) -> Result<Vec<Step>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store().in_read_tx(&tenant, "reading a request's history", &mut |tx| {
            load(tx, &tenant, request_id)?;
            let rows = tx.query(
                "SELECT seq, at, state, actor, note FROM request_history WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq",
                &[tenant.as_str().into(), request_id.into()],
            )?;
            let bad = || VaultError::Corrupt("a request history step is unreadable".into());
            out = rows
                .into_iter()
                .map(|r| {
                    Ok(Step {
                        seq: r.first().and_then(Val::int).ok_or_else(bad)?,
                        at: r
                            .get(1)
                            .and_then(Val::int)
                            .and_then(|m| Timestamp::from_microsecond(m).ok())
                            .ok_or_else(bad)?,
                        step: r.get(2).and_then(Val::text).ok_or_else(bad)?.to_owned(),
                        actor: r.get(3).and_then(Val::text).ok_or_else(bad)?.to_owned(),
                        note: r
                            .get(4)
                            .and_then(Val::text)
                            .and_then(|t| serde_json::from_str(t).ok())
                            .ok_or_else(bad)?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Issues a one-time code for identity verification. The caller sends it to the address on
    /// file (never to an address the requester supplies); only its keyed hash is stored. A new
    /// code replaces the old one.
    pub fn issue_code(&mut self, request_id: &str, now: Timestamp) -> Result<String> {
        let mut raw = [0u8; 4];
        keys::fill_random(&mut raw)?;
        let code = format!("{:06}", u32::from_le_bytes(raw) % 1_000_000);
        let hash = code_hash(self, request_id, &code)?;
        self.with_request(
            "issuing a verification code",
            request_id,
            now,
            &mut |tx, ctx, r| {
                r.check(Action::IssueCode)?;
                set_detail(
                    r,
                    "code",
                    serde_json::json!({
                        "hash": hash,
                        "expires_at": now.as_microsecond() + CODE_VALID_SECONDS * 1_000_000,
                        "attempts": 0,
                    }),
                );
                save(tx, ctx.tenant, r)?;
                ctx.step(
                    tx,
                    r,
                    "code_issued",
                    serde_json::json!({ "valid_seconds": CODE_VALID_SECONDS }),
                )
            },
        )?;
        Ok(code)
    }

    /// Verifies the requester's identity. A wrong code counts an attempt (and is remembered even
    /// though the call fails); after [`CODE_ATTEMPTS`] the code is void.
    pub fn verify_request(
        &mut self,
        request_id: &str,
        how: &Verification,
        now: Timestamp,
    ) -> Result<Request> {
        let expected = match how {
            Verification::Code(code) => Some(code_hash(self, request_id, code.trim())?),
            Verification::Attested { method } if method.trim().is_empty() => {
                return Err(RequestError::ReasonRequired("attested verification's method").into());
            }
            Verification::Attested { .. } => None,
        };
        // A wrong code must be counted even though the call fails, so the count is committed
        // in its own transaction and the error returned afterwards.
        let mut failure: Option<VaultError> = None;
        let r = self.with_request("verifying a request", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Verify)?;
            let method = match (&expected, how) {
                (Some(hash), _) => {
                    let code = r.detail.get("code").cloned();
                    let Some(code) = code else {
                        failure = Some(RequestError::NoCode(r.request_id.clone()).into());
                        return Ok(r.clone());
                    };
                    let attempts =
                        code.get("attempts").and_then(|a| a.as_u64()).unwrap_or(0) as u32;
                    let expires = code.get("expires_at").and_then(|a| a.as_i64()).unwrap_or(0);
                    let matches = code.get("hash").and_then(|h| h.as_str()) == Some(hash.as_str());
                    if let Err(e) = check_code(attempts, expires, matches, now) {
                        if let RequestError::WrongCode { .. } = e {
                            let mut code = code;
                            code["attempts"] = (attempts + 1).into();
                            set_detail(r, "code", code);
                            save(tx, ctx.tenant, r)?;
                            ctx.step(
                                tx,
                                r,
                                "verification_failed",
                                serde_json::json!({ "attempt": attempts + 1 }),
                            )?;
                        }
                        failure = Some(e.into());
                        return Ok(r.clone());
                    }
                    "one-time code".to_owned()
                }
                (None, Verification::Attested { method }) => method.trim().to_owned(),
                (None, Verification::Code(_)) => "one-time code".to_owned(),
            };
            if let Some(obj) = r.detail.as_object_mut() {
                obj.remove("code");
            }
            set_detail(r, "verified_by", serde_json::json!(method));
            r.state = Action::Verify.state_after(r.state);
            r.verified_at = Some(now);
            save(tx, ctx.tenant, r)?;
            ctx.step(tx, r, "verified", serde_json::json!({ "method": method }))?;
            Ok(r.clone())
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }

    /// Takes the two-month extension (Art. 12(3)): only once, with a reason told to the
    /// requester, and only while the first month runs (`today` at most the original due date).
    pub fn extend_request(
        &mut self,
        request_id: &str,
        reason: &str,
        today: Date,
        now: Timestamp,
    ) -> Result<Request> {
        if reason.trim().is_empty() {
            return Err(RequestError::ReasonRequired("extension").into());
        }
        self.with_request("extending a request", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Extend { today })?;
            let extended: Date = r
                .detail
                .get("extended_due_on")
                .and_then(|d| d.as_str())
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    VaultError::Corrupt("a request lost its extended due date".into())
                })?;
            let was = r.due_on;
            r.due_on = extended;
            r.extended = true;
            set_detail(r, "extension_reason", serde_json::json!(reason.trim()));
            save(tx, ctx.tenant, r)?;
            ctx.step(
                tx,
                r,
                "extended",
                serde_json::json!({ "reason": reason.trim(), "was_due_on": was.to_string() }),
            )?;
            Ok(r.clone())
        })
    }

    /// Refuses a request with its reason; the answer names the right to lodge a complaint with a
    /// supervisory authority and to seek a judicial remedy (Art. 12(4)).
    pub fn refuse_request(
        &mut self,
        policy: &Policy,
        request_id: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Request> {
        if reason.trim().is_empty() {
            return Err(RequestError::ReasonRequired("refusal").into());
        }
        let complaint = complaint_text(policy);
        self.with_request("refusing a request", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Refuse)?;
            set_detail(
                r,
                "refusal",
                serde_json::json!({ "reason": reason.trim(), "complaint": complaint }),
            );
            r.state = Action::Refuse.state_after(r.state);
            r.closed_at = Some(now);
            save(tx, ctx.tenant, r)?;
            ctx.step(
                tx,
                r,
                "refused",
                serde_json::json!({ "reason": reason.trim() }),
            )?;
            Ok(r.clone())
        })
    }

    /// Releases the answer of a verified access (Art. 15) or portability (Art. 20) request to
    /// its subject: the privacy team has looked at it, and the subject now downloads the archive
    /// from the privacy center after verifying their address afresh, which completes the
    /// request ([`TenantVault::answer_request`]). Releasing twice changes nothing.
    pub fn release_answer(&mut self, request_id: &str, now: Timestamp) -> Result<Request> {
        self.with_request("releasing an answer", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Execute(Execution::Answer))?;
            if r.kind.answer().is_none() {
                return Err(RequestError::WrongKind {
                    request_id: r.request_id.clone(),
                    kind: r.kind.as_str(),
                    step: "releasing an answer archive",
                }
                .into());
            }
            if r.detail.get("answer_released").is_some() {
                return Ok(r.clone());
            }
            set_detail(r, "answer_released", serde_json::json!(now.to_string()));
            r.state = Action::Start.state_after(r.state);
            save(tx, ctx.tenant, r)?;
            ctx.step(tx, r, "answer_released", serde_json::json!({}))?;
            Ok(r.clone())
        })
    }

    /// Marks a verified request as being carried out.
    pub fn start_request(&mut self, request_id: &str, now: Timestamp) -> Result<Request> {
        self.with_request("starting a request", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Start)?;
            if r.state == RequestState::Verified {
                r.state = Action::Start.state_after(r.state);
                save(tx, ctx.tenant, r)?;
                ctx.step(tx, r, "in_progress", serde_json::json!({}))?;
            }
            Ok(r.clone())
        })
    }

    /// Completes a verified request with its outcome (for access and portability: what was
    /// handed over; for rectification: what was corrected). No personal data in `outcome`.
    pub fn complete_request(
        &mut self,
        request_id: &str,
        outcome: serde_json::Value,
        now: Timestamp,
    ) -> Result<Request> {
        self.with_request(
            "completing a request",
            request_id,
            now,
            &mut |tx, ctx, r| {
                r.check(Action::Complete)?;
                complete(tx, ctx, r, outcome.clone())
            },
        )
    }

    /// Carries out a verified rectification request (Art. 16): writes the corrected data of each
    /// record in `corrections` (each must be the request's subject's), completes the request
    /// with `note` (what was corrected, no personal data) and the ids of the records corrected,
    /// and tells every recipient that received the subject's data (Art. 19) — all in one
    /// transaction: either every correction is written and the request completed, or nothing
    /// is. A rectification without corrections is refused: to decline one, refuse the request
    /// with the reason (Art. 12(4)).
    pub fn execute_rectification(
        &mut self,
        request_id: &str,
        subject: &SubjectId,
        corrections: Vec<crate::records::Correction>,
        note: &str,
        now: Timestamp,
    ) -> Result<Request> {
        if note.trim().is_empty() {
            return Err(RequestError::ReasonRequired("rectification's note").into());
        }
        if corrections.is_empty() {
            return Err(RequestError::NoCorrections.into());
        }
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let audit = self.audit_ctx(now);
        let mut attempts = 0;
        loop {
            let sealed = self.seal_corrections(&corrections, Some(&pseudonym))?;
            let ids: Vec<String> = sealed
                .each
                .iter()
                .map(|s| s.row.record_id.clone())
                .collect();
            let done = self.with_request(
                "completing a rectification",
                request_id,
                now,
                &mut |tx, ctx, r| {
                    r.check(Action::Execute(Execution::Rectify))?;
                    r.check_subject(&pseudonym)?;
                    crate::records::write_corrections(tx, &audit, &sealed, None)?;
                    tell_recipients(tx, ctx, r, "rectification")?;
                    complete(
                        tx,
                        ctx,
                        r,
                        serde_json::json!({ "rectified": note.trim(), "records": ids }),
                    )
                },
            );
            // A key a correction was sealed under changed before the transaction: seal again.
            match done {
                Err(VaultError::DataKeyGone) if attempts < crate::vault::KEY_RETRIES => {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    /// The subject's flags (restriction, objection, withdrawal) that processing decisions see.
    pub fn subject_flags(&mut self, subject: &SubjectId) -> Result<Vec<Flag>> {
        let pseudonym = self.pseudonym(subject);
        self.flags_of(&pseudonym)
    }

    pub(crate) fn flags_of(&mut self, pseudonym: &Pseudonym) -> Result<Vec<Flag>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store()
            .in_read_tx(&tenant, "reading a subject's flags", &mut |tx| {
                out = read_flags(tx, &tenant, pseudonym.as_str())?;
                Ok(())
            })?;
        Ok(out)
    }

    /// Carries out a verified restriction (Art. 18), objection (Art. 21) or withdrawal of consent
    /// (Art. 7(3)) request: sets the subject's flag that every later processing decision sees,
    /// and completes the request. A withdrawal also records the policy's `consent.withdrawn`
    /// event for the purpose, so retention tied to it runs out.
    pub fn execute_flag_request(
        &mut self,
        policy: &Policy,
        request_id: &str,
        subject: &SubjectId,
        now: Timestamp,
    ) -> Result<Request> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let r = self.with_request("carrying out a request", request_id, now, &mut |tx, ctx, r| {
            r.check(Action::Execute(Execution::SetFlag))?;
            r.check_subject(&pseudonym)?;
            let flag = r.kind.flag().unwrap_or_default();
            let purpose = r.purpose.clone().unwrap_or_default();
            tx.execute(
                "INSERT INTO subject_flags (tenant_id, pseudonym, flag, purpose, set_at, request_id, lifted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)
                 ON CONFLICT (tenant_id, pseudonym, flag, purpose) DO UPDATE SET set_at = excluded.set_at, request_id = excluded.request_id, lifted_at = NULL",
                &[
                    ctx.tenant.into(),
                    pseudonym.as_str().into(),
                    flag.into(),
                    purpose.as_str().into(),
                    now.as_microsecond().into(),
                    r.request_id.as_str().into(),
                ],
            )?;
            let outcome = flag_outcome(policy, r.kind, r.purpose.as_deref());
            ctx.step(tx, r, "flag_set", outcome.clone())?;
            if r.kind == RequestKind::Restriction {
                tell_recipients(tx, ctx, r, "restriction")?;
            }
            complete(tx, ctx, r, outcome)
        })?;
        if r.kind == RequestKind::Withdrawal {
            let target = crate::EventTarget::Subject {
                subject: subject.clone(),
                purpose: r.purpose.clone(),
            };
            match self.record_event(policy, &target, "consent.withdrawn", now, now) {
                // No data yet, or a policy without the event: nothing's retention hangs on it.
                Ok(_) | Err(VaultError::UnknownSubject | VaultError::UnknownEvent { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(r)
    }

    /// Carries out a verified erasure request (Art. 17): records of categories a law obliges the
    /// controller to keep (`retention.statutory` in the policy, Art. 17(3)(b)) are kept under
    /// restriction — unreadable to everyday processing — and the answer says which, why and until
    /// when; the rest is crypto-shredded and deleted. Refused while a legal hold covers the subject
    /// (Art. 17(3)(e)). The subject is erased from the company's own databases Custos reaches
    /// first ([`TenantVault::erase_in_datasets`]), each verified with its receipt; the vault's own
    /// erasure follows only when all of them succeeded, so a database that is down leaves the
    /// request in progress, to be carried out again.
    ///
    /// Crash-safe: the erasure id is fixed in the request before the erasure runs, the erasure is
    /// journaled and atomic, and running this again after a crash finishes the same erasure once.
    pub fn execute_erasure(
        &mut self,
        policy: &Policy,
        request_id: &str,
        subject: &SubjectId,
        now: Timestamp,
    ) -> Result<ErasureAnswer> {
        self.request(request_id)?
            .check_subject(self.pseudonym(subject).as_str())?;
        let fresh = crate::vault::new_erasure_id()?;
        // Step 1: fix the erasure id (or find the one a crashed run fixed).
        let (erasure_id, pseudonym, resumed) =
            self.with_request("starting an erasure", request_id, now, &mut |tx, ctx, r| {
                r.check(Action::Execute(Execution::Erase))?;
                if let Some(id) = r.detail.get("erasure_id").and_then(|v| v.as_str()) {
                    return Ok((id.to_owned(), r.subject.clone(), true));
                }
                set_detail(r, "erasure_id", serde_json::json!(fresh));
                r.state = Action::Start.state_after(r.state);
                save(tx, ctx.tenant, r)?;
                ctx.step(
                    tx,
                    r,
                    "in_progress",
                    serde_json::json!({ "erasure_id": fresh }),
                )?;
                // Queued with the erasure's start, so a crash cannot leave recipients untold.
                tell_recipients(tx, ctx, r, "erasure")?;
                Ok((fresh.clone(), r.subject.clone(), false))
            })?;
        let pseudonym = Pseudonym::parse(&pseudonym)
            .map_err(|_| VaultError::Corrupt("a request holds a malformed pseudonym".into()))?;
        // Step 2a: the company's own databases, each in its verified transaction after the same
        // legal-hold check the vault's erasure makes; idempotent, so a rerun after a crash finds
        // nothing there and goes on.
        let datasets = self
            .erase_in_datasets(policy, subject, now)?
            .iter()
            .map(crate::connect::ErasureReceipt::summary)
            .collect();
        let statutory = StatutoryRule::of(policy);
        let keep: Vec<String> = statutory.iter().map(|s| s.category.clone()).collect();
        // Step 2: the erasure itself (journaled, one transaction, idempotent by its id).
        let erasure: Erasure = self.erase_pseudonym(
            pseudonym.clone(),
            now,
            keep,
            Some(erasure_id.clone()),
            "request.erasure",
        )?;
        // Step 3: what was kept, and the answer.
        let kept = self.kept_summary(&pseudonym, &statutory)?;
        let answer = ErasureAnswer {
            erasure_id,
            keys_destroyed: erasure.counts.keys,
            records_erased: erasure.counts.records,
            kept,
            resumed,
            datasets,
        };
        let outcome = serde_json::to_value(&answer).map_err(|e| {
            VaultError::Corrupt(format!("an erasure answer would not serialise: {e}"))
        })?;
        self.with_request(
            "completing an erasure",
            request_id,
            now,
            &mut |tx, ctx, r| {
                if r.state.is_closed() {
                    return Ok(());
                }
                complete(tx, ctx, r, outcome.clone()).map(|_| ())
            },
        )?;
        Ok(answer)
    }

    /// Per kept category: how many records, the law, and until when they are kept.
    fn kept_summary(
        &mut self,
        pseudonym: &Pseudonym,
        statutory: &[StatutoryRule],
    ) -> Result<Vec<Kept>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.store().in_tx(&tenant, "summarising kept records", &mut |tx| {
            let rows = tx.query(
                "SELECT category, COUNT(*), MAX(expires_at), SUM(CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END)
                 FROM records WHERE tenant_id = $1 AND pseudonym = $2 AND restriction IS NOT NULL
                 GROUP BY category ORDER BY category",
                &[tenant.as_str().into(), pseudonym.as_str().into()],
            )?;
            out = rows
                .into_iter()
                .filter_map(|r| {
                    let category = r.first().and_then(Val::text)?.to_owned();
                    let rule = statutory.iter().find(|s| s.category == category)?;
                    let waiting = r.get(3).and_then(Val::int).unwrap_or(0) > 0;
                    let latest = r.get(2).and_then(Val::int).and_then(|m| Timestamp::from_microsecond(m).ok());
                    Some(Kept {
                        records: r.get(1).and_then(Val::int).unwrap_or(0) as u64,
                        until: rule.until(latest, waiting),
                        category,
                        law: rule.law.clone(),
                    })
                })
                .collect();
            Ok(())
        })?;
        Ok(out)
    }
}

/// A subject's flags in force, inside a transaction.
pub(crate) fn read_flags(tx: &mut dyn Tx, tenant: &str, pseudonym: &str) -> Result<Vec<Flag>> {
    let rows = tx.query(
        "SELECT flag, purpose, set_at, request_id FROM subject_flags WHERE tenant_id = $1 AND pseudonym = $2 AND lifted_at IS NULL ORDER BY flag, purpose",
        &[tenant.into(), pseudonym.into()],
    )?;
    let bad = || VaultError::Corrupt("a subject flag is unreadable".into());
    rows.into_iter()
        .map(|r| {
            Ok(Flag {
                flag: r.first().and_then(Val::text).ok_or_else(bad)?.to_owned(),
                purpose: r
                    .get(1)
                    .and_then(Val::text)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
                set_at: r
                    .get(2)
                    .and_then(Val::int)
                    .and_then(|m| Timestamp::from_microsecond(m).ok())
                    .ok_or_else(bad)?,
                request_id: r.get(3).and_then(Val::text).map(str::to_owned),
            })
        })
        .collect()
}

/// Queues the Art. 19 notifications of a rectification, erasure or restriction for every recipient
/// that received the subject's data, once per request, inside the request's transaction; notes
/// who is to be told in the request's history.
fn tell_recipients(tx: &mut dyn Tx, ctx: &StepCtx<'_>, r: &Request, action: &str) -> Result<()> {
    let queued = tx.query(
        "SELECT 1 FROM notifications WHERE tenant_id = $1 AND request_id = $2 LIMIT 1",
        &[ctx.tenant.into(), r.request_id.as_str().into()],
    )?;
    if !queued.is_empty() {
        return Ok(());
    }
    let recipients = crate::recipients::enqueue_notifications(
        tx,
        ctx.tenant,
        &r.subject,
        &r.request_id,
        action,
        ctx.now.as_microsecond(),
    )?;
    if !recipients.is_empty() {
        ctx.step(
            tx,
            r,
            "recipients_notified",
            serde_json::json!({ "recipients": recipients, "article": "Art. 19 GDPR" }),
        )?;
    }
    Ok(())
}

fn complete(
    tx: &mut dyn Tx,
    ctx: &StepCtx<'_>,
    r: &mut Request,
    outcome: serde_json::Value,
) -> Result<Request> {
    set_detail(r, "outcome", outcome.clone());
    r.state = Action::Complete.state_after(r.state);
    r.closed_at = Some(ctx.now);
    save(tx, ctx.tenant, r)?;
    ctx.step(
        tx,
        r,
        "completed",
        serde_json::json!({ "outcome": outcome }),
    )?;
    Ok(r.clone())
}

/// What carrying out a rectification takes (Art. 16): what was corrected, in words without
/// personal data, and the corrected data of each record concerned. Ignored for other kinds.
#[derive(Debug, Clone, Default)]
pub struct Rectification {
    /// What was corrected (no personal data); required.
    pub note: String,
    /// The corrected data, record by record; at least one.
    pub corrections: Vec<crate::records::Correction>,
}

/// What carrying out a request produced, besides completing it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Executed {
    /// The access or portability archive written (Art. 15, 20).
    Archive(custos_rights::archive::Written),
    /// What the erasure erased and kept (Art. 17).
    Erasure(ErasureAnswer),
    /// A flag set (Art. 18, 21, 7(3)) or a rectification recorded (Art. 16): the request's
    /// outcome.
    Outcome(serde_json::Value),
}

/// Carrying a request out: the use cases the HTTP API and the command line share, so both only
/// parse, call and format.
impl TenantVault<'_> {
    /// The request `request_id`, checked to be about `subject` (another subject's request is
    /// answered as not about this one, which says nothing about whose it is) and ready to be
    /// answered with its archive: open, verified (Art. 12(6)), access or portability. Callers
    /// check this before the first byte of an answer leaves, so a refusal is an error and not a
    /// cut-off download.
    pub fn request_to_answer(
        &mut self,
        request_id: &str,
        subject: &SubjectId,
    ) -> Result<(Request, custos_rights::archive::AnswerKind)> {
        let r = self.request(request_id)?;
        r.check_subject(self.pseudonym(subject).as_str())?;
        r.check(Action::Execute(Execution::Answer))?;
        let kind = r.kind.answer().ok_or_else(|| {
            VaultError::Corrupt("an answerable request has no answer archive".into())
        })?;
        Ok((r, kind))
    }

    /// Answers an access (Art. 15) or portability (Art. 20) request: checks it
    /// ([`TenantVault::request_to_answer`]), marks it in progress, streams its archive into `out`
    /// while the vault is read page by page, lets `seal` make the archive durable (sync and move
    /// a file into place; nothing for a download), and only then completes the request with
    /// what was handed over. A failure anywhere leaves the request in progress, to be answered
    /// again.
    #[allow(clippy::too_many_arguments)]
    pub fn answer_request<E, W>(
        &mut self,
        policy: &Policy,
        request_id: &str,
        subject: &SubjectId,
        lang: custos_policy::Lang,
        now: Timestamp,
        mut out: W,
        seal: impl FnOnce(W) -> std::result::Result<(), E>,
    ) -> std::result::Result<(Request, custos_rights::archive::Written), E>
    where
        E: From<VaultError> + From<custos_rights::access::ExportError> + Send,
        W: std::io::Write + Send,
    {
        let (_, kind) = self.request_to_answer(request_id, subject)?;
        self.start_request(request_id, now)?;
        let written = self.write_answer::<E>(policy, subject, kind, lang, now, &mut out)?;
        seal(out)?;
        let r =
            self.complete_request(request_id, serde_json::json!({ "archive": written }), now)?;
        Ok((r, written))
    }

    /// Carries out a verified erasure (Art. 17), rectification (Art. 16), restriction (Art. 18),
    /// objection (Art. 21) or withdrawal (Art. 7(3)) request about `subject`, each its own way
    /// ([`TenantVault::execute_erasure`], [`TenantVault::execute_rectification`] with
    /// `rectification`, [`TenantVault::execute_flag_request`]), and returns what it produced.
    /// The subject is checked first, so another subject's request says nothing more. Access and
    /// portability are answered with [`TenantVault::answer_request`].
    pub fn execute_request(
        &mut self,
        policy: &Policy,
        request_id: &str,
        subject: &SubjectId,
        rectification: Rectification,
        now: Timestamp,
    ) -> Result<Executed> {
        let r = self.request(request_id)?;
        r.check_subject(self.pseudonym(subject).as_str())?;
        match r.kind.execution() {
            Execution::Erase => Ok(Executed::Erasure(
                self.execute_erasure(policy, request_id, subject, now)?,
            )),
            Execution::Rectify => {
                let r = self.execute_rectification(
                    request_id,
                    subject,
                    rectification.corrections,
                    &rectification.note,
                    now,
                )?;
                Ok(Executed::Outcome(r.detail["outcome"].clone()))
            }
            Execution::SetFlag => {
                let r = self.execute_flag_request(policy, request_id, subject, now)?;
                Ok(Executed::Outcome(r.detail["outcome"].clone()))
            }
            Execution::Answer => Err(RequestError::WrongKind {
                request_id: r.request_id,
                kind: r.kind.as_str(),
                step: "carrying it out without its answer archive",
            }
            .into()),
        }
    }
}
