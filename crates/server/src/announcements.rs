//! Announcements of new sub-processors and material policy changes over HTTP (PRODUCT.md C7;
//! issue 21). The library is `custos_vault::announcements`; this module is its shell:
//!
//! - at start, after the policy version is recorded, the change from the version before is
//!   announced once (idempotent by the pair of fingerprints) and queued for every tenant;
//! - a timer (the notifier's interval) e-mails the queued announcements to each tenant's contacts
//!   through the server's mailer (or the demo outbox), retrying on the webhook backoff and
//!   recording each attempt; the webhook events go through the notifier like every other event;
//! - the feeds `GET /announcements.atom` and `GET /announcements.json` are public (they hold what
//!   the published statement holds) and rendered from memory;
//! - `GET /v1/announcements`, `PUT /v1/announcements/contacts`,
//!   `POST|DELETE /v1/announcements/{announcement_id}/objections` are per tenant;
//! - the [`Board`] lives in memory ([`Published`]), loaded at start and after every change of an
//!   objection or a contract notice, and on the timer, so the decision call's recipient check
//!   ([`recipient_reason`]) and the disclosure check ([`refuse_disclosure`]) make no query.
//!
//! Logs carry counts and announcement ids only: never an address, a reason or a body.

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_consent::decision::{Decision, Effect, Reason};
use custos_types::ErrorCode;
use custos_vault::TenantId;
use custos_vault::announcements::{
    Announcement, AnnouncementError, Board, MailRecorded, Refusal, TenantAnnouncement,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::data::now;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::work::{as_caller, blocking, write};

/// Who the audit trail names for the server's own announcement work.
const ACTOR: &str = "custos:announcements";

/// E-mails claimed per tenant and round.
const MAIL_BATCH: u32 = 16;

/// The routes, for `routes::router`.
pub(crate) fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(atom_feed))
        .routes(routes!(json_feed))
        .routes(routes!(list))
        .routes(routes!(set_contacts))
        .routes(routes!(object, withdraw))
}

/// What the server holds in memory: the board and the feeds rendered from it.
#[derive(Default)]
pub(crate) struct Published {
    board: Board,
    atom: String,
    json: String,
}

/// The in-memory copy, swapped whole on refresh: a decision takes a read lock and an `Arc`.
#[derive(Default)]
pub(crate) struct Announcements(RwLock<Arc<Published>>);

impl Announcements {
    fn current(&self) -> Arc<Published> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, p: Published) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(p);
    }
}

fn published(s: &AppState, board: Board) -> Published {
    let feed = Feed::new(s);
    Published {
        atom: feed.atom(&board.announcements),
        json: feed.json(&board.announcements),
        board,
    }
}

/// Reloads the board from the vault. Blocking.
fn refresh(s: &AppState) -> Result<(), Problem> {
    let board = s
        .backend()?
        .vault_for_write()
        .announcement_board()
        .map_err(problem)?;
    s.announcements.set(published(s, board));
    Ok(())
}

/// At start: announces the change from the previous published version (if one must be), loads
/// the board, and returns the timer that sends e-mail and refreshes the board (with a
/// database; `None` without).
pub(crate) async fn start(
    state: &Arc<AppState>,
    config: &crate::Config,
) -> Option<tokio::task::JoinHandle<()>> {
    if !state.has_backend() {
        let st = state.clone();
        st.announcements.set(published(&st, Board::default()));
        return None;
    }
    let announced = write(state, |s, v| {
        let a = v
            .announce_published(&s.loaded.policy, s.loaded.source.text(), now())
            .map_err(problem)?;
        Ok(a.map(|a| a.announcement_id))
    })
    .await;
    match announced {
        Ok(Some(id)) => tracing::info!(announcement_id = %id, "the published policy is announced"),
        Ok(None) => {}
        Err(e) => tracing::warn!(code = e.code, "the policy change could not be announced"),
    }
    let st = state.clone();
    if let Err(e) = blocking(move || refresh(&st)).await {
        tracing::warn!(code = e.code, "the announcements could not be loaded");
    }
    let every = config
        .notify_interval
        .unwrap_or(std::time::Duration::from_secs(60));
    let backoff = config.notify_backoff;
    let st = state.clone();
    Some(tokio::spawn(crate::work::periodic(every, move || {
        tick(&st, &backoff)
    })))
}

/// One run of the timer: e-mails due announcements of every tenant, reloads the board, then
/// sends the breach letters and reminders ([`crate::breach_letters::tick`]).
/// Blocking.
pub(crate) fn tick(s: &AppState, backoff: &custos_rights::webhook::Backoff) {
    let (mut sent, mut failed) = (0u64, 0u64);
    if let Err(e) = send_mail(s, backoff, &mut sent, &mut failed) {
        tracing::warn!(code = e.code, "announcement e-mail could not be sent");
    }
    if sent + failed > 0 {
        tracing::info!(sent, failed, "announcement e-mail");
    }
    if let Err(e) = refresh(s) {
        tracing::warn!(code = e.code, "the announcements could not be reloaded");
    }
    // The same timer sends the breach letters and gives the breach deadline reminders.
    crate::breach_letters::tick(s, backoff);
}

fn send_mail(
    s: &AppState,
    backoff: &custos_rights::webhook::Backoff,
    sent: &mut u64,
    failed: &mut u64,
) -> Result<(), Problem> {
    // Without a mailer nothing is attempted: the e-mails stay pending, never dropped.
    let Some(sender) = s.center.sender.clone() else {
        return Ok(());
    };
    let backend = s.backend()?;
    let lang = match s.loaded.policy.meta.languages.first() {
        Some(custos_policy::Lang::Nl) => "nl",
        _ => "en",
    };
    let url = s.loaded.policy.meta.url.clone();
    let tenants = backend.vault().tenant_ids().map_err(Problem::from)?;
    for tenant in tenants {
        let Ok(tenant) = TenantId::new(&tenant) else {
            continue;
        };
        let lease = jiff::SignedDuration::from_secs(300);
        let due = backend
            .vault_for_write()
            .tenant(&tenant)
            .acting_as(ACTOR)
            .claim_announcement_mail(Timestamp::now(), MAIL_BATCH, lease)
            .map_err(problem)?;
        for mail in due {
            let (subject, body) = custos_vault::announcements::mail_text(
                &mail.announcement,
                mail.effective_for_tenant,
                url.as_deref(),
            );
            let outcome = sender.send_code(&mail.to, &subject, &body, lang);
            let now = Timestamp::now();
            let outcome = outcome.map_err(|why| {
                let retry_at = backoff
                    .next_delay(mail.attempt, 0.5)
                    .map(|d| now.checked_add(d).unwrap_or(Timestamp::MAX));
                (retry_at, why)
            });
            let ok = outcome.is_ok();
            let recorded = backend
                .vault_for_write()
                .tenant(&tenant)
                .acting_as(ACTOR)
                .record_announcement_mail(&mail, outcome, now)
                .map_err(problem)?;
            if ok {
                *sent += 1;
            } else {
                *failed += 1;
                if recorded == MailRecorded::Dead {
                    tracing::warn!(tenant = %tenant, announcement_id = %mail.announcement.announcement_id, attempts = mail.attempt, "an announcement e-mail is dead after its last attempt");
                }
            }
        }
    }
    Ok(())
}

/// An announcement error as a problem: the vault's own errors as everywhere, ours with their
/// code and message (which never hold an address or a reason's text).
fn problem(e: AnnouncementError) -> Problem {
    match e {
        AnnouncementError::Vault(v) => Problem::from(&v),
        AnnouncementError::InvalidContacts(why) => {
            let (field, reason) = match why.split_once(' ') {
                Some((f, r)) if f.starts_with("/addresses/") => (f.to_owned(), r.to_owned()),
                _ => ("/addresses".to_owned(), why),
            };
            Problem::new(ErrorCode::InvalidContacts).field(field, reason)
        }
        AnnouncementError::InvalidReason(why) => {
            Problem::new(ErrorCode::ReasonRequired).field("/reason", why)
        }
        AnnouncementError::InvalidNotice(why) => {
            Problem::new(ErrorCode::Unprocessable).field("/contract_notice", why)
        }
        other => Problem::new(other.code()).detail(other.to_string()),
    }
}

// ---- the recipient check --------------------------------------------------------------------

/// The decision call's reason about disclosing to `recipient` for `tenant` at `now`: denied when
/// the policy does not declare it, when it was announced as new and its notice has not run, or
/// when the tenant objected to that announcement; else allowed, naming the statement.
pub(crate) fn recipient_reason(
    s: &AppState,
    tenant: &str,
    recipient: &str,
    now: Timestamp,
) -> Reason {
    if s.loaded.policy.recipient(recipient).is_none() {
        return Reason {
            rule: "recipient.undefined",
            effect: Effect::Deny,
            article: "Art. 13(1)(e), 14(1)(e) GDPR",
            detail: format!(
                "recipient {} is not in the published statement",
                custos_policy::diag::shown(recipient)
            )
            .into(),
        };
    }
    match s
        .announcements
        .current()
        .board
        .recipient_refusal(tenant, recipient, now)
    {
        Some(r) => Reason {
            rule: r.rule(),
            effect: Effect::Deny,
            article: r.article(),
            detail: r.detail().into(),
        },
        None => Reason {
            rule: "recipient",
            effect: Effect::Allow,
            article: "Art. 13(1)(e), 28(2) GDPR",
            detail: format!("recipient `{recipient}` is in the published statement and in effect")
                .into(),
        },
    }
}

/// Adds the recipient's reason to a decision: denials first, and a denial denies.
pub(crate) fn with_recipient(mut d: Decision, reason: Reason) -> Decision {
    if reason.effect == Effect::Deny {
        d.allowed = false;
    }
    d.reasons.push(reason);
    d.reasons.sort_by_key(|r| r.effect == Effect::Allow);
    d
}

/// Refuses recording a disclosure to `recipient` at `at` that the announcements forbid (see
/// [`Board::recipient_refusal`]): 409 `recipient-in-notice` or `recipient-objected`.
pub(crate) fn refuse_disclosure(
    s: &AppState,
    tenant: &str,
    recipient: &str,
    at: Timestamp,
) -> Result<(), Problem> {
    match s
        .announcements
        .current()
        .board
        .recipient_refusal(tenant, recipient, at)
    {
        None => Ok(()),
        Some(r) => {
            let code = match r {
                Refusal::InNotice { .. } => ErrorCode::RecipientInNotice,
                Refusal::Objected { .. } => ErrorCode::RecipientObjected,
            };
            Err(Problem::new(code).field("/recipient", r.detail()))
        }
    }
}

// ---- feeds ------------------------------------------------------------------------------------

/// What the feeds say about the publisher.
struct Feed {
    title: String,
    base: String,
    updated: Option<Timestamp>,
}

impl Feed {
    fn new(s: &AppState) -> Feed {
        let m = &s.loaded.policy.meta;
        let lang = m
            .languages
            .first()
            .copied()
            .unwrap_or(custos_policy::Lang::En);
        let title = m
            .title
            .as_ref()
            .and_then(|t| t.get(lang))
            .map(str::to_owned)
            .unwrap_or_else(|| "Privacy statement".into());
        Feed {
            title: format!("{title}: announcements"),
            base: m.url.clone().unwrap_or_default(),
            updated: None,
        }
    }

    fn entry_id(a: &Announcement) -> String {
        format!("urn:custos:announcement:{}", a.announcement_id)
    }

    /// Atom 1.0 (RFC 4287), newest first.
    fn atom(&self, list: &[Announcement]) -> String {
        let updated = list
            .first()
            .map(|a| a.published_at)
            .or(self.updated)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
        out.push_str(&format!("  <title>{}</title>\n", xml(&self.title)));
        out.push_str("  <id>urn:custos:announcements</id>\n");
        out.push_str("  <link rel=\"self\" href=\"/announcements.atom\"/>\n");
        if !self.base.is_empty() {
            out.push_str(&format!(
                "  <link rel=\"related\" href=\"{}\"/>\n",
                xml(&self.base)
            ));
        }
        out.push_str(&format!("  <updated>{updated}</updated>\n"));
        out.push_str("  <author><name>Custos</name></author>\n");
        for a in list {
            out.push_str("  <entry>\n");
            out.push_str(&format!("    <id>{}</id>\n", Self::entry_id(a)));
            out.push_str(&format!("    <title>{}</title>\n", xml(&a.title())));
            out.push_str(&format!("    <published>{}</published>\n", a.published_at));
            out.push_str(&format!("    <updated>{}</updated>\n", a.published_at));
            let mut text = format!("Takes effect: {}.\n", a.effective_at);
            if let Some(n) = &a.notice {
                text.push_str(&format!("Notice period: {n}.\n"));
            }
            if a.acceptance_at_next_login {
                text.push_str("Customers accept the new version at their next login.\n");
            }
            for c in &a.changes {
                text.push_str(&format!("- [{}] {}\n", c.kind, c.what));
            }
            out.push_str(&format!(
                "    <content type=\"text\">{}</content>\n",
                xml(&text)
            ));
            out.push_str("  </entry>\n");
        }
        out.push_str("</feed>\n");
        out
    }

    /// JSON Feed 1.1, newest first, each item with Custos's own `_custos` extension.
    fn json(&self, list: &[Announcement]) -> String {
        let items: Vec<serde_json::Value> = list
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": Self::entry_id(a),
                    "title": a.title(),
                    "content_text": a.changes.iter().map(|c| format!("[{}] {}", c.kind, c.what)).collect::<Vec<_>>().join("\n"),
                    "date_published": a.published_at.to_string(),
                    "_custos": {
                        "announcement_id": a.announcement_id,
                        "old_version": a.old_version,
                        "new_version": a.new_version,
                        "published_at": a.published_at.to_string(),
                        "effective_at": a.effective_at.to_string(),
                        "notice": a.notice,
                        "acceptance_at_next_login": a.acceptance_at_next_login,
                        "new_recipients": a.new_recipients,
                        "changes": a.changes,
                    }
                })
            })
            .collect();
        let mut feed = serde_json::json!({
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.title,
            "feed_url": "/announcements.json",
            "items": items,
        });
        if !self.base.is_empty() {
            feed["home_page_url"] = self.base.clone().into();
        }
        serde_json::to_string_pretty(&feed).unwrap_or_else(|_| "{}".into())
    }
}

/// Text escaped for XML content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// The announcements as an Atom feed, newest first: each entry's id, title, what changed, and
/// its published and effective dates. Public: it holds what the published statement holds.
#[utoipa::path(get, path = "/announcements.atom", tag = "public",
    responses((status = 200, description = "Atom 1.0 (RFC 4287)", content_type = "application/atom+xml")))]
async fn atom_feed(State(s): State<Arc<AppState>>) -> Response {
    let p = s.announcements.current();
    let body = if p.atom.is_empty() {
        published(&s, p.board.clone()).atom
    } else {
        p.atom.clone()
    };
    typed(body, "application/atom+xml; charset=utf-8")
}

/// The announcements as a JSON Feed 1.1, newest first, each item with `_custos`: the
/// announcement id, versions, published and effective dates, notice, new recipients and every
/// change. Public.
#[utoipa::path(get, path = "/announcements.json", tag = "public",
    responses((status = 200, description = "JSON Feed 1.1", body = Object, content_type = "application/feed+json")))]
async fn json_feed(State(s): State<Arc<AppState>>) -> Response {
    let p = s.announcements.current();
    let body = if p.json.is_empty() {
        published(&s, p.board.clone()).json
    } else {
        p.json.clone()
    };
    typed(body, "application/feed+json; charset=utf-8")
}

// ---- per tenant -----------------------------------------------------------------------------

/// The tenant's announcements.
#[derive(Serialize, ToSchema)]
pub struct AnnouncementList {
    /// Newest first: the announcement (`announcement_id`, versions, `published_at`,
    /// `effective_at`, `notice`, `new_recipients`, `changes`), `effective_for_tenant` (the
    /// contract's longer notice counted), `state` (`in_notice` or `in_effect`), the tenant's
    /// `objection` and the `deliveries` per channel and target.
    #[schema(value_type = Vec<Object>)]
    announcements: Vec<TenantAnnouncement>,
    /// The tenant's settings: `contacts` and `contract_notice`.
    #[schema(value_type = Object)]
    settings: custos_vault::announcements::Settings,
}

/// The caller's tenant's announcements, with their state, the tenant's objection and how each
/// was delivered (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/announcements", tag = "announcements", security(("api_key" = [])),
    responses((status = 200, body = AnnouncementList)))]
async fn list(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "list announcements")?;
    let tenant = crate::data::tenant_id(&caller)?;
    write(&s, move |_, v| {
        let mut t = v.tenant(&tenant);
        let announcements = t.announcements_for_tenant(now()).map_err(problem)?;
        let settings = t.announcement_settings().map_err(problem)?;
        Ok(axum::Json(AnnouncementList {
            announcements,
            settings,
        })
        .into_response())
    })
    .await
}

/// Where a tenant's announcements go.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// E-mail addresses (at most 20) that receive every announcement; replaces the list. An
    /// empty list stops e-mail (the webhook still gets them).
    addresses: Vec<String>,
    /// Admin keys only: the tenant (a dpo key sets its own).
    #[serde(default)]
    tenant: Option<String>,
    /// Admin keys only: the notice the tenant's contract promises when longer than the policy's
    /// (`"60 days"`); `null` returns to the policy's. Left out: unchanged.
    #[serde(default, deserialize_with = "some")]
    contract_notice: Option<Option<String>>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What the tenant's settings are now.
#[derive(Serialize, ToSchema)]
pub struct ContactsView {
    /// The addresses stored.
    addresses: Vec<String>,
    /// The contract's notice (ISO 8601), if set.
    contract_notice: Option<String>,
}

/// Sets where the tenant's announcements are e-mailed (dpo keys for their own tenant; admin keys
/// name the `tenant` and may also set the contract's longer `contract_notice`). Announcements
/// still in their notice period are e-mailed to new addresses at once. Audited with the count.
#[utoipa::path(put, path = "/v1/announcements/contacts", tag = "announcements", request_body = Contacts, security(("api_key" = [])),
    responses((status = 200, body = ContactsView),
        (status = 422, description = "An address that is not one (named by position), more than 20, or a contract notice that is not a period (`invalid-contacts`, `unprocessable`)", body = Problem)))]
async fn set_contacts(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(c): ApiJson<Contacts>,
) -> Result<Response, Problem> {
    let admin = caller.0.role == Role::Admin;
    caller.require(
        |r| r == Role::Admin || r == Role::Dpo,
        "set announcement contacts",
    )?;
    let tenant = match (&c.tenant, admin) {
        (Some(t), true) => TenantId::new(t).map_err(|e| Problem::from(e).refield("/tenant"))?,
        (None, true) => {
            return Err(Problem::new(ErrorCode::MissingValue)
                .field("/tenant", "an admin key names the tenant"));
        }
        (Some(_), false) => {
            return Err(Problem::new(ErrorCode::Forbidden)
                .detail("a tenant key sets its own contacts; leave `tenant` out"));
        }
        (None, false) => crate::data::tenant_id(&caller)?,
    };
    if c.contract_notice.is_some() && !admin {
        return Err(Problem::new(ErrorCode::Forbidden)
            .detail("the contract's notice is set by the platform's admin key"));
    }
    let actor = caller.0.actor();
    let view = as_caller(&s, &tenant, actor, move |_, t| {
        let now = now();
        if let Some(notice) = &c.contract_notice {
            t.set_contract_notice(notice.as_deref(), now)
                .map_err(problem)?;
        }
        let addresses = t
            .set_announcement_contacts(&c.addresses, now)
            .map_err(problem)?;
        let settings = t.announcement_settings().map_err(problem)?;
        Ok(ContactsView {
            addresses,
            contract_notice: settings.contract_notice,
        })
    })
    .await?;
    let st = s.clone();
    blocking(move || refresh(&st)).await?;
    Ok(axum::Json(view).into_response())
}

/// An objection.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObjection {
    /// Why the tenant objects (1–2000 characters). Kept for the tenant and the provider; the
    /// audit trail records its length only.
    reason: String,
}

/// The objection recorded.
#[derive(Serialize, ToSchema)]
pub struct ObjectionView {
    /// `announcement_id`, `reason`, `objected_at`, `objected_by`, `state` (`open`).
    #[schema(value_type = Object)]
    objection: custos_vault::announcements::Objection,
    /// `false` when an open objection existed already (nothing changed).
    recorded: bool,
}

fn announcement_id(id: &str) -> Result<String, Problem> {
    let ok = id.len() == 24
        && id.starts_with("ann_")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(id.to_owned())
    } else {
        // What no announcement's id can be is no announcement (as a well-formed unknown id).
        Err(Problem::new(ErrorCode::AnnouncementNotFound)
            .detail("an announcement id is `ann_` and 20 lowercase hex digits"))
    }
}

/// Objects to an announced change on behalf of the tenant (dpo keys; Art. 28(2) GDPR, SCC
/// 2021/915 clause 7.7(a)), until it takes effect for the tenant. While the objection is open, no
/// data of the tenant goes to the recipients the announcement made new: the decision call denies
/// (`recipient.objected`) and disclosures are refused (`recipient-objected`). After the effective
/// date: 409 `objection-closed`. Audited (the reason's length only).
#[utoipa::path(post, path = "/v1/announcements/{announcement_id}/objections", tag = "announcements", request_body = NewObjection, security(("api_key" = [])),
    params(("announcement_id" = String, Path, description = "The announcement's id")),
    responses((status = 201, body = ObjectionView), (status = 200, description = "An open objection existed already", body = ObjectionView),
        (status = 404, description = "No such announcement (`announcement-not-found`)", body = Problem),
        (status = 409, description = "The change took effect; objections are closed (`objection-closed`)", body = Problem),
        (status = 422, description = "No reason, or one over 2000 characters (`reason-required`)", body = Problem)))]
async fn object(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(o): ApiJson<NewObjection>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "object to announcements")?;
    let (tenant, actor, id) = (
        crate::data::tenant_id(&caller)?,
        caller.0.actor(),
        announcement_id(&id)?,
    );
    let (objection, recorded) = as_caller(&s, &tenant, actor, move |_, t| {
        t.object_to_announcement(&id, &o.reason, now())
            .map_err(problem)
    })
    .await?;
    let st = s.clone();
    blocking(move || refresh(&st)).await?;
    let status = if recorded {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(ObjectionView {
            objection,
            recorded,
        }),
    )
        .into_response())
}

/// Withdraws the tenant's open objection (dpo keys): from then on the announcement applies to
/// the tenant as to every other. Audited.
#[utoipa::path(delete, path = "/v1/announcements/{announcement_id}/objections", tag = "announcements", security(("api_key" = [])),
    params(("announcement_id" = String, Path, description = "The announcement's id")),
    responses((status = 200, body = ObjectionView),
        (status = 404, description = "No open objection of this tenant to it (`announcement-not-found`)", body = Problem)))]
async fn withdraw(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "withdraw objections")?;
    let (tenant, actor, id) = (
        crate::data::tenant_id(&caller)?,
        caller.0.actor(),
        announcement_id(&id)?,
    );
    let objection = as_caller(&s, &tenant, actor, move |_, t| {
        t.withdraw_objection(&id, now()).map_err(problem)
    })
    .await?;
    let st = s.clone();
    blocking(move || refresh(&st)).await?;
    Ok(axum::Json(ObjectionView {
        objection,
        recorded: true,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_text_is_escaped() {
        assert_eq!(
            xml("a <b> & \"c\" 'd'\u{7}"),
            "a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"
        );
    }

    #[test]
    fn announcement_ids_are_checked_in_the_path() {
        assert!(announcement_id("ann_0123456789abcdef0123").is_ok());
        for bad in [
            "ann_x",
            "ntf_0123456789abcdef0123",
            "ann_0123456789ABCDEF0123",
        ] {
            assert!(announcement_id(bad).is_err(), "{bad}");
        }
    }
}
