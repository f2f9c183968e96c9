//! The console for the privacy team (PRODUCT.md C9, issue 20): pages for people with a personal
//! account, in Dutch and English, without JavaScript. A thin shell like the API and the privacy
//! center: it parses a form, calls the access store's account rules or the vault's request use
//! cases, and renders a page.
//!
//! - `GET|POST /console/signin`: name, password and TOTP code (the rules are
//!   `custos_access::account`); right, a session opens in a `__Host-custos-console` cookie.
//!   Wrong attempts count against the account (locked for 15 minutes after five in a row) and
//!   against the client address (its budget per minute). `POST /console/signout` ends it.
//! - `GET /console/requests`: a dpo's or auditor's queue of their tenant's requests, the
//!   earliest due first, each flagged overdue or at risk with why (Art. 12(3)); filters `kind`
//!   and `state`, 50 a page (`page`).
//! - `GET /console/requests/{id}`: one request, its due date and history; for a dpo the forms
//!   to record an attested verification (Art. 12(6)) and the one extension with its reason
//!   (Art. 12(3)).
//!
//! Sessions are records on the server (the access store's `console_sessions`, the cookie holding
//! a random token of which only the SHA-256 is stored), not signed tokens: signing out, disabling
//! an account or an idle timeout ends a session at once and on every server sharing the
//! database, and the idle timeout slides without re-issuing cookies. Every form carries a token
//! derived from the session (HMAC keyed with the session's own secret), so another site cannot
//! post it and it dies with the session; the sign-in form, which comes before any session, is
//! signed with a key of this process. Every sign-in, failure, sign-out and action is in the
//! audit trail with the account as actor (`account:<id>`), never a password or a code.

mod audit;
mod breaches;
mod page;
mod policy;
mod retention;

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custos_access::account::{self, ConsoleUser, SignInOutcome};
use custos_policy::Lang;
use custos_types::ErrorCode;
use custos_vault::recipients::NotificationState;
use custos_vault::rights::{
    Request, RequestError, RequestKind, RequestState, Risk, Verification, day_of,
};
use custos_vault::{RequestId, SubjectId, TenantId, VaultError};
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use serde::Deserialize;

use crate::AppState;
use crate::center::display_name;
use crate::center::letters::{self, LetterKind};
use crate::problem::Problem;
use page::{Frame, UserView, date_text, render, word};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The session cookie's name: `__Host-` makes browsers refuse it unless it is Secure, set by
/// this host for the whole site, and never set by a subdomain.
pub const COOKIE: &str = "__Host-custos-console";

/// Requests on one page of the queue.
pub const PAGE_SIZE: usize = 50;

/// Failed sign-ins one client address may make per minute (the account's own lock is
/// `custos_access::account::LOCK_AFTER`).
const FAILURES_PER_MINUTE: u32 = 10;

/// How long the sign-in form stays valid after the page that served it.
const SIGNIN_FORM_SECONDS: i64 = 60 * 60;

/// What the console keeps while the server runs.
pub struct Console {
    /// Signs the sign-in form (random per process).
    key: [u8; 32],
    /// Failed sign-ins per client address and minute.
    limiter: crate::limits::FailedAuthLimiter,
}

impl Default for Console {
    fn default() -> Self {
        let mut key = [0u8; 32];
        // Without randomness the sign-in form's token would be forgeable: refuse to start.
        getrandom::fill(&mut key).expect("the operating system's random source works");
        Console {
            key,
            limiter: crate::limits::FailedAuthLimiter::new(FAILURES_PER_MINUTE),
        }
    }
}

impl Console {
    fn mac(key: &[u8], payload: &str) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
        m.update(payload.as_bytes());
        m
    }

    /// The sign-in form's token: valid for an hour from `now`.
    fn signin_token(&self, now: Timestamp) -> String {
        let until = now.as_second() + SIGNIN_FORM_SECONDS;
        let mac = Self::mac(&self.key, &format!("signin|{until}")).finalize();
        format!("{until}.{}", hex::encode(mac.into_bytes()))
    }

    fn signin_token_ok(&self, token: &str, now: Timestamp) -> bool {
        let Some((until, mac)) = token.split_once('.') else {
            return false;
        };
        let (Ok(u), Ok(mac)) = (until.parse::<i64>(), hex::decode(mac)) else {
            return false;
        };
        u >= now.as_second()
            && Self::mac(&self.key, &format!("signin|{u}"))
                .verify_slice(&mac)
                .is_ok()
    }
}

/// The token of a form of `purpose` (`signout`, `verify:<id>`, `extend:<id>`) in the session
/// whose cookie is `session`: only a page of that session can know it.
fn form_token(session: &str, purpose: &str) -> String {
    hex::encode(
        Console::mac(session.as_bytes(), &format!("console-form|{purpose}"))
            .finalize()
            .into_bytes(),
    )
}

fn form_ok(session: &str, purpose: &str, token: &str) -> bool {
    hex::decode(token).is_ok_and(|t| {
        Console::mac(session.as_bytes(), &format!("console-form|{purpose}"))
            .verify_slice(&t)
            .is_ok()
    })
}

/// The `Set-Cookie` value of a session: HttpOnly (no script reads it), Secure (only over TLS,
/// or to this machine), SameSite=Strict (never sent with another site's request), for the
/// whole host, and gone when the browser closes (the server ends it after 8 idle hours).
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The session token among a request's cookies.
fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_owned)
        })
}

/// The queue's counts per tenant and filter as last taken: counting thousands of open requests
/// on every page view is most of a page's cost, and the vault reuses them while the tenant's
/// audit head (which every change to a request moves) and the day are the same.
#[derive(Default)]
pub(crate) struct QueueCounts(
    std::sync::Mutex<std::collections::HashMap<QueueKey, custos_vault::rights::Counted>>,
);

/// A queue's tenant and filters.
type QueueKey = (String, Option<RequestKind>, Option<RequestState>);

impl QueueCounts {
    /// Tenants × filters kept at most; beyond it the map starts again.
    const KEEP: usize = 10_000;

    fn get(&self, key: &QueueKey) -> Option<custos_vault::rights::Counted> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
    }

    fn put(&self, key: QueueKey, counted: custos_vault::rights::Counted) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::KEEP {
            map.clear();
        }
        map.insert(key, counted);
    }
}

/// The console's routes (not in the OpenAPI document: pages for people, not an API).
pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/console", get(start))
        .route("/console/assets/console.css", get(css))
        .route("/console/signin", get(signin_page).post(signin))
        .route("/console/signout", post(signout))
        .route("/console/requests", get(queue))
        .route("/console/requests/{id}", get(request_page))
        .route("/console/requests/{id}/verify", post(verify))
        .route("/console/requests/{id}/extend", post(extend))
        .route("/console/requests/{id}/refuse", post(refuse))
        .route("/console/requests/{id}/carry-out", post(carry_out))
        .merge(retention::router())
        .merge(audit::router())
        .merge(policy::router())
        .merge(breaches::router())
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// A page's language and frame, and who asks.
struct Ctx {
    lang: Lang,
    frame: Frame,
}

impl Ctx {
    fn new(s: &AppState, lang: Option<&str>, headers: &HeaderMap, path: &str) -> Ctx {
        let fallback = s
            .loaded
            .policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(Lang::En);
        let lang = page::negotiate(lang, headers, fallback);
        Ctx {
            lang,
            frame: Frame::new(lang, path),
        }
    }

    /// Shows `user` in the header, with the sign-out form of `session`.
    fn signed_in(mut self, user: &ConsoleUser, session: &str) -> Ctx {
        self.frame.user = Some(UserView {
            name: user.name.clone(),
            role: self.w(&format!("role_{}", user.role.as_str())),
            tenant: user.tenant.clone(),
        });
        self.frame.signout_csrf = form_token(session, "signout");
        self
    }

    fn w(&self, key: &str) -> String {
        word(self.lang, key, &[])
    }

    fn q(&self) -> String {
        format!("?lang={}", self.lang.code())
    }

    fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        render(
            status,
            "message.html",
            &self.frame,
            serde_json::json!({
                "heading": self.w(heading),
                "message": self.w(message),
                "back": self.frame.home,
            }),
        )
    }

    fn not_found(&self) -> Response {
        self.message(StatusCode::NOT_FOUND, "error_heading", "error_not_found")
    }

    fn server_error(&self) -> Response {
        self.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error_heading",
            "error_server",
        )
    }

    fn to_signin(&self) -> Response {
        see_other(&format!("/console/signin{}", self.q()))
    }
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

async fn css() -> Response {
    let mut res = page::with_headers(StatusCode::OK, page::CSS.to_owned(), "text/css", "en");
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// Runs `work` on the access store, off the async threads.
async fn with_access<T: Send + 'static>(
    s: &Arc<AppState>,
    work: impl FnOnce(&mut custos_vault::Access) -> Result<T, custos_access::AccessError>
    + Send
    + 'static,
) -> Result<T, Problem> {
    let s = s.clone();
    crate::work::blocking(move || {
        let b = s.backend()?;
        let mut a = b
            .access
            .lock()
            .map_err(|_| Problem::new(ErrorCode::Internal))?;
        work(&mut a).map_err(|e| Problem::new(e.code()))
    })
    .await
}

/// Writes one console event to the audit trail. A failure is logged: the event happened (a
/// sign-in refused, a session ended) whether or not it could be written.
async fn audit(
    s: &Arc<AppState>,
    tenant: Option<&str>,
    actor: String,
    action: &'static str,
    details: serde_json::Value,
) {
    let ev = custos_audit::Event {
        tenant: tenant.unwrap_or("-").to_owned(),
        actor,
        action: action.to_owned(),
        subject: None,
        details,
    };
    let s = s.clone();
    let written = crate::work::blocking(move || {
        s.backend()?
            .vault_for_write()
            .append_audit(&[ev], Timestamp::now())
            .map_err(|e| Problem::new(e.code()))
    })
    .await;
    if written.is_err() {
        tracing::error!(
            action,
            "a console event could not be written to the audit trail"
        );
    }
}

/// The signed-in user and their session token; `None` without a live session.
async fn session(
    s: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Option<(ConsoleUser, String)>, Problem> {
    let Some(token) = cookie_of(headers) else {
        return Ok(None);
    };
    let t = token.clone();
    let user = with_access(s, move |a| a.session(&t, Timestamp::now())).await?;
    Ok(user.map(|u| (u, token)))
}

async fn start(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(&s, q.lang.as_deref(), &headers, "/console");
    match session(&s, &headers).await {
        Ok(Some(_)) => see_other(&format!("/console/requests{}", cx.q())),
        Ok(None) => cx.to_signin(),
        Err(_) => cx.server_error(),
    }
}

fn signin_form(
    s: &AppState,
    cx: &Ctx,
    status: StatusCode,
    name: &str,
    problem: Option<String>,
) -> Response {
    render(
        status,
        "signin.html",
        &cx.frame,
        serde_json::json!({
            "action": format!("/console/signin{}", cx.q()),
            "csrf": s.console.signin_token(Timestamp::now()),
            "name": name,
            "problem": problem,
        }),
    )
}

async fn signin_page(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(&s, q.lang.as_deref(), &headers, "/console/signin");
    if !s.has_backend() {
        return cx.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "error_heading",
            "error_unavailable",
        );
    }
    if let Ok(Some(_)) = session(&s, &headers).await {
        return see_other(&format!("/console/requests{}", cx.q()));
    }
    signin_form(&s, &cx, StatusCode::OK, "", None)
}

#[derive(Deserialize, Default)]
struct SigninForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// The longest password hashed: longer ones are refused unhashed (argon2 takes any length, but
/// a megabyte of password is a cheap way to spend a server's time).
const MAX_PASSWORD_BYTES: usize = 1024;

async fn signin(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let cx = Ctx::new(&s, q.lang.as_deref(), &parts.headers, "/console/signin");
    if !s.has_backend() {
        return cx.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "error_heading",
            "error_unavailable",
        );
    }
    let client = s.client_of(&parts);
    let now_i = std::time::Instant::now();
    if let Some(c) = &client
        && let Err(wait) = s.console.limiter.check(c, now_i)
    {
        let mut res = cx.message(StatusCode::TOO_MANY_REQUESTS, "error_heading", "error_busy");
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    let form: SigninForm = read_form(&s, axum::extract::Request::from_parts(parts, body)).await;
    let name: String = form.name.trim().chars().take(64).collect();
    let now = Timestamp::now();
    if !s.console.signin_token_ok(&form.csrf, now) {
        return signin_form(
            &s,
            &cx,
            StatusCode::FORBIDDEN,
            &name,
            Some(cx.w("error_expired")),
        );
    }
    let (password, code) = (form.password, form.code);
    let outcome = if password.len() > MAX_PASSWORD_BYTES || code.len() > 12 {
        Ok(SignInOutcome::unknown())
    } else {
        let n = name.clone();
        let found = with_access(&s, move |a| a.account_by_name(&n)).await;
        match found {
            Err(e) => Err(e),
            Ok(None) => {
                // As long as a known name with a wrong password takes.
                let _ = crate::work::blocking(move || {
                    account::verify_nothing(&password);
                    Ok(())
                })
                .await;
                Ok(SignInOutcome::unknown())
            }
            Ok(Some(stored)) => {
                // The password is hashed without holding the access store.
                let checked = crate::work::blocking(move || {
                    let first = account::sign_in(&stored, &password, &code, now.as_second());
                    Ok((stored, first))
                })
                .await;
                match checked {
                    Ok((stored, first)) => {
                        with_access(&s, move |a| a.record_sign_in(&stored, first, now)).await
                    }
                    Err(e) => Err(e),
                }
            }
        }
    };
    match outcome {
        Ok(SignInOutcome::Accepted(user)) => {
            let u = user.clone();
            let token = match with_access(&s, move |a| a.open_session(&u, now)).await {
                Ok(t) => t,
                Err(_) => return cx.server_error(),
            };
            audit(
                &s,
                user.tenant.as_deref(),
                user.actor(),
                "console.signin",
                serde_json::json!({ "role": user.role.as_str() }),
            )
            .await;
            let mut res = see_other(&format!("/console/requests{}", cx.q()));
            if let Ok(v) = HeaderValue::from_str(&set_cookie(&token)) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Ok(SignInOutcome::Refused {
            account,
            tenant,
            why,
        }) => {
            if let Some(c) = &client {
                s.console.limiter.failed(c, now_i);
            }
            let actor = account
                .as_deref()
                .map_or_else(|| "console".to_owned(), account::actor);
            audit(
                &s,
                tenant.as_deref(),
                actor,
                "console.signin_failed",
                serde_json::json!({ "reason": why }),
            )
            .await;
            signin_form(
                &s,
                &cx,
                StatusCode::UNAUTHORIZED,
                &name,
                Some(cx.w("signin_failed")),
            )
        }
        Err(_) => cx.server_error(),
    }
}

/// A form's fields; a body that is not a form reads as empty fields (which no token matches).
async fn read_form<T: serde::de::DeserializeOwned + Default>(
    s: &Arc<AppState>,
    req: axum::extract::Request,
) -> T {
    <Form<T> as axum::extract::FromRequest<_>>::from_request(req, s)
        .await
        .map(|Form(f)| f)
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn signout(
    State(s): State<Arc<AppState>>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let cx = Ctx::new(&s, q.lang.as_deref(), &headers, "/console/signin");
    let form: CsrfForm = read_form(&s, req).await;
    let Some(token) = cookie_of(&headers) else {
        return cx.to_signin();
    };
    if !form_ok(&token, "signout", &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let t = token.clone();
    let ended = with_access(&s, move |a| a.end_session(&t, Timestamp::now())).await;
    match ended {
        Ok(Some(user)) => {
            audit(
                &s,
                user.tenant.as_deref(),
                user.actor(),
                "console.signout",
                serde_json::json!({}),
            )
            .await;
        }
        Ok(None) => {}
        Err(_) => return cx.server_error(),
    }
    let mut res = cx.to_signin();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// A signed-in user of a tenant whose role may read requests, or the page to show instead.
async fn reader(
    s: &Arc<AppState>,
    lang: Option<&str>,
    headers: &HeaderMap,
    path: &str,
) -> Result<(Ctx, ConsoleUser, String, TenantId), Response> {
    let cx = Ctx::new(s, lang, headers, path);
    let (user, token) = match session(s, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(cx.to_signin()),
        Err(_) => return Err(cx.server_error()),
    };
    let cx = cx.signed_in(&user, &token);
    let Some(tenant) = user.tenant.as_deref().and_then(|t| TenantId::new(t).ok()) else {
        return Err(cx.message(StatusCode::FORBIDDEN, "error_heading", "error_no_tenant"));
    };
    if !user.role.may_read_audit() {
        return Err(cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden"));
    }
    Ok((cx, user, token, tenant))
}

/// How a request stands against its deadline on `today`, in words: the flag and why
/// (Art. 12(3)); `None` when it is on track or closed.
fn flag(lang: Lang, r: &Request, today: jiff::civil::Date) -> (Risk, Option<(String, String)>) {
    let risk = r.risk(today);
    let days = today.until(r.due_on).map(|s| s.get_days()).unwrap_or(0);
    let date = date_text(lang, r.due_on);
    let why = |key: &str, n: i32| word(lang, key, &[("date", &date), ("n", &n.to_string())]);
    let text = match risk {
        Risk::Overdue => Some((word(lang, "risk_overdue", &[]), why("why_overdue", -days))),
        Risk::AtRisk if r.extended => Some((
            word(lang, "risk_at_risk", &[]),
            why("why_at_risk_extended", days),
        )),
        Risk::AtRisk => Some((word(lang, "risk_at_risk", &[]), why("why_at_risk", days))),
        Risk::OnTrack | Risk::Closed => None,
    };
    (risk, text)
}

fn risk_id(risk: Risk) -> &'static str {
    match risk {
        Risk::OnTrack => "on_track",
        Risk::AtRisk => "at_risk",
        Risk::Overdue => "overdue",
        Risk::Closed => "closed",
    }
}

const STATES: [RequestState; 5] = [
    RequestState::Received,
    RequestState::Verified,
    RequestState::InProgress,
    RequestState::Completed,
    RequestState::Refused,
];

#[derive(Deserialize)]
struct QueueQuery {
    lang: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    page: Option<String>,
}

async fn queue(
    State(s): State<Arc<AppState>>,
    Query(q): Query<QueueQuery>,
    headers: HeaderMap,
) -> Response {
    let (cx, _, _, tenant) =
        match reader(&s, q.lang.as_deref(), &headers, "/console/requests").await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let lang = cx.lang;
    let given = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let (kind, state) = (given(&q.kind), given(&q.state));
    let kind_f = kind.as_deref().map(RequestKind::parse);
    let state_f = state.as_deref().map(RequestState::parse);
    let page_n = match q.page.as_deref().filter(|p| !p.is_empty()) {
        None => Some(1),
        Some(p) => p.parse::<usize>().ok().filter(|n| *n >= 1),
    };
    let (Some(kind_f), Some(state_f), Some(page_n)) = (
        kind_f.map_or(Some(None), |k| k.map(Some)),
        state_f.map_or(Some(None), |st| st.map(Some)),
        page_n,
    ) else {
        return cx.message(StatusCode::BAD_REQUEST, "error_heading", "error_filter");
    };
    let today = day_of(Timestamp::now());
    let query = custos_vault::rights::RequestQuery {
        kind: kind_f,
        state: state_f,
        offset: (page_n - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let key = (tenant.as_str().to_owned(), kind_f, state_f);
    let known = s.queue_counts.get(&key);
    let listed = crate::work::read(&s, move |_, v| {
        v.tenant(&tenant)
            .request_page(&query, today, known.as_ref())
            .map_err(|e| Problem::new(e.code()))
    })
    .await;
    let Ok(found) = listed else {
        return cx.server_error();
    };
    s.queue_counts.put(key, found.counted);
    let total = usize::try_from(found.total).unwrap_or(usize::MAX);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let rows: Vec<serde_json::Value> = found
        .requests
        .iter()
        .map(|r| {
            let (risk, text) = flag(lang, r, today);
            let (flag, why) = text.unzip();
            serde_json::json!({
                "href": format!("/console/requests/{}{}", r.request_id, cx.q()),
                "due": r.due_on.to_string(),
                "due_text": date_text(lang, r.due_on),
                "received": r.received_on.to_string(),
                "received_text": date_text(lang, r.received_on),
                "kind": word(lang, &format!("kind_{}", r.kind.as_str()), &[]),
                "state": word(lang, &format!("state_{}", r.state.as_str()), &[]),
                "risk": risk_id(risk),
                "flag": flag,
                "why": why,
            })
        })
        .collect();
    let link = |n: usize| {
        let mut l = format!("/console/requests{}", cx.q());
        if let Some(k) = &kind {
            l.push_str(&format!("&kind={k}"));
        }
        if let Some(st) = &state {
            l.push_str(&format!("&state={st}"));
        }
        format!("{l}&page={n}")
    };
    let kinds: Vec<serde_json::Value> = RequestKind::ALL
        .iter()
        .map(|k| {
            serde_json::json!({
                "id": k.as_str(),
                "label": word(lang, &format!("kind_{}", k.as_str()), &[]),
                "selected": kind_f == Some(*k),
            })
        })
        .collect();
    let states: Vec<serde_json::Value> = STATES
        .iter()
        .map(|st| {
            serde_json::json!({
                "id": st.as_str(),
                "label": word(lang, &format!("state_{}", st.as_str()), &[]),
                "selected": state_f == Some(*st),
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "queue.html",
        &cx.frame,
        serde_json::json!({
            "summary": word(lang, "queue_summary", &[
                ("n", &found.total.to_string()),
                ("overdue", &found.overdue.to_string()),
                ("at_risk", &found.at_risk.to_string()),
            ]),
            "action": "/console/requests",
            "kinds": kinds,
            "states": states,
            "rows": rows,
            "prev": (page_n > 1).then(|| link(page_n - 1)),
            "next": (page_n < pages).then(|| link(page_n + 1)),
            "page_text": word(lang, "page_text", &[("page", &page_n.to_string()), ("pages", &pages.to_string())]),
        }),
    )
}

fn step_text(lang: Lang, step: &str) -> String {
    word(lang, &crate::center::page::step_key(step), &[])
}

/// What a step's note says that a person reads: a reason or a method, never an identifier.
fn step_note(note: &serde_json::Value) -> String {
    ["reason", "method"]
        .iter()
        .find_map(|k| note.get(k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

async fn request_page(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/console/requests/{id}");
    let (cx, user, token, tenant) = match reader(&s, q.lang.as_deref(), &headers, &path).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Ok(id) = RequestId::parse(&id) else {
        return cx.not_found();
    };
    let id = id.as_str().to_owned();
    let i = id.clone();
    let found = crate::work::read(&s, move |_, v| {
        let mut t = v.tenant(&tenant);
        match t.request(&i) {
            Ok(r) => Ok(Some((
                r,
                t.request_history(&i)?,
                t.notifications_of_request(&i)?,
            ))),
            Err(VaultError::Request(RequestError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    let (r, steps, told) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return cx.not_found(),
        Err(_) => return cx.server_error(),
    };
    let lang = cx.lang;
    let today = day_of(Timestamp::now());
    let (risk, text) = flag(lang, &r, today);
    let (flag_text, why) = text.unzip();
    let tz =
        jiff::tz::TimeZone::get(custos_rights::request::ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|st| {
            let local = st.at.to_zoned(tz.clone());
            serde_json::json!({
                "at": st.at.to_string(),
                "at_text": format!("{} {}", date_text(lang, local.date()), local.strftime("%H:%M")),
                "text": step_text(lang, &st.step),
                "actor": st.actor,
                "note": step_note(&st.note),
            })
        })
        .collect();
    let handles = user.role.may_handle_requests();
    let open = !r.state.is_closed();
    let action = |what: &str| format!("/console/requests/{id}/{what}{}", cx.q());
    let answer = r.kind.answer().is_some();
    let released = r.detail.get("answer_released").is_some();
    let carry = handles
        && matches!(r.state, RequestState::Verified | RequestState::InProgress)
        && !(answer && released);
    let carry_key = match r.kind {
        RequestKind::Access | RequestKind::Portability => "release",
        RequestKind::Erasure => "erase",
        _ => "execute",
    };
    let recipients: Vec<serde_json::Value> = told
        .iter()
        .map(|n| {
            let local = n.delivered_at.map(|at| at.to_zoned(tz.clone()));
            serde_json::json!({
                "recipient": n.recipient,
                "action": word(lang, &format!("kind_{}", n.action), &[]),
                "state": word(lang, match n.state {
                    NotificationState::Pending => "notification_pending",
                    NotificationState::Delivered => "notification_delivered",
                    NotificationState::Dead => "notification_dead",
                }, &[]),
                "told": local.map(|l| format!("{} {}", date_text(lang, l.date()), l.strftime("%H:%M"))).unwrap_or_default(),
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "request.html",
        &cx.frame,
        serde_json::json!({
            "id": id,
            "kind": word(lang, &format!("kind_{}", r.kind.as_str()), &[]),
            "article": r.kind.article(),
            "state": word(lang, &format!("state_{}", r.state.as_str()), &[]),
            "received": r.received_on.to_string(),
            "received_text": date_text(lang, r.received_on),
            "due": r.due_on.to_string(),
            "due_text": date_text(lang, r.due_on),
            "extended": r.extended,
            "extension_reason": r.detail.get("extension_reason").and_then(|x| x.as_str()),
            "risk": risk_id(risk),
            "flag": flag_text,
            "why": why,
            "steps": steps,
            "verify_action": (handles && r.state == RequestState::Received).then(|| action("verify")),
            "verify_csrf": form_token(&token, &format!("verify:{id}")),
            "extend_action": (handles && open && !r.extended).then(|| action("extend")),
            "extend_csrf": form_token(&token, &format!("extend:{id}")),
            "carry_action": carry.then(|| action("carry-out")),
            "carry_csrf": form_token(&token, &format!("carry-out:{id}")),
            "carry_text": word(lang, &format!("carry_{carry_key}_text"), &[]),
            "carry_submit": word(lang, &format!("carry_{carry_key}_submit"), &[]),
            "carry_note": r.kind == RequestKind::Rectification,
            "refuse_action": (handles && open).then(|| action("refuse")),
            "refuse_csrf": form_token(&token, &format!("refuse:{id}")),
            "erasure": erasure_view(lang, &r),
            "recipients": recipients,
            "back": format!("/console/requests{}", cx.q()),
        }),
    )
}

/// What a completed erasure did, in words (Art. 17(3)(b): what is kept, under which law, until
/// when); `None` for any other request.
fn erasure_view(lang: Lang, r: &Request) -> Option<serde_json::Value> {
    if r.kind != RequestKind::Erasure {
        return None;
    }
    let outcome = r.detail.get("outcome")?;
    let n = |key: &str| outcome.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let kept: Vec<serde_json::Value> = outcome
        .get("kept")
        .and_then(|k| k.as_array())
        .into_iter()
        .flatten()
        .map(|k| {
            let until = k.get("until");
            let until_text = match until.and_then(|u| u.get("kind")).and_then(|x| x.as_str()) {
                Some("date") => until
                    .and_then(|u| u.get("date"))
                    .and_then(|d| d.as_str())
                    .and_then(|d| d.parse::<Timestamp>().ok())
                    .map(|t| date_text(lang, day_of(t)))
                    .unwrap_or_default(),
                Some("after_event") => word(
                    lang,
                    "kept_after_event",
                    &[
                        (
                            "period",
                            until
                                .and_then(|u| u.get("period"))
                                .and_then(|x| x.as_str())
                                .unwrap_or(""),
                        ),
                        (
                            "event",
                            until
                                .and_then(|u| u.get("event"))
                                .and_then(|x| x.as_str())
                                .unwrap_or(""),
                        ),
                    ],
                ),
                _ => until
                    .and_then(|u| u.get("criteria"))
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_owned(),
            };
            serde_json::json!({
                "category": k.get("category").and_then(|x| x.as_str()).unwrap_or(""),
                "records": k.get("records").and_then(|x| x.as_u64()).unwrap_or(0),
                "law": k.get("law").and_then(|x| x.as_str()).unwrap_or(""),
                "until": until_text,
            })
        })
        .collect();
    let datasets: Vec<String> = outcome
        .get("datasets")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .map(|d| {
            let c = |key: &str| d.get(key).and_then(|v| v.as_u64()).unwrap_or(0).to_string();
            word(
                lang,
                "erasure_dataset",
                &[
                    (
                        "dataset",
                        d.get("dataset").and_then(|x| x.as_str()).unwrap_or(""),
                    ),
                    ("deleted", &c("deleted")),
                    ("masked", &c("masked")),
                    ("unlinked", &c("unlinked")),
                    ("remaining", &c("remaining")),
                ],
            )
        })
        .collect();
    Some(serde_json::json!({
        "summary": word(lang, "erasure_summary", &[
            ("records", &n("records_erased").to_string()),
            ("keys", &n("keys_destroyed").to_string()),
        ]),
        "kept": kept,
        "datasets": datasets,
    }))
}

#[derive(Deserialize, Default)]
struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reason: String,
    /// What was corrected (rectification), without personal data.
    #[serde(default)]
    note: String,
    /// `yes` once the letter was seen: the step is taken and the letter sent.
    #[serde(default)]
    confirm: String,
}

impl StepForm {
    /// The reason as recorded: trimmed, at most 1000 characters.
    fn reason(&self) -> String {
        self.reason.trim().chars().take(1000).collect()
    }
}

/// Why a console step was not taken: the vault's refusal, a rule of the console (the key of
/// its words), or a failure.
enum StepError {
    Vault(VaultError),
    Console(&'static str),
}

impl From<VaultError> for StepError {
    fn from(e: VaultError) -> Self {
        StepError::Vault(e)
    }
}

/// A refusal to show the person who asked for the step.
enum Refusal {
    Vault(RequestError),
    Console(&'static str),
}

/// Letter `kind` about request `r` to whoever filed it (`to`), when the vault knows them.
fn letter_to(
    s: &AppState,
    t: &custos_vault::TenantVault<'_>,
    to: Option<SubjectId>,
    r: &Request,
    kind: &LetterKind<'_>,
) -> Option<Mail> {
    to.map(|to| Mail {
        to,
        letter: letters::letter(
            &s.loaded.policy,
            &display_name(s, t.tenant_id().as_str()),
            r,
            kind,
        ),
    })
}

/// A letter to send to the requester once a step is done.
struct Mail {
    to: SubjectId,
    letter: crate::center::letters::Letter,
}

/// What the console says when the vault refuses a step.
fn refusal_key(e: &RequestError) -> &'static str {
    match e {
        RequestError::AlreadyVerified(_) => "refused_already_verified",
        RequestError::Closed { .. } => "refused_closed",
        RequestError::ExtensionTooLate { .. } => "refused_extension_late",
        RequestError::AlreadyExtended(_) => "refused_already_extended",
        RequestError::ReasonRequired(_) => "refused_reason",
        _ => "refused_other",
    }
}

/// Runs a dpo's step on request `id` (from a form of `purpose` with the session's token), acting
/// as the signed-in account; back to the request's page when done.
async fn dpo_step(
    s: Arc<AppState>,
    id: String,
    lang: Option<String>,
    headers: HeaderMap,
    form: StepForm,
    purpose: &'static str,
    step: impl FnOnce(
        &AppState,
        &mut custos_vault::TenantVault<'_>,
        &str,
        &StepForm,
        Timestamp,
    ) -> Result<Option<Mail>, StepError>
    + Send
    + 'static,
) -> Response {
    let path = format!("/console/requests/{id}");
    let (cx, user, token, tenant) = match reader(&s, lang.as_deref(), &headers, &path).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !user.role.may_handle_requests() {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden");
    }
    let Ok(id) = RequestId::parse(&id) else {
        return cx.not_found();
    };
    let id = id.as_str().to_owned();
    if !form_ok(&token, &format!("{purpose}:{id}"), &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let i = id.clone();
    let done = crate::work::as_caller(&s, &tenant, user.actor(), move |s, t| {
        match step(s, t, &i, &form, Timestamp::now()) {
            Ok(mail) => Ok(Ok(mail)),
            Err(StepError::Vault(VaultError::Request(e))) => Ok(Err(Refusal::Vault(e))),
            Err(StepError::Console(key)) => Ok(Err(Refusal::Console(key))),
            Err(StepError::Vault(e)) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(Ok(mail)) => {
            if let Some(Mail { to, letter }) = mail {
                crate::center::send_letter(&s, &to, letter).await;
            }
            see_other(&format!("/console/requests/{id}{}", cx.q()))
        }
        Ok(Err(Refusal::Vault(RequestError::NotFound(_)))) => cx.not_found(),
        Ok(Err(e)) => {
            let (status, key) = match &e {
                Refusal::Vault(e @ RequestError::ReasonRequired(_)) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, refusal_key(e))
                }
                Refusal::Vault(e) => (StatusCode::CONFLICT, refusal_key(e)),
                Refusal::Console(key) => (StatusCode::CONFLICT, *key),
            };
            render(
                status,
                "message.html",
                &cx.frame,
                serde_json::json!({
                    "heading": cx.w("refused_heading"),
                    "message": cx.w(key),
                    "back": format!("/console/requests/{id}{}", cx.q()),
                }),
            )
        }
        Err(_) => cx.server_error(),
    }
}

async fn verify(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: StepForm = read_form(&s, req).await;
    dpo_step(
        s,
        id,
        q.lang,
        headers,
        form,
        "verify",
        |_, t, id, f, now| {
            let method: String = f.method.trim().chars().take(200).collect();
            t.verify_request(id, &Verification::Attested { method }, now)?;
            Ok(None)
        },
    )
    .await
}

async fn extend(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: StepForm = read_form(&s, req).await;
    if form.confirm != "yes" {
        return preview(s, id, q.lang, headers, form, Letter::Extension).await;
    }
    dpo_step(
        s,
        id,
        q.lang,
        headers,
        form,
        "extend",
        |s, t, id, f, now| {
            let (to, reason) = (t.requester(id)?, f.reason());
            let r = t.extend_request(id, &reason, day_of(now), now)?;
            let kind = LetterKind::Extension {
                reason: &reason,
                due_on: r.due_on,
            };
            Ok(letter_to(s, t, to, &r, &kind))
        },
    )
    .await
}

async fn refuse(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let form: StepForm = read_form(&s, req).await;
    if form.confirm != "yes" {
        return preview(s, id, q.lang, headers, form, Letter::Refusal).await;
    }
    dpo_step(
        s,
        id,
        q.lang,
        headers,
        form,
        "refuse",
        |s, t, id, f, now| {
            // Read before the refusal, which closes the request and forgets who filed it.
            let (to, reason) = (t.requester(id)?, f.reason());
            let r = t.refuse_request(&s.loaded.policy, id, &reason, now)?;
            let kind = LetterKind::Refusal { reason: &reason };
            Ok(letter_to(s, t, to, &r, &kind))
        },
    )
    .await
}

/// Carries out a verified request as its kind says: an access or portability answer is released
/// to the requester (told by mail; they download it after a fresh code); erasure, restriction,
/// objection and withdrawal are executed by the vault (erasure keeps what a law keeps,
/// Art. 17(3)(b), and tells the recipients, Art. 19); rectification is recorded with what was
/// corrected. Nobody types who asked: the vault kept it sealed with the request.
async fn carry_out(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let headers = req.headers().clone();
    let domain = crate::opengdpr::processor_domain(&headers);
    let form: StepForm = read_form(&s, req).await;
    dpo_step(
        s,
        id,
        q.lang,
        headers,
        form,
        "carry-out",
        move |s, t, id, f, now| {
            let Some(subject) = t.requester(id)? else {
                return Err(StepError::Console("refused_no_requester"));
            };
            let r = t.request(id)?;
            if r.kind.answer().is_some() {
                let r = t.release_answer(id, now)?;
                crate::requests::announce_status(t, &r, &domain);
                return Ok(letter_to(s, t, Some(subject), &r, &LetterKind::AnswerReady));
            }
            let rectification = custos_vault::rights::Rectification {
                note: f.note.trim().chars().take(1000).collect(),
                corrections: Vec::new(),
            };
            t.execute_request(&s.loaded.policy, id, &subject, rectification, now)?;
            let r = t.request(id)?;
            crate::requests::announce_status(t, &r, &domain);
            Ok(None)
        },
    )
    .await
}

/// Which letter a step sends.
#[derive(Clone, Copy)]
enum Letter {
    Extension,
    Refusal,
}

/// The letter a step would send, shown before the step is taken, with the form that takes it
/// (the same fields, confirmed).
async fn preview(
    s: Arc<AppState>,
    id: String,
    lang: Option<String>,
    headers: HeaderMap,
    form: StepForm,
    which: Letter,
) -> Response {
    let path = format!("/console/requests/{id}");
    let (cx, user, token, tenant) = match reader(&s, lang.as_deref(), &headers, &path).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !user.role.may_handle_requests() {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_forbidden");
    }
    let Ok(rid) = RequestId::parse(&id) else {
        return cx.not_found();
    };
    let id = rid.as_str().to_owned();
    let purpose = match which {
        Letter::Extension => "extend",
        Letter::Refusal => "refuse",
    };
    if !form_ok(&token, &format!("{purpose}:{id}"), &form.csrf) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    let reason = form.reason();
    if reason.is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            "message.html",
            &cx.frame,
            serde_json::json!({
                "heading": cx.w("refused_heading"),
                "message": cx.w("refused_reason"),
                "back": format!("/console/requests/{id}{}", cx.q()),
            }),
        );
    }
    let i = id.clone();
    let found = crate::work::read(&s, move |_, v| match v.tenant(&tenant).request(&i) {
        Ok(r) => Ok(Some(r)),
        Err(VaultError::Request(RequestError::NotFound(_))) => Ok(None),
        Err(e) => Err(e.into()),
    })
    .await;
    let r = match found {
        Ok(Some(r)) => r,
        Ok(None) => return cx.not_found(),
        Err(_) => return cx.server_error(),
    };
    let name = display_name(&s, user.tenant.as_deref().unwrap_or_default());
    let extended_due = r
        .detail
        .get("extended_due_on")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse().ok())
        .unwrap_or(r.due_on);
    let kind = match which {
        Letter::Extension => LetterKind::Extension {
            reason: &reason,
            due_on: extended_due,
        },
        Letter::Refusal => LetterKind::Refusal { reason: &reason },
    };
    let letter = letters::letter(&s.loaded.policy, &name, &r, &kind);
    let lang = cx.lang;
    let (heading, submit) = match which {
        Letter::Extension => ("letter_extension_heading", "extend_confirm"),
        Letter::Refusal => ("letter_refusal_heading", "refuse_confirm"),
    };
    render(
        StatusCode::OK,
        "letter.html",
        &cx.frame,
        serde_json::json!({
            "heading": word(lang, heading, &[]),
            "letter": letter,
            "letter_lang_text": word(lang, &format!("letter_in_{}", letter.lang), &[]),
            "action": format!("/console/requests/{id}/{purpose}{}", cx.q()),
            "csrf": form_token(&token, &format!("{purpose}:{id}")),
            "reason": reason,
            "submit": word(lang, submit, &[]),
            "back": format!("/console/requests/{id}{}", cx.q()),
        }),
    )
}

/// A sample context for every template, for the unit test that renders each one.
#[cfg(test)]
fn samples() -> Vec<(&'static str, serde_json::Value)> {
    let mut all = requests_samples();
    all.extend(retention::samples());
    all.extend(audit::samples());
    all.extend(policy::samples());
    all.extend(breaches::samples());
    all
}

/// Samples of the sign-in, queue, request and message pages.
#[cfg(test)]
fn requests_samples() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "signin.html",
            serde_json::json!({ "action": "/console/signin", "csrf": "x", "name": "Ann", "problem": "wrong" }),
        ),
        (
            "signin.html",
            serde_json::json!({ "action": "/console/signin", "csrf": "x", "name": "", "problem": null }),
        ),
        (
            "queue.html",
            serde_json::json!({
                "summary": "2 requests", "action": "/console/requests",
                "kinds": [{ "id": "access", "label": "Access", "selected": true }],
                "states": [{ "id": "verified", "label": "Verified", "selected": false }],
                "rows": [
                    { "href": "/console/requests/a", "due": "2026-03-02", "due_text": "2 March 2026",
                      "received": "2026-01-31", "received_text": "31 January 2026", "kind": "Access",
                      "state": "Verified", "risk": "at_risk", "flag": "At risk:", "why": "due soon" },
                    { "href": "/console/requests/b", "due": "2026-04-02", "due_text": "2 April 2026",
                      "received": "2026-03-01", "received_text": "1 March 2026", "kind": "Erasure",
                      "state": "Received", "risk": "on_track", "flag": null, "why": null },
                ],
                "prev": "/console/requests?page=1", "next": null, "page_text": "Page 2 of 2",
            }),
        ),
        (
            "queue.html",
            serde_json::json!({
                "summary": "0 requests", "action": "/console/requests", "kinds": [], "states": [],
                "rows": [], "prev": null, "next": null, "page_text": "Page 1 of 1",
            }),
        ),
        (
            "request.html",
            serde_json::json!({
                "id": "0123", "kind": "Access", "article": "Art. 15", "state": "Received",
                "received": "2026-01-31", "received_text": "31 January 2026",
                "due": "2026-03-02", "due_text": "2 March 2026", "extended": true,
                "extension_reason": "many requests", "risk": "overdue", "flag": "Overdue:", "why": "late",
                "steps": [{ "at": "2026-01-31T10:00:00Z", "at_text": "31 January 2026 11:00",
                            "text": "Received", "actor": "key:1", "note": "" }],
                "verify_action": "/v", "verify_csrf": "x", "extend_action": "/e", "extend_csrf": "y",
                "carry_action": "/c", "carry_csrf": "z", "carry_text": "Releases", "carry_submit": "Release",
                "carry_note": true, "refuse_action": "/r", "refuse_csrf": "w",
                "erasure": null, "recipients": [],
                "back": "/console/requests",
            }),
        ),
        (
            "request.html",
            serde_json::json!({
                "id": "0123", "kind": "Access", "article": "Art. 15", "state": "Completed",
                "received": "2026-01-31", "received_text": "31 January 2026",
                "due": "2026-03-02", "due_text": "2 March 2026", "extended": false,
                "extension_reason": null, "risk": "closed", "flag": null, "why": null, "steps": [],
                "verify_action": null, "verify_csrf": "x", "extend_action": null, "extend_csrf": "y",
                "carry_action": null, "carry_csrf": "z", "carry_text": "", "carry_submit": "",
                "carry_note": false, "refuse_action": null, "refuse_csrf": "w",
                "erasure": { "summary": "3 records erased", "datasets": ["crm: 2 rows deleted"],
                             "kept": [{ "category": "billing", "records": 2, "law": "art. 52 AWR", "until": "3 March 2033" }] },
                "recipients": [{ "recipient": "mailer", "action": "Erasure", "state": "Acknowledged", "told": "2 March 2026 10:00" }],
                "back": "/console/requests",
            }),
        ),
        (
            "letter.html",
            serde_json::json!({
                "heading": "Letter: refusal", "letter_lang_text": "In Dutch.",
                "letter": { "lang": "nl", "subject": "Acme: wij voeren uw verzoek niet uit",
                            "paragraphs": ["Op 2 maart 2026 vroeg u ons iets.", "Met vriendelijke groet, Acme"] },
                "action": "/console/requests/0123/refuse", "csrf": "x", "reason": "unfounded",
                "submit": "Refuse and send", "back": "/console/requests/0123",
            }),
        ),
        (
            "message.html",
            serde_json::json!({ "heading": "Oops", "message": "Not found", "back": "/console" }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_token_belongs_to_its_session_and_purpose() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let t = form_token(&a, "extend:0123");
        assert!(form_ok(&a, "extend:0123", &t));
        assert!(!form_ok(&b, "extend:0123", &t), "another session");
        assert!(!form_ok(&a, "verify:0123", &t), "another form");
        assert!(!form_ok(&a, "extend:0123", "zz"));
    }

    #[test]
    fn the_signin_token_is_this_processs_and_expires() {
        let (c, other) = (Console::default(), Console::default());
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let t = c.signin_token(now);
        assert!(c.signin_token_ok(&t, now));
        assert!(!other.signin_token_ok(&t, now));
        let later = Timestamp::from_second(1_800_000_000 + SIGNIN_FORM_SECONDS + 1).unwrap();
        assert!(!c.signin_token_ok(&t, later));
        assert!(!c.signin_token_ok("", now));
    }

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let c = set_cookie(&"0".repeat(64));
        assert!(c.starts_with("__Host-custos-console="));
        for attr in ["Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(c.contains(attr), "{attr} in {c}");
        }
        assert!(!c.contains("Domain"), "a __Host- cookie names no domain");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; {COOKIE}={}", "f".repeat(64))).unwrap(),
        );
        assert_eq!(cookie_of(&h), Some("f".repeat(64)));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}=../etc")).unwrap(),
        );
        assert_eq!(cookie_of(&h), None);
    }
}
