//! The consent banner Custos serves for a company's own website (issue 22; ePrivacy Directive
//! Art. 5(3), Telecommunicatiewet art. 11.7a, Arts 4(11), 6(1)(a) and 7 GDPR, CJEU C-673/17
//! Planet49).
//!
//! The company adds one line to its pages,
//! `<script src="https://custos.example/banner/{tenant}/banner.js" defer></script>`, and marks
//! every tracker it loads only after consent as
//! `<script type="text/plain" data-custos-purpose="analytics" src="…">`. The script:
//!
//! - reads what to ask from `GET /banner/{tenant}/config.json?lang=nl|en`: the policy's cookies
//!   needing consent (what the company states, and where it states less than the law asks, what
//!   the law asks), grouped by the consent purpose each is recorded under, with their provider,
//!   purpose and lifetime, and the strictly necessary ones for information;
//! - shows "accept all", "reject all" (the same kind of button, as easy) and the settings, with
//!   every box unticked (Planet49: a pre-ticked box is no consent), in Dutch or English;
//! - honours Global Privacy Control: a browser sending it is not asked for marketing purposes,
//!   they stay off and the signal is recorded as an objection (`gpc`);
//! - records every choice at `POST /banner/{tenant}/choices` before it takes effect: a grant or a
//!   withdrawal in the consent ledger under the visitor's random id (`visitor:` and 32 hex digits,
//!   kept in the site's own storage), with the policy version and the SHA-256 of the policy text,
//!   channel `web` (or `gpc`) and proof `banner`; a refusal where nothing was given is written
//!   to the audit trail (`consent.refused`). Only then does the page get the choices
//!   (`window.CustosConsent`, the `custos:consent` event) and are the marked scripts run. When the
//!   record fails, nothing is granted (fail closed);
//! - makes no request to anyone but this server.
//!
//! A cookie needing consent that names no consent purpose can never be allowed: it is listed as
//! not offered (the checker reports it, C149). Unknown tenants get 404; nothing here needs a key
//! (what it shows is what the published statement shows), so the answers allow any origin and
//! carry no credentials.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use custos_consent::ledger::{ConsentKind, ConsentState};
use custos_policy::Lang;
use custos_policy::model::{CookieParty, CookieType, Lifetime};
use custos_policy::resolved::{Cookie, Policy};
use custos_types::ErrorCode;
use custos_vault::consent::ConsentRecord;
use custos_vault::{SubjectId, TenantId};
use serde::Deserialize;

use crate::AppState;
use crate::problem::Problem;

/// Who the audit trail names for the banner's records.
const ACTOR: &str = "custos:banner";

/// The largest choices body taken (a visitor id and a few purposes).
const MAX_BODY: usize = 4096;

const SCRIPT: &str = include_str!("banner/banner.js");
const STYLE: &str = include_str!("banner/banner.css");

/// The banner's routes.
pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/banner/{tenant}/banner.js", get(script))
        .route("/banner/{tenant}/banner.css", get(style))
        .route("/banner/{tenant}/config.json", get(config))
        .route(
            "/banner/{tenant}/choices",
            axum::routing::post(choices).options(preflight),
        )
}

fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    cors(res)
}

async fn known(s: &Arc<AppState>, tenant: &str) -> Result<TenantId, Response> {
    let not_found = || {
        cors(
            Problem::new(ErrorCode::NotFound)
                .detail("no such tenant")
                .into_response(),
        )
    };
    let Ok(id) = TenantId::new(tenant) else {
        return Err(not_found());
    };
    let (st, t) = (s.clone(), tenant.to_owned());
    let exists = crate::work::blocking(move || {
        let b = st.backend()?;
        let mut a = b.access.lock().unwrap_or_else(|p| p.into_inner());
        a.tenant_exists(&t).map_err(|e| Problem::new(e.code()))
    })
    .await;
    match exists {
        Ok(true) => Ok(id),
        Ok(false) => Err(not_found()),
        Err(p) => Err(cors(p.into_response())),
    }
}

async fn script(State(s): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    match known(&s, &tenant).await {
        Ok(_) => asset(SCRIPT, "text/javascript; charset=utf-8"),
        Err(res) => res,
    }
}

async fn style(State(s): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    match known(&s, &tenant).await {
        Ok(_) => asset(STYLE, "text/css; charset=utf-8"),
        Err(res) => res,
    }
}

/// The banner's language.
#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn t(lang: Lang, nl: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Nl => nl,
        Lang::En => en,
    }
}

fn lifetime_text(lang: Lang, l: Option<&Lifetime>) -> String {
    match l {
        None => t(lang, "niet vermeld", "not stated").to_owned(),
        Some(Lifetime::Session) => {
            t(lang, "tot het einde van het bezoek", "until the visit ends").to_owned()
        }
        Some(Lifetime::Period(p)) => p
            .parts()
            .iter()
            .map(|(n, unit)| {
                let one = *n == 1;
                let word = match (*unit, lang) {
                    ("years", Lang::Nl) => "jaar",
                    ("months", Lang::Nl) => {
                        if one {
                            "maand"
                        } else {
                            "maanden"
                        }
                    }
                    ("weeks", Lang::Nl) => {
                        if one {
                            "week"
                        } else {
                            "weken"
                        }
                    }
                    ("days", Lang::Nl) => {
                        if one {
                            "dag"
                        } else {
                            "dagen"
                        }
                    }
                    ("hours", Lang::Nl) => "uur",
                    ("minutes", Lang::Nl) => {
                        if one {
                            "minuut"
                        } else {
                            "minuten"
                        }
                    }
                    ("years", Lang::En) => {
                        if one {
                            "year"
                        } else {
                            "years"
                        }
                    }
                    ("months", Lang::En) => {
                        if one {
                            "month"
                        } else {
                            "months"
                        }
                    }
                    ("weeks", Lang::En) => {
                        if one {
                            "week"
                        } else {
                            "weeks"
                        }
                    }
                    ("days", Lang::En) => {
                        if one {
                            "day"
                        } else {
                            "days"
                        }
                    }
                    ("hours", Lang::En) => {
                        if one {
                            "hour"
                        } else {
                            "hours"
                        }
                    }
                    (_, _) => {
                        if one {
                            "minute"
                        } else {
                            "minutes"
                        }
                    }
                };
                format!("{n} {word}")
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn cookie_json(policy: &Policy, lang: Lang, c: &Cookie) -> serde_json::Value {
    let provider = c
        .provider
        .clone()
        .or_else(|| {
            c.recipient
                .as_deref()
                .and_then(|r| policy.recipient(r))
                .map(|r| r.name.clone())
        })
        .unwrap_or_else(|| t(lang, "niet vermeld", "not stated").to_owned());
    serde_json::json!({
        "name": c.name,
        "provider": provider,
        "purpose": c.purpose.as_ref().map(|p| p.get_or_any(lang).to_owned()),
        "lifetime": lifetime_text(lang, c.lifetime.as_ref()),
        "party": match c.party {
            Some(CookieParty::First) => t(lang, "eigen", "first party"),
            Some(CookieParty::Third) => t(lang, "derde partij", "third party"),
            None => t(lang, "niet vermeld", "not stated"),
        },
    })
}

/// Whether the banner must ask before `c` is set: what the company states, and where it claims
/// less than the law requires, the law (fail closed).
fn asks(c: &Cookie) -> bool {
    c.consent_needed || c.consent_required_by_law
}

/// The purposes the banner offers: each consent purpose of the cookies it must ask for, with
/// those cookies, whether Global Privacy Control refuses it (marketing: sale, sharing,
/// targeting), and the cookies it cannot offer (no consent purpose named).
struct Offer<'p> {
    groups: Vec<(&'p str, Vec<&'p Cookie>, bool)>,
    unoffered: Vec<&'p Cookie>,
}

fn offer(policy: &Policy) -> Offer<'_> {
    let mut groups: Vec<(&str, Vec<&Cookie>, bool)> = Vec::new();
    let mut unoffered = Vec::new();
    for c in policy.cookies.iter().filter(|c| asks(c)) {
        // A purpose the ledger cannot take (not based on consent) cannot be asked either.
        match c
            .consent_purpose
            .as_deref()
            .filter(|p| custos_consent::ledger::is_consent_purpose(policy, p).unwrap_or(false))
        {
            None => unoffered.push(c),
            Some(p) => {
                let marketing = c.kind == CookieType::Marketing
                    || policy.purpose(p).is_some_and(|x| x.direct_marketing);
                match groups.iter_mut().find(|(k, _, _)| *k == p) {
                    Some((_, v, m)) => {
                        v.push(c);
                        *m |= marketing;
                    }
                    None => groups.push((p, vec![c], marketing)),
                }
            }
        }
    }
    Offer { groups, unoffered }
}

fn notice_version(policy: &Policy) -> String {
    policy
        .meta
        .version
        .clone()
        .unwrap_or_else(|| "unversioned".into())
}

async fn config(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    if let Err(res) = known(&s, &tenant).await {
        return res;
    }
    let policy = &s.loaded.policy;
    let lang = q
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .filter(|l| policy.meta.languages.contains(l))
        .or_else(|| policy.meta.languages.first().copied())
        .unwrap_or(Lang::Nl);
    let o = offer(policy);
    let groups: Vec<serde_json::Value> = o
        .groups
        .iter()
        .map(|(p, cookies, marketing)| {
            let purpose = policy.purpose(p);
            serde_json::json!({
                "purpose": p,
                "name": purpose.map(|x| x.name.get_or_any(lang).to_owned()).unwrap_or_else(|| (*p).to_owned()),
                "gpc_refused": marketing,
                "cookies": cookies.iter().map(|c| cookie_json(policy, lang, c)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let necessary: Vec<serde_json::Value> = policy
        .cookies
        .iter()
        .filter(|c| !asks(c))
        .map(|c| cookie_json(policy, lang, c))
        .collect();
    let body = serde_json::json!({
        "lang": lang.code(),
        "version": notice_version(policy),
        "privacy_url": format!("/privacy?lang={}", lang.code()),
        "groups": groups,
        "necessary": necessary,
        "unoffered": o.unoffered.iter().map(|c| cookie_json(policy, lang, c)).collect::<Vec<_>>(),
        "texts": {
            "title": t(lang, "Cookies en vergelijkbare technieken", "Cookies and similar techniques"),
            "intro": t(lang, "Wij plaatsen alleen cookies die nodig zijn voor de website, tenzij u toestemming geeft. U kunt uw keuze altijd wijzigen.", "We only set cookies the website needs, unless you consent. You can change your choice at any time."),
            "accept": t(lang, "Alles accepteren", "Accept all"),
            "reject": t(lang, "Alles weigeren", "Reject all"),
            "settings": t(lang, "Zelf kiezen", "Choose for myself"),
            "save": t(lang, "Keuze opslaan", "Save my choice"),
            "statement": t(lang, "Privacyverklaring", "Privacy statement"),
            "necessary": t(lang, "Altijd aan: nodig voor de website", "Always on: needed for the website"),
            "unoffered": t(lang, "Niet beschikbaar: niet te kiezen, dus nooit geplaatst", "Not available: cannot be chosen, so never set"),
            "gpc": t(lang, "Uw browser stuurt Global Privacy Control: dit blijft uit.", "Your browser sends Global Privacy Control: this stays off."),
            "provider": t(lang, "Aanbieder", "Provider"),
            "lifetime": t(lang, "Bewaartermijn", "Lifetime"),
            "failed": t(lang, "Uw keuze kon niet worden vastgelegd; er is niets aangezet. Probeer het opnieuw.", "Your choice could not be recorded; nothing was switched on. Please try again."),
            "reopen": t(lang, "Cookie-instellingen", "Cookie settings"),
        },
    });
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    cors(res)
}

async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    cors(res)
}

/// A visitor's choice as the script sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Choice {
    /// 32 hex digits the script drew at random and keeps in the site's storage.
    visitor: String,
    /// Purpose → yes or no. A purpose the banner offers and the body leaves out is a no.
    choices: std::collections::BTreeMap<String, bool>,
    /// Whether the browser sends Global Privacy Control.
    #[serde(default)]
    gpc: bool,
    /// The policy version the visitor was shown: a choice on another one is asked again.
    version: String,
}

fn refuse(code: ErrorCode, field: &str, why: &str) -> Response {
    cors(Problem::new(code).field(field, why).into_response())
}

async fn choices(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tenant = match known(&s, &tenant).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    if body.len() > MAX_BODY {
        return refuse(ErrorCode::BodyTooLarge, "/", "at most 4096 bytes");
    }
    let Ok(c) = serde_json::from_slice::<Choice>(&body) else {
        return refuse(
            ErrorCode::InvalidBody,
            "/",
            "not the banner's JSON: visitor, choices, gpc, version",
        );
    };
    if c.visitor.len() != 32
        || !c
            .visitor
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return refuse(
            ErrorCode::Unprocessable,
            "/visitor",
            "32 lowercase hex digits",
        );
    }
    let policy = &s.loaded.policy;
    if c.version != notice_version(policy) {
        return refuse(
            ErrorCode::Unprocessable,
            "/version",
            "the statement changed: show the banner again",
        );
    }
    let offered = offer(policy);
    for p in c.choices.keys() {
        if !offered.groups.iter().any(|(k, _, _)| k == p) {
            return refuse(
                ErrorCode::Unprocessable,
                &format!("/choices/{p}"),
                "not a purpose the banner offers",
            );
        }
    }
    let gpc = c.gpc || crate::consent::gpc(&headers);
    let wanted: Vec<(String, bool, bool)> = offered
        .groups
        .iter()
        .map(|(p, _, marketing)| {
            let refused_by_gpc = gpc && *marketing;
            (
                (*p).to_owned(),
                c.choices.get(*p).copied().unwrap_or(false) && !refused_by_gpc,
                refused_by_gpc,
            )
        })
        .collect();
    let hash = custos_vault::policy_versions::policy_fingerprint(s.loaded.source.text());
    let version = c.version.clone();
    let subject = format!("visitor:{}", c.visitor);
    let done = crate::work::write(&s, move |s, v| {
        let who = SubjectId::new(&subject).map_err(Problem::from)?;
        let now = jiff::Timestamp::now();
        let mut refused = Vec::new();
        let mut out = serde_json::Map::new();
        {
            let mut t = v.tenant(&tenant).acting_as(ACTOR);
            if gpc {
                t.record_gpc(&who, None, now).map_err(Problem::from)?;
            }
            let states = t
                .consent_states(&s.loaded.policy, &who, &[])
                .map_err(Problem::from)?;
            for (purpose, yes, by_gpc) in &wanted {
                let granted = states.iter().any(|st| {
                    &st.purpose == purpose && matches!(st.consent, ConsentState::Granted { .. })
                });
                let kind = match (*yes, granted) {
                    (true, false) => Some(ConsentKind::Grant),
                    (false, true) => Some(ConsentKind::Withdraw),
                    (false, false) => {
                        refused.push((purpose.clone(), *by_gpc));
                        None
                    }
                    (true, true) => None,
                };
                if let Some(kind) = kind {
                    let record = ConsentRecord {
                        purpose: purpose.clone(),
                        kind,
                        at: now,
                        notice_version: version.clone(),
                        notice_hash: hash.clone(),
                        channel: if *by_gpc { "gpc" } else { "web" }.into(),
                        proof: "banner".into(),
                    };
                    t.record_consent(&s.loaded.policy, &who, &record, now)
                        .map_err(Problem::from)?;
                }
                out.insert(purpose.clone(), (*yes).into());
            }
        }
        if !refused.is_empty() {
            let pseudonym = v.tenant(&tenant).pseudonym(&who).as_str().to_owned();
            let events: Vec<custos_audit::Event> = refused
                .iter()
                .map(|(purpose, by_gpc)| {
                    custos_audit::Event::new(
                        tenant.as_str(),
                        ACTOR,
                        "consent.refused",
                        Some(pseudonym.clone()),
                        serde_json::json!({
                            "purpose": purpose, "notice_version": version, "notice_hash": hash,
                            "channel": if *by_gpc { "gpc" } else { "web" }, "proof": "banner",
                            "article": "Art. 7(1) GDPR",
                        }),
                    )
                })
                .collect();
            v.append_audit(&events, now).map_err(Problem::from)?;
        }
        Ok(serde_json::json!({ "version": version, "choices": out, "gpc": gpc }))
    })
    .await;
    match done {
        Ok(body) => cors(axum::Json(body).into_response()),
        Err(p) => cors(p.into_response()),
    }
}
