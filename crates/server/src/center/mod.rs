//! The privacy center (PRODUCT.md C9): the pages a data subject uses, per tenant, in Dutch and
//! English, without JavaScript. A thin shell like the API: it parses a form, calls the vault's
//! request use cases (file, issue a code, verify, refuse) and renders a page.
//!
//! - `GET /center/{tenant}`: what the center is, the statement with its version, the form to
//!   make any of the seven requests with the address the subject is known by.
//! - `POST /center/{tenant}/requests`: files the request (its month runs from now, Art. 12(3)),
//!   sends a one-time code to that address and shows where to enter it. An address nobody knows
//!   goes through the very same steps and page, so the center tells nobody who is a customer.
//!   No CAPTCHA, no copy of an ID (EDPB Guidelines 01/2022: generally disproportionate).
//! - `GET|POST /center/{tenant}/requests/{id}/verify`: the code (five tries, fifteen minutes,
//!   the vault's rule); right, it verifies the request (Art. 12(6)) and opens a session cookie.
//! - `GET /center/{tenant}/requests/{id}`: the request's status for the session's subject:
//!   its timeline and the due date with how it was counted (Art. 12(3), Reg. 1182/71).
//! - `POST /center/{tenant}/requests/{id}/cancel`: the subject withdraws an open request.
//!
//! Every form carries a signed token tied to its purpose; every submission counts against the
//! client address's budget; nothing personal goes into a URL or a log line (the routes are
//! logged by template, the address travels only in the form body).

pub mod brand;
pub(crate) mod letters;
pub(crate) mod page;
mod session;

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custos_policy::Lang;
use custos_vault::rights::{RequestError, RequestKind, RequestState, Verification};
use custos_vault::{SubjectId, TenantId, VaultError};
use jiff::Timestamp;
use serde::Deserialize;

use crate::AppState;
use page::{Frame, date_text, render, word};
pub use session::Signer;

/// Sends a verification code to a subject's address. The server's SMTP mailer is one; the
/// trait keeps the center's flow apart from how mail leaves the machine.
pub trait CodeSender: Send + Sync {
    /// Sends `body` under `subject` to `to`, in `lang` (`nl`, `en`). The error says what failed
    /// and never holds the address.
    fn send_code(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        lang: &'static str,
    ) -> Result<(), String>;
}

impl CodeSender for crate::mail::Mailer {
    fn send_code(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        lang: &'static str,
    ) -> Result<(), String> {
        self.send(&crate::mail::Message {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text: body.to_owned(),
            html: None,
            lang,
        })
        .map_err(|e| e.to_string())
    }
}

/// A directory that receives each message as an RFC 5322 `.eml` file instead of sending it
/// (`mail_outbox`, for the demo): the file any mail client opens, written whole before it is
/// named `.eml`.
pub struct Outbox {
    dir: std::path::PathBuf,
    from: String,
}

impl Outbox {
    /// The outbox at `dir`, created if missing.
    pub fn new(dir: &std::path::Path) -> Result<Outbox, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mail_outbox {}: {e}", dir.display()))?;
        Ok(Outbox {
            dir: dir.to_owned(),
            from: "custos@localhost".into(),
        })
    }
}

impl CodeSender for Outbox {
    fn send_code(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        lang: &'static str,
    ) -> Result<(), String> {
        let now = Timestamp::now();
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| e.to_string())?;
        let name = format!("{}-{}", now.as_millisecond(), hex::encode(id));
        let subject_b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(subject.as_bytes())
        };
        let text = format!(
            "From: {}\r\nTo: {to}\r\nSubject: =?utf-8?b?{subject_b64}?=\r\nDate: {}\r\nContent-Language: {lang}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            self.from,
            jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC))
                .unwrap_or_default(),
            body.replace('\n', "\r\n")
        );
        let part = self.dir.join(format!("{name}.part"));
        std::fs::write(&part, text).map_err(|e| format!("mail_outbox: {}", e.kind()))?;
        std::fs::rename(&part, self.dir.join(format!("{name}.eml")))
            .map_err(|e| format!("mail_outbox: {}", e.kind()))
    }
}

/// What the center keeps while the server runs.
pub struct Center {
    /// Signs forms and sessions.
    pub signer: Signer,
    /// Submissions per client address and minute (filing, codes).
    pub limiter: crate::limits::FailedAuthLimiter,
    /// Where codes go; without one the center refuses to file (it could not verify anyone).
    pub sender: Option<Arc<dyn CodeSender>>,
    /// Sessions, by their cookie's token.
    visits: session::Expiring<session::Visit>,
    /// The identifier of each request filed here, until its code is entered (so the session it
    /// opens can record a withdrawal of consent); by request id.
    pending: session::Expiring<SubjectId>,
    /// Sign-ins without a request, by their id.
    signins: session::Expiring<SignIn>,
    /// Each tenant's look (`[[brand]]`), by tenant.
    pub brands: std::collections::HashMap<String, brand::Brand>,
}

/// A sign-in waiting for its code.
#[derive(Clone)]
struct SignIn {
    tenant: String,
    subject: SubjectId,
    /// The code's keyed hash.
    code: String,
    attempts: u32,
    /// The request whose released answer the code opens, when it was sent for a download.
    answer: Option<String>,
}

/// The name the center, its mails and its letters give the controller of `tenant`: the brand's,
/// else the policy's controller, else the tenant's id.
pub(crate) fn display_name(s: &AppState, tenant: &str) -> String {
    s.center
        .brands
        .get(tenant)
        .and_then(|b| b.name.clone())
        .or_else(|| s.loaded.policy.controller.name.clone())
        .unwrap_or_else(|| tenant.to_owned())
}

/// Sends `letter` to `to` when the privacy center has a mailer and `to` is an address; says
/// whether it went (a failure is logged without the address).
pub(crate) async fn send_letter(s: &AppState, to: &SubjectId, letter: letters::Letter) -> bool {
    let Some(sender) = s.center.sender.clone() else {
        return false;
    };
    if !plausible_email(to.expose()) {
        return false;
    }
    let to = to.expose().to_owned();
    crate::work::blocking(move || {
        sender
            .send_code(&to, &letter.subject, &letter.text(), letter.lang)
            .map_err(|e| {
                tracing::warn!(error = %e, "a letter to a requester could not be sent");
                crate::problem::Problem::new(custos_types::ErrorCode::Unavailable)
            })
    })
    .await
    .is_ok()
}

/// How long a fresh code's permission to download an answer lasts, in seconds.
const ANSWER_SECONDS: i64 = 10 * 60;

/// Entries each in-memory store keeps at most.
const KEEP: usize = 100_000;

impl Default for Center {
    fn default() -> Self {
        Center {
            signer: Signer::new(),
            limiter: crate::limits::FailedAuthLimiter::new(SUBMISSIONS_PER_MINUTE),
            sender: None,
            visits: session::Expiring::new(KEEP),
            pending: session::Expiring::new(KEEP),
            signins: session::Expiring::new(KEEP),
            brands: std::collections::HashMap::new(),
        }
    }
}

/// Requests filed plus wrong codes one client address may submit per minute.
const SUBMISSIONS_PER_MINUTE: u32 = 20;

/// The refusal reason of a request its subject cancelled here.
const CANCELLED: &str = "cancelled by the requester in the privacy center";

/// The center's routes (not in the OpenAPI document: pages for people, not an API).
pub fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/center/assets/center.css", get(css))
        .route("/center/{tenant}", get(home))
        .route("/center/{tenant}/theme.css", get(theme))
        .route("/center/{tenant}/logo.png", get(logo))
        .route("/center/{tenant}/requests", post(file))
        .route(
            "/center/{tenant}/requests/{id}/verify",
            get(code_page).post(verify),
        )
        .route("/center/{tenant}/requests/{id}", get(status))
        .route("/center/{tenant}/requests/{id}/cancel", post(cancel))
        .route("/center/{tenant}/requests/{id}/download", post(download))
        .route("/center/{tenant}/requests/{id}/answer", get(answer))
        .route("/center/{tenant}/signin", get(signin_page).post(signin))
        .route(
            "/center/{tenant}/signin/{sid}",
            get(signin_code_page).post(signin_code),
        )
        .route("/center/{tenant}/me", get(me))
        .route(
            "/center/{tenant}/consents/{purpose}/withdraw",
            post(withdraw),
        )
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// A page's language and frame.
struct Ctx {
    lang: Lang,
    frame: Frame,
    tenant: String,
}

impl Ctx {
    fn new(s: &AppState, q: &LangQuery, headers: &HeaderMap, tenant: &str, path: &str) -> Ctx {
        let fallback = s
            .loaded
            .policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(Lang::En);
        let lang = page::negotiate(q.lang.as_deref(), headers, fallback);
        let brand = s.center.brands.get(tenant);
        let name = display_name(s, tenant);
        let mut frame = Frame::new(lang, &name, tenant, path);
        if let Some(b) = brand {
            frame.theme = b
                .accent
                .as_ref()
                .map(|_| format!("/center/{tenant}/theme.css"));
            frame.logo = b
                .logo
                .as_ref()
                .map(|_| format!("/center/{tenant}/logo.png"));
        }
        Ctx {
            lang,
            frame,
            tenant: tenant.to_owned(),
        }
    }

    fn w(&self, key: &str) -> String {
        word(self.lang, key, &[])
    }

    fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        render(
            status,
            "message.html",
            &self.frame,
            serde_json::json!({ "heading": self.w(heading), "message": self.w(message) }),
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

    fn busy(&self, wait: std::time::Duration) -> Response {
        let mut res = self.message(StatusCode::TOO_MANY_REQUESTS, "error_heading", "error_busy");
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }

    fn q(&self) -> String {
        format!("?lang={}", self.lang.code())
    }
}

async fn css() -> Response {
    let mut res = page::with_headers(StatusCode::OK, page::CSS.to_owned(), "text/css", "en");
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// A tenant's accent colour as a stylesheet (checked at start to read well on white).
async fn theme(State(s): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    match s.center.brands.get(&tenant).and_then(|b| b.accent.clone()) {
        Some(accent) => page::with_headers(
            StatusCode::OK,
            format!(":root {{ --accent: {accent}; }}\n"),
            "text/css",
            "en",
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A tenant's logo (a PNG read at start).
async fn logo(State(s): State<Arc<AppState>>, Path(tenant): Path<String>) -> Response {
    match s.center.brands.get(&tenant).and_then(|b| b.logo.clone()) {
        Some(png) => {
            let mut res = (StatusCode::OK, png).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether the tenant exists (the center of an unknown tenant is a page that does not exist).
async fn tenant_exists(s: &Arc<AppState>, tenant: &str) -> Result<bool, ()> {
    if TenantId::new(tenant).is_err() {
        return Ok(false);
    }
    let (s, t) = (s.clone(), tenant.to_owned());
    crate::work::blocking(move || {
        let b = s.backend()?;
        let mut a = b
            .access
            .lock()
            .map_err(|_| crate::problem::Problem::new(custos_types::ErrorCode::Internal))?;
        a.tenant_exists(&t)
            .map_err(|e| crate::problem::Problem::new(e.code()))
    })
    .await
    .map_err(|_| ())
}

/// The page to answer instead when the tenant does not exist (or cannot be looked up now).
async fn unknown_tenant(s: &Arc<AppState>, cx: &Ctx) -> Option<Response> {
    match tenant_exists(s, &cx.tenant).await {
        Ok(true) => None,
        Ok(false) => Some(cx.not_found()),
        Err(()) => Some(cx.server_error()),
    }
}

/// A POST's form, or an empty one when the body is not a form (every field then fails its own
/// check, as a missing field does).
async fn read_form<T: serde::de::DeserializeOwned + Default>(
    s: &Arc<AppState>,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
) -> T {
    let req = axum::extract::Request::from_parts(parts, body);
    match <Form<T> as axum::extract::FromRequest<_>>::from_request(req, s).await {
        Ok(Form(f)) => f,
        Err(_) => T::default(),
    }
}

/// The seven requests, in the order the form lists them.
const KINDS: [RequestKind; 7] = [
    RequestKind::Access,
    RequestKind::Rectification,
    RequestKind::Erasure,
    RequestKind::Restriction,
    RequestKind::Portability,
    RequestKind::Objection,
    RequestKind::Withdrawal,
];

/// What the request form holds when it is shown again.
#[derive(Default)]
struct Filled {
    kind: Option<String>,
    email: String,
    purpose: Option<String>,
    errors: Vec<(&'static str, String)>,
}

fn home_page(s: &AppState, cx: &Ctx, status: StatusCode, filled: &Filled, gpc: bool) -> Response {
    let lang = cx.lang;
    let kinds: Vec<serde_json::Value> = KINDS
        .iter()
        .map(|k| {
            serde_json::json!({
                "id": k.as_str(),
                "label": word(lang, &format!("kind_{}", k.as_str()), &[]),
                "checked": filled.kind.as_deref() == Some(k.as_str()),
            })
        })
        .collect();
    // Consent can be withdrawn where it is the basis (Art. 7(3)); the purposes listed are those.
    let purposes: Vec<serde_json::Value> = s
        .loaded
        .policy
        .purposes
        .iter()
        .filter(|p| p.bases.contains(&custos_policy::model::Basis::Consent))
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "name": p.name.get_or_any(lang),
                "selected": filled.purpose.as_deref() == Some(p.id.as_str()),
            })
        })
        .collect();
    render(
        status,
        "home.html",
        &cx.frame,
        serde_json::json!({
            "gpc": gpc,
            "statement": format!("/privacy{}", cx.q()),
            "signin": format!("/center/{}/signin{}", cx.tenant, cx.q()),
            "version": s.loaded.policy.meta.version,
            "action": format!("/center/{}/requests{}", cx.tenant, cx.q()),
            "csrf": s.center.signer.form_token(&format!("file:{}", cx.tenant), Timestamp::now()),
            "kinds": kinds,
            "purposes": purposes,
            "email": filled.email,
            "errors": filled.errors.iter().map(|(f, t)| serde_json::json!({ "field": f, "text": t })).collect::<Vec<_>>(),
        }),
    )
}

async fn home(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(&s, &q, &headers, &tenant, &format!("/center/{tenant}"));
    if let Some(page) = unknown_tenant(&s, &cx).await {
        return page;
    }
    let gpc = crate::consent::gpc(&headers);
    let mut res = home_page(&s, &cx, StatusCode::OK, &Filled::default(), gpc);
    if gpc {
        // Acknowledged on the page, which knows no subject: nothing is recorded.
        res.headers_mut().insert(
            "custos-gpc",
            HeaderValue::from_static("received; not recorded"),
        );
    }
    res
}

#[derive(Deserialize, Default)]
struct FileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    purpose: String,
}

/// A plausible e-mail address: one `@`, something before it, a dot after it, no spaces, at most
/// 254 characters (RFC 5321's path limit). Whether it exists is the code's to find out.
fn plausible_email(e: &str) -> bool {
    let e = e.trim();
    e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
}

/// The client address's budget: `Err` with the wait when it is spent; with `spend`, the call
/// spends one (a filing does; a code only when it is wrong, see [`spent`]).
fn budget(
    s: &AppState,
    parts: &axum::http::request::Parts,
    spend: bool,
) -> Result<(), std::time::Duration> {
    let Some(client) = s.client_of(parts) else {
        return Ok(());
    };
    let now = std::time::Instant::now();
    s.center.limiter.check(&client, now)?;
    if spend {
        s.center.limiter.failed(&client, now);
    }
    Ok(())
}

/// Spends one of the client address's budget (a wrong or void code).
fn spent(s: &AppState, client: Option<crate::client::ClientAddr>) {
    if let Some(c) = client {
        s.center.limiter.failed(&c, std::time::Instant::now());
    }
}

async fn file(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let cx = Ctx::new(
        &s,
        &q,
        &parts.headers,
        &tenant,
        &format!("/center/{tenant}"),
    );
    if let Some(page) = unknown_tenant(&s, &cx).await {
        return page;
    }
    if let Err(wait) = budget(&s, &parts, true) {
        return cx.busy(wait);
    }
    let form: FileForm = read_form(&s, parts, body).await;
    let now = Timestamp::now();
    let mut filled = Filled {
        kind: Some(form.kind.clone()).filter(|k| !k.is_empty()),
        email: form.email.chars().take(254).collect(),
        purpose: Some(form.purpose.clone()).filter(|p| !p.is_empty()),
        errors: Vec::new(),
    };
    if !s
        .center
        .signer
        .form_ok(&form.csrf, &format!("file:{tenant}"), now)
    {
        filled.errors.push(("kind", cx.w("error_expired")));
        return home_page(&s, &cx, StatusCode::FORBIDDEN, &filled, false);
    }
    let kind = RequestKind::parse(&form.kind);
    if kind.is_none() {
        filled.errors.push(("kind", cx.w("error_kind")));
    }
    if !plausible_email(&form.email) {
        filled.errors.push(("email", cx.w("error_email")));
    }
    let purpose = filled.purpose.clone();
    let known_purpose = purpose
        .as_deref()
        .is_none_or(|p| s.loaded.policy.purposes.iter().any(|x| x.id == p));
    if kind == Some(RequestKind::Withdrawal) && purpose.is_none() || !known_purpose {
        filled.errors.push(("purpose", cx.w("error_purpose")));
    }
    let subject = SubjectId::new(form.email.trim());
    let (Some(kind), Ok(subject), true) = (kind, subject, filled.errors.is_empty()) else {
        if filled.errors.is_empty() {
            filled.errors.push(("email", cx.w("error_email")));
        }
        return home_page(&s, &cx, StatusCode::UNPROCESSABLE_ENTITY, &filled, false);
    };
    let Some(sender) = s.center.sender.clone() else {
        return cx.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "error_heading",
            "error_unavailable",
        );
    };
    // A purpose only where the kind takes one.
    let purpose =
        purpose.filter(|_| matches!(kind, RequestKind::Withdrawal | RequestKind::Objection));
    let remembered = subject.clone();
    let new = match s.new_request(kind, subject, purpose, now, "center".into()) {
        Ok(n) => custos_vault::rights::NewRequest {
            language: Some(cx.lang.code().to_owned()),
            ..n
        },
        Err(_) => return cx.server_error(),
    };
    let t = TenantId::new(&tenant).expect("checked to exist");
    let filed = crate::work::write(&s, move |s, v| {
        let mut tv = v.tenant(&t).acting_as("privacy-center");
        let filed = tv.file_request(&s.loaded.policy, new)?;
        let id = filed.request.request_id.clone();
        // A code only where one can still be entered: a duplicate of a request verified
        // earlier gets none (and the same page, so the page says nothing about it).
        let code = if filed.request.state == RequestState::Received {
            Some(tv.issue_code(&id, now)?)
        } else {
            None
        };
        Ok((id, code))
    })
    .await;
    let (id, code) = match filed {
        Ok(f) => f,
        Err(_) => return cx.server_error(),
    };
    s.center.pending.put(
        id.clone(),
        remembered,
        now.as_second() + custos_rights::request::CODE_VALID_SECONDS,
        now,
    );
    if let Some(code) = code {
        let name = cx.frame.name.clone();
        let lang = cx.lang;
        let kind_words = word(lang, &format!("kind_{}", kind.as_str()), &[]);
        let to = form.email.trim().to_owned();
        let sent = crate::work::blocking(move || {
            let subject = word(lang, "mail_subject", &[("name", &name)]);
            let body = word(
                lang,
                "mail_body",
                &[("name", &name), ("code", &code), ("kind", &kind_words)],
            );
            sender
                .send_code(&to, &subject, &body, lang.code())
                .map_err(|e| {
                    tracing::warn!(error = %e, "a privacy-center code could not be sent");
                    crate::problem::Problem::new(custos_types::ErrorCode::Unavailable)
                })
        })
        .await;
        if sent.is_err() {
            return cx.message(
                StatusCode::SERVICE_UNAVAILABLE,
                "error_heading",
                "error_unavailable",
            );
        }
    }
    see_other(&format!("/center/{tenant}/requests/{id}/verify{}", cx.q()))
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A request id as the vault writes them: 32 hex digits (anything else is a page that does not
/// exist, before any lookup).
fn request_id(id: &str) -> Option<String> {
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// Which code a code form takes: a request's (Art. 12(6)) or a sign-in's.
#[derive(Clone, Copy)]
enum CodeFor<'a> {
    /// The request with this id.
    Request(&'a str),
    /// The sign-in with this id.
    SignIn(&'a str),
}

impl CodeFor<'_> {
    /// Where the form posts.
    fn action(self, cx: &Ctx) -> String {
        match self {
            CodeFor::Request(id) => format!("/center/{}/requests/{id}/verify{}", cx.tenant, cx.q()),
            CodeFor::SignIn(sid) => format!("/center/{}/signin/{sid}{}", cx.tenant, cx.q()),
        }
    }

    /// What its form token is for.
    fn purpose(self, cx: &Ctx) -> String {
        match self {
            CodeFor::Request(id) => format!("code:{}:{id}", cx.tenant),
            CodeFor::SignIn(sid) => format!("signin-code:{}:{sid}", cx.tenant),
        }
    }
}

fn code_form(
    s: &AppState,
    cx: &Ctx,
    code: CodeFor<'_>,
    status: StatusCode,
    problem: Option<String>,
    void: bool,
) -> Response {
    render(
        status,
        "code.html",
        &cx.frame,
        serde_json::json!({
            "action": code.action(cx),
            "csrf": s.center.signer.form_token(&code.purpose(cx), Timestamp::now()),
            "problem": problem,
            "void": void,
        }),
    )
}

async fn code_page(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/center/{tenant}/requests/{id}/verify");
    let cx = Ctx::new(&s, &q, &headers, &tenant, &path);
    let (Some(id), Ok(true)) = (request_id(&id), tenant_exists(&s, &tenant).await) else {
        return cx.not_found();
    };
    code_form(&s, &cx, CodeFor::Request(&id), StatusCode::OK, None, false)
}

#[derive(Deserialize, Default)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// What entering a code did.
enum Verified {
    /// Right: the session's subject.
    Yes(String),
    /// Wrong, with the tries left.
    Wrong(u32),
    /// Expired, used up, or never issued.
    Void,
    /// No such request in this tenant.
    Unknown,
}

async fn verify(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let secure = secure_transport(&parts);
    let path = format!("/center/{tenant}/requests/{id}/verify");
    let cx = Ctx::new(&s, &q, &parts.headers, &tenant, &path);
    let (Some(id), Ok(true)) = (request_id(&id), tenant_exists(&s, &tenant).await) else {
        return cx.not_found();
    };
    let now = Timestamp::now();
    let (code, client) = match entered_code(&s, &cx, CodeFor::Request(&id), parts, body, now).await
    {
        Ok(entered) => entered,
        Err(page) => return page,
    };
    let t = TenantId::new(&tenant).expect("checked to exist");
    let id2 = id.clone();
    let outcome = crate::work::write(&s, move |_, v| {
        let mut tv = v.tenant(&t).acting_as("privacy-center");
        Ok(
            match tv.verify_request(&id2, &Verification::Code(code), now) {
                Ok(r) => Verified::Yes(r.subject),
                Err(VaultError::Request(RequestError::WrongCode { attempts_left })) => {
                    Verified::Wrong(attempts_left)
                }
                Err(VaultError::Request(RequestError::NotFound(_))) => Verified::Unknown,
                Err(VaultError::Request(_)) => Verified::Void,
                Err(e) => return Err(e.into()),
            },
        )
    })
    .await;
    match outcome {
        Ok(Verified::Yes(pseudonym)) => {
            let subject = s.center.pending.get(&id, now);
            s.center.pending.remove(&id);
            let mut res = see_other(&format!("/center/{tenant}/requests/{id}{}", cx.q()));
            open_visit(
                &s,
                &mut res,
                (&tenant, secure),
                pseudonym,
                (subject, None),
                now,
            );
            res
        }
        Ok(Verified::Wrong(left)) => {
            spent(&s, client);
            code_form(
                &s,
                &cx,
                CodeFor::Request(&id),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(word(cx.lang, "code_wrong", &[("n", &left.to_string())])),
                left == 0,
            )
        }
        Ok(Verified::Void) => {
            spent(&s, client);
            code_form(
                &s,
                &cx,
                CodeFor::Request(&id),
                StatusCode::GONE,
                Some(cx.w("code_void")),
                true,
            )
        }
        Ok(Verified::Unknown) => cx.not_found(),
        Err(_) => cx.server_error(),
    }
}

/// The request `id` of the session's subject in `tenant`, with its history; `None` when there
/// is no session, no such request, or it is another subject's (all alike to the visitor).
async fn own_request(
    s: &Arc<AppState>,
    tenant: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<
    Option<(
        String,
        custos_vault::rights::Request,
        Vec<custos_vault::rights::Step>,
    )>,
    (),
> {
    let Some(pseudonym) = visit(s, tenant, headers).map(|v| v.pseudonym) else {
        return Ok(None);
    };
    let t = TenantId::new(tenant).map_err(|_| ())?;
    let id = id.to_owned();
    crate::work::read(s, move |_, v| {
        let mut tv = v.tenant(&t);
        match tv.request(&id) {
            Ok(r) if r.subject == pseudonym => {
                let steps = tv.request_history(&id)?;
                Ok(Some((pseudonym, r, steps)))
            }
            Ok(_) | Err(VaultError::Request(RequestError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await
    .map_err(|_| ())
}

/// The live visit of the session cookie among `headers`, in `tenant`.
fn visit(s: &AppState, tenant: &str, headers: &HeaderMap) -> Option<session::Visit> {
    let token = session::cookie_of(headers)?;
    s.center
        .visits
        .get(&token, Timestamp::now())
        .filter(|v| v.tenant == tenant)
}

/// Whether the visitor is reached over TLS (through a proxy, or from another machine): false
/// only for a browser on this machine talking to Custos directly, with no proxy header.
fn secure_transport(parts: &axum::http::request::Parts) -> bool {
    let h = &parts.headers;
    let proxied = ["x-forwarded-for", "x-forwarded-proto", "forwarded"]
        .iter()
        .any(|n| h.contains_key(*n));
    !matches!(
        parts.extensions.get::<crate::client::Peer>(),
        Some(p) if p.0.to_canonical().is_loopback() && !proxied
    )
}

/// Opens a session for the subject `pseudonym` (with its identifier when known) and sets its
/// cookie on `res` (`secure`: see [`secure_transport`]).
fn open_visit(
    s: &AppState,
    res: &mut Response,
    (tenant, secure): (&str, bool),
    pseudonym: String,
    (subject, answer): (Option<SubjectId>, Option<(String, i64)>),
    now: Timestamp,
) {
    let token = session::random_token();
    s.center.visits.put(
        token.clone(),
        session::Visit {
            tenant: tenant.to_owned(),
            pseudonym,
            subject,
            answer,
        },
        now.as_second() + session::SESSION_SECONDS,
        now,
    );
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&token, secure)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// Sends the sign-in code `code` to `to` in the page's language.
async fn send_code(
    s: &Arc<AppState>,
    cx: &Ctx,
    to: String,
    code: String,
    what: String,
) -> Result<(), ()> {
    let Some(sender) = s.center.sender.clone() else {
        return Err(());
    };
    let (name, lang) = (cx.frame.name.clone(), cx.lang);
    crate::work::blocking(move || {
        let subject = word(lang, "mail_subject", &[("name", &name)]);
        let body = word(
            lang,
            "mail_body",
            &[("name", &name), ("code", &code), ("kind", &what)],
        );
        sender
            .send_code(&to, &subject, &body, lang.code())
            .map_err(|e| {
                tracing::warn!(error = %e, "a privacy-center code could not be sent");
                crate::problem::Problem::new(custos_types::ErrorCode::Unavailable)
            })
    })
    .await
    .map_err(|_| ())
}

fn signin_form(
    s: &AppState,
    cx: &Ctx,
    status: StatusCode,
    email: &str,
    error: Option<String>,
) -> Response {
    render(
        status,
        "signin.html",
        &cx.frame,
        serde_json::json!({
            "action": format!("/center/{}/signin{}", cx.tenant, cx.q()),
            "csrf": s.center.signer.form_token(&format!("signin:{}", cx.tenant), Timestamp::now()),
            "email": email,
            "problem": error,
        }),
    )
}

async fn signin_page(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(
        &s,
        &q,
        &headers,
        &tenant,
        &format!("/center/{tenant}/signin"),
    );
    match tenant_exists(&s, &tenant).await {
        Ok(true) => signin_form(&s, &cx, StatusCode::OK, "", None),
        Ok(false) => cx.not_found(),
        Err(()) => cx.server_error(),
    }
}

#[derive(Deserialize, Default)]
struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// Signing in without a request: a code to the address, then a session that shows the
/// subject's requests and consents. An unknown address gets the same code and the same page.
async fn signin(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let cx = Ctx::new(
        &s,
        &q,
        &parts.headers,
        &tenant,
        &format!("/center/{tenant}/signin"),
    );
    if let Some(page) = unknown_tenant(&s, &cx).await {
        return page;
    }
    if let Err(wait) = budget(&s, &parts, true) {
        return cx.busy(wait);
    }
    let form: EmailForm = read_form(&s, parts, body).await;
    let now = Timestamp::now();
    let email: String = form.email.chars().take(254).collect();
    if !s
        .center
        .signer
        .form_ok(&form.csrf, &format!("signin:{tenant}"), now)
    {
        return signin_form(
            &s,
            &cx,
            StatusCode::FORBIDDEN,
            &email,
            Some(cx.w("error_expired")),
        );
    }
    let subject = match SubjectId::new(form.email.trim()) {
        Ok(sub) if plausible_email(&form.email) => sub,
        _ => {
            return signin_form(
                &s,
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &email,
                Some(cx.w("error_email")),
            );
        }
    };
    let to = form.email.trim().to_owned();
    code_to_sign_in(&s, &cx, &tenant, subject, to, None, now).await
}

/// Sends a fresh sign-in code to `to` (the address `subject` is known by) and answers with the
/// page where it is entered; with `answer`, the right code opens that request's released answer
/// once instead of the subject's page. Five tries, fifteen minutes, as every code.
async fn code_to_sign_in(
    s: &Arc<AppState>,
    cx: &Ctx,
    tenant: &str,
    subject: SubjectId,
    to: String,
    answer: Option<String>,
    now: Timestamp,
) -> Response {
    if s.center.sender.is_none() {
        return cx.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "error_heading",
            "error_unavailable",
        );
    }
    let mut raw = [0u8; 4];
    if getrandom::fill(&mut raw).is_err() {
        return cx.server_error();
    }
    let code = format!("{:06}", u32::from_le_bytes(raw) % 1_000_000);
    let sid = session::random_token();
    let what = cx.w(if answer.is_some() {
        "download_what"
    } else {
        "signin_what"
    });
    s.center.signins.put(
        sid.clone(),
        SignIn {
            tenant: tenant.to_owned(),
            subject,
            code: hex::encode(s.center.signer.sign(&format!("signin|{sid}|{code}"))),
            attempts: 0,
            answer,
        },
        now.as_second() + custos_rights::request::CODE_VALID_SECONDS,
        now,
    );
    if send_code(s, cx, to, code, what).await.is_err() {
        s.center.signins.remove(&sid);
        return cx.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "error_heading",
            "error_unavailable",
        );
    }
    see_other(&format!("/center/{tenant}/signin/{sid}{}", cx.q()))
}

/// A code as entered in a code form, after the client address's budget and the form's token
/// are checked (spaces taken out, at most twelve characters); else the page to answer.
async fn entered_code(
    s: &Arc<AppState>,
    cx: &Ctx,
    code_for: CodeFor<'_>,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    now: Timestamp,
) -> Result<(String, Option<crate::client::ClientAddr>), Response> {
    if let Err(wait) = budget(s, &parts, false) {
        return Err(cx.busy(wait));
    }
    let client = s.client_of(&parts);
    let form: CodeForm = read_form(s, parts, body).await;
    if !s
        .center
        .signer
        .form_ok(&form.csrf, &code_for.purpose(cx), now)
    {
        return Err(code_form(
            s,
            cx,
            code_for,
            StatusCode::FORBIDDEN,
            Some(cx.w("error_expired")),
            false,
        ));
    }
    let code = form
        .code
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(12)
        .collect();
    Ok((code, client))
}

/// A sign-in id as [`session::random_token`] makes them (43 URL-safe characters).
fn plausible_sid(sid: &str) -> bool {
    sid.len() == 43
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn signin_code_page(
    State(s): State<Arc<AppState>>,
    Path((tenant, sid)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(
        &s,
        &q,
        &headers,
        &tenant,
        &format!("/center/{tenant}/signin/{sid}"),
    );
    if !plausible_sid(&sid) || !matches!(tenant_exists(&s, &tenant).await, Ok(true)) {
        return cx.not_found();
    }
    code_form(&s, &cx, CodeFor::SignIn(&sid), StatusCode::OK, None, false)
}

async fn signin_code(
    State(s): State<Arc<AppState>>,
    Path((tenant, sid)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let secure = secure_transport(&parts);
    let cx = Ctx::new(
        &s,
        &q,
        &parts.headers,
        &tenant,
        &format!("/center/{tenant}/signin/{sid}"),
    );
    if !plausible_sid(&sid) || !matches!(tenant_exists(&s, &tenant).await, Ok(true)) {
        return cx.not_found();
    }
    let now = Timestamp::now();
    let (code, client) = match entered_code(&s, &cx, CodeFor::SignIn(&sid), parts, body, now).await
    {
        Ok(entered) => entered,
        Err(page) => return page,
    };
    let given = hex::encode(s.center.signer.sign(&format!("signin|{sid}|{code}")));
    // The same rule as a request's code: five tries, then the code is void.
    let outcome = s.center.signins.update(&sid, now, |si| {
        if si.tenant != tenant || si.attempts >= custos_rights::request::CODE_ATTEMPTS {
            return Err(0);
        }
        if si.code != given {
            si.attempts += 1;
            return Err(custos_rights::request::CODE_ATTEMPTS - si.attempts);
        }
        si.attempts = custos_rights::request::CODE_ATTEMPTS;
        Ok((si.subject.clone(), si.answer.clone()))
    });
    match outcome {
        Some(Ok((subject, answer))) => {
            s.center.signins.remove(&sid);
            let t = TenantId::new(&tenant).expect("checked to exist");
            let sub = subject.clone();
            let pseudonym = crate::work::write(&s, move |_, v| {
                Ok(v.tenant(&t).pseudonym(&sub).as_str().to_owned())
            })
            .await;
            let Ok(pseudonym) = pseudonym else {
                return cx.server_error();
            };
            let to = match &answer {
                Some(id) => format!("/center/{tenant}/requests/{id}/answer{}", cx.q()),
                None => format!("/center/{tenant}/me{}", cx.q()),
            };
            let mut res = see_other(&to);
            let grant = answer.map(|id| (id, now.as_second() + ANSWER_SECONDS));
            open_visit(
                &s,
                &mut res,
                (&tenant, secure),
                pseudonym,
                (Some(subject), grant),
                now,
            );
            res
        }
        Some(Err(left)) if left > 0 => {
            spent(&s, client);
            code_form(
                &s,
                &cx,
                CodeFor::SignIn(&sid),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(word(cx.lang, "code_wrong", &[("n", &left.to_string())])),
                false,
            )
        }
        _ => {
            spent(&s, client);
            code_form(
                &s,
                &cx,
                CodeFor::SignIn(&sid),
                StatusCode::GONE,
                Some(cx.w("code_void")),
                true,
            )
        }
    }
}

/// The hash a withdrawal records for the notice it was made under: the statement as published
/// in the page's language, or in the policy's first language when it is not published in that
/// one.
fn notice_hash(s: &AppState, lang: Lang) -> String {
    use sha2::Digest;
    let first = s
        .loaded
        .policy
        .meta
        .languages
        .first()
        .copied()
        .unwrap_or(lang);
    let statement = s
        .rendered
        .statement(lang, true)
        .or_else(|| s.rendered.statement(first, true))
        .unwrap_or_default();
    hex::encode(sha2::Sha256::digest(statement.as_bytes()))
}

async fn me(
    State(s): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let cx = Ctx::new(&s, &q, &headers, &tenant, &format!("/center/{tenant}/me"));
    let Some(v) = visit(&s, &tenant, &headers) else {
        return cx.message(StatusCode::FORBIDDEN, "me_heading", "signed_out_me");
    };
    let t = TenantId::new(&tenant).expect("a visit's tenant");
    let (pseudonym, subject) = (v.pseudonym.clone(), v.subject.clone());
    let read = crate::work::read(&s, move |s, vault| {
        let mut tv = vault.tenant(&t);
        let requests: Vec<custos_vault::rights::Request> = tv
            .requests(true)?
            .into_iter()
            .filter(|r| r.subject == pseudonym)
            .collect();
        let consents = match &subject {
            Some(sub) => Some(tv.consent_states(&s.loaded.policy, sub, &[])?),
            None => None,
        };
        Ok((requests, consents))
    })
    .await;
    let Ok((requests, consents)) = read else {
        return cx.server_error();
    };
    let lang = cx.lang;
    let requests: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!({
                "href": format!("/center/{tenant}/requests/{}{}", r.request_id, cx.q()),
                "kind": word(lang, &format!("kind_{}", r.kind.as_str()), &[]),
                "state": word(lang, &format!("state_{}", r.state.as_str()), &[]),
                "received_text": date_text(lang, r.received_on),
                "due_text": date_text(lang, r.due_on),
            })
        })
        .collect();
    let session = session::cookie_of(&headers).unwrap_or_default();
    let consents: Option<Vec<serde_json::Value>> = consents.map(|list| {
        list.iter()
            .map(|c| {
                let p = s.loaded.policy.purposes.iter().find(|p| p.id == c.purpose);
                let (state, version, given) = match &c.consent {
                    custos_consent::ledger::ConsentState::Granted { notice_version, .. } => (
                        word(lang, "consent_granted", &[]),
                        notice_version.clone(),
                        true,
                    ),
                    custos_consent::ledger::ConsentState::Withdrawn { .. } => {
                        (word(lang, "consent_withdrawn", &[]), String::new(), false)
                    }
                    _ => (word(lang, "consent_never", &[]), String::new(), false),
                };
                serde_json::json!({
                    "purpose": c.purpose,
                    "name": p.map(|p| p.name.get_or_any(lang).to_owned()).unwrap_or_else(|| c.purpose.clone()),
                    "basis": word(lang, "consent_basis", &[]),
                    "state": state,
                    "version": version,
                    "given": given,
                    "action": format!("/center/{tenant}/consents/{}/withdraw{}", c.purpose, cx.q()),
                    "csrf": s.center.signer.form_token(&format!("withdraw:{tenant}:{}:{}", c.purpose, cancel_key(&session, &v.pseudonym)), Timestamp::now()),
                })
            })
            .collect()
    });
    let gpc = crate::consent::gpc(&headers);
    render(
        StatusCode::OK,
        "me.html",
        &cx.frame,
        serde_json::json!({
            "requests": requests,
            "consents": consents,
            "gpc": gpc,
            "new_request": format!("/center/{tenant}{}#request", cx.q()),
        }),
    )
}

/// Withdraws the session subject's consent to `purpose`: one action, as easy as giving it
/// (Art. 7(3)); the ledger records it with the notice it was made under, and the decision call
/// answers "deny" from then on.
async fn withdraw(
    State(s): State<Arc<AppState>>,
    Path((tenant, purpose)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let cx = Ctx::new(
        &s,
        &q,
        &parts.headers,
        &tenant,
        &format!("/center/{tenant}/me"),
    );
    let headers = parts.headers.clone();
    let form: CodeForm = read_form(&s, parts, body).await;
    let Some(v) = visit(&s, &tenant, &headers) else {
        return cx.message(StatusCode::FORBIDDEN, "me_heading", "signed_out_me");
    };
    let Some(subject) = v.subject.clone() else {
        return cx.message(StatusCode::FORBIDDEN, "me_heading", "signed_out_me");
    };
    let session = session::cookie_of(&headers).unwrap_or_default();
    let now = Timestamp::now();
    if !s.center.signer.form_ok(
        &form.csrf,
        &format!(
            "withdraw:{tenant}:{purpose}:{}",
            cancel_key(&session, &v.pseudonym)
        ),
        now,
    ) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    if !s.loaded.policy.purposes.iter().any(|p| p.id == purpose) {
        return cx.not_found();
    }
    let record = custos_vault::consent::ConsentRecord {
        purpose: purpose.clone(),
        kind: custos_consent::ledger::ConsentKind::Withdraw,
        at: now,
        notice_version: s
            .loaded
            .policy
            .meta
            .version
            .clone()
            .unwrap_or_else(|| "unversioned".into()),
        notice_hash: notice_hash(&s, cx.lang),
        channel: "privacy-center".into(),
        proof:
            "withdrawn in the privacy center after a one-time code sent to the subject's address"
                .into(),
    };
    let t = TenantId::new(&tenant).expect("a visit's tenant");
    let done = crate::work::write(&s, move |s, vault| {
        match vault.tenant(&t).acting_as("privacy-center").record_consent(
            &s.loaded.policy,
            &subject,
            &record,
            now,
        ) {
            Ok(_) => Ok(()),
            // Nothing to withdraw (never given, withdrawn already): the page shows the state.
            Err(VaultError::Consent(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(()) => see_other(&format!("/center/{tenant}/me{}", cx.q())),
        Err(_) => cx.server_error(),
    }
}

/// How the due date was counted, in sentences (Art. 12(3) GDPR, Reg. 1182/71 art. 3).
fn due_how(s: &AppState, lang: Lang, r: &custos_vault::rights::Request) -> Vec<String> {
    let mut out = vec![word(lang, "due_month", &[])];
    if let Some(d) = custos_rights::due_date(r.received_on, r.extended, s.calendar()) {
        if d.nominal.day() != r.received_on.day() {
            out.push(word(lang, "due_short_month", &[]));
        }
        if d.nominal != d.due {
            out.push(word(
                lang,
                "due_rolled",
                &[("date", &date_text(lang, d.nominal))],
            ));
        }
    }
    out
}

fn step_text(lang: Lang, step: &custos_vault::rights::Step) -> String {
    if step.step == "refused" && step.note.get("reason").and_then(|r| r.as_str()) == Some(CANCELLED)
    {
        return word(lang, "cancelled", &[]);
    }
    word(lang, &page::step_key(&step.step), &[])
}

async fn status(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/center/{tenant}/requests/{id}");
    let cx = Ctx::new(&s, &q, &headers, &tenant, &path);
    let Some(id) = request_id(&id) else {
        return cx.not_found();
    };
    if session::cookie_of(&headers).is_none() {
        return cx.message(StatusCode::FORBIDDEN, "status_heading", "signed_out");
    }
    let (pseudonym, r, steps) = match own_request(&s, &tenant, &id, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return cx.not_found(),
        Err(()) => return cx.server_error(),
    };
    let lang = cx.lang;
    // Extended, the vault moved the due date to the extended one.
    let due = r.due_on;
    let state = match r.state {
        RequestState::Refused
            if r.detail.pointer("/refusal/reason").and_then(|x| x.as_str()) == Some(CANCELLED) =>
        {
            word(lang, "cancelled", &[])
        }
        st => word(lang, &format!("state_{}", st.as_str()), &[]),
    };
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap_or(jiff::tz::TimeZone::UTC);
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|st| {
            let local = st.at.to_zoned(tz.clone());
            serde_json::json!({
                "at": st.at.to_string(),
                "at_text": format!("{} {}", date_text(lang, local.date()), local.strftime("%H:%M")),
                "text": step_text(lang, st),
            })
        })
        .collect();
    let session = session::cookie_of(&headers).unwrap_or_default();
    render(
        StatusCode::OK,
        "status.html",
        &cx.frame,
        serde_json::json!({
            "kind": word(lang, &format!("kind_{}", r.kind.as_str()), &[]),
            "state": state,
            "received": r.received_on.to_string(),
            "received_text": date_text(lang, r.received_on),
            "due": due.to_string(),
            "due_text": date_text(lang, due),
            "due_how": due_how(&s, lang, &r),
            "extension_reason": r.detail.get("extension_reason").and_then(|x| x.as_str()),
            "steps": steps,
            "download_action": released(&r).then(|| format!("/center/{tenant}/requests/{id}/download{}", cx.q())),
            "download_csrf": s.center.signer.form_token(&format!("download:{tenant}:{id}:{}", cancel_key(&session, &pseudonym)), Timestamp::now()),
            "cancellable": matches!(r.state, RequestState::Received | RequestState::Verified),
            "cancel_action": format!("/center/{tenant}/requests/{id}/cancel{}", cx.q()),
            "csrf": s.center.signer.form_token(&format!("cancel:{tenant}:{id}:{}", cancel_key(&session, &pseudonym)), Timestamp::now()),
        }),
    )
}

/// Whether the privacy team released the request's answer and it still waits to be downloaded.
fn released(r: &custos_vault::rights::Request) -> bool {
    r.kind.answer().is_some()
        && r.state == RequestState::InProgress
        && r.detail.get("answer_released").is_some()
}

/// The subject asks to download a released answer: a fresh code goes to whoever filed the
/// request (the address the vault keeps sealed for it, never one typed here), and the code page
/// follows; the right code opens the download once (Art. 12(6): the answer goes only to the
/// person it is about).
async fn download(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = format!("/center/{tenant}/requests/{id}");
    let cx = Ctx::new(&s, &q, &parts.headers, &tenant, &path);
    let Some(id) = request_id(&id) else {
        return cx.not_found();
    };
    if let Err(wait) = budget(&s, &parts, true) {
        return cx.busy(wait);
    }
    let headers = parts.headers.clone();
    let form: CodeForm = read_form(&s, parts, body).await;
    let (pseudonym, r, _) = match own_request(&s, &tenant, &id, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return cx.not_found(),
        Err(()) => return cx.server_error(),
    };
    let now = Timestamp::now();
    let session = session::cookie_of(&headers).unwrap_or_default();
    let purpose = format!(
        "download:{tenant}:{id}:{}",
        cancel_key(&session, &pseudonym)
    );
    if !s.center.signer.form_ok(&form.csrf, &purpose, now) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    if !released(&r) {
        return cx.message(StatusCode::CONFLICT, "error_heading", "download_not_ready");
    }
    let (t, i) = (
        TenantId::new(&tenant).expect("a visit's tenant"),
        id.clone(),
    );
    let requester = crate::work::read(&s, move |_, v| {
        v.tenant(&t)
            .requester(&i)
            .map_err(|e| crate::problem::Problem::new(e.code()))
    })
    .await;
    let subject = match requester {
        Ok(Some(subject)) if plausible_email(subject.expose()) => subject,
        // Filed elsewhere, by an identifier that is no address: answered by the privacy team.
        Ok(_) => return cx.message(StatusCode::CONFLICT, "error_heading", "download_elsewhere"),
        Err(_) => return cx.server_error(),
    };
    let to = subject.expose().to_owned();
    code_to_sign_in(&s, &cx, &tenant, subject, to, Some(id), now).await
}

/// The released answer as a download (a zip with data.json, data.csv and the Art. 15 report in
/// the requester's language), once, for the visit a fresh code opened it for; the download
/// completes the request.
async fn answer(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/center/{tenant}/requests/{id}");
    let cx = Ctx::new(&s, &q, &headers, &tenant, &path);
    let Some(id) = request_id(&id) else {
        return cx.not_found();
    };
    let now = Timestamp::now();
    let granted = session::cookie_of(&headers).and_then(|token| {
        s.center
            .visits
            .update(&token, now, |v| {
                let ok = v.tenant == tenant
                    && v.answer
                        .as_ref()
                        .is_some_and(|(i, until)| *i == id && *until >= now.as_second());
                if ok {
                    v.answer = None;
                    v.subject.clone()
                } else {
                    None
                }
            })
            .flatten()
    });
    let Some(subject) = granted else {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "download_again");
    };
    let (t, i) = (
        TenantId::new(&tenant).expect("a visit's tenant"),
        id.clone(),
    );
    let found = crate::work::read(&s, move |_, v| {
        v.tenant(&t)
            .request(&i)
            .map_err(|e| crate::problem::Problem::new(e.code()))
    })
    .await;
    let Ok(r) = found else {
        return cx.not_found();
    };
    let Ok(rid) = custos_vault::RequestId::parse(&id) else {
        return cx.not_found();
    };
    let lang = letters::language_of(&s.loaded.policy, &r);
    let domain = crate::opengdpr::processor_domain(&headers);
    match crate::requests::stream_answer(
        s.clone(),
        TenantId::new(&tenant).expect("a visit's tenant"),
        "privacy-center".into(),
        rid,
        r.kind,
        subject,
        domain,
        lang,
    )
    .await
    {
        Ok(res) => res,
        Err(_) => cx.message(StatusCode::CONFLICT, "error_heading", "download_not_ready"),
    }
}

/// What ties a cancel form to the session that was shown it: a digest of the session token
/// (so the form of one session does not work in another), without the token itself.
fn cancel_key(session: &str, pseudonym: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(session.as_bytes());
    h.update(pseudonym.as_bytes());
    hex::encode(&h.finalize()[..12])
}

async fn cancel(
    State(s): State<Arc<AppState>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = format!("/center/{tenant}/requests/{id}");
    let cx = Ctx::new(&s, &q, &parts.headers, &tenant, &path);
    let Some(id) = request_id(&id) else {
        return cx.not_found();
    };
    let headers = parts.headers.clone();
    let form: CodeForm = read_form(&s, parts, body).await;
    let (pseudonym, r, _) = match own_request(&s, &tenant, &id, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return cx.message(StatusCode::FORBIDDEN, "status_heading", "signed_out"),
        Err(()) => return cx.server_error(),
    };
    let session = session::cookie_of(&headers).unwrap_or_default();
    let now = Timestamp::now();
    if !s.center.signer.form_ok(
        &form.csrf,
        &format!("cancel:{tenant}:{id}:{}", cancel_key(&session, &pseudonym)),
        now,
    ) {
        return cx.message(StatusCode::FORBIDDEN, "error_heading", "error_expired");
    }
    if matches!(r.state, RequestState::Received | RequestState::Verified) {
        let t = TenantId::new(&tenant).expect("a session's tenant");
        let id2 = id.clone();
        let done = crate::work::write(&s, move |s, v| {
            v.tenant(&t).acting_as("privacy-center").refuse_request(
                &s.loaded.policy,
                &id2,
                CANCELLED,
                now,
            )?;
            Ok(())
        })
        .await;
        if done.is_err() {
            return cx.server_error();
        }
    }
    see_other(&format!("/center/{tenant}/requests/{id}{}", cx.q()))
}

/// A sample context for every template, for the unit tests that render each one.
#[cfg(test)]
fn samples() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "home.html",
            serde_json::json!({
                "gpc": true, "statement": "/privacy?lang=nl", "signin": "/s", "version": "2026-01",
                "action": "/center/acme/requests", "csrf": "x",
                "kinds": [{ "id": "access", "label": "Access", "checked": true }],
                "purposes": [{ "id": "newsletter", "name": "Newsletter", "selected": false }],
                "email": "", "errors": [{ "field": "email", "text": "Give an address" }],
            }),
        ),
        (
            "code.html",
            serde_json::json!({ "action": "/v", "csrf": "x", "problem": "wrong", "void": false }),
        ),
        (
            "status.html",
            serde_json::json!({
                "kind": "Access", "state": "Received", "received": "2026-01-31",
                "received_text": "31 January 2026", "due": "2026-03-02", "due_text": "2 March 2026",
                "due_how": ["One month"], "extension_reason": "many requests",
                "steps": [{ "at": "2026-01-31T10:00:00Z", "at_text": "31 January 2026 11:00", "text": "Received" }],
                "cancellable": true, "cancel_action": "/c", "csrf": "x",
                "download_action": null, "download_csrf": "y",
            }),
        ),
        (
            "status.html",
            serde_json::json!({
                "kind": "Access", "state": "Being handled", "received": "2026-01-31",
                "received_text": "31 January 2026", "due": "2026-03-02", "due_text": "2 March 2026",
                "due_how": ["One month"], "extension_reason": null, "steps": [],
                "cancellable": false, "cancel_action": "/c", "csrf": "x",
                "download_action": "/d", "download_csrf": "y",
            }),
        ),
        (
            "message.html",
            serde_json::json!({ "heading": "Oops", "message": "Not found" }),
        ),
        (
            "signin.html",
            serde_json::json!({ "action": "/s", "csrf": "x", "email": "", "problem": "wrong" }),
        ),
        (
            "me.html",
            serde_json::json!({
                "requests": [{ "href": "/r", "kind": "Access", "state": "Done", "received_text": "1 May 2026", "due_text": "1 June 2026" }],
                "consents": [{ "purpose": "newsletter", "name": "Newsletter", "basis": "consent", "state": "given", "version": "3", "given": true, "action": "/w", "csrf": "x" }],
                "gpc": true, "new_request": "/n",
            }),
        ),
        (
            "me.html",
            serde_json::json!({ "requests": [], "consents": null, "gpc": false, "new_request": "/n" }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_addresses_are_taken() {
        for ok in ["ann@example.test", "a.b+c@sub.example.nl"] {
            assert!(plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.nl",
            "ann@example",
            "a b@example.nl",
            "ann@.nl",
            "ann@example.nl.",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
        assert!(!plausible_email(&format!("{}@example.nl", "a".repeat(250))));
    }

    #[test]
    fn the_outbox_writes_each_message_whole_as_an_eml_file() {
        let dir = std::env::temp_dir().join(format!("custos-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let o = Outbox::new(&dir).expect("created");
        o.send_code(
            "ann@example.test",
            "Uw code — privacycentrum",
            "Uw code is 123456.\n",
            "nl",
        )
        .expect("written");
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        let name = files[0].file_name().into_string().unwrap();
        assert!(name.ends_with(".eml"), "{name}");
        let text = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(text.contains("To: ann@example.test\r\n"), "{text}");
        assert!(text.contains("Subject: =?utf-8?b?"), "{text}");
        assert!(text.contains("Content-Language: nl\r\n"), "{text}");
        assert!(text.contains("\r\n\r\nUw code is 123456.\r\n"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn request_ids_in_paths_are_32_hex_digits_or_nothing() {
        assert!(request_id("0123456789abcdef0123456789ABCDEF").is_some());
        assert!(request_id("../../etc/passwd").is_none());
        assert!(request_id("0123").is_none());
    }

    #[test]
    fn the_due_date_is_explained_with_the_articles_that_moved_it() {
        // Received Saturday 31 January 2026: February has no 31st (art. 3(2)(c)), and
        // 28 February 2026 is a Saturday, so it runs to Monday 2 March (art. 3(4)).
        let d = custos_rights::due_date(
            "2026-01-31".parse().unwrap(),
            false,
            &custos_rights::NlCalendar::new(),
        )
        .unwrap();
        assert_eq!(d.due.to_string(), "2026-03-02");
        assert_eq!(date_text(Lang::Nl, d.nominal), "28 februari 2026");
        assert_eq!(date_text(Lang::En, d.due), "2 March 2026");
    }
}
