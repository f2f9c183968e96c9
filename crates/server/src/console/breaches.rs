//! The console's breach register (issue 21; Arts 33 and 34 GDPR): the pages a privacy officer
//! works a personal-data breach through, on the register the API keeps
//! (`crate::breaches`, `custos_vault::breaches`, the domain in `custos_breach`).
//!
//! - `GET /console/breaches`: open breaches by deadline, each with its clock in words and
//!   Custos's proposal in one line; closed ones too with `all=true`. For a dpo, the form that
//!   records a new breach with its essentials (awareness, kinds, what happened, how found).
//! - `GET /console/breaches/{id}`: the record (each answer with who gave it), the clock, the
//!   proposal with every reason and its citation, the decision (or, for a dpo, the form to make
//!   it), who was told when, the versions, and for a dpo the forms to complete the record, record
//!   who was told and count who was affected in the vault.
//! - `POST /console/breaches`, `…/{id}/complete`, `…/{id}/decide`, `…/{id}/told`: (dpo) write the
//!   next version on top of the one the page showed (a version written in between is refused, so
//!   nobody overwrites a phase they did not see, Art. 33(4)).
//! - `POST /console/breaches/{id}/affected`: (dpo) the counts of who may have been affected.
//! - `GET /console/breaches/{id}/draft`: the notification to the Autoriteit Persoonsgegevens in
//!   its chapters, the missing answers first, and the letter to the people affected, in the
//!   page's language.
//!
//! Times are entered and shown in Europe/Amsterdam (`custos_rights::request::ZONE`) and stored
//! in UTC; the deadline itself is counted in UTC hours (`custos_breach::clock`). Every write is
//! the vault's, acting as the signed-in account, so the audit trail names it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use custos_access::account::ConsoleUser;
use custos_breach::assess::{Decision, Proposal, SubjectsAction};
use custos_breach::clock::Status;
use custos_breach::record::{
    Answer, AvailabilityLoss, Breach, BreachId, Count, DataTypes, Exfiltration, Kind, Notification,
    Occurrence, Party, Recipient, Risk, RiskAssessment, Role, Source, Told, Unintelligibility,
    Vulnerable,
};
use custos_policy::{Lang, Policy};
use custos_vault::breach_letters::{LetterKind, LetterRecord, Outgoing};
use custos_vault::breaches::{Affected, BreachError, StoredBreach};
use custos_vault::{TenantId, VaultError};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::audit::moment;
use super::page::{date_text, render, word};
use super::{Ctx, form_ok, form_token, read_form, reader, see_other};
use crate::AppState;
use crate::breaches::{BreachView, view};
use crate::problem::Problem;

/// The breach pages' routes.
pub(super) fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/console/breaches", get(register).post(record))
        .route("/console/breaches/{id}", get(breach_page))
        .route("/console/breaches/{id}/complete", post(complete))
        .route("/console/breaches/{id}/decide", post(decide))
        .route("/console/breaches/{id}/told", post(told))
        .route("/console/breaches/{id}/affected", post(affected))
        .route("/console/breaches/{id}/letters", post(letters))
        .route("/console/breaches/{id}/draft", get(draft))
}

/// The zone times are entered and shown in.
fn zone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(custos_rights::request::ZONE).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// A `datetime-local` value (`2026-03-02T10:30`, seconds optional) read in Amsterdam time; a
/// time that a change of the clocks skips or repeats is taken as the earlier reading.
fn local_time(text: &str) -> Option<Timestamp> {
    let dt: jiff::civil::DateTime = text.trim().parse().ok()?;
    dt.to_zoned(zone()).ok().map(|z| z.timestamp())
}

/// A moment as a `datetime-local` field shows it.
fn local_value(at: Timestamp) -> String {
    at.to_zoned(zone()).strftime("%Y-%m-%dT%H:%M").to_string()
}

/// A breach id as the register writes it (32 hex digits), or `None`.
fn breach_id(id: &str) -> Option<String> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// A span of time in hours and minutes.
fn span_text(lang: Lang, d: SignedDuration) -> String {
    let minutes = d.as_secs().max(0) / 60;
    word(
        lang,
        "br_span",
        &[
            ("h", &(minutes / 60).to_string()),
            ("m", &(minutes % 60).to_string()),
        ],
    )
}

/// A form's fields in order, repeated names kept (checkboxes).
type Fields = Vec<(String, String)>;

/// The first value of `name`, trimmed; empty when absent.
fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// Every value of `name`.
fn values<'a>(f: &'a Fields, name: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .collect()
}

/// Free text as recorded: trimmed, at most `max` characters; `None` when empty.
fn text(f: &Fields, name: &str, max: usize) -> Option<String> {
    let t: String = field(f, name).chars().take(max).collect();
    (!t.is_empty()).then_some(t)
}

// ---------------------------------------------------------------------------------------------
// In words

/// The clock of a breach in words: the class for its flag (`on_track`, `at_risk`, `overdue`,
/// `closed`), the flag, and the sentence.
fn clock_words(lang: Lang, v: &BreachView) -> (&'static str, Option<String>, String) {
    let at = |t: Timestamp| moment(lang, t).1;
    let w = |key: &str, args: &[(&str, &str)]| word(lang, key, args);
    match &v.clock.status {
        Status::Running { deadline, left } => (
            "on_track",
            None,
            w(
                "br_clock_running",
                &[
                    ("left", &span_text(lang, *left)),
                    ("deadline", &at(*deadline)),
                ],
            ),
        ),
        Status::Due {
            deadline,
            left,
            threshold_hours,
        } => (
            "at_risk",
            Some(w("br_flag_due", &[("n", &threshold_hours.to_string())])),
            w(
                "br_clock_running",
                &[
                    ("left", &span_text(lang, *left)),
                    ("deadline", &at(*deadline)),
                ],
            ),
        ),
        Status::Passed { deadline, overdue } => (
            "overdue",
            Some(w("br_flag_passed", &[])),
            w(
                "br_clock_passed",
                &[
                    ("deadline", &at(*deadline)),
                    ("overdue", &span_text(lang, *overdue)),
                ],
            ),
        ),
        Status::Notified { at: when, late } if *late => (
            "overdue",
            Some(w("br_flag_late", &[])),
            w(
                "br_clock_notified_late",
                &[("at", &at(*when)), ("deadline", &at(v.deadline_at))],
            ),
        ),
        Status::Notified { at: when, .. } => (
            "closed",
            None,
            w(
                "br_clock_notified",
                &[("at", &at(*when)), ("deadline", &at(v.deadline_at))],
            ),
        ),
        Status::WithoutUndueDelay {
            since,
            controller_deadline_earliest,
        } => (
            "at_risk",
            Some(w("br_flag_processor", &[])),
            w(
                "br_clock_processor",
                &[
                    ("since", &span_text(lang, *since)),
                    ("when", &at(*controller_deadline_earliest)),
                ],
            ),
        ),
    }
}

fn risk_text(lang: Lang, r: Risk) -> String {
    word(
        lang,
        match r {
            Risk::NoRisk => "br_risk_no_risk",
            Risk::Risk => "br_risk_risk",
            Risk::HighRisk => "br_risk_high_risk",
        },
        &[],
    )
}

fn subjects_text(lang: Lang, s: &SubjectsAction) -> String {
    match s {
        SubjectsAction::Communicate => word(lang, "br_prop_subjects_communicate", &[]),
        SubjectsAction::NotRequired => word(lang, "br_prop_subjects_not_required", &[]),
        SubjectsAction::Exempt { exemption } => {
            word(lang, "br_prop_subjects_exempt", &[("exemption", exemption)])
        }
        SubjectsAction::PublicCommunication => word(lang, "br_prop_subjects_public", &[]),
    }
}

/// Custos's proposal in one line.
fn proposal_line(lang: Lang, p: &Proposal) -> String {
    let authority = word(
        lang,
        if p.notify_authority {
            "br_prop_authority_yes"
        } else {
            "br_prop_authority_no"
        },
        &[],
    );
    word(
        lang,
        "br_proposal_line",
        &[
            ("authority", &authority),
            ("subjects", &subjects_text(lang, &p.subjects)),
            ("risk", &risk_text(lang, p.risk)),
        ],
    )
}

fn yes_no(lang: Lang, v: bool) -> String {
    word(lang, if v { "br_yes" } else { "br_no" }, &[])
}

/// A decision in one line.
fn decision_line(lang: Lang, d: Option<&Decision>) -> String {
    d.map_or_else(
        || word(lang, "br_undecided", &[]),
        |d| {
            word(
                lang,
                "br_decision_line",
                &[
                    (
                        "authority",
                        &yes_no(lang, d.notify_authority).to_lowercase(),
                    ),
                    ("subjects", &yes_no(lang, d.notify_subjects).to_lowercase()),
                ],
            )
        },
    )
}

fn kind_text(lang: Lang, k: Kind) -> String {
    word(
        lang,
        match k {
            Kind::Confidentiality => "br_kind_confidentiality",
            Kind::Integrity => "br_kind_integrity",
            Kind::Availability => "br_kind_availability",
        },
        &[],
    )
}

fn kinds_text(lang: Lang, kinds: &[Kind]) -> String {
    kinds
        .iter()
        .map(|k| kind_text(lang, *k))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_text(lang: Lang, s: &Source) -> String {
    match s {
        Source::Person { actor } => word(lang, "br_source_person", &[("actor", actor)]),
        Source::Custos { how } => word(lang, "br_source_custos", &[("how", how)]),
    }
}

fn count_text(lang: Lang, c: &Count) -> String {
    match c {
        Count::Exact { n } => n.to_string(),
        Count::Approximate { n } => word(lang, "br_about", &[("n", &n.to_string())]),
        Count::Unknown => word(lang, "br_unknown", &[]),
    }
}

fn party_text(lang: Lang, p: &Party) -> String {
    match p {
        Party::Authority { name } => word(lang, "br_party_authority", &[("name", name)]),
        Party::Subjects => word(lang, "br_party_subjects", &[]),
        Party::Public => word(lang, "br_party_public", &[]),
        Party::Controller { name } => word(lang, "br_party_controller", &[("name", name)]),
    }
}

fn occurrence_text(lang: Lang, o: &Occurrence) -> String {
    let at = |t: Timestamp| moment(lang, t).1;
    match o {
        Occurrence::Day { date } => word(lang, "br_occ_day", &[("date", &date_text(lang, *date))]),
        Occurrence::Range { from, to } => word(
            lang,
            "br_occ_range",
            &[("from", &at(*from)), ("to", &at(*to))],
        ),
        Occurrence::OngoingSince { since } => {
            word(lang, "br_occ_ongoing", &[("since", &at(*since))])
        }
        Occurrence::Unknown => word(lang, "br_unknown", &[]),
    }
}

fn exfiltration_text(lang: Lang, e: &Exfiltration) -> String {
    match e {
        Exfiltration::Yes => word(lang, "br_exf_yes", &[]),
        Exfiltration::Likely => word(lang, "br_exf_likely", &[]),
        Exfiltration::No { evidence } => word(lang, "br_exf_no", &[("evidence", evidence)]),
        Exfiltration::NotAssessable => word(lang, "br_exf_not_assessable", &[]),
    }
}

fn recipient_text(lang: Lang, r: &Recipient) -> String {
    match r {
        Recipient::Trusted { deletion_confirmed } => word(
            lang,
            if *deletion_confirmed {
                "br_rec_trusted_deleted"
            } else {
                "br_rec_trusted"
            },
            &[],
        ),
        Recipient::Mistaken { per_subject } => {
            word(lang, "br_rec_mistaken", &[("n", &per_subject.to_string())])
        }
        Recipient::Identified => word(lang, "br_rec_identified", &[]),
        Recipient::Unknown => word(lang, "br_rec_unknown", &[]),
        Recipient::Public => word(lang, "br_rec_public", &[]),
    }
}

fn unintelligible_text(lang: Lang, u: Unintelligibility) -> String {
    word(
        lang,
        match u {
            Unintelligibility::EncryptedKeySafe => "br_unint_encrypted_key_safe",
            Unintelligibility::EncryptedKeyCompromised => "br_unint_encrypted_key_compromised",
            Unintelligibility::NotEncrypted => "br_unint_not_encrypted",
        },
        &[],
    )
}

fn data_text(lang: Lang, d: &DataTypes) -> String {
    let mut parts: Vec<String> = d.categories.clone();
    for (flag, key) in [
        (d.special_categories, "br_data_special"),
        (d.criminal, "br_data_criminal"),
        (d.national_id, "br_data_national_id"),
        (d.financial, "br_data_financial"),
        (d.credentials, "br_data_credentials"),
    ] {
        if flag {
            parts.push(word(lang, key, &[]));
        }
    }
    parts.join(", ")
}

/// The record's answers in the order of the EDPB template, each with who gave it; the labels of
/// those still open.
fn answers(lang: Lang, b: &Breach) -> (Vec<serde_json::Value>, Vec<String>) {
    let mut rows = Vec::new();
    let mut open = Vec::new();
    let mut put = |key: &str, found: Option<(String, &Source)>| match found {
        Some((value, source)) => rows.push(serde_json::json!({
            "label": word(lang, key, &[]),
            "value": value,
            "source": source_text(lang, source),
        })),
        None => open.push(word(lang, key, &[])),
    };
    fn a<T>(x: &Option<Answer<T>>, f: impl Fn(&T) -> String) -> Option<(String, &Source)> {
        x.as_ref().map(|a| (f(&a.value), &a.source))
    }
    let at = |t: &Timestamp| moment(lang, *t).1;
    put(
        "br_f_aware_at",
        Some((at(&b.aware_at.value), &b.aware_at.source)),
    );
    put(
        "br_f_kinds",
        Some((kinds_text(lang, &b.kinds.value), &b.kinds.source)),
    );
    put("br_f_description", a(&b.description, String::clone));
    put("br_f_discovery", a(&b.discovery, String::clone));
    put(
        "br_f_occurred",
        a(&b.occurred, |o| occurrence_text(lang, o)),
    );
    put("br_f_contained_at", a(&b.contained_at, at));
    put(
        "br_f_exfiltration",
        a(&b.exfiltration, |e| exfiltration_text(lang, e)),
    );
    put(
        "br_f_recipient",
        a(&b.recipient, |r| recipient_text(lang, r)),
    );
    put(
        "br_f_unintelligible",
        a(&b.unintelligible, |u| unintelligible_text(lang, *u)),
    );
    if b.is(Kind::Availability) || b.availability_loss.is_some() {
        put(
            "br_f_availability_loss",
            a(&b.availability_loss, |l| match l {
                AvailabilityLoss::Temporary {
                    restored_within_hours,
                } => word(
                    lang,
                    "br_loss_temporary",
                    &[("n", &restored_within_hours.to_string())],
                ),
                AvailabilityLoss::Permanent => word(lang, "br_loss_permanent", &[]),
            }),
        );
    }
    put(
        "br_f_subjects",
        a(&b.subjects, |s| {
            let mut parts = s.categories.clone();
            parts.extend(s.vulnerable.iter().map(|v| {
                word(
                    lang,
                    match v {
                        Vulnerable::Children => "br_vuln_children",
                        Vulnerable::Patients => "br_vuln_patients",
                        Vulnerable::Other => "br_vuln_other",
                    },
                    &[],
                )
            }));
            parts.join(", ")
        }),
    );
    put("br_f_data", a(&b.data, |d| data_text(lang, d)));
    put(
        "br_f_subject_count",
        a(&b.subject_count, |c| count_text(lang, c)),
    );
    put(
        "br_f_record_count",
        a(&b.record_count, |c| count_text(lang, c)),
    );
    put(
        "br_f_measures_taken",
        a(&b.measures_taken, |m| m.join("; ")),
    );
    put(
        "br_f_measures_proposed",
        a(&b.measures_proposed, |m| m.join("; ")),
    );
    put("br_f_consequences", a(&b.consequences, String::clone));
    put("br_f_advice", a(&b.advice, String::clone));
    put(
        "br_f_risk",
        a(&b.risk, |r| {
            format!("{}: {}", risk_text(lang, r.outcome), r.reasoning)
        }),
    );
    put(
        "br_f_high_risk_neutralised",
        a(&b.high_risk_neutralised, String::clone),
    );
    put(
        "br_f_disproportionate_effort",
        a(&b.disproportionate_effort, String::clone),
    );
    put(
        "br_f_cross_border",
        a(&b.cross_border, |c| {
            c.member_states
                .iter()
                .chain(&c.other_authorities)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        }),
    );
    put("br_f_delay_reason", a(&b.delay_reason, String::clone));
    (rows, open)
}

/// One breach as a row of the register.
fn row(lang: Lang, q: &str, v: &BreachView) -> serde_json::Value {
    let (class, flag, clock) = clock_words(lang, v);
    let (aware, aware_text) = moment(lang, v.breach.aware_at.value);
    serde_json::json!({
        "href": format!("/console/breaches/{}{q}", v.breach_id),
        "id": v.breach_id,
        "short": &v.breach_id[..8.min(v.breach_id.len())],
        "aware": aware,
        "aware_text": aware_text,
        "kinds": kinds_text(lang, &v.breach.kinds.value),
        "risk": if v.closed_at.is_some() { "closed" } else { class },
        "flag": flag,
        "clock": clock,
        "proposal": proposal_line(lang, &v.proposal),
        "decision": decision_line(lang, v.decision.as_ref()),
        "closed": v.closed_at.map(|t| word(lang, "br_closed_on", &[("at", &moment(lang, t).1)])),
    })
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Deserialize)]
struct RegisterQuery {
    lang: Option<String>,
    #[serde(default)]
    all: Option<String>,
}

async fn register(
    State(s): State<Arc<AppState>>,
    Query(q): Query<RegisterQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, user, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/breaches").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let all = q.all.as_deref() == Some("true");
    let now = Timestamp::now();
    let found = crate::work::read(&s, move |s, v| {
        v.tenant(&tenant)
            .breaches(all)?
            .iter()
            .map(|b| view(&s.breach_settings, b, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Problem::from)
    })
    .await;
    let Ok(listed) = found else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let qs = cx.q();
    let rows: Vec<serde_json::Value> = listed.iter().map(|v| row(lang, &qs, v)).collect();
    let handles = user.role.may_handle_requests();
    render(
        StatusCode::OK,
        "breaches.html",
        &cx.frame,
        serde_json::json!({
            "rows": rows,
            "all": all,
            "toggle": if all { format!("/console/breaches{qs}") } else { format!("/console/breaches{qs}&all=true") },
            "record_action": handles.then(|| format!("/console/breaches{qs}")),
            "record_csrf": form_token(&token, "breach-record"),
            "now_value": local_value(now),
        }),
    )
}

/// Breach `id` of `tenant` as it stands, with its versions; `None` when the tenant has none.
async fn load(
    s: &Arc<AppState>,
    tenant: TenantId,
    id: String,
) -> Result<Option<(BreachView, Vec<StoredBreach>, Vec<LetterRecord>)>, Problem> {
    crate::work::read(s, move |s, v| {
        let mut t = v.tenant(&tenant);
        let stored = match t.breach(&id) {
            Ok(b) => b,
            Err(VaultError::Breach(BreachError::NotFound(_))) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let versions = t.breach_versions(&id)?;
        let letters = t.breach_letters(&id)?;
        Ok(Some((
            view(&s.breach_settings, &stored, Timestamp::now())?,
            versions,
            letters,
        )))
    })
    .await
}

#[derive(Deserialize)]
struct LangOnly {
    lang: Option<String>,
}

fn category_name(policy: &Policy, lang: Lang, id: &str) -> String {
    policy
        .category(id)
        .map(|c| c.name.get_or_any(lang).to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_owned())
}

async fn breach_page(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/console/breaches/{id}");
    let (cx, user, token, tenant) = match reader(&s, q.lang.as_deref(), &headers, &path).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(id) = breach_id(&id) else {
        return cx.not_found();
    };
    let (v, versions, letters) = match load(&s, tenant, id.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return cx.not_found(),
        Err(_) => return cx.server_error(),
    };
    let lang = cx.lang;
    let qs = cx.q();
    let b = &v.breach;
    let (class, flag, clock) = clock_words(lang, &v);
    let (rows, open) = answers(lang, b);
    let handles = user.role.may_handle_requests();
    let action = |what: &str| handles.then(|| format!("/console/breaches/{id}/{what}{qs}"));
    let csrf = |what: &str| form_token(&token, &format!("breach-{what}:{id}"));
    let p = &v.proposal;
    let told: Vec<serde_json::Value> = b
        .told
        .iter()
        .map(|t| {
            let (at, at_text) = moment(lang, t.at);
            serde_json::json!({
                "party": party_text(lang, &t.party), "at": at, "at_text": at_text,
                "reference": t.reference, "source": source_text(lang, &t.source),
            })
        })
        .collect();
    let mut before: Option<&StoredBreach> = None;
    let mut phases = Vec::new();
    for ver in &versions {
        let (at, at_text) = moment(lang, ver.recorded_at);
        let decided = |r: &StoredBreach| r.record.get("decision").is_some_and(|d| !d.is_null());
        let told_n = |r: &StoredBreach| r.record["breach"]["told"].as_array().map_or(0, Vec::len);
        let what = match before {
            None => "br_version_recorded",
            Some(p) if decided(ver) && !decided(p) => "br_version_decided",
            Some(p) if told_n(ver) > told_n(p) => "br_version_told",
            Some(_) => "br_version_updated",
        };
        phases.push(serde_json::json!({
            "version": ver.version, "at": at, "at_text": at_text, "actor": ver.actor,
            "what": word(lang, what, &[]),
        }));
        before = Some(ver);
    }
    let decision = v.decision.as_ref().map(|d| {
        let (at, at_text) = moment(lang, d.at);
        serde_json::json!({
            "authority": yes_no(lang, d.notify_authority),
            "subjects": yes_no(lang, d.notify_subjects),
            "reasons": d.reasons, "by": d.by, "at": at, "at_text": at_text,
            "departs": d.notify_authority != p.notify_authority || d.notify_subjects != p.notify_subjects(),
        })
    });
    let open_breach = v.closed_at.is_none();
    let categories: Vec<serde_json::Value> = s
        .loaded
        .policy
        .categories
        .iter()
        .filter(|c| c.stored)
        .map(|c| {
            serde_json::json!({
                "id": c.id.as_str(),
                "name": category_name(&s.loaded.policy, lang, &c.id),
                "checked": b.data.as_ref().is_some_and(|d| d.value.categories.iter().any(|x| x == c.id.as_str())),
            })
        })
        .collect();
    let window_from = b
        .occurred
        .as_ref()
        .and_then(|o| o.value.start())
        .unwrap_or(b.aware_at.value - SignedDuration::from_hours(24 * 7));
    let data = b.data_types();
    let count_kind = |c: &Option<Answer<Count>>| match c.as_ref().map(|a| a.value) {
        None => "",
        Some(Count::Exact { .. }) => "exact",
        Some(Count::Approximate { .. }) => "approximate",
        Some(Count::Unknown) => "unknown",
    };
    let count_n = |c: &Option<Answer<Count>>| {
        c.as_ref()
            .and_then(|a| a.value.number())
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let form = serde_json::json!({
        "description": b.description.as_ref().map(|a| a.value.clone()),
        "discovery": b.discovery.as_ref().map(|a| a.value.clone()),
        "contained_at": b.contained_at.as_ref().map(|a| local_value(a.value)),
        "exfiltration": match b.exfiltration.as_ref().map(|a| &a.value) {
            None => "", Some(Exfiltration::Yes) => "yes", Some(Exfiltration::Likely) => "likely",
            Some(Exfiltration::No { .. }) => "no", Some(Exfiltration::NotAssessable) => "not_assessable",
        },
        "evidence": match b.exfiltration.as_ref().map(|a| &a.value) {
            Some(Exfiltration::No { evidence }) => evidence.clone(), _ => String::new(),
        },
        "recipient": match b.recipient.as_ref().map(|a| &a.value) {
            None => "", Some(Recipient::Trusted { deletion_confirmed: false }) => "trusted",
            Some(Recipient::Trusted { deletion_confirmed: true }) => "trusted_deleted",
            Some(Recipient::Mistaken { .. }) => "mistaken", Some(Recipient::Identified) => "identified",
            Some(Recipient::Unknown) => "unknown", Some(Recipient::Public) => "public",
        },
        "per_subject": match b.recipient.as_ref().map(|a| &a.value) {
            Some(Recipient::Mistaken { per_subject }) => per_subject.to_string(), _ => String::new(),
        },
        "unintelligible": match b.unintelligible.as_ref().map(|a| a.value) {
            None => "", Some(Unintelligibility::EncryptedKeySafe) => "encrypted_key_safe",
            Some(Unintelligibility::EncryptedKeyCompromised) => "encrypted_key_compromised",
            Some(Unintelligibility::NotEncrypted) => "not_encrypted",
        },
        "subject_count_kind": count_kind(&b.subject_count),
        "subject_count": count_n(&b.subject_count),
        "record_count_kind": count_kind(&b.record_count),
        "record_count": count_n(&b.record_count),
        "data_special": data.special_categories, "data_criminal": data.criminal,
        "data_national_id": data.national_id, "data_financial": data.financial,
        "data_credentials": data.credentials,
        "consequences": b.consequences.as_ref().map(|a| a.value.clone()),
        "measures_taken": b.measures_taken.as_ref().map(|a| a.value.join("\n")),
        "advice": b.advice.as_ref().map(|a| a.value.clone()),
        "risk": match b.risk.as_ref().map(|a| a.value.outcome) {
            None => "", Some(Risk::NoRisk) => "no_risk", Some(Risk::Risk) => "risk", Some(Risk::HighRisk) => "high_risk",
        },
        "risk_reasoning": b.risk.as_ref().map(|a| a.value.reasoning.clone()),
        "delay_reason": b.delay_reason.as_ref().map(|a| a.value.clone()),
    });
    render(
        StatusCode::OK,
        "breach.html",
        &cx.frame,
        serde_json::json!({
            "id": id,
            "version": v.version,
            "opened_text": moment(lang, v.opened_at).1,
            "notification": match &b.notification {
                Notification::New => word(lang, "br_notification_new", &[]),
                Notification::FollowUp { follows } => word(lang, "br_notification_follow_up", &[("id", follows.as_ref().map_or("", BreachId::as_str))]),
            },
            "role": word(lang, match b.role { Role::Controller => "br_role_controller", Role::Processor => "br_role_processor" }, &[]),
            "risk": if open_breach { class } else { "closed" },
            "flag": flag,
            "clock": clock,
            "deadline": v.deadline_at.to_string(),
            "deadline_text": moment(lang, v.deadline_at).1,
            "rules": v.clock.rules,
            "delay_reason_needed": v.clock.requires_delay_reason,
            "reminders": v.clock.reminders.iter().map(|r| word(lang, "br_reminder", &[("n", &r.hours_left.to_string()), ("at", &moment(lang, r.at).1)])).collect::<Vec<_>>(),
            "closed": v.closed_at.map(|t| word(lang, "br_closed_on", &[("at", &moment(lang, t).1)])),
            "answers": rows,
            "open": open,
            "proposal": {
                "line": proposal_line(lang, p),
                "rules": p.rules,
                "reasons": p.reasons,
                "questions": p.open_questions,
                "authority": p.notify_authority,
                "subjects": p.notify_subjects(),
            },
            "decision": decision,
            "decide_action": if v.decision.is_none() && open_breach { action("decide") } else { None },
            "decide_csrf": csrf("decide"),
            "told": told,
            "told_action": action("told"),
            "told_csrf": csrf("told"),
            "processor": b.role == Role::Processor,
            "now_value": local_value(Timestamp::now()),
            "complete_action": action("complete"),
            "complete_csrf": csrf("complete"),
            "form": form,
            "affected_action": action("affected"),
            "affected_csrf": csrf("affected"),
            "letters": letters.iter().map(|l| letter_row(lang, l)).collect::<Vec<_>>(),
            "letters_action": if open_breach && v.decision.as_ref().is_some_and(|d| d.notify_subjects) { action("letters") } else { None },
            "letters_csrf": csrf("letters"),
            "categories": categories,
            "window_from": local_value(window_from),
            "window_to": local_value(b.contained_at.as_ref().map_or(b.aware_at.value, |c| c.value)),
            "versions": phases,
            "draft_nl": format!("/console/breaches/{id}/draft?lang=nl"),
            "draft_en": format!("/console/breaches/{id}/draft?lang=en"),
            "back": format!("/console/breaches{qs}"),
        }),
    )
}

async fn draft(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/console/breaches/{id}/draft");
    let (cx, _, _, tenant) = match reader(&s, q.lang.as_deref(), &headers, &path).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(id) = breach_id(&id) else {
        return cx.not_found();
    };
    let lang = cx.lang;
    let i = id.clone();
    let found = crate::work::read(&s, move |_, v| {
        match v.tenant(&tenant).breach(&i).and_then(|b| b.entry()) {
            Ok(e) => Ok(Some(e)),
            Err(VaultError::Breach(BreachError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    let entry = match found {
        Ok(Some(e)) => e,
        Ok(None) => return cx.not_found(),
        Err(_) => return cx.server_error(),
    };
    let who = crate::breaches::controller(&s.loaded.policy);
    let ap =
        custos_breach::draft::ap_notification(&entry.breach, &who, entry.decision.as_ref(), lang);
    let letter = custos_breach::draft::subject_letter(&entry.breach, &who, lang);
    let chapters: Vec<serde_json::Value> = ap
        .chapters
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "title": match lang { Lang::Nl => &c.title_nl, Lang::En => &c.title_en },
                "items": c.answers.iter().map(|a| serde_json::json!({
                    "question": match lang { Lang::Nl => &a.question_nl, Lang::En => &a.question_en },
                    "answer": a.answer,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "breach-draft.html",
        &cx.frame,
        serde_json::json!({
            "id": id,
            "missing": ap.missing,
            "chapters": chapters,
            "letter": letter,
            "back": format!("/console/breaches/{id}{}", cx.q()),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Writes

/// A refusal in the visitor's language: the heading, the lead sentence, the problems (field
/// label and reason; `en` marks a reason the domain gave in English) and the way back.
fn refused(
    cx: &Ctx,
    status: StatusCode,
    back: &str,
    problems: Vec<(String, String, bool)>,
) -> Response {
    let problems: Vec<serde_json::Value> = problems
        .into_iter()
        .map(|(field, reason, en)| serde_json::json!({ "field": field, "reason": reason, "en": en && cx.lang != Lang::En }))
        .collect();
    render(
        status,
        "breach-refused.html",
        &cx.frame,
        serde_json::json!({ "problems": problems, "back": back }),
    )
}

/// A refusal of the console's own: the field's label and the reason, both in the page's words.
fn refused_field(cx: &Ctx, back: &str, field: &str, reason: &str) -> Response {
    refused(
        cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        back,
        vec![(cx.w(field), cx.w(reason), false)],
    )
}

/// The label of a record's field (a JSON pointer the domain names), else the pointer.
fn field_label(cx: &Ctx, pointer: &str) -> String {
    let name = pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let key = format!("br_f_{name}");
    let label = cx.w(&key);
    if label == key {
        pointer.to_owned()
    } else {
        label
    }
}

/// The page for what the vault refused of a write.
fn vault_refusal(cx: &Ctx, back: &str, e: &VaultError) -> Response {
    match e {
        VaultError::InvalidBreach(found) => refused(
            cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            back,
            found
                .iter()
                .map(|i| (field_label(cx, &i.field), i.reason.clone(), true))
                .collect(),
        ),
        VaultError::Breach(BreachError::Stale { .. }) => refused(
            cx,
            StatusCode::CONFLICT,
            back,
            vec![(cx.w("br_version"), cx.w("br_refused_stale"), false)],
        ),
        VaultError::Breach(BreachError::NotFound(_)) => cx.not_found(),
        _ => cx.server_error(),
    }
}

/// A dpo posting a form of `purpose` with the session's token, or the page to show instead.
/// The breach `id` names and a writer for it: a page that does not exist when it is no breach
/// id, else [`writer`] with the form's purpose for that breach.
async fn breach_writer(
    s: &Arc<AppState>,
    lang: Option<&str>,
    headers: &HeaderMap,
    id: &str,
    form: &Fields,
    purpose: impl FnOnce(&str) -> String,
) -> Result<(Ctx, ConsoleUser, TenantId, String), Response> {
    let path = format!("/console/breaches/{id}");
    let Some(bid) = breach_id(id) else {
        return Err(match reader(s, lang, headers, &path).await {
            Ok((cx, ..)) => cx.not_found(),
            Err(page) => page,
        });
    };
    let (cx, user, tenant) = writer(s, lang, headers, &path, form, &purpose(&bid)).await?;
    Ok((cx, user, tenant, bid))
}

async fn writer(
    s: &Arc<AppState>,
    lang: Option<&str>,
    headers: &HeaderMap,
    path: &str,
    form: &Fields,
    purpose: &str,
) -> Result<(Ctx, ConsoleUser, TenantId), Response> {
    let (cx, user, token, tenant) = reader(s, lang, headers, path).await?;
    if !user.role.may_handle_requests() {
        return Err(cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden"));
    }
    if !form_ok(&token, purpose, field(form, "csrf")) {
        return Err(cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired"));
    }
    Ok((cx, user, tenant))
}

/// A moment entered in a form, in the past: the key of what is wrong with it otherwise.
fn past_time(text: &str, now: Timestamp) -> Result<Timestamp, &'static str> {
    let at = local_time(text).ok_or("br_refused_time")?;
    if at > now {
        return Err("br_refused_future");
    }
    Ok(at)
}

async fn record(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: Fields = read_form(&s, req).await;
    let (cx, user, tenant) = match writer(
        &s,
        q.lang.as_deref(),
        &headers,
        "/console/breaches",
        &form,
        "breach-record",
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let back = format!("/console/breaches{}", cx.q());
    let now = Timestamp::now();
    let aware = match past_time(field(&form, "aware_at"), now) {
        Ok(at) => at,
        Err(key) => return refused_field(&cx, &back, "br_f_aware_at", key),
    };
    let kinds: Vec<Kind> = [
        ("kind_confidentiality", Kind::Confidentiality),
        ("kind_integrity", Kind::Integrity),
        ("kind_availability", Kind::Availability),
    ]
    .into_iter()
    .filter(|(name, _)| !field(&form, name).is_empty())
    .map(|(_, k)| k)
    .collect();
    if kinds.is_empty() {
        return refused_field(&cx, &back, "br_f_kinds", "br_refused_kinds");
    }
    let actor = user.actor();
    let mut breach = Breach::new(
        BreachId::unassigned(),
        Answer::person(aware, actor.clone()),
        Answer::person(kinds, actor.clone()),
    );
    breach.description = text(&form, "description", 4000).map(|t| Answer::person(t, actor.clone()));
    breach.discovery = text(&form, "discovery", 1000).map(|t| Answer::person(t, actor.clone()));
    let done = crate::work::as_caller(&s, &tenant, actor, move |s, t| {
        match t.record_breach(breach, &s.breach_settings, now) {
            Ok(b) => Ok(Ok(b.breach_id)),
            Err(e @ (VaultError::InvalidBreach(_) | VaultError::Breach(_))) => Ok(Err(e)),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(Ok(id)) => see_other(&format!("/console/breaches/{id}{}", cx.q())),
        Ok(Err(e)) => vault_refusal(&cx, &back, &e),
        Err(_) => cx.server_error(),
    }
}

/// What a write on breach `id` does with the record as it stands: the next version's record, or
/// a refusal of the console's own (the field's key and the reason's key).
type Change = Box<
    dyn FnOnce(&mut custos_breach::record::Breach, &str) -> Result<(), (&'static str, &'static str)>
        + Send,
>;

/// Writes the next version of breach `id` on top of the form's `version`, changed by `change`
/// (as the signed-in account), then back to the breach's page.
async fn follow_up(
    s: Arc<AppState>,
    id: String,
    lang: Option<String>,
    req: axum::extract::Request,
    what: &str,
    change: impl FnOnce(&Fields, Timestamp) -> Result<Change, (&'static str, &'static str)>,
) -> Response {
    let headers = req.headers().clone();
    let form: Fields = read_form(&s, req).await;
    let (cx, user, tenant, bid) =
        match breach_writer(&s, lang.as_deref(), &headers, &id, &form, |bid| {
            format!("breach-{what}:{}", bid)
        })
        .await
        {
            Ok(found) => found,
            Err(page) => return page,
        };
    let back = format!("/console/breaches/{bid}{}", cx.q());
    let Ok(version) = field(&form, "version").parse::<i64>() else {
        return refused_field(&cx, &back, "br_version", "br_refused_stale");
    };
    let now = Timestamp::now();
    let change = match change(&form, now) {
        Ok(c) => c,
        Err((f, reason)) => return refused_field(&cx, &back, f, reason),
    };
    let actor = user.actor();
    let i = bid.clone();
    let done = crate::work::as_caller(&s, &tenant, actor.clone(), move |s, t| {
        let current = match t.breach(&i).and_then(|b| b.entry()) {
            Ok(e) => e,
            Err(e @ VaultError::Breach(_)) => return Ok(Err(Err(e))),
            Err(e) => return Err(e.into()),
        };
        let mut b = current.breach;
        if let Err(refusal) = change(&mut b, &actor) {
            return Ok(Err(Ok(refusal)));
        }
        match t.update_breach(&i, version, b, &s.breach_settings, now) {
            Ok(_) => Ok(Ok(())),
            Err(e @ (VaultError::InvalidBreach(_) | VaultError::Breach(_))) => Ok(Err(Err(e))),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&back),
        Ok(Err(Ok((f, reason)))) => refused_field(&cx, &back, f, reason),
        Ok(Err(Err(e))) => vault_refusal(&cx, &back, &e),
        Err(_) => cx.server_error(),
    }
}

/// Sets `slot` to `new` as the person `actor` gave it; an answer unchanged keeps who gave it.
fn set<T: PartialEq>(slot: &mut Option<Answer<T>>, new: Option<T>, actor: &str) {
    match new {
        None => *slot = None,
        Some(v) if slot.as_ref().is_some_and(|a| a.value == v) => {}
        Some(v) => *slot = Some(Answer::person(v, actor)),
    }
}

/// A count from a kind (`exact`, `approximate`, `unknown`, empty: unanswered) and a number.
fn count_of(kind: &str, n: &str) -> Result<Option<Count>, &'static str> {
    let n = || n.parse::<u64>().map_err(|_| "br_refused_number");
    Ok(match kind {
        "" => None,
        "exact" => Some(Count::Exact { n: n()? }),
        "approximate" => Some(Count::Approximate { n: n()? }),
        "unknown" => Some(Count::Unknown),
        _ => return Err("br_refused_choice"),
    })
}

/// The completed answers of the record as the form gives them.
struct Completed {
    description: Option<String>,
    discovery: Option<String>,
    contained_at: Option<Timestamp>,
    exfiltration: Option<Exfiltration>,
    recipient: Option<Recipient>,
    unintelligible: Option<Unintelligibility>,
    subject_count: Option<Count>,
    record_count: Option<Count>,
    flags: [bool; 5],
    consequences: Option<String>,
    measures_taken: Option<Vec<String>>,
    advice: Option<String>,
    risk: Option<RiskAssessment>,
    delay_reason: Option<String>,
}

fn completed(f: &Fields, now: Timestamp) -> Result<Completed, (&'static str, &'static str)> {
    let contained_at = match field(f, "contained_at") {
        "" => None,
        t => Some(past_time(t, now).map_err(|k| ("br_f_contained_at", k))?),
    };
    let exfiltration = match field(f, "exfiltration") {
        "" => None,
        "yes" => Some(Exfiltration::Yes),
        "likely" => Some(Exfiltration::Likely),
        "no" => Some(Exfiltration::No {
            evidence: text(f, "evidence", 1000)
                .ok_or(("br_f_exfiltration", "br_refused_evidence"))?,
        }),
        "not_assessable" => Some(Exfiltration::NotAssessable),
        _ => return Err(("br_f_exfiltration", "br_refused_choice")),
    };
    let recipient = match field(f, "recipient") {
        "" => None,
        "trusted" => Some(Recipient::Trusted {
            deletion_confirmed: false,
        }),
        "trusted_deleted" => Some(Recipient::Trusted {
            deletion_confirmed: true,
        }),
        "mistaken" => Some(Recipient::Mistaken {
            per_subject: field(f, "per_subject")
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(("br_f_recipient", "br_refused_per_subject"))?,
        }),
        "identified" => Some(Recipient::Identified),
        "unknown" => Some(Recipient::Unknown),
        "public" => Some(Recipient::Public),
        _ => return Err(("br_f_recipient", "br_refused_choice")),
    };
    let unintelligible = match field(f, "unintelligible") {
        "" => None,
        "encrypted_key_safe" => Some(Unintelligibility::EncryptedKeySafe),
        "encrypted_key_compromised" => Some(Unintelligibility::EncryptedKeyCompromised),
        "not_encrypted" => Some(Unintelligibility::NotEncrypted),
        _ => return Err(("br_f_unintelligible", "br_refused_choice")),
    };
    let subject_count = count_of(field(f, "subject_count_kind"), field(f, "subject_count"))
        .map_err(|k| ("br_f_subject_count", k))?;
    let record_count = count_of(field(f, "record_count_kind"), field(f, "record_count"))
        .map_err(|k| ("br_f_record_count", k))?;
    let risk = match field(f, "risk") {
        "" => None,
        outcome => Some(RiskAssessment {
            outcome: match outcome {
                "no_risk" => Risk::NoRisk,
                "risk" => Risk::Risk,
                "high_risk" => Risk::HighRisk,
                _ => return Err(("br_f_risk", "br_refused_choice")),
            },
            reasoning: text(f, "risk_reasoning", 4000)
                .ok_or(("br_f_risk", "br_refused_reasoning"))?,
        }),
    };
    let measures: Vec<String> = field(f, "measures_taken")
        .lines()
        .map(|l| l.trim().chars().take(1000).collect::<String>())
        .filter(|l| !l.is_empty())
        .take(50)
        .collect();
    Ok(Completed {
        description: text(f, "description", 4000),
        discovery: text(f, "discovery", 1000),
        contained_at,
        exfiltration,
        recipient,
        unintelligible,
        subject_count,
        record_count,
        flags: [
            "data_special",
            "data_criminal",
            "data_national_id",
            "data_financial",
            "data_credentials",
        ]
        .map(|n| !field(f, n).is_empty()),
        consequences: text(f, "consequences", 4000),
        measures_taken: (!measures.is_empty()).then_some(measures),
        advice: text(f, "advice", 4000),
        risk,
        delay_reason: text(f, "delay_reason", 4000),
    })
}

async fn complete(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    follow_up(s, id, q.lang, req, "complete", |f, now| {
        let c = completed(f, now)?;
        Ok(Box::new(move |b: &mut Breach, actor: &str| {
            set(&mut b.description, c.description, actor);
            set(&mut b.discovery, c.discovery, actor);
            set(&mut b.contained_at, c.contained_at, actor);
            set(&mut b.exfiltration, c.exfiltration, actor);
            set(&mut b.recipient, c.recipient, actor);
            set(&mut b.unintelligible, c.unintelligible, actor);
            set(&mut b.subject_count, c.subject_count, actor);
            set(&mut b.record_count, c.record_count, actor);
            let [special, criminal, national_id, financial, credentials] = c.flags;
            let categories = b.data_types().categories;
            let data = DataTypes {
                special_categories: special,
                criminal,
                national_id,
                financial,
                credentials,
                categories,
            };
            let data = (data != DataTypes::default() || b.data.is_some()).then_some(data);
            set(&mut b.data, data, actor);
            set(&mut b.consequences, c.consequences, actor);
            set(&mut b.measures_taken, c.measures_taken, actor);
            set(&mut b.advice, c.advice, actor);
            set(&mut b.risk, c.risk, actor);
            set(&mut b.delay_reason, c.delay_reason, actor);
            Ok(())
        }))
    })
    .await
}

async fn told(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    follow_up(s, id, q.lang, req, "told", |f, now| {
        let at = past_time(field(f, "at"), now).map_err(|k| ("br_told_at", k))?;
        let name = text(f, "name", 200);
        let party = match field(f, "party") {
            "authority" => Party::Authority {
                name: name.unwrap_or_else(|| "Autoriteit Persoonsgegevens".into()),
            },
            "subjects" => Party::Subjects,
            "public" => Party::Public,
            "controller" => Party::Controller {
                name: name.ok_or(("br_told_name", "br_refused_name"))?,
            },
            _ => return Err(("br_told_party", "br_refused_choice")),
        };
        let reference = text(f, "reference", 200);
        Ok(Box::new(move |b: &mut Breach, actor: &str| {
            b.told.push(Told {
                party,
                at,
                reference,
                source: Source::Person {
                    actor: actor.to_owned(),
                },
            });
            Ok(())
        }))
    })
    .await
}

async fn decide(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: Fields = read_form(&s, req).await;
    let (cx, user, tenant, bid) =
        match breach_writer(&s, q.lang.as_deref(), &headers, &id, &form, |bid| {
            format!("breach-decide:{}", bid)
        })
        .await
        {
            Ok(found) => found,
            Err(page) => return page,
        };
    let back = format!("/console/breaches/{bid}{}", cx.q());
    let yes = |name: &str| match field(&form, name) {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let Some(notify_authority) = yes("notify_authority") else {
        return refused_field(&cx, &back, "br_decide_authority", "br_refused_yes_no");
    };
    let Some(notify_subjects) = yes("notify_subjects") else {
        return refused_field(&cx, &back, "br_decide_subjects", "br_refused_yes_no");
    };
    let reasons: String = field(&form, "reasons").chars().take(4000).collect();
    if reasons.is_empty() {
        return refused_field(&cx, &back, "br_decide_reasons", "br_refused_reasons");
    }
    let Ok(version) = field(&form, "version").parse::<i64>() else {
        return refused_field(&cx, &back, "br_version", "br_refused_stale");
    };
    let actor = user.actor();
    let i = bid.clone();
    let done = crate::work::as_caller(&s, &tenant, actor.clone(), move |s, t| {
        let now = Timestamp::now();
        let decision = Decision {
            notify_authority,
            notify_subjects,
            reasons,
            by: actor,
            at: now,
        };
        // Departing from the proposal takes reasons that say so; the vault checks it, the page
        // says it in the visitor's words.
        let departs = match t
            .breach(&i)
            .and_then(|b| b.entry())
            .and_then(|e| s.breach_settings.propose(&e.breach))
        {
            Ok(p) => {
                notify_authority != p.notify_authority || notify_subjects != p.notify_subjects()
            }
            Err(e @ VaultError::Breach(_)) => return Ok(Err((e, false))),
            Err(e) => return Err(e.into()),
        };
        match t.decide_breach(&i, version, decision, &s.breach_settings, now) {
            Ok(_) => Ok(Ok(())),
            Err(e @ (VaultError::InvalidBreach(_) | VaultError::Breach(_))) => {
                Ok(Err((e, departs)))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&back),
        Ok(Err((VaultError::InvalidBreach(_), true))) => {
            refused_field(&cx, &back, "br_decide_reasons", "br_refused_departs")
        }
        Ok(Err((e, _))) => vault_refusal(&cx, &back, &e),
        Err(_) => cx.server_error(),
    }
}

async fn affected(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: Fields = read_form(&s, req).await;
    let (cx, user, tenant, bid) =
        match breach_writer(&s, q.lang.as_deref(), &headers, &id, &form, |bid| {
            format!("breach-affected:{}", bid)
        })
        .await
        {
            Ok(found) => found,
            Err(page) => return page,
        };
    let back = format!("/console/breaches/{bid}{}", cx.q());
    let policy = &s.loaded.policy;
    let categories: Vec<String> = values(&form, "category")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if categories.is_empty() {
        return refused_field(&cx, &back, "br_aff_categories", "br_refused_categories");
    }
    if categories.iter().any(|c| policy.category(c).is_none()) {
        return refused_field(&cx, &back, "br_aff_categories", "br_refused_choice");
    }
    let now = Timestamp::now();
    let from = match local_time(field(&form, "from")) {
        Some(t) => t,
        None => return refused_field(&cx, &back, "br_aff_from", "br_refused_time"),
    };
    let to = match local_time(field(&form, "to")) {
        Some(t) => t,
        None => return refused_field(&cx, &back, "br_aff_to", "br_refused_time"),
    };
    if to < from {
        return refused_field(&cx, &back, "br_aff_to", "br_refused_window");
    }
    let i = bid.clone();
    let done = crate::work::as_caller(&s, &tenant, user.actor(), move |s, t| {
        match t.breach(&i) {
            Ok(_) => {}
            Err(VaultError::Breach(BreachError::NotFound(_))) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let found = t.breach_affected(Some(&i), &categories, from, to, now)?;
        let held = t
            .breach_affected_in_datasets(&s.loaded.policy, Some(&i), &categories, now)
            .map_err(VaultError::from)?;
        Ok(Some((found, held)))
    })
    .await;
    let (found, held): (Affected, Vec<custos_vault::connect::DatasetHeld>) = match done {
        Ok(Some(a)) => a,
        Ok(None) => return cx.not_found(),
        Err(_) => return cx.server_error(),
    };
    let lang = cx.lang;
    render(
        StatusCode::OK,
        "breach-affected.html",
        &cx.frame,
        serde_json::json!({
            "window": word(lang, "br_aff_window", &[("from", &moment(lang, found.from).1), ("to", &moment(lang, found.to).1)]),
            "subjects": found.subjects,
            "records": found.records,
            "erased_since": found.erased_since,
            "encrypted": yes_no(lang, found.encrypted_at_rest),
            "per_category": found.per_category.iter().map(|c| serde_json::json!({
                "name": category_name(policy, lang, &c.category), "records": c.records, "subjects": c.subjects,
            })).collect::<Vec<_>>(),
            "digest": found.digest,
            "datasets": held.iter().map(|d| serde_json::json!({
                "name": d.dataset, "rows": d.rows,
                "tables": d.tables.iter().map(|t| serde_json::json!({
                    "table": t.table, "category": category_name(policy, lang, &t.category),
                    "rows": t.rows, "subjects": t.subjects,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "back": back,
        }),
    )
}

/// A letter of the breach as the page lists it: which, when, and its deliveries per state.
fn letter_row(lang: Lang, l: &LetterRecord) -> serde_json::Value {
    let state = |k: &str| l.counts.get(k).copied().unwrap_or(0).to_string();
    serde_json::json!({
        "kind": word(lang, match l.kind { LetterKind::SubjectLetter => "br_letter_subjects", LetterKind::ControllerNotice => "br_letter_controller" }, &[]),
        "reference": l.reference,
        "lang": l.lang,
        "subject": l.subject,
        "at": l.created_at.to_string(),
        "at_text": moment(lang, l.created_at).1,
        "counts": word(lang, "br_letter_counts", &[("delivered", &state("delivered")), ("pending", &state("pending")), ("dead", &state("dead")), ("not_configured", &state("not_configured"))]),
        "failures": l.deliveries.iter().filter(|d| d.state == "dead").map(|d| serde_json::json!({
            "channel": d.channel, "target": d.target.chars().take(12).collect::<String>(), "error": d.last_error,
        })).collect::<Vec<_>>(),
    })
}

/// Sends the letter to the people affected (Art. 34(1), (2)) to the addresses typed, one per
/// line, in the language chosen: only once a person decided they are to be told (the vault
/// refuses otherwise). The addresses go to the vault sealed and are not shown again.
async fn letters(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangOnly>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: Fields = read_form(&s, req).await;
    let (cx, user, tenant, bid) =
        match breach_writer(&s, q.lang.as_deref(), &headers, &id, &form, |bid| {
            format!("breach-letters:{}", bid)
        })
        .await
        {
            Ok(found) => found,
            Err(page) => return page,
        };
    let back = format!("/console/breaches/{bid}{}", cx.q());
    let addresses: Vec<String> = field(&form, "addresses")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if addresses.is_empty() {
        return refused_field(&cx, &back, "br_letters_addresses", "br_refused_addresses");
    }
    let Some(letter_lang) = Lang::from_code(field(&form, "letter_lang")) else {
        return refused_field(&cx, &back, "br_letters_lang", "br_refused_choice");
    };
    let i = bid.clone();
    let done = crate::work::as_caller(&s, &tenant, user.actor(), move |s, t| {
        let entry = match t.breach(&i).and_then(|b| b.entry()) {
            Ok(e) => e,
            Err(e @ VaultError::Breach(_)) => return Ok(Err(e)),
            Err(e) => return Err(e.into()),
        };
        let letter = custos_breach::draft::subject_letter(
            &entry.breach,
            &crate::breaches::controller(&s.loaded.policy),
            letter_lang,
        );
        let out = Outgoing {
            lang: letter_lang.code().to_owned(),
            subject: letter.subject,
            body: letter.paragraphs.join("\n\n"),
        };
        match t.queue_subject_letters(&i, &out, &addresses, Timestamp::now()) {
            Ok(q) => Ok(Ok(q)),
            Err(e @ (VaultError::InvalidBreach(_) | VaultError::Breach(_))) => Ok(Err(e)),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(Ok(_)) => see_other(&format!("{back}#letters")),
        Ok(Err(e)) => vault_refusal(&cx, &back, &e),
        Err(_) => cx.server_error(),
    }
}

/// A sample context for each of these pages' templates, for the unit test that renders them.
#[cfg(test)]
pub(super) fn samples() -> Vec<(&'static str, serde_json::Value)> {
    let row = |risk: &str, flag: Option<&str>, closed: Option<&str>| {
        serde_json::json!({
            "href": "/console/breaches/0123", "id": "0123", "short": "0123",
            "aware": "2026-03-02T09:00:00Z", "aware_text": "2 March 2026 10:00",
            "kinds": "Confidentiality", "risk": risk, "flag": flag,
            "clock": "71 h 59 min left", "proposal": "Notify the authority",
            "decision": "Not decided yet", "closed": closed,
        })
    };
    let form = serde_json::json!({
        "description": "An export e-mailed to the wrong customer.", "discovery": null,
        "contained_at": "2026-03-02T11:00", "exfiltration": "no", "evidence": "mail logs",
        "recipient": "mistaken", "per_subject": "1", "unintelligible": "not_encrypted",
        "subject_count_kind": "exact", "subject_count": "40", "record_count_kind": "",
        "record_count": "", "data_special": true, "data_criminal": false,
        "data_national_id": false, "data_financial": false, "data_credentials": false,
        "consequences": null, "measures_taken": "asked to delete\nchecked logs",
        "advice": null, "risk": "risk", "risk_reasoning": "contact data only",
        "delay_reason": null,
    });
    let breach = |decided: bool, dpo: bool| {
        let action = |a: &str| dpo.then(|| format!("/console/breaches/0123/{a}"));
        let letters_sample = if decided {
            serde_json::json!([{ "kind": "To the people affected", "reference": null, "lang": "nl",
                "subject": "Datalek bij JBSync: uw gegevens", "at": "2026-03-03T11:00:00Z", "at_text": "3 March 2026 12:00",
                "counts": "1 delivered, 0 pending, 1 failed, 0 without a channel",
                "failures": [{ "channel": "email", "target": "3fa9c2d81b7e", "error": "550 5.1.1" }] }])
        } else {
            serde_json::json!([])
        };
        let mut page = serde_json::json!({
            "id": "0123", "version": 2, "opened_text": "2 March 2026 10:05",
            "notification": "First notification", "role": "Controller",
            "risk": if decided { "closed" } else { "overdue" },
            "flag": if decided { None } else { Some("Deadline passed:") },
            "clock": "The deadline passed.", "deadline": "2026-03-05T09:00:00Z",
            "deadline_text": "5 March 2026 10:00", "rules": "gdpr-2016 (Art. 33(1) GDPR)",
            "delay_reason_needed": !decided,
            "reminders": ["24 hours before: 4 March 2026 10:00"],
            "closed": decided.then_some("Closed on 3 March 2026 12:00"),
            "answers": [{ "label": "Aware since", "value": "2 March 2026 10:00", "source": "by account:1" }],
            "open": ["What happened"],
            "proposal": {
                "line": "Notify the authority", "rules": "gdpr-2016",
                "reasons": [{ "text": "readable data", "cites": "Art. 34(3)(a) GDPR" }],
                "questions": if decided { serde_json::json!([]) } else { serde_json::json!(["How many people?"]) },
                "authority": true, "subjects": false,
            },
            "decision": decided.then(|| serde_json::json!({
                "authority": "yes", "subjects": "no", "reasons": "no high risk", "by": "account:1",
                "at": "2026-03-02T12:00:00Z", "at_text": "2 March 2026 13:00", "departs": true,
            })),
            "decide_action": (!decided).then(|| action("decide")).flatten(), "decide_csrf": "x",
            "told": if decided { serde_json::json!([{ "party": "Autoriteit Persoonsgegevens", "at": "2026-03-03T11:00:00Z",
                "at_text": "3 March 2026 12:00", "reference": "AP-1", "source": "by account:1" }]) } else { serde_json::json!([]) },
            "told_action": action("told"), "told_csrf": "x", "processor": decided,
            "now_value": "2026-03-03T12:00",
            "complete_action": action("complete"), "complete_csrf": "x", "form": form,
            "affected_action": action("affected"), "affected_csrf": "x",
            "categories": [{ "id": "account", "name": "Account", "checked": true },
                           { "id": "billing", "name": "Billing", "checked": false }],
            "window_from": "2026-02-23T10:00", "window_to": "2026-03-02T10:00",
            "versions": [{ "version": 1, "at": "2026-03-02T09:05:00Z", "at_text": "2 March 2026 10:05",
                           "actor": "account:1", "what": "Recorded" }],
            "draft_nl": "/console/breaches/0123/draft?lang=nl",
            "draft_en": "/console/breaches/0123/draft?lang=en",
            "back": "/console/breaches",
        });
        page["letters"] = letters_sample;
        page["letters_action"] = serde_json::json!(decided.then(|| action("letters")).flatten());
        page["letters_csrf"] = "x".into();
        page
    };
    vec![
        (
            "breaches.html",
            serde_json::json!({
                "rows": [row("on_track", None, None), row("overdue", Some("Deadline passed:"), None),
                         row("closed", None, Some("Closed on 3 March 2026 12:00"))],
                "all": true, "toggle": "/console/breaches",
                "record_action": "/console/breaches", "record_csrf": "x",
                "now_value": "2026-03-03T12:00",
            }),
        ),
        (
            "breaches.html",
            serde_json::json!({
                "rows": [], "all": false, "toggle": "/console/breaches?all=true",
                "record_action": null, "record_csrf": "x", "now_value": "2026-03-03T12:00",
            }),
        ),
        ("breach.html", breach(false, true)),
        ("breach.html", breach(true, true)),
        ("breach.html", breach(false, false)),
        (
            "breach-draft.html",
            serde_json::json!({
                "id": "0123", "missing": ["timeline: When did it end?"],
                "chapters": [{ "id": "timeline", "title": "Timeline", "items": [
                    { "question": "When did you become aware?", "answer": "2026-03-02 09:00 UTC" },
                    { "question": "When did it end?", "answer": null }] }],
                "letter": { "lang": "en", "subject": "Data breach at Acme: your data",
                            "paragraphs": ["We are writing to tell you.", "Questions? Contact us."] },
                "back": "/console/breaches/0123",
            }),
        ),
        (
            "breach-draft.html",
            serde_json::json!({
                "id": "0123", "missing": [], "chapters": [],
                "letter": { "lang": "nl", "subject": "Datalek", "paragraphs": [] },
                "back": "/console/breaches/0123",
            }),
        ),
        (
            "breach-affected.html",
            serde_json::json!({
                "window": "From 1 to 2 March 2026", "subjects": 40, "records": 80, "erased_since": 1,
                "encrypted": "yes", "digest": "ab12",
                "per_category": [{ "name": "Account", "records": 80, "subjects": 40 }],
                "datasets": [{ "name": "mail", "rows": 12, "tables": [
                    { "table": "users", "category": "Account", "rows": 10, "subjects": 10 },
                    { "table": "mailbox_members", "category": "Account", "rows": 2, "subjects": null }] }],
                "back": "/console/breaches/0123",
            }),
        ),
        (
            "breach-affected.html",
            serde_json::json!({
                "window": "From 1 to 2 March 2026", "subjects": 0, "records": 0, "erased_since": 0,
                "encrypted": "yes", "digest": "ab12", "per_category": [], "datasets": [], "back": "/console/breaches/0123",
            }),
        ),
        (
            "breach-refused.html",
            serde_json::json!({
                "problems": [{ "field": "Aware since", "reason": "lies in the future", "en": true },
                             { "field": "Kinds", "reason": "Tick one.", "en": false }],
                "back": "/console/breaches",
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_in_amsterdam_and_stored_in_utc() {
        // Winter time: UTC+1.
        assert_eq!(
            local_time("2026-03-02T10:30"),
            Some("2026-03-02T09:30:00Z".parse().unwrap())
        );
        // Summer time: UTC+2, seconds allowed.
        assert_eq!(
            local_time(" 2026-07-01T10:30:15 "),
            Some("2026-07-01T08:30:15Z".parse().unwrap())
        );
        assert_eq!(local_time(""), None);
        assert_eq!(local_time("yesterday"), None);
        let at: Timestamp = "2026-03-02T09:30:00Z".parse().unwrap();
        assert_eq!(local_value(at), "2026-03-02T10:30");
    }

    #[test]
    fn a_time_in_the_future_is_refused() {
        let now: Timestamp = "2026-03-02T09:30:00Z".parse().unwrap();
        assert_eq!(past_time("2026-03-02T10:30", now), Ok(now));
        assert_eq!(past_time("2026-03-02T10:31", now), Err("br_refused_future"));
        assert_eq!(past_time("", now), Err("br_refused_time"));
    }

    #[test]
    fn spans_are_hours_and_minutes_in_the_pages_language() {
        let d = SignedDuration::from_mins(71 * 60 + 59);
        assert_eq!(span_text(Lang::En, d), "71 h 59 min");
        assert_eq!(span_text(Lang::Nl, d), "71 uur 59 min");
        assert_eq!(span_text(Lang::En, -d), "0 h 0 min");
    }

    #[test]
    fn an_answer_unchanged_keeps_who_gave_it() {
        let mut slot = Some(Answer::custos(Count::Exact { n: 40 }, "vault count"));
        set(&mut slot, Some(Count::Exact { n: 40 }), "account:1");
        assert!(matches!(
            slot.as_ref().unwrap().source,
            Source::Custos { .. }
        ));
        set(&mut slot, Some(Count::Exact { n: 41 }), "account:1");
        assert_eq!(
            slot.as_ref().unwrap().source,
            Source::Person {
                actor: "account:1".into()
            }
        );
        set(&mut slot, None, "account:1");
        assert!(slot.is_none());
    }

    #[test]
    fn counts_are_read_from_a_kind_and_a_number() {
        assert_eq!(count_of("", "5"), Ok(None));
        assert_eq!(count_of("exact", "5"), Ok(Some(Count::Exact { n: 5 })));
        assert_eq!(count_of("unknown", ""), Ok(Some(Count::Unknown)));
        assert_eq!(count_of("approximate", "x"), Err("br_refused_number"));
        assert_eq!(count_of("many", "5"), Err("br_refused_choice"));
    }

    #[test]
    fn every_field_the_domain_names_has_a_label_in_both_languages() {
        for f in [
            "/aware_at",
            "/kinds",
            "/occurred",
            "/contained_at",
            "/subject_count",
            "/record_count",
            "/exfiltration",
            "/availability_loss",
            "/told/0/at",
            "/risk",
            "/decision",
            "/notification/follows",
        ] {
            for lang in [Lang::Nl, Lang::En] {
                let key = format!(
                    "br_f_{}",
                    f.trim_start_matches('/').split('/').next().unwrap()
                );
                assert_ne!(word(lang, &key, &[]), key, "{f} in {lang:?}");
            }
        }
    }
}
