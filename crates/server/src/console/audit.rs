//! The console's audit pages (issue 20): the tenant's audit trail, the newest first, 50 a page
//! (cut in the database), each entry's action, actor and time; and the verification of the whole
//! chain (as `GET /v1/audit/verify` does it for a tenant's key) with the public key that checks
//! its Ed25519-signed checkpoints.
//!
//! - `GET /console/audit`: a page of entries (`page`). An entry holds pseudonyms, never a name
//!   or an address, and this page shows not even those: the action, who, when.
//! - `POST /console/audit/verify`: walks the whole chain and every signed checkpoint (and the
//!   checkpoint file, when the server keeps one), then shows whether it is intact or where it
//!   breaks. Shown with the tenant's own figures only: the whole trail's entry and checkpoint
//!   counts would tell one organisation how busy the others are (the API's rule). The
//!   verification itself is in the audit trail under the account (`console.audit.verify`).
//!
//! dpo and auditor accounts may read and verify (`Role::may_read_audit`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use custos_policy::Lang;
use jiff::Timestamp;
use serde::Deserialize;

use super::page::{date_text, render, word};
use super::{CsrfForm, LangQuery, PAGE_SIZE, form_ok, form_token, read_form, reader};
use crate::AppState;
use crate::problem::Problem;

/// The audit pages' routes.
pub(super) fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/console/audit", get(trail))
        .route("/console/audit/verify", post(verify))
}

/// A moment as the console shows it: the date in words and the time of day in the controller's
/// time zone (`custos_rights::request::ZONE`), and the RFC 3339 form for `<time datetime>`.
pub(super) fn moment(lang: Lang, at: Timestamp) -> (String, String) {
    let tz =
        jiff::tz::TimeZone::get(custos_rights::request::ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = at.to_zoned(tz);
    (
        at.to_string(),
        format!(
            "{} {}",
            date_text(lang, local.date()),
            local.strftime("%H:%M")
        ),
    )
}

#[derive(Deserialize)]
struct TrailQuery {
    lang: Option<String>,
    page: Option<String>,
}

async fn trail(
    State(s): State<Arc<AppState>>,
    Query(q): Query<TrailQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, _, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/audit").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let Some(page_n) = (match q.page.as_deref().filter(|p| !p.is_empty()) {
        None => Some(1),
        Some(p) => p
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n)),
    }) else {
        return cx.message(StatusCode::BAD_REQUEST, "error_heading", "aud_error_page");
    };
    let offset = (page_n - 1) * PAGE_SIZE as u64;
    let found = crate::work::read(&s, move |_, v| {
        let mut t = v.tenant(&tenant);
        let (total, _) = t.audit_counts(0).map_err(Problem::from)?;
        let entries = t
            .audit_recent(None, offset, PAGE_SIZE)
            .map_err(Problem::from)?;
        Ok((total, entries))
    })
    .await;
    let Ok((total, entries)) = found else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let pages = total.div_ceil(PAGE_SIZE as u64).max(1);
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (at, at_text) =
                e.at.parse::<Timestamp>()
                    .map(|t| moment(lang, t))
                    .unwrap_or_else(|_| (String::new(), e.at.clone()));
            serde_json::json!({
                "seq": e.seq,
                "at": at,
                "at_text": at_text,
                "action": e.action,
                "actor": e.actor,
            })
        })
        .collect();
    let link = |n: u64| format!("/console/audit{}&page={n}", cx.q());
    render(
        StatusCode::OK,
        "audit.html",
        &cx.frame,
        serde_json::json!({
            "summary": word(lang, "aud_summary", &[("n", &total.to_string())]),
            "rows": rows,
            "prev": (page_n > 1).then(|| link(page_n - 1)),
            "next": (page_n < pages).then(|| link(page_n + 1)),
            "page_text": word(lang, "page_text", &[("page", &page_n.to_string()), ("pages", &pages.to_string())]),
            "verify_action": format!("/console/audit/verify{}", cx.q()),
            "verify_csrf": form_token(&token, "audit-verify"),
        }),
    )
}

/// Where a tampered chain first breaks, from the verification's report: the entry (or
/// checkpoint) it names first.
fn break_at(t: &custos_audit::Tamper) -> u64 {
    let v = serde_json::to_value(t).unwrap_or_default();
    ["seq", "after", "due", "head", "checkpoint"]
        .iter()
        .find_map(|k| v.get(*k).and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

fn tamper_kind(t: &custos_audit::Tamper) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

async fn verify(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: CsrfForm = read_form(&s, req).await;
    let (cx, user, token, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/audit").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    if !form_ok(&token, "audit-verify", &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let t = tenant.clone();
    let checked = crate::work::blocking(move || {
        let published = match &s.checkpoint_file {
            Some(p) => p.read().map_err(|e| {
                tracing::error!(error = %e, "reading the audit checkpoint file failed");
                Problem::new(custos_types::ErrorCode::Internal)
            })?,
            None => Vec::new(),
        };
        let expect = custos_audit::Expect {
            published,
            ..custos_audit::Expect::default()
        };
        let b = s.backend()?;
        let mut v = b.vault();
        let result = v.verify_audit_with(expect).map_err(Problem::from)?;
        let key = hex::encode(v.audit_public_key().to_bytes());
        let sealed_to = result.unbroken().map_or(0, |x| x.sealed_to);
        let (entries, unsealed) = v
            .tenant(&t)
            .audit_counts(sealed_to)
            .map_err(Problem::from)?;
        let status = match &result {
            custos_audit::Verification::Tampered(_) => "tampered",
            _ if unsealed == 0 => "intact",
            _ => "unsealed_tail",
        };
        // The verification is an act of oversight: on the record, with its outcome.
        let ev = custos_audit::Event::new(
            tenant.as_str(),
            &user.actor(),
            "console.audit.verify",
            None,
            serde_json::json!({ "status": status }),
        );
        v.append_audit(std::slice::from_ref(&ev), Timestamp::now())
            .map_err(Problem::from)?;
        Ok((result, status, entries, unsealed, key))
    })
    .await;
    let Ok((result, status, entries, unsealed, key)) = checked else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let n = |x: u64| x.to_string();
    let (headline, details) = match &result {
        custos_audit::Verification::Tampered(t) => (
            word(lang, "aud_verify_tampered", &[("at", &n(break_at(t)))]),
            vec![word(lang, &format!("aud_tamper_{}", tamper_kind(t)), &[])],
        ),
        _ => {
            let mut d = vec![
                word(lang, "aud_verify_entries", &[("n", &n(entries))]),
                word(lang, "aud_verify_signatures", &[]),
            ];
            if unsealed > 0 {
                d.push(word(lang, "aud_verify_unsealed", &[("n", &n(unsealed))]));
            }
            (word(lang, &format!("aud_verify_{status}"), &[]), d)
        }
    };
    render(
        StatusCode::OK,
        "audit-verify.html",
        &cx.frame,
        serde_json::json!({
            "status": status,
            "headline": headline,
            "details": details,
            "public_key": key,
            "back": format!("/console/audit{}", cx.q()),
        }),
    )
}

/// A sample context for each of these pages' templates, for the unit test that renders them.
#[cfg(test)]
pub(super) fn samples() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "audit.html",
            serde_json::json!({
                "summary": "120 entries", "page_text": "Page 2 of 3",
                "rows": [{ "seq": 7, "at": "2026-03-02T10:00:00Z", "at_text": "2 March 2026 11:00",
                           "action": "retention.hold.placed", "actor": "account:3f1c" }],
                "prev": "/console/audit?lang=en&page=1", "next": "/console/audit?lang=en&page=3",
                "verify_action": "/console/audit/verify?lang=en", "verify_csrf": "x",
            }),
        ),
        (
            "audit.html",
            serde_json::json!({
                "summary": "0 entries", "page_text": "Page 1 of 1", "rows": [],
                "prev": null, "next": null,
                "verify_action": "/console/audit/verify?lang=en", "verify_csrf": "x",
            }),
        ),
        (
            "audit-verify.html",
            serde_json::json!({
                "status": "intact", "headline": "Intact", "details": ["12 entries", "signatures"],
                "public_key": "ab".repeat(32), "back": "/console/audit?lang=en",
            }),
        ),
        (
            "audit-verify.html",
            serde_json::json!({
                "status": "tampered", "headline": "Breaks at 7", "details": ["edited"],
                "public_key": "ab".repeat(32), "back": "/console/audit?lang=en",
            }),
        ),
    ]
}
