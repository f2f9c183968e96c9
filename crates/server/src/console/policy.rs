//! The console's policy page (issue 20): the statement as published (a link to `/privacy` in
//! the page's language, the policy's version label and the fingerprint of its text), and what
//! changed between two published versions: every change material or editorial, the advance
//! notice the policy's own rules then require (Art. 13(3), 14(4); Art. 28(2) for
//! sub-processors), and the purposes whose consent must be asked again. The classification is
//! `custos_policy::diff`'s (as `custos policy diff` prints it); this page only shows it.
//!
//! The versions to compare are the ones the vault recorded (`custos_vault::policy_versions`):
//! every policy text a server ran with, once, with when it was first published. The page records
//! the policy it runs with itself too, should the server not have done so at start.
//!
//! - `GET /console/policy?old=<fingerprint>&new=<fingerprint>`: the page; without `old` and
//!   `new`, the version before the current one against the current one.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use custos_policy::diff::{Kind, Report};
use custos_policy::{Lang, Period};
use custos_vault::PolicyVersion;
use jiff::Timestamp;
use serde::Deserialize;

use super::audit::moment;
use super::page::{date_text, render, word};
use super::reader;
use crate::AppState;

/// The policy pages' routes.
pub(super) fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new().route("/console/policy", get(policy_page))
}

#[derive(Deserialize)]
struct PolicyQuery {
    lang: Option<String>,
    old: Option<String>,
    new: Option<String>,
}

/// A period in words of `lang` (`30 dagen`, `1 month`).
fn period_text(lang: Lang, p: &Period) -> String {
    p.parts()
        .into_iter()
        .map(|(n, unit)| {
            let key = if n == 1 {
                format!("pol_unit_{unit}_one")
            } else {
                format!("pol_unit_{unit}")
            };
            word(lang, &key, &[("n", &n.to_string())])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A version as the selects and headings name it.
fn version_label(lang: Lang, v: &PolicyVersion) -> String {
    let tz =
        jiff::tz::TimeZone::get(custos_rights::request::ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    word(
        lang,
        "pol_version_label",
        &[
            (
                "version",
                v.version
                    .as_deref()
                    .unwrap_or(&word(lang, "pol_unlabelled", &[])),
            ),
            (
                "date",
                &date_text(lang, v.first_published_at.to_zoned(tz).date()),
            ),
            ("fingerprint", &v.fingerprint[..12]),
        ],
    )
}

/// The diff report as the template shows it.
fn report_view(lang: Lang, policy: &custos_policy::Policy, r: &Report) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = r
        .changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "material": c.kind == Kind::Material,
                "kind": word(lang, if c.kind == Kind::Material { "pol_material" } else { "pol_editorial" }, &[]),
                "area": c.area,
                "id": c.id,
                "what": c.what,
                "subprocessor": c.new_subprocessor,
            })
        })
        .collect();
    let material = r
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Material)
        .count();
    let notice = r.notice.as_ref().map(|n| {
        let rules: Vec<String> = n
            .rules
            .iter()
            .map(|rule| word(lang, &format!("pol_rule_{rule}"), &[]))
            .collect();
        serde_json::json!({
            "text": match &n.period {
                Some(p) => word(lang, "pol_notice_period", &[("period", &period_text(lang, p))]),
                None => word(lang, "pol_notice_none", &[]),
            },
            "rules": rules,
            "acceptance": n.acceptance_at_next_login,
        })
    });
    let reconsent: Vec<serde_json::Value> = r
        .reconsent
        .iter()
        .map(|(purpose, why)| {
            serde_json::json!({
                "name": policy
                    .purpose(purpose)
                    .map(|p| p.name.get_or_any(lang).to_owned())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| purpose.clone()),
                "why": why,
            })
        })
        .collect();
    serde_json::json!({
        "summary": word(lang, "pol_diff_summary", &[
            ("n", &r.changes.len().to_string()),
            ("material", &material.to_string()),
            ("editorial", &(r.changes.len() - material).to_string()),
        ]),
        "changes": changes,
        "notice": notice,
        "reconsent": reconsent,
    })
}

/// A stored policy text, loaded again (`None`: it no longer loads, e.g. after the policy
/// language changed).
fn load(name: &str, text: String) -> Option<custos_policy::Loaded> {
    custos_policy::load_source(custos_policy::SourceFile::new(name, text)).ok()
}

async fn policy_page(
    State(s): State<Arc<AppState>>,
    Query(q): Query<PolicyQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, _, _, _) = match reader(&s, q.lang.as_deref(), &headers, "/console/policy").await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let lang = cx.lang;
    let meta = &s.loaded.policy.meta;
    let current = custos_vault::policy_fingerprint(s.loaded.source.text());
    let wanted = |v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(str::to_owned);
    let (old_q, new_q) = (wanted(&q.old), wanted(&q.new));
    let listed = crate::work::write(&s, move |s, v| {
        // Idempotent: the first call for a text records it, later ones find it.
        v.record_policy_version(
            s.loaded.policy.meta.version.as_deref(),
            s.loaded.source.text(),
            Timestamp::now(),
        )?;
        Ok(v.policy_versions()?)
    })
    .await;
    let versions: Vec<PolicyVersion> = match listed {
        Ok(v) if !v.is_empty() => v,
        _ => return cx.server_error(),
    };
    let known = |fp: &str| versions.iter().position(|v| v.fingerprint == fp);
    let newest = known(&current).unwrap_or(versions.len().saturating_sub(1));
    let new_i = match new_q.as_deref().map(known) {
        None => Some(newest),
        Some(found) => found,
    };
    let old_i = match (old_q.as_deref().map(known), new_i) {
        (None, Some(n)) => Some(n.saturating_sub(1)),
        (Some(found), _) => found,
        (None, None) => None,
    };
    let (Some(old_i), Some(new_i)) = (old_i, new_i) else {
        return cx.message(
            StatusCode::BAD_REQUEST,
            "error_heading",
            "pol_error_version",
        );
    };
    let mut diff = None;
    let mut unreadable = false;
    if versions.len() > 1 {
        let (old_fp, new_fp) = (
            versions[old_i].fingerprint.clone(),
            versions[new_i].fingerprint.clone(),
        );
        let texts = crate::work::read(&s, move |_, v| {
            Ok((v.policy_text(&old_fp)?, v.policy_text(&new_fp)?))
        })
        .await;
        let Ok((Some(old_t), Some(new_t))) = texts else {
            return cx.server_error();
        };
        match (load("old.toml", old_t), load("new.toml", new_t)) {
            (Some(old), Some(new)) => {
                let r = custos_policy::diff::diff(&old.policy, &new.policy);
                diff = Some(report_view(lang, &new.policy, &r));
            }
            _ => unreadable = true,
        }
    }
    let options = |chosen: usize| -> Vec<serde_json::Value> {
        versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::json!({
                    "value": v.fingerprint,
                    "label": version_label(lang, v),
                    "selected": i == chosen,
                })
            })
            .collect()
    };
    let statement_lang = if meta.languages.contains(&lang) {
        lang
    } else {
        meta.languages.first().copied().unwrap_or(Lang::En)
    };
    let first = versions
        .iter()
        .find(|v| v.fingerprint == current)
        .map(|v| moment(lang, v.first_published_at).1);
    render(
        StatusCode::OK,
        "policy.html",
        &cx.frame,
        serde_json::json!({
            "statement": format!("/privacy?lang={}", statement_lang.code()),
            "statement_lang": statement_lang.code(),
            "version": meta.version.clone().unwrap_or_else(|| word(lang, "pol_unlabelled", &[])),
            "fingerprint": current,
            "first_published": first,
            "only_one": versions.len() < 2,
            "action": "/console/policy",
            "old_options": options(old_i),
            "new_options": options(new_i),
            "old_label": version_label(lang, &versions[old_i]),
            "new_label": version_label(lang, &versions[new_i]),
            "diff": diff,
            "unreadable": unreadable,
        }),
    )
}

/// A sample context for each of these pages' templates, for the unit test that renders them.
#[cfg(test)]
pub(super) fn samples() -> Vec<(&'static str, serde_json::Value)> {
    let options = serde_json::json!([
        { "value": "aa", "label": "2.0, first published 21 May 2026 (aaaaaaaaaaaa)", "selected": true },
        { "value": "bb", "label": "2.1, first published 1 July 2026 (bbbbbbbbbbbb)", "selected": false },
    ]);
    let base = |diff: serde_json::Value, only_one: bool, unreadable: bool| {
        serde_json::json!({
            "statement": "/privacy?lang=en", "statement_lang": "en", "version": "2.1",
            "fingerprint": "ab".repeat(32), "first_published": "1 July 2026 10:00",
            "only_one": only_one, "action": "/console/policy",
            "old_options": options, "new_options": options,
            "old_label": "2.0", "new_label": "2.1", "diff": diff, "unreadable": unreadable,
        })
    };
    vec![
        (
            "policy.html",
            base(
                serde_json::json!({
                    "summary": "2 changes: 1 material, 1 editorial",
                    "changes": [
                        { "material": true, "kind": "Material", "area": "recipient", "id": "mailer",
                          "what": "recipient mailer added", "subprocessor": true },
                        { "material": false, "kind": "Editorial", "area": "controller", "id": "",
                          "what": "contact changed", "subprocessor": false },
                    ],
                    "notice": { "text": "Announce 30 days ahead", "rules": ["material change"], "acceptance": true },
                    "reconsent": [{ "name": "Newsletter", "why": ["purpose text changed"] }],
                }),
                false,
                false,
            ),
        ),
        (
            "policy.html",
            base(
                serde_json::json!({ "summary": "0 changes", "changes": [], "notice": null, "reconsent": [] }),
                false,
                false,
            ),
        ),
        ("policy.html", base(serde_json::Value::Null, true, false)),
        ("policy.html", base(serde_json::Value::Null, false, true)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_period_is_written_in_the_pages_language() {
        let p = Period::parse("30 days").unwrap();
        assert_eq!(period_text(Lang::Nl, &p), "30 dagen");
        assert_eq!(period_text(Lang::En, &p), "30 days");
        let p = Period::parse("1 month").unwrap();
        assert_eq!(period_text(Lang::Nl, &p), "1 maand");
        assert_eq!(period_text(Lang::En, &p), "1 month");
    }
}
