//! Telling people of a breach over HTTP, with delivery records (Arts 33(2) and 34 GDPR). The
//! library is `custos_vault::breach_letters`; this module is its shell:
//!
//! - `POST /v1/breach-notices` (admin keys): Custos serves a processor and the processor met a
//!   breach. For each controller-tenant the affected query finds that tenant's own counts; a
//!   tenant with none is not told. Every affected tenant gets the notice in its own register (a
//!   breach of its own, its clock running from the notice) and by e-mail to its contacts and
//!   signed webhook to its application: one notice per controller, with its counts only (Clause
//!   9.2 of the standard contractual clauses, Decision (EU) 2021/915). Idempotent by the
//!   processor's reference: a call that failed half-way is sent again and resumes, telling no
//!   one twice.
//! - `POST /v1/breaches/{breach_id}/letters` (dpo keys): the letter to the people affected, in
//!   Dutch or English, e-mailed to the addresses the controller gives, once a person decided
//!   they are to be told (Art. 34(1)).
//! - `GET /v1/breaches/{breach_id}/letters` (dpo and auditor keys): each letter as sent, with its
//!   deliveries.
//! - [`tick`] (the announcements' timer): e-mails due letters through the server's mailer,
//!   retrying on the webhook backoff and recording each attempt, and gives the deadline
//!   reminders to the applications' webhooks.
//!
//! Logs carry counts and ids only: never an address or a letter's text.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_breach::clock::DEFAULT_REMINDERS;
use custos_breach::draft::{ControllerTenant, Letter};
use custos_breach::record::{Answer, Breach, Count, Notification};
use custos_policy::Lang;
use custos_types::ErrorCode;
use custos_vault::breach_letters::{LetterRecorded, Outgoing};
use custos_vault::breaches::Affected;
use custos_vault::connect::DatasetHeld;
use custos_vault::{TenantId, VaultError};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::breaches::{controller, problem};
use crate::data::{now, tenant_id};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::work::{as_caller, read, write};

/// Who the audit trail names for the server's own letter work.
const ACTOR: &str = "custos:breach-letters";

/// E-mails claimed per tenant and round.
const MAIL_BATCH: u32 = 16;

fn outgoing(letter: Letter) -> Outgoing {
    Outgoing {
        lang: letter.lang.code().to_owned(),
        subject: letter.subject,
        body: letter.paragraphs.join("\n\n"),
    }
}

fn lang_of(s: &AppState, asked: Option<&str>, field: &str) -> Result<Lang, Problem> {
    match asked {
        Some(code) => Lang::from_code(code)
            .ok_or_else(|| Problem::new(ErrorCode::InvalidBreach).field(field, "use nl or en")),
        None => Ok(s
            .loaded
            .policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(Lang::Nl)),
    }
}

/// A processor's breach to tell its controllers of.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeCall {
    /// The processor's own reference for the breach (1–64 characters: letters, digits, `_`,
    /// `-`, `.`). The same reference again tells no one twice.
    reference: String,
    /// The breach as the processor recorded it (the EDPB template, as `POST /v1/breaches`
    /// takes it).
    #[schema(value_type = Object)]
    breach: Breach,
    /// The categories of data it concerned.
    categories: Vec<String>,
    /// When the breach window opened.
    #[schema(value_type = String, format = DateTime)]
    from: Timestamp,
    /// When it closed (now, if it is ongoing).
    #[schema(value_type = String, format = DateTime)]
    to: Timestamp,
    /// The controller-tenants to look in; every tenant when left out.
    #[serde(default)]
    tenants: Option<Vec<String>>,
    /// The notices' language, `nl` or `en`; the statement's first language when left out.
    #[serde(default)]
    lang: Option<String>,
}

/// One controller-tenant told.
#[derive(Serialize, ToSchema)]
pub struct NoticeSent {
    /// The tenant.
    tenant: String,
    /// The breach in the tenant's register.
    breach_id: String,
    /// Whether this call told it (`false`: told by an earlier call with this reference).
    new: bool,
    /// Its subjects affected (those erased since the window opened included).
    subjects: u64,
    /// Its records affected.
    records: u64,
    /// Deliveries queued (e-mail per contact, the webhook).
    deliveries: usize,
    /// Channels it could not be told by (no contacts, no webhook).
    not_configured: Vec<&'static str>,
}

/// What the call did.
#[derive(Serialize, ToSchema)]
pub struct NoticesView {
    /// The processor's reference.
    reference: String,
    /// The tenants told.
    notices: Vec<NoticeSent>,
    /// The tenants looked in and not affected (not told).
    not_affected: Vec<String>,
}

/// Tells each affected controller-tenant of a processor's breach (admin keys; Art. 33(2) GDPR):
/// its own counts from the affected query, the notice in its register, by e-mail to its contacts
/// and by signed webhook. Tenants with nothing affected are not told. Send the same call again
/// after a failure: it resumes and tells no one twice.
#[utoipa::path(post, path = "/v1/breach-notices", tag = "breaches", request_body = NoticeCall, security(("api_key" = [])),
    responses((status = 200, description = "The tenants told and those not affected", body = NoticesView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "The breach or the window is invalid: every field named", body = Problem)))]
pub async fn notify_controllers(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(call): ApiJson<NoticeCall>,
) -> Result<Response, Problem> {
    caller.require(
        |r| r == Role::Admin,
        "tell controllers of a processor's breach",
    )?;
    let actor = caller.0.actor();
    let now = now();
    if call.to < call.from {
        return Err(Problem::new(ErrorCode::InvalidBreach).field("/to", "ends before /from"));
    }
    if call.categories.is_empty() {
        return Err(Problem::new(ErrorCode::InvalidBreach)
            .field("/categories", "name at least one category"));
    }
    for (i, c) in call.categories.iter().enumerate() {
        if !s.loaded.policy.categories.iter().any(|k| &k.id == c) {
            return Err(Problem::new(ErrorCode::InvalidBreach)
                .field(format!("/categories/{i}"), "not a category of the policy"));
        }
    }
    if let Err(found) = call.breach.validate(now) {
        return Err(found
            .iter()
            .fold(Problem::new(ErrorCode::InvalidBreach), |p, i| {
                p.field(format!("/breach{}", i.field), &i.reason)
            }));
    }
    let lang = lang_of(&s, call.lang.as_deref(), "/lang")?;
    // The processor's reference is the breach's id in its notices.
    let mut facts = call.breach.clone();
    facts.id = custos_breach::record::BreachId::new(call.reference.trim())
        .map_err(|e| Problem::new(ErrorCode::InvalidBreach).field("/reference", e.reason))?;
    let asked = match &call.tenants {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, t)| {
                    TenantId::new(t).map_err(|e| Problem::from(e).refield(format!("/tenants/{i}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let view = write(&s, move |s, v| {
        // Every tenant with keys, and every tenant the vault holds data of; named as registered.
        let registered = {
            let b = s.backend()?;
            let mut a = b.access.lock().unwrap_or_else(|p| p.into_inner());
            a.tenants()
                .map_err(|e| Problem::new(e.code()).detail(e.to_string()))?
        };
        let name_of = |t: &TenantId| {
            registered
                .iter()
                .find(|r| r.id == t.as_str())
                .map_or_else(|| t.as_str().to_owned(), |r| r.name.clone())
        };
        let tenants: Vec<TenantId> = match asked {
            Some(list) => list,
            None => {
                let mut all: Vec<String> = registered.iter().map(|r| r.id.clone()).collect();
                all.extend(v.tenant_ids().map_err(|e| Problem::from(&e))?);
                all.sort();
                all.dedup();
                all.iter().filter_map(|t| TenantId::new(t).ok()).collect()
            }
        };
        let processor = controller(&s.loaded.policy);
        let mut view = NoticesView {
            reference: call.reference.clone(),
            notices: Vec::new(),
            not_affected: Vec::new(),
        };
        for tenant in tenants {
            let mut t = v.tenant(&tenant).acting_as(actor.clone());
            let found = t
                .breach_affected(None, &call.categories, call.from, call.to, now)
                .map_err(|e| problem(&e))?;
            let held = t
                .breach_affected_in_datasets(&s.loaded.policy, None, &call.categories, now)
                .map_err(|e| problem(&VaultError::from(e)))?;
            let counts = Counts::of(&found, &held);
            if counts.subjects.number() == Some(0) && counts.records == 0 {
                view.not_affected.push(tenant.as_str().to_owned());
                continue;
            }
            let theirs = controllers_breach(&call.breach, &call.reference, &counts, now);
            let notice = custos_breach::draft::processor_notices(
                &facts,
                &processor,
                &[ControllerTenant {
                    tenant: tenant.clone(),
                    name: name_of(&tenant),
                    subject_count: counts.subjects,
                    record_count: Count::Exact { n: counts.records },
                    lang,
                }],
            );
            let Some(notice) = notice.into_iter().next() else {
                continue;
            };
            let received = t
                .receive_processor_notice(
                    &call.reference,
                    theirs,
                    &outgoing(notice.letter),
                    &s.breach_settings,
                    now,
                )
                .map_err(|e| problem(&e))?;
            view.notices.push(NoticeSent {
                tenant: tenant.as_str().to_owned(),
                breach_id: received.breach.breach_id,
                new: received.new,
                subjects: counts.subjects.number().unwrap_or(0),
                records: counts.records,
                deliveries: received.queued.queued,
                not_configured: received.queued.not_configured,
            });
        }
        Ok(view)
    })
    .await?;
    tracing::info!(
        told = view.notices.iter().filter(|n| n.new).count(),
        not_affected = view.not_affected.len(),
        "a processor's breach was notified to its controllers"
    );
    Ok(axum::Json(view).into_response())
}

/// A tenant's counts for its notice: the vault's subjects and records, and the rows the
/// company's databases hold of the categories.
struct Counts {
    /// Exact when only the vault counted and no one was erased since the window opened;
    /// approximate otherwise (an erased subject's categories are no longer known, and a subject
    /// in the vault and in a database may be counted twice).
    subjects: Count,
    records: u64,
    how: String,
}

impl Counts {
    fn of(found: &Affected, held: &[DatasetHeld]) -> Counts {
        let rows: u64 = held.iter().map(|d| d.rows).sum();
        let named: u64 = held
            .iter()
            .flat_map(|d| &d.tables)
            .filter_map(|t| t.subjects)
            .max()
            .unwrap_or(0);
        let n = found.subjects + found.erased_since + named;
        let subjects = if found.erased_since > 0 || rows > 0 {
            Count::Approximate { n }
        } else {
            Count::Exact { n }
        };
        let digest = &found.digest[..16.min(found.digest.len())];
        let how = if held.is_empty() {
            format!("the affected query over this tenant's vault (result {digest})")
        } else {
            format!(
                "the affected query over this tenant's vault (result {digest}) and its rows in {} of the company's databases",
                held.len()
            )
        };
        Counts {
            subjects,
            records: found.records + rows,
            how,
        }
    }
}

/// The processor's breach as the controller-tenant's own: a new breach of which the controller
/// became aware when the notice reached it (EDPB Guidelines 9/2022, ¶41), with its counts,
/// the risk left for the controller to assess, and no one told yet.
fn controllers_breach(
    processor: &Breach,
    reference: &str,
    counts: &Counts,
    now: Timestamp,
) -> Breach {
    let mut b = processor.clone();
    b.role = custos_breach::record::Role::Controller;
    b.notification = Notification::New;
    b.aware_at = Answer::custos(
        now,
        format!(
            "the processor's notice {reference} reached this register: a controller is aware once its processor told it"
        ),
    );
    b.subject_count = Some(Answer::custos(counts.subjects, counts.how.clone()));
    b.record_count = Some(Answer::custos(
        Count::Exact { n: counts.records },
        counts.how.clone(),
    ));
    b.risk = None;
    b.told = Vec::new();
    b.delay_reason = None;
    b
}

/// Whom to write to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LettersCall {
    /// The e-mail addresses of the people affected (1–1000 per call). An address told of this
    /// breach before is left as it was.
    addresses: Vec<String>,
    /// The letter's language, `nl` or `en`; the statement's first language when left out.
    #[serde(default)]
    lang: Option<String>,
}

/// Sends the letter to the people affected (dpo keys; Art. 34(1) and (2) GDPR) by e-mail to the
/// addresses given, once a person decided they are to be told. The addresses are kept sealed
/// only until their letter is delivered or given up; the record keeps a keyed digest.
#[utoipa::path(post, path = "/v1/breaches/{breach_id}/letters", tag = "breaches", request_body = LettersCall, security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 202, description = "Queued: the letter's id and digest, how many queued and how many told before", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "An address that is not one (named by position), or no decision to tell the people affected", body = Problem)))]
pub async fn send_letters(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(call): ApiJson<LettersCall>,
) -> Result<Response, Problem> {
    caller.require(
        Role::may_handle_requests,
        "write to the people a breach affected",
    )?;
    let (tenant, actor, id) = (
        tenant_id(&caller)?,
        caller.0.actor(),
        crate::breaches::breach_id(&id)?,
    );
    let lang = lang_of(&s, call.lang.as_deref(), "/lang")?;
    let queued = as_caller(&s, &tenant, actor, move |s, t| {
        let entry = t
            .breach(&id)
            .and_then(|b| b.entry())
            .map_err(|e| problem(&e))?;
        let letter = custos_breach::draft::subject_letter(
            &entry.breach,
            &controller(&s.loaded.policy),
            lang,
        );
        t.queue_subject_letters(&id, &outgoing(letter), &call.addresses, now())
            .map_err(|e| problem(&e))
    })
    .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(queued)).into_response())
}

/// The letters of a breach as sent, with their deliveries (dpo and auditor keys): counts per
/// state, and the deliveries not delivered yet or given up.
#[utoipa::path(get, path = "/v1/breaches/{breach_id}/letters", tag = "breaches", security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 200, description = "The letters, oldest first", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn letters(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the breach register")?;
    let (tenant, id) = (tenant_id(&caller)?, crate::breaches::breach_id(&id)?);
    read(&s, move |_, v| {
        let list = v
            .tenant(&tenant)
            .breach_letters(&id)
            .map_err(|e| problem(&e))?;
        Ok(axum::Json(serde_json::json!({ "letters": list })).into_response())
    })
    .await
}

/// One run of the timer: e-mails the due letters of every tenant and gives the deadline
/// reminders. Blocking.
pub(crate) fn tick(s: &AppState, backoff: &custos_rights::webhook::Backoff) {
    let (mut sent, mut failed, mut reminded) = (0u64, 0u64, 0usize);
    if let Err(e) = run(s, backoff, &mut sent, &mut failed, &mut reminded) {
        tracing::warn!(code = e.code, "breach letters could not be sent");
    }
    if sent + failed > 0 || reminded > 0 {
        tracing::info!(sent, failed, reminded, "breach letters and reminders");
    }
}

fn run(
    s: &AppState,
    backoff: &custos_rights::webhook::Backoff,
    sent: &mut u64,
    failed: &mut u64,
    reminded: &mut usize,
) -> Result<(), Problem> {
    let backend = s.backend()?;
    let tenants = backend.vault().tenant_ids().map_err(Problem::from)?;
    for tenant in tenants {
        let Ok(tenant) = TenantId::new(&tenant) else {
            continue;
        };
        *reminded += backend
            .vault_for_write()
            .tenant(&tenant)
            .acting_as(ACTOR)
            .remind_breach_deadlines(Timestamp::now(), &DEFAULT_REMINDERS)
            .map_err(|e| problem(&e))?
            .len();
        // Without a mailer nothing is attempted: the e-mails stay pending, never dropped.
        let Some(sender) = s.center.sender.clone() else {
            continue;
        };
        let lease = jiff::SignedDuration::from_secs(300);
        let due = backend
            .vault_for_write()
            .tenant(&tenant)
            .acting_as(ACTOR)
            .claim_breach_mail(Timestamp::now(), MAIL_BATCH, lease)
            .map_err(|e| problem(&e))?;
        for mail in due {
            let lang = if mail.lang == "nl" { "nl" } else { "en" };
            let outcome = sender.send_code(&mail.to, &mail.subject, &mail.body, lang);
            let now = Timestamp::now();
            let ok = outcome.is_ok();
            let outcome = outcome.map_err(|why| {
                let retry_at = backoff
                    .next_delay(mail.attempt, 0.5)
                    .map(|d| now.checked_add(d).unwrap_or(Timestamp::MAX));
                (retry_at, why)
            });
            let recorded = backend
                .vault_for_write()
                .tenant(&tenant)
                .acting_as(ACTOR)
                .record_breach_mail(&mail, outcome, now)
                .map_err(|e| problem(&e))?;
            if ok {
                *sent += 1;
            } else {
                *failed += 1;
                if recorded == LetterRecorded::Dead {
                    tracing::warn!(tenant = %tenant, breach_id = %mail.breach_id, letter_id = %mail.letter_id, attempts = mail.attempt, "a breach letter is dead after its last attempt");
                }
            }
        }
    }
    Ok(())
}
