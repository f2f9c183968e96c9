//! The console's retention pages (issue 20): per data category what the purge removed recently,
//! what falls due within the week and what legal holds keep, and why (Art. 5(1)(e) GDPR: storage
//! limitation; Art. 17(3)(e): data needed for legal claims is kept). The figures are the API's:
//! the retention report (`GET /v1/retention/report`), the purge's dry run (`GET
//! /v1/retention/due`, here also a week ahead), the holds (`GET /v1/holds`) and the purge's
//! receipts in the audit trail (`retention.purged`, one per category and batch).
//!
//! - `GET /console/retention`: the overview, with (for a dpo) the forms to place and release a
//!   hold.
//! - `GET /console/retention/dry-run`: what a purge would remove now; nothing is removed.
//! - `POST /console/retention/holds`: (dpo) places a hold on everything, a category or one
//!   person, with the reason (a case or claim reference).
//! - `POST /console/retention/holds/{hold_id}/release`: (dpo) releases it.
//!
//! Holds are placed and released by the vault as the signed-in account, so the audit trail
//! names it (`retention.hold.placed`, `retention.hold.released`). Auditors read.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use custos_policy::{Lang, Policy};
use custos_vault::{
    HoldId, HoldInfo, HoldTarget, PurgeOptions, PurgeReport, SubjectId, VaultError,
};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::audit::moment;
use super::page::{render, word};
use super::{Ctx, LangQuery, form_ok, form_token, read_form, reader, see_other};
use crate::AppState;
use crate::problem::Problem;

/// How far back the page sums the purge's receipts.
const RECENT_DAYS: i64 = 30;
/// How far ahead "due this week" looks.
const WEEK_DAYS: i64 = 7;
/// The newest receipts read (a purge writes one per category and batch of 10 000 records).
const RECEIPTS: usize = 1000;

/// The retention pages' routes.
pub(super) fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/console/retention", get(overview))
        .route("/console/retention/dry-run", get(dry_run))
        .route("/console/retention/holds", post(place))
        .route("/console/retention/holds/{hold_id}/release", post(release))
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// A purge's dry run on `tenant` at `at` (what would go, and what holds keep); nothing is
/// removed or written. A tenant with no data in the vault has nothing due.
fn dry(
    s: &AppState,
    v: &mut custos_vault::Vault,
    tenant: &custos_vault::TenantId,
    at: Timestamp,
) -> Result<PurgeReport, Problem> {
    let known = v.tenant_ids()?.iter().any(|t| t == tenant.as_str());
    if !known {
        return Ok(PurgeReport {
            dry_run: true,
            now: Some(at),
            ..Default::default()
        });
    }
    let opts = PurgeOptions {
        dry_run: true,
        ..PurgeOptions::default()
    };
    Ok(v.tenant(tenant)
        .purge(&s.loaded.policy, at, opts, &mut |_| {})?)
}

/// A category's name in `lang`, else its id.
fn category_name(policy: &Policy, lang: Lang, id: &str) -> String {
    policy
        .category(id)
        .map(|c| c.name.get_or_any(lang).to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_owned())
}

/// What a hold covers, in words.
fn covers_text(policy: &Policy, lang: Lang, h: &HoldInfo) -> String {
    match (h.scope.as_str(), &h.category, &h.subject) {
        ("category", Some(c), _) => word(
            lang,
            "ret_covers_category",
            &[("category", &category_name(policy, lang, c))],
        ),
        ("subject", _, Some(p)) => word(lang, "ret_covers_subject", &[("pseudonym", p)]),
        _ => word(lang, "ret_covers_tenant", &[]),
    }
}

/// The purge's receipts of the last [`RECENT_DAYS`] per category: records removed and when
/// last.
fn purged_recently(
    receipts: &[custos_audit::Entry],
    since: Timestamp,
) -> BTreeMap<String, (u64, Timestamp)> {
    let mut out: BTreeMap<String, (u64, Timestamp)> = BTreeMap::new();
    for e in receipts {
        let Ok(at) = e.at.parse::<Timestamp>() else {
            continue;
        };
        if at < since {
            continue;
        }
        let d: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
        let (Some(c), Some(n)) = (d["category"].as_str(), d["records"].as_u64()) else {
            continue;
        };
        let slot = out.entry(c.to_owned()).or_insert((0, at));
        slot.0 += n;
        slot.1 = slot.1.max(at);
    }
    out
}

async fn overview(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, user, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/retention").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let now = Timestamp::now();
    // The dry run takes the purge's locks as the API's does: on the connection for writes.
    let found = crate::work::write(&s, move |s, v| {
        let report = v.tenant(&tenant).retention_report(&s.loaded.policy, now)?;
        let week = dry(s, v, &tenant, now + days(WEEK_DAYS))?;
        let receipts = v
            .tenant(&tenant)
            .audit_recent(Some("retention.purged"), 0, RECEIPTS)?;
        Ok((report, week, receipts))
    })
    .await;
    let Ok((report, week, receipts)) = found else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let policy = &s.loaded.policy;
    let recent = purged_recently(&receipts, now - days(RECENT_DAYS));
    let due_week: BTreeMap<&str, u64> = week
        .rules
        .iter()
        .map(|r| (r.category.as_str(), r.purged))
        .collect();
    let categories: Vec<serde_json::Value> = report
        .categories
        .iter()
        .map(|c| {
            let (purged, last) = recent
                .get(&c.category)
                .map_or((0, None), |(n, at)| (*n, Some(moment(lang, *at))));
            let week_due = due_week
                .get(c.category.as_str())
                .copied()
                .unwrap_or_default();
            serde_json::json!({
                "id": c.category,
                "name": category_name(policy, lang, &c.category),
                "rule": c.rule,
                "records": c.records,
                "purged": purged,
                "last_purged": last.map(|(at, text)| serde_json::json!({ "at": at, "text": text })),
                "due_week": week_due,
                "held": c.held,
                "problem": c.problem,
            })
        })
        .collect();
    let handles = user.role.may_handle_requests();
    let holds: Vec<serde_json::Value> = report
        .holds
        .iter()
        .map(|h| {
            let (at, at_text) = moment(lang, h.set_at);
            serde_json::json!({
                "id": h.hold_id,
                "covers": covers_text(policy, lang, h),
                "reason": h.reason,
                "set_by": h.set_by,
                "set_at": at,
                "set_at_text": at_text,
                "release_action": handles.then(|| format!("/console/retention/holds/{}/release{}", h.hold_id, cx.q())),
                "release_csrf": form_token(&token, &format!("release:{}", h.hold_id)),
            })
        })
        .collect();
    let choices: Vec<serde_json::Value> = policy
        .categories
        .iter()
        .filter(|c| c.stored)
        .map(|c| {
            serde_json::json!({
                "value": format!("category:{}", c.id),
                "label": word(lang, "ret_covers_category", &[("category", &category_name(policy, lang, &c.id))]),
            })
        })
        .collect();
    let last_purge = report.last_purge.map_or_else(
        || word(lang, "ret_never_purged", &[]),
        |t| word(lang, "ret_last_purge", &[("when", &moment(lang, t).1)]),
    );
    render(
        StatusCode::OK,
        "retention.html",
        &cx.frame,
        serde_json::json!({
            "last_purge": last_purge,
            "categories": categories,
            "holds": holds,
            "place_action": handles.then(|| format!("/console/retention/holds{}", cx.q())),
            "place_csrf": form_token(&token, "hold"),
            "choices": choices,
            "dry_run": "/console/retention/dry-run",
        }),
    )
}

async fn dry_run(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, _, _, tenant) = match reader(
        &s,
        q.lang.as_deref(),
        &headers,
        "/console/retention/dry-run",
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let now = Timestamp::now();
    let found = crate::work::write(&s, move |s, v| dry(s, v, &tenant, now)).await;
    let Ok(report) = found else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let policy = &s.loaded.policy;
    let range = |t: Option<Timestamp>| t.map(|t| moment(lang, t).1).unwrap_or_default();
    let rows: Vec<serde_json::Value> = report
        .rules
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": category_name(policy, lang, &r.category),
                "rule": r.rule,
                "purged": r.purged,
                "held": r.held,
                "from": range(r.expired_from),
                "to": range(r.expired_to),
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "retention-dry-run.html",
        &cx.frame,
        serde_json::json!({
            "summary": word(lang, "ret_dry_summary", &[
                ("n", &report.purged().to_string()),
                ("held", &report.held().to_string()),
                ("when", &moment(lang, now).1),
            ]),
            "rows": rows,
            "back": format!("/console/retention{}", cx.q()),
        }),
    )
}

#[derive(Deserialize, Default)]
struct HoldForm {
    #[serde(default)]
    csrf: String,
    /// `tenant`, `subject` or `category:<id>`.
    #[serde(default)]
    covers: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    reason: String,
}

/// A refusal page in the visitor's language, with the way back to the retention page.
fn refused(cx: &Ctx, status: StatusCode, key: &str) -> Response {
    render(
        status,
        "message.html",
        &cx.frame,
        serde_json::json!({
            "heading": cx.w("refused_heading"),
            "message": cx.w(key),
            "back": format!("/console/retention{}", cx.q()),
        }),
    )
}

/// The page for what the vault refused of a hold.
fn hold_refusal(cx: &Ctx, e: &VaultError) -> Response {
    match e {
        VaultError::InvalidHold(_) => {
            refused(cx, StatusCode::UNPROCESSABLE_ENTITY, "ret_refused_reason")
        }
        VaultError::Retention(_) => {
            refused(cx, StatusCode::UNPROCESSABLE_ENTITY, "ret_refused_covers")
        }
        VaultError::HoldNotFound(_) => refused(cx, StatusCode::NOT_FOUND, "ret_refused_no_hold"),
        _ => cx.server_error(),
    }
}

/// What a hold form asks to cover, or the key of what is wrong with it.
fn target_of(form: &HoldForm) -> Result<HoldTarget, &'static str> {
    let subject = form.subject.trim();
    match form.covers.as_str() {
        "tenant" if subject.is_empty() => Ok(HoldTarget::Tenant),
        "subject" => SubjectId::new(subject)
            .map(HoldTarget::Subject)
            .map_err(|_| "ret_refused_subject"),
        c => match c.strip_prefix("category:") {
            Some(cat) if subject.is_empty() && !cat.is_empty() => {
                Ok(HoldTarget::Category(cat.to_owned()))
            }
            Some(_) | None if !subject.is_empty() => Err("ret_refused_subject_unused"),
            _ => Err("ret_refused_covers"),
        },
    }
}

async fn place(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: HoldForm = read_form(&s, req).await;
    let (cx, user, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/retention").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    if !user.role.may_handle_requests() {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden");
    }
    if !form_ok(&token, "hold", &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let target = match target_of(&form) {
        Ok(t) => t,
        Err(key) => return refused(&cx, StatusCode::UNPROCESSABLE_ENTITY, key),
    };
    let reason: String = form.reason.trim().chars().take(501).collect();
    let done = crate::work::as_caller(&s, &tenant, user.actor(), move |s, t| {
        match t.place_hold(&s.loaded.policy, &target, &reason, Timestamp::now()) {
            Ok(_) => Ok(Ok(())),
            Err(e @ (VaultError::InvalidHold(_) | VaultError::Retention(_))) => Ok(Err(e)),
            Err(e) => Err(Problem::from(e)),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&format!("/console/retention{}", cx.q())),
        Ok(Err(e)) => hold_refusal(&cx, &e),
        Err(_) => cx.server_error(),
    }
}

async fn release(
    State(s): State<Arc<AppState>>,
    Path(hold_id): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: super::CsrfForm = read_form(&s, req).await;
    let (cx, user, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/retention").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    if !user.role.may_handle_requests() {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden");
    }
    let Ok(hold_id) = HoldId::parse(&hold_id) else {
        return refused(&cx, StatusCode::NOT_FOUND, "ret_refused_no_hold");
    };
    if !form_ok(&token, &format!("release:{hold_id}"), &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let id = hold_id.to_string();
    let done = crate::work::as_caller(&s, &tenant, user.actor(), move |_, t| {
        match t.release_hold(&id, Timestamp::now()) {
            Ok(_) => Ok(Ok(())),
            Err(e @ VaultError::HoldNotFound(_)) => Ok(Err(e)),
            Err(e) => Err(Problem::from(e)),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => see_other(&format!("/console/retention{}", cx.q())),
        Ok(Err(e)) => hold_refusal(&cx, &e),
        Err(_) => cx.server_error(),
    }
}

/// A sample context for each of these pages' templates, for the unit test that renders them.
#[cfg(test)]
pub(super) fn samples() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "retention.html",
            serde_json::json!({
                "last_purge": "Last purge: 2 March 2026 03:00",
                "categories": [
                    { "id": "account", "name": "Account", "rule": "1 year after the account ends",
                      "records": 12, "purged": 3,
                      "last_purged": { "at": "2026-03-02T02:00:00Z", "text": "2 March 2026 03:00" },
                      "due_week": 2, "held": 1, "problem": null },
                    { "id": "support", "name": "Support", "rule": "2 years", "records": 0,
                      "purged": 0, "last_purged": null, "due_week": 0, "held": 0,
                      "problem": "the override cannot be read" },
                ],
                "holds": [{ "id": "hold_0123456789abcdef", "covers": "Category: Account",
                            "reason": "claim 2026-17", "set_by": "account:3f1c",
                            "set_at": "2026-03-02T10:00:00Z", "set_at_text": "2 March 2026 11:00",
                            "release_action": "/console/retention/holds/hold_0123456789abcdef/release",
                            "release_csrf": "x" }],
                "place_action": "/console/retention/holds", "place_csrf": "x",
                "choices": [{ "value": "category:account", "label": "Category: Account" }],
                "dry_run": "/console/retention/dry-run?lang=en",
            }),
        ),
        (
            "retention.html",
            serde_json::json!({
                "last_purge": "Never purged", "categories": [], "holds": [],
                "place_action": null, "place_csrf": "x", "choices": [],
                "dry_run": "/console/retention/dry-run?lang=en",
            }),
        ),
        (
            "retention-dry-run.html",
            serde_json::json!({
                "summary": "2 records would go; 1 held.",
                "rows": [{ "name": "Account", "rule": "1 year", "purged": 2, "held": 1,
                           "from": "1 March 2026 10:00", "to": "2 March 2026 10:00" }],
                "back": "/console/retention?lang=en",
            }),
        ),
        (
            "retention-dry-run.html",
            serde_json::json!({ "summary": "Nothing would go.", "rows": [], "back": "/console/retention" }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(covers: &str, subject: &str) -> HoldForm {
        HoldForm {
            covers: covers.into(),
            subject: subject.into(),
            ..HoldForm::default()
        }
    }

    #[test]
    fn a_hold_form_names_one_target_or_says_what_is_wrong() {
        assert_eq!(target_of(&form("tenant", "")), Ok(HoldTarget::Tenant));
        assert_eq!(
            target_of(&form("category:account", "")),
            Ok(HoldTarget::Category("account".into()))
        );
        assert!(matches!(
            target_of(&form("subject", "ann@example.nl")),
            Ok(HoldTarget::Subject(_))
        ));
        assert_eq!(target_of(&form("subject", " ")), Err("ret_refused_subject"));
        assert_eq!(
            target_of(&form("category:account", "ann@example.nl")),
            Err("ret_refused_subject_unused"),
            "a person named with another target is not silently dropped"
        );
        assert_eq!(
            target_of(&form("everything", "")),
            Err("ret_refused_covers")
        );
        assert_eq!(target_of(&form("category:", "")), Err("ret_refused_covers"));
    }

    #[test]
    fn receipts_of_the_last_thirty_days_are_summed_per_category() {
        let entry = |at: &str, cat: &str, n: u64| custos_audit::Entry {
            seq: 1,
            at: at.into(),
            tenant: "acme".into(),
            actor: "system:purge".into(),
            action: "retention.purged".into(),
            subject: None,
            details: serde_json::json!({ "category": cat, "records": n }).to_string(),
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let since: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let got = purged_recently(
            &[
                entry("2026-03-05T03:00:00Z", "account", 4),
                entry("2026-03-02T03:00:00Z", "account", 1),
                entry("2026-02-27T03:00:00Z", "account", 100),
                entry("2026-03-03T03:00:00Z", "support", 2),
            ],
            since,
        );
        assert_eq!(
            got["account"].0, 5,
            "the receipt before the window is left out"
        );
        assert_eq!(got["account"].1, "2026-03-05T03:00:00Z".parse().unwrap());
        assert_eq!(got["support"].0, 2);
    }
}
