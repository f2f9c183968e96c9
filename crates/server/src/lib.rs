//! The Custos HTTP server (PRODUCT.md C9): a thin shell that maps routes onto library calls.
//! Every error is an RFC 9457 problem; every request gets an id, a structured log line (method,
//! route template, status, latency; never a path with ids, never personal data) and metrics.

mod announcements;
mod auth;
pub mod backend;
pub mod banner;
mod breach_letters;
pub mod breaches;
pub mod center;
pub mod client;
pub mod config;
mod connections;
mod consent;
pub mod console;
mod data;
mod extract;
mod limits;
pub mod mail;
pub mod metrics;
pub mod notifier;
mod openapi;
mod opengdpr;
pub mod problem;
pub mod purger;
mod recipients;
mod requests;
mod retention;
mod routes;
mod sealing;
pub mod watch;
mod work;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use custos_policy::render::{Format, Options, render, render_with};
use custos_policy::{Lang, Loaded};

pub use backend::{Backend, BackendError};
pub use config::{Config, ConfigError, LogFormat};
use custos_types::ErrorCode;
use problem::Problem;

/// Everything rendered from the policy once, at start: serving it is then a copy.
pub struct Rendered {
    canonical: String,
    statements: HashMap<(Lang, bool), String>,
    ropa_json: String,
    ropa_csv: String,
    dpv: String,
}

impl Rendered {
    /// The statement in `lang`, or `None` when the policy is not written in it. The HTML is the
    /// page `/privacy` serves, with links to the policy's other languages.
    fn statement(&self, lang: Lang, html: bool) -> Option<&str> {
        self.statements.get(&(lang, html)).map(String::as_str)
    }
}

/// A finding of `custos check` of severity error that the configuration accepts, as logged at
/// start and listed by `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AcceptedFindingView {
    /// The finding's code, e.g. `C105`.
    pub code: String,
    /// Where in the policy: `file:line:column`.
    pub at: String,
    /// What the checker says.
    pub message: String,
    /// Why the configuration accepts it.
    pub reason: String,
}

/// The policy's findings of severity error, split into those the configuration accepts (with
/// their reasons) and those it does not: `custos serve` refuses to start on any of the latter.
#[derive(Debug, Default)]
pub struct PolicyGate {
    /// Accepted, with the reason.
    pub accepted: Vec<AcceptedFindingView>,
    /// Not accepted: the server must not run this policy.
    pub refused: Vec<custos_policy::Diagnostic>,
}

/// Checks the policy as `custos check` does and holds its findings of severity error against
/// the configuration's `[[accept_finding]]` entries (a code, and optionally a line).
pub fn policy_gate(accepted: &[config::AcceptedFinding], loaded: &Loaded) -> PolicyGate {
    let mut gate = PolicyGate::default();
    for d in custos_policy::check::check(loaded) {
        if d.severity != custos_policy::Severity::Error {
            continue;
        }
        let at = d.span.as_ref().map(|s| loaded.source.line_col(s.start));
        let rule = accepted.iter().find(|a| {
            a.code.eq_ignore_ascii_case(d.code)
                && a.line.is_none_or(|l| at.is_some_and(|at| at.line == l))
        });
        match rule {
            Some(a) => gate.accepted.push(AcceptedFindingView {
                code: d.code.to_owned(),
                at: match at {
                    Some(lc) => format!("{}:{}:{}", loaded.source.name(), lc.line, lc.column),
                    None => loaded.source.name().to_owned(),
                },
                message: d.message.clone(),
                reason: a.reason.clone(),
            }),
            None => gate.refused.push(d),
        }
    }
    gate
}

/// Shared state of a running server.
pub struct AppState {
    loaded: Loaded,
    /// The policy's findings of severity error the configuration accepts (for `/readyz`).
    accepted_findings: Vec<AcceptedFindingView>,
    rendered: Rendered,
    metrics: metrics::Metrics,
    ready: AtomicBool,
    backend: Option<Backend>,
    limiter: limits::RateLimiter,
    /// Tokens taken from the keys' shared buckets (PostgreSQL) and not spent yet.
    leases: limits::Leases,
    /// Failed authentications per client address.
    failed_auth: limits::FailedAuthLimiter,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    trusted_proxies: Vec<client::Cidr>,
    /// Keys checked in the last few seconds.
    auth_cache: limits::AuthCache,
    /// Reads waiting to be written to the audit trail in one batch.
    reads: std::sync::Mutex<Vec<custos_audit::Event>>,
    /// The public holidays that request deadlines skip (Dutch, with the days equated by decree
    /// from configuration).
    calendar: custos_rights::NlCalendar,
    /// Where signed audit checkpoints are copied outside the database (`audit_checkpoint_file`).
    checkpoint_file: Option<sealing::Publisher>,
    /// The privacy center's keys, limits and mail.
    center: center::Center,
    /// The console's queue counts per tenant and filter, reused while nothing changed.
    queue_counts: console::QueueCounts,
    /// How the breach register counts deadlines and proposes (`[breaches]`).
    breach_settings: custos_vault::breaches::RegisterSettings,
    /// The console's sign-in key and limits.
    console: console::Console,
    /// The announcements of policy changes, held in memory for the recipient check and feeds.
    announcements: announcements::Announcements,
}

impl Drop for AppState {
    /// The backend's PostgreSQL clients close themselves by running a small runtime of their
    /// own, which panics (aborting the process) on an async runtime's thread, where the last
    /// owner of the state (the router, a background task) may drop it at shutdown. So the
    /// backend is dropped on a thread of its own.
    fn drop(&mut self) {
        if let Some(backend) = self.backend.take() {
            let _ = std::thread::Builder::new()
                .name("custos-backend-close".into())
                .spawn(move || drop(backend))
                .map(|h| h.join());
        }
    }
}

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The policy cannot be rendered (a bug in a template or catalogue).
    #[error("rendering the policy: {0}")]
    Render(#[from] custos_policy::render::RenderError),
    /// The listen address cannot be bound or the server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The Art. 30 record could not be written as CSV.
    #[error("record of processing activities: {0}")]
    Csv(String),
    /// The digest's configuration cannot be used (the message names the field).
    #[error("{0}")]
    Digest(String),
    /// The mail server's configuration cannot be used (`[smtp]`).
    #[error("{0}")]
    Mail(String),
    /// A tenant's `[[brand]]` cannot be used (the message names the tenant and the field).
    #[error("[[brand]] of tenant {0}: {1}")]
    Brand(String, String),
}

impl AppState {
    /// State for `loaded`, with every statement pre-rendered.
    pub fn new(loaded: Loaded) -> Result<AppState, ServerError> {
        let p = &loaded.policy;
        let mut statements = HashMap::new();
        // Only the policy's own languages: a statement in another would be Custos's headings
        // over the policy's texts in a language the reader did not ask for.
        let page = Options {
            language_links: true,
        };
        for &lang in &p.meta.languages {
            statements.insert((lang, true), render_with(p, lang, Format::Html, &page)?);
            statements.insert((lang, false), render(p, lang, Format::Markdown)?);
        }
        let lang = p.meta.languages.first().copied().unwrap_or(Lang::En);
        let record = custos_policy::ropa::record(p, lang)?;
        let rendered = Rendered {
            canonical: render(p, lang, Format::Json)?,
            statements,
            ropa_json: serde_json::to_string_pretty(&record)
                .map_err(|e| ServerError::Csv(e.to_string()))?,
            ropa_csv: record
                .to_csv()
                .map_err(|e| ServerError::Csv(e.to_string()))?,
            dpv: serde_json::to_string_pretty(&custos_policy::dpv::export(p))
                .map_err(|e| ServerError::Csv(e.to_string()))?,
        };
        Ok(AppState {
            loaded,
            accepted_findings: Vec::new(),
            rendered,
            metrics: metrics::Metrics::default(),
            ready: AtomicBool::new(false),
            backend: None,
            limiter: limits::RateLimiter::new(0),
            leases: limits::Leases::default(),
            failed_auth: limits::FailedAuthLimiter::new(0),
            trusted_proxies: Vec::new(),
            reads: std::sync::Mutex::new(Vec::new()),
            auth_cache: limits::AuthCache::new(std::time::Duration::from_secs(5)),
            calendar: custos_rights::NlCalendar::new(),
            checkpoint_file: None,
            center: center::Center::default(),
            queue_counts: console::QueueCounts::default(),
            breach_settings: custos_vault::breaches::RegisterSettings::default(),
            console: console::Console::default(),
            announcements: announcements::Announcements::default(),
        })
    }

    /// With the days equated to public holidays by decree (Algemene termijnenwet art. 3(3)),
    /// which request deadlines skip besides the statutory ones.
    pub fn with_equated_holidays(
        mut self,
        days: impl IntoIterator<Item = jiff::civil::Date>,
    ) -> AppState {
        self.calendar = custos_rights::NlCalendar::with_equated(days);
        self
    }

    /// The calendar request deadlines are counted with.
    pub(crate) fn calendar(&self) -> &custos_rights::NlCalendar {
        &self.calendar
    }

    /// The request as the library takes it, with the deadlines counted (Reg. 1182/71, the Dutch
    /// calendar with the configured days equated by decree); shared by the API and OpenGDPR.
    pub(crate) fn new_request(
        &self,
        kind: custos_vault::rights::RequestKind,
        subject: custos_vault::SubjectId,
        purpose: Option<String>,
        received_at: jiff::Timestamp,
        channel: String,
    ) -> Result<custos_vault::rights::NewRequest, Problem> {
        custos_vault::rights::NewRequest::counted(
            kind,
            subject,
            purpose,
            received_at,
            channel,
            self.calendar(),
        )
        .ok_or_else(|| {
            Problem::new(custos_types::ErrorCode::Unprocessable).field(
                "/received_at",
                "the due date falls outside the calendar's range",
            )
        })
    }

    /// With the breach register's settings (`[breaches]`).
    pub fn with_breach_settings(
        mut self,
        settings: custos_vault::breaches::RegisterSettings,
    ) -> AppState {
        self.breach_settings = settings;
        self
    }

    /// With where the privacy center's verification codes go (the `[smtp]` mailer); without
    /// one the center files no request, since it could verify nobody.
    pub fn with_code_sender(mut self, sender: Arc<dyn center::CodeSender>) -> AppState {
        self.center.sender = Some(sender);
        self
    }

    /// With the policy's findings the configuration accepts, listed by `/readyz`.
    pub fn with_accepted_findings(mut self, accepted: Vec<AcceptedFindingView>) -> AppState {
        self.accepted_findings = accepted;
        self
    }

    /// With a rate limit per API key (0: none).
    pub fn with_rate_limit(mut self, per_second: u32) -> AppState {
        self.limiter = limits::RateLimiter::new(per_second);
        self
    }

    /// With the reverse proxies to believe and the failed authentications allowed per client
    /// and minute (0: no limit).
    pub fn with_client_limits(
        mut self,
        trusted_proxies: Vec<client::Cidr>,
        failed_auth_per_minute: u32,
    ) -> AppState {
        self.trusted_proxies = trusted_proxies;
        self.failed_auth = limits::FailedAuthLimiter::new(failed_auth_per_minute);
        self
    }

    /// The client address of a request (see `client.rs`); `None` when it did not come through
    /// the server's own connection loop (a router driven directly).
    pub(crate) fn client_of(
        &self,
        parts: &axum::http::request::Parts,
    ) -> Option<client::ClientAddr> {
        let peer = parts.extensions.get::<client::Peer>()?;
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Some(client::ClientAddr(client::client_address(
            peer.0,
            forwarded,
            &self.trusted_proxies,
        )))
    }

    /// With the vault and access store behind the data routes.
    pub fn with_backend(mut self, backend: Backend) -> AppState {
        self.backend = Some(backend);
        self
    }

    /// Notes that `actor` read data of `subject` (a pseudonym); written to the audit trail in
    /// batches (see [`AppState::flush_reads`]).
    pub(crate) fn note_read(
        &self,
        tenant: &str,
        actor: &str,
        subject: &str,
        details: serde_json::Value,
    ) {
        let ev = custos_audit::Event {
            tenant: tenant.to_owned(),
            actor: actor.to_owned(),
            action: "records.read".to_owned(),
            subject: Some(subject.to_owned()),
            details,
        };
        self.reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ev);
    }

    /// Writes the noted reads to the audit trail in one transaction. Blocking.
    pub(crate) fn flush_reads(&self) {
        let batch = std::mem::take(&mut *self.reads.lock().unwrap_or_else(|p| p.into_inner()));
        let Ok(b) = self.backend() else { return };
        // Small transactions keep memory flat under load.
        for (i, chunk) in batch.chunks(2000).enumerate() {
            if let Err(e) = b.vault().append_audit(chunk, jiff::Timestamp::now()) {
                tracing::error!(error = %e, entries = batch.len() - i * 2000, "writing read accesses to the audit trail failed");
                // Keep the rest for the next attempt rather than lose the record of access.
                self.reads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&batch[i * 2000..]);
                return;
            }
        }
    }

    /// Whether the server runs with a database.
    /// Copies every signed audit checkpoint to `path` (one JSON line each), outside the database.
    pub fn with_checkpoint_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.checkpoint_file = path.map(sealing::Publisher::new);
        self
    }

    pub(crate) fn has_backend(&self) -> bool {
        self.backend.is_some()
    }

    /// The storage backend, or 503 when the server runs without one.
    pub(crate) fn backend(&self) -> Result<&Backend, Problem> {
        self.backend.as_ref().ok_or_else(|| {
            Problem::new(ErrorCode::Unavailable).detail("this server runs without a database")
        })
    }
}

/// The router and its OpenAPI document (served at `/openapi.json`). A request body larger than
/// `max_body_bytes` is refused (413, before it is read when its length is declared); one that has
/// not arrived `body_timeout` after the headers is answered 408.
pub fn app(
    state: Arc<AppState>,
    max_body_bytes: usize,
    body_timeout: std::time::Duration,
) -> (axum::Router, serde_json::Value) {
    let (router, mut api) = routes::router().split_for_parts();
    api.info.title = "Custos".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    // Our own licence and contact: left unset, utoipa fills in those of its own crate.
    api.info.license = Some(
        utoipa::openapi::info::LicenseBuilder::new()
            .name(env!("CARGO_PKG_LICENSE"))
            .identifier(Some(env!("CARGO_PKG_LICENSE")))
            .build(),
    );
    api.info.contact = Some(
        utoipa::openapi::info::ContactBuilder::new()
            .name(Some("Custos maintainers"))
            .build(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        utoipa::openapi::security::SecurityScheme::Http(utoipa::openapi::security::Http::new(
            utoipa::openapi::security::HttpAuthScheme::Bearer,
        )),
    );
    api.info.description = Some("Privacy engine: the policy, the vault, rights and consent over HTTP. Errors are RFC 9457 problem documents.".into());
    let doc = openapi::complete(&api);
    let served = doc.clone();
    let router = router
        .merge(center::router())
        .merge(banner::router())
        .merge(console::router())
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(served) }),
        )
        .route(
            "/v1/subjects/{subject}",
            axum::routing::any(data::moved_subject_route),
        )
        .route(
            "/v1/subjects/{subject}/records",
            axum::routing::any(data::moved_subject_route),
        )
        .fallback(|| async {
            Problem::new(ErrorCode::NotFound).detail("no such route; see /openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            Problem::new(ErrorCode::MethodNotAllowed)
                .detail("see /openapi.json for the methods of this route")
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            connections::BodyLimits {
                max_bytes: max_body_bytes,
                timeout: body_timeout,
            },
            connections::bound_body,
        ))
        .layer(axum::middleware::from_fn(strict_transport))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    (router, doc)
}

/// HSTS on every answer to a request that reached the TLS proxy over HTTPS (it says so in
/// `X-Forwarded-Proto` or `Forwarded: proto=https`): browsers then refuse plain HTTP to this host
/// for two years (RFC 6797). Never over plain HTTP, where a browser ignores it anyway, so the
/// demo on `http://127.0.0.1` is not pinned to TLS.
async fn strict_transport(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let over_tls = behind_tls(req.headers());
    let mut res = next.run(req).await;
    if over_tls {
        res.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=63072000"),
        );
    }
    res
}

/// Whether the proxy says the client's connection was HTTPS.
fn behind_tls(headers: &axum::http::HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split([';', ','])
                .any(|kv| kv.trim().eq_ignore_ascii_case("proto=https"))
        });
    proto || forwarded
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn request_id(req: &Request) -> String {
    let given = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_owned()
        }
        _ => {
            let mut bytes = [0u8; 12];
            // A request id needs uniqueness, not secrecy; a zeroed id on failure is still logged.
            let _ = getrandom::fill(&mut bytes);
            hex::encode(bytes)
        }
    }
}

/// Request id, structured log line and metrics for every request.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let start = Instant::now();
    let mut res = next.run(req).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    state.metrics.observe(&method, &route, status, elapsed);
    tracing::info!(request_id = %id, method = %method, route = %route, status, latency_us = elapsed.as_micros() as u64, "request");
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_problem(&res) {
        return Problem::new(ErrorCode::BodyTooLarge)
            .detail("the body exceeds the server's limit")
            .into_response();
    }
    res
}

fn is_problem(res: &Response) -> bool {
    res.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// Installs the global log subscriber (JSON or text lines on stderr).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Binds `config.listen` and serves until `shutdown` resolves; in-flight requests finish first.
/// `on_listening` receives the bound address (useful with port 0).
pub async fn serve(
    config: &Config,
    loaded: Loaded,
    backend: Option<Backend>,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let accepted = policy_gate(&config.accepted_findings, &loaded).accepted;
    for a in &accepted {
        tracing::warn!(code = %a.code, at = %a.at, reason = %a.reason, finding = %a.message, "running a policy with a finding of severity error that the configuration accepts");
    }
    let mut state = AppState::new(loaded)?
        .with_accepted_findings(accepted)
        .with_rate_limit(config.rate_limit_per_second)
        .with_client_limits(
            config.trusted_proxies.clone(),
            config.failed_auth_per_minute,
        )
        .with_equated_holidays(config.equated_holidays.iter().copied())
        .with_checkpoint_file(config.audit_checkpoint_file.clone());
    if let Some(b) = backend {
        state = state.with_backend(b);
    }
    let digest = match &config.digest {
        Some(c) if state.has_backend() => Some(Arc::new(
            watch::DigestSender::new(c).map_err(ServerError::Digest)?,
        )),
        _ => None,
    };
    let mut brands = std::collections::HashMap::new();
    for b in &config.brands {
        let brand = b
            .load()
            .map_err(|e| ServerError::Brand(b.tenant.clone(), e))?;
        brands.insert(b.tenant.clone(), brand);
    }
    state.center.brands = brands;
    let breach_settings = config.breaches.settings(&state.loaded.policy);
    state = state.with_breach_settings(breach_settings);
    match (&config.smtp, &config.mail_outbox) {
        (Some(smtp), _) => {
            let mailer = mail::Mailer::new(smtp).map_err(|e| ServerError::Mail(e.to_string()))?;
            state = state.with_code_sender(Arc::new(mailer));
        }
        (None, Some(dir)) => {
            let outbox = center::Outbox::new(dir).map_err(ServerError::Mail)?;
            state = state.with_code_sender(Arc::new(outbox));
        }
        (None, None) => {}
    }
    let state = Arc::new(state);
    // The policy this server runs with is a published version: recorded once, so the console
    // can show which statement was published when and compare it with the versions before.
    if state.has_backend() {
        let recorded = work::write(&state, |s, v| {
            v.record_policy_version(
                s.loaded.policy.meta.version.as_deref(),
                s.loaded.source.text(),
                jiff::Timestamp::now(),
            )?;
            Ok(())
        })
        .await;
        if let Err(e) = recorded {
            tracing::warn!(code = e.code, "the policy version could not be recorded");
        }
    }
    // A change from the version before that must be announced is, once; its e-mail on a timer.
    let announcer = announcements::start(&state, config).await;
    let (router, _) = app(state.clone(), config.max_body_bytes, config.body_timeout);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    state.ready.store(true, Ordering::Release);
    tracing::info!(%addr, "listening");
    // Read accesses go to the audit trail in batches, every `audit_flush_millis`.
    let mut flusher = None;
    if state.has_backend() {
        let st = state.clone();
        let every = std::time::Duration::from_millis(config.audit_flush_millis.max(10));
        flusher = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let s2 = st.clone();
                let _ = tokio::task::spawn_blocking(move || s2.flush_reads()).await;
            }
        }));
    }
    // A signed checkpoint at the head every `audit_checkpoint_seconds`, copied to the checkpoint
    // file with every other checkpoint.
    let mut checkpointer = None;
    let seal_every = (config.audit_checkpoint_seconds > 0)
        .then(|| std::time::Duration::from_secs(config.audit_checkpoint_seconds));
    if state.has_backend() && (seal_every.is_some() || config.audit_checkpoint_file.is_some()) {
        checkpointer = Some(sealing::spawn(state.clone(), seal_every));
    }
    // The retention purge on its own timer; the first run one interval after start.
    let stop_purging = Arc::new(AtomicBool::new(false));
    let mut purger = None;
    if let (true, Some(every)) = (state.has_backend(), config.purge_interval) {
        let (st, stop) = (state.clone(), stop_purging.clone());
        purger = Some(tokio::spawn(work::periodic(every, move || {
            purger::tick(&st, &stop)
        })));
    }
    // Recipients' webhooks (Art. 19) on their own timer, from one interval after start.
    let mut notifier = None;
    if let (true, Some(every)) = (state.has_backend(), config.notify_interval) {
        let st = state.clone();
        let stop = stop_purging.clone();
        let settings = notifier::Settings {
            timeout: config.notify_timeout,
            backoff: config.notify_backoff,
            budget: every.max(std::time::Duration::from_secs(10)),
        };
        notifier = Some(tokio::spawn(work::periodic(every, move || {
            notifier::tick(&st, &settings, &stop)
        })));
    }
    // What needs attention, for the metrics and the daily digest: at start, then on a timer.
    let mut watcher = None;
    if state.has_backend() {
        watcher = Some(tokio::spawn(watch::run(
            state.clone(),
            digest,
            config.watch_interval,
        )));
    }
    on_listening(addr);
    let st = state.clone();
    let limits = connections::Limits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
    };
    connections::serve(listener, router, limits, async move {
        shutdown.await;
        st.ready.store(false, Ordering::Release);
        tracing::info!("shutting down: finishing in-flight requests");
    })
    .await;
    // A purge or a notifier run in flight stops after its current round; the runtime waits for
    // that round.
    stop_purging.store(true, Ordering::Release);
    for task in [purger, notifier, checkpointer, flusher, watcher, announcer]
        .into_iter()
        .flatten()
    {
        task.abort();
        let _ = task.await;
    }
    // The last reads, then a checkpoint sealing the head (so after a clean stop no entry is left
    // unsealed), then the PostgreSQL driver, off the async threads.
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        st.flush_reads();
        sealing::seal(&st, true, "shutdown");
    })
    .await;
    // The PostgreSQL driver may not be dropped on an async thread (it runs its own runtime).
    let _ = tokio::task::spawn_blocking(move || drop(state)).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
