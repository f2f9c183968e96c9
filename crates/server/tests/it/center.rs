//! The privacy center over HTTP, with the codes going through a real SMTP exchange to a local
//! receiver: a subject files a request, reads the code from the mail, verifies, sees the status
//! page with the due date explained, and cancels; and every bad input gets a page in the
//! visitor's language with the right status and nothing changed.

use crate::data::{Setup, admin_key, json, open_backend, send, sqlite_config, tenant};
use crate::smtp::Receiver;
use crate::{Running, reply};

/// A client that shows redirects and cookies instead of following them.
fn browser() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

struct Page {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

fn page(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut r = r.expect("the request completes");
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str, cookie: Option<&str>, lang: Option<&str>) -> Page {
    let mut req = browser().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    page(req.call())
}

fn post(url: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Page {
    let mut req = browser().post(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    page(req.send_form(form.iter().copied()))
}

/// The value of the hidden field `name` of the page's (first) form.
fn field(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name} in {body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').expect("a closing quote")].to_owned()
}

fn header<'a>(p: &'a Page, name: &str) -> &'a str {
    p.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A server with the SMTP receiver as its mail server and tenant `acme`; its dpo key.
fn start(name: &str, smtp: Option<&Receiver>) -> (Setup, String) {
    let (s, keys) = start_keys(name, smtp);
    (s, keys.1)
}

/// [`start`], with the app, dpo and auditor keys of tenant `acme`.
fn start_keys(name: &str, smtp: Option<&Receiver>) -> (Setup, (String, String, String)) {
    let config = sqlite_config(name);
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    let port = smtp.map(|r| r.addr().port());
    let server = Running::start_configured(Some(backend), crate::JBSYNC.to_owned(), |c| {
        c.smtp = port.map(smtp_at);
    });
    let s = Setup { server, admin };
    let keys = tenant(&s, "acme");
    (s, keys)
}

/// The mail server of the local SMTP receiver listening on `port` (no TLS, no login).
pub(crate) fn smtp_at(port: u16) -> custos_server::config::SmtpConfig {
    custos_server::config::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        from: "privacy@jbsync.example".into(),
        tls: custos_server::config::SmtpTls::None,
        username: None,
        password_file: None,
        timeout: std::time::Duration::from_secs(10),
    }
}

/// The six-digit code in the last message to `to`.
pub(crate) fn code_for(smtp: &Receiver, n: usize, to: &str) -> String {
    smtp.wait_for(n, std::time::Duration::from_secs(10));
    let m = smtp
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t.to_lowercase().contains(to)))
        .expect("a message to the address");
    // "Your code is 123456." / "Uw code is 123456.": the digits after the words, not a date's
    // or a message id's.
    let at = m.data.find("code is ").expect("the code's sentence") + "code is ".len();
    let code: String = m.data[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{}", m.data);
    code
}

fn requests_of_acme(s: &Setup, dpo: &str) -> usize {
    let r = send("GET", &s.server.url("/v1/requests"), dpo, None);
    json(&r).as_array().map_or(0, Vec::len)
}

#[test]
fn a_subject_files_verifies_follows_and_cancels_a_request_in_dutch() {
    let smtp = Receiver::start();
    let (s, dpo) = start("center-flow", Some(&smtp));
    let home = get(
        &s.server.url("/center/acme"),
        None,
        Some("nl-NL,nl;q=0.9,en;q=0.5"),
    );
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<html lang=\"nl\">"), "{}", home.body);
    assert!(home.body.contains("Een verzoek doen"));
    let csp = header(&home, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(!home.body.contains("<script"), "no script at all");
    assert!(!home.body.contains("style=\""), "no inline style");

    let filed = post(
        &s.server.url("/center/acme/requests?lang=nl"),
        &[
            ("csrf", &field(&home.body, "csrf")),
            ("kind", "access"),
            ("email", "Ann@Example.test"),
        ],
        None,
    );
    assert_eq!(filed.status, 303, "{}", filed.body);
    let verify_at = header(&filed, "location").to_owned();
    assert!(
        verify_at.starts_with("/center/acme/requests/") && verify_at.ends_with("/verify?lang=nl"),
        "{verify_at}"
    );
    assert!(
        !verify_at.to_lowercase().contains("ann"),
        "no address in the URL"
    );
    let code = code_for(&smtp, 1, "ann@example.test");
    let mail = &smtp.messages()[0];
    assert!(mail.data.contains("Content-Language: nl"), "{}", mail.data);

    let form = get(&s.server.url(&verify_at), None, None);
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("autocomplete=\"one-time-code\""),
        "{}",
        form.body
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = post(
        &s.server.url(&verify_at),
        &[("csrf", &field(&form.body, "csrf")), ("code", wrong)],
        None,
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("nog 4 keer"), "{}", bad.body);
    // Through the TLS proxy (it names the client): a `__Host-` cookie, Secure.
    let ok = page(
        browser()
            .post(s.server.url(&verify_at))
            .header("x-forwarded-for", "203.0.113.9")
            .send_form([
                ("csrf", field(&bad.body, "csrf").as_str()),
                ("code", code.as_str()),
            ]),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = header(&ok, "set-cookie").to_owned();
    for attr in [
        "__Host-custos-center=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let status_at = header(&ok, "location").to_owned();

    let status = get(&s.server.url(&status_at), Some(&session), None);
    assert_eq!(status.status, 200, "{}", status.body);
    for words in [
        "Uw verzoek",
        "Mijn gegevens inzien",
        "Bevestigd, wacht op behandeling",
        "Uw identiteit is bevestigd",
        "Verordening 1182",
    ] {
        assert!(status.body.contains(words), "{words} in {}", status.body);
    }
    assert!(
        !status.body.to_lowercase().contains("ann@"),
        "the page does not repeat the address"
    );
    // Without the session, or for a request that is not the subject's: nothing shown.
    assert_eq!(get(&s.server.url(&status_at), None, None).status, 403);
    let other = status_at.replace(&status_at[22..54], "0123456789abcdef0123456789abcdef");
    assert_eq!(get(&s.server.url(&other), Some(&session), None).status, 404);

    // The DPO sees it verified.
    let r = send("GET", &s.server.url("/v1/requests"), &dpo, None);
    assert_eq!(json(&r)[0]["request"]["state"], "verified", "{}", r.body);

    let cancelled = post(
        &s.server
            .url(&format!("{}/cancel?lang=nl", &status_at[..54])),
        &[("csrf", &field(&status.body, "csrf"))],
        Some(&session),
    );
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let after = get(&s.server.url(&status_at), Some(&session), None);
    assert!(
        after.body.contains("Ingetrokken op uw verzoek"),
        "{}",
        after.body
    );
    assert!(
        !after.body.contains("Dit verzoek intrekken"),
        "no second cancel"
    );
}

#[test]
fn bad_input_gets_a_page_in_the_visitors_language_and_changes_nothing() {
    let smtp = Receiver::start();
    let (s, dpo) = start("center-bad", Some(&smtp));
    let home = get(&s.server.url("/center/acme?lang=en"), None, None);
    let csrf = field(&home.body, "csrf");
    // A forged or missing form token: refused, nothing filed, nothing sent.
    let forged = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[
            ("csrf", "forged"),
            ("kind", "erasure"),
            ("email", "ann@example.test"),
        ],
        None,
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("This form expired"), "{}", forged.body);
    // Missing and malformed fields: the form again, with what is wrong, in English.
    let bad = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[("csrf", &csrf), ("email", "not an address")],
        None,
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("Choose what you want.") && bad.body.contains("Give an e-mail address"),
        "{}",
        bad.body
    );
    let long = format!("{}@example.test", "a".repeat(300));
    let too_long = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[("csrf", &csrf), ("kind", "access"), ("email", &long)],
        None,
    );
    assert_eq!(too_long.status, 422);
    let no_purpose = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[
            ("csrf", &csrf),
            ("kind", "withdrawal"),
            ("email", "ann@example.test"),
        ],
        None,
    );
    assert_eq!(no_purpose.status, 422);
    assert!(no_purpose.body.contains("Choose the consent you withdraw."));
    assert_eq!(requests_of_acme(&s, &dpo), 0, "nothing filed");
    assert!(smtp.messages().is_empty(), "nothing sent");
    // A tenant that does not exist, a request id that is not one.
    let missing = get(&s.server.url("/center/nobody?lang=nl"), None, None);
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("Deze pagina bestaat niet"),
        "{}",
        missing.body
    );
    assert_eq!(
        get(
            &s.server.url("/center/acme/requests/..%2F..%2Fx/verify"),
            None,
            None
        )
        .status,
        404
    );
    // Five wrong codes void the code; the sixth try says so and verifies nothing.
    let filed = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[
            ("csrf", &csrf),
            ("kind", "erasure"),
            ("email", "nobody-known@example.test"),
        ],
        None,
    );
    assert_eq!(
        filed.status, 303,
        "an unknown address goes through the same steps"
    );
    let verify_at = header(&filed, "location").to_owned();
    let code = code_for(&smtp, 1, "nobody-known@example.test");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let form = get(&s.server.url(&verify_at), None, None);
    let token = field(&form.body, "csrf");
    for _ in 0..5 {
        post(
            &s.server.url(&verify_at),
            &[("csrf", &token), ("code", wrong)],
            None,
        );
    }
    let late = post(
        &s.server.url(&verify_at),
        &[("csrf", &token), ("code", &code)],
        None,
    );
    assert_eq!(late.status, 410, "{}", late.body);
    assert!(late.body.contains("can no longer be used"), "{}", late.body);
    assert!(header(&late, "set-cookie").is_empty());
    let r = send("GET", &s.server.url("/v1/requests"), &dpo, None);
    assert_eq!(json(&r)[0]["request"]["state"], "received", "{}", r.body);
    // Wrong codes and filings spend the client address's budget; spent, it must wait.
    let mut status = 0;
    for _ in 0..25 {
        status = post(
            &s.server.url(&verify_at),
            &[("csrf", &token), ("code", wrong)],
            None,
        )
        .status;
        if status == 429 {
            break;
        }
    }
    assert_eq!(status, 429, "the budget runs out");
}

#[test]
fn without_a_mail_server_the_center_files_nothing_and_says_why() {
    let (s, dpo) = start("center-nomail", None);
    let home = get(&s.server.url("/center/acme?lang=en"), None, None);
    let r = post(
        &s.server.url("/center/acme/requests?lang=en"),
        &[
            ("csrf", &field(&home.body, "csrf")),
            ("kind", "access"),
            ("email", "ann@example.test"),
        ],
        None,
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("cannot send e-mail"), "{}", r.body);
    assert_eq!(requests_of_acme(&s, &dpo), 0);
    // The stylesheet is served by the binary itself.
    let css = reply(
        crate::agent()
            .get(&s.server.url("/center/assets/center.css"))
            .call()
            .unwrap(),
    );
    assert_eq!(css.status, 200);
    assert!(css.content_type.starts_with("text/css"));
}

#[test]
fn a_consent_withdrawn_in_the_center_makes_the_decision_call_deny() {
    let smtp = Receiver::start();
    let (s, (app, _, _)) = start_keys("center-consent", Some(&smtp));
    let who = "ann@example.test";
    let hash = "a".repeat(64);
    let grant = send(
        "POST",
        &s.server.url("/v1/consent"),
        &app,
        Some(serde_json::json!({
            "subject": who, "purpose": "style_learning", "kind": "grant", "at": "2026-11-01T10:00:00Z",
            "notice_version": "2.0", "notice_hash": hash, "channel": "web", "proof": "settings toggle",
        })),
    );
    assert_eq!(grant.status, 201, "{}", grant.body);
    let decide = || {
        let r = send(
            "POST",
            &s.server.url("/v1/decisions"),
            &app,
            Some(
                serde_json::json!({ "subject": who, "purpose": "style_learning", "category": "style_profile" }),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)["allowed"].clone()
    };
    assert_eq!(decide(), true);

    // Sign in with a code, without a request.
    let form = get(&s.server.url("/center/acme/signin?lang=en"), None, None);
    assert_eq!(form.status, 200);
    let sent = post(
        &s.server.url("/center/acme/signin?lang=en"),
        &[("csrf", &field(&form.body, "csrf")), ("email", who)],
        None,
    );
    assert_eq!(sent.status, 303, "{}", sent.body);
    let code_at = header(&sent, "location").to_owned();
    assert!(!code_at.contains("ann"), "{code_at}");
    let code = code_for(&smtp, 1, who);
    let page = get(&s.server.url(&code_at), None, None);
    let ok = post(
        &s.server.url(&code_at),
        &[("csrf", &field(&page.body, "csrf")), ("code", &code)],
        None,
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = header(&ok, "set-cookie").to_owned();
    // A browser on this machine talking to Custos directly (the demo): no browser keeps a
    // Secure cookie over plain HTTP, so it gets the plain name, still HttpOnly and Strict.
    assert!(
        cookie.starts_with("custos-center=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    assert!(
        !session.to_lowercase().contains("ann"),
        "the cookie holds a random token only"
    );
    let me = get(
        &s.server.url("/center/acme/me?lang=en"),
        Some(&session),
        None,
    );
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("Writing-style learning"), "{}", me.body);
    assert!(me.body.contains("Given"), "{}", me.body);
    // One action withdraws it, as easy as giving it (Art. 7(3)).
    let withdrawn = post(
        &s.server
            .url("/center/acme/consents/style_learning/withdraw?lang=en"),
        &[("csrf", &field(&me.body, "csrf"))],
        Some(&session),
    );
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.body);
    assert_eq!(decide(), false, "the decision call denies from now on");
    let after = get(
        &s.server.url("/center/acme/me?lang=en"),
        Some(&session),
        None,
    );
    assert!(after.body.contains("Withdrawn"), "{}", after.body);
    // Without a session, or with a forged form: nothing changes and the page says why.
    assert_eq!(
        get(&s.server.url("/center/acme/me"), None, None).status,
        403
    );
    let forged = post(
        &s.server
            .url("/center/acme/consents/style_learning/withdraw?lang=en"),
        &[("csrf", "forged")],
        Some(&session),
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn hsts_is_sent_only_to_a_browser_that_came_over_https_through_the_proxy() {
    let (s, _) = start("center-hsts", None);
    let url = s.server.url("/center/acme?lang=en");
    let plain = get(&url, None, None);
    assert_eq!(plain.status, 200);
    assert_eq!(header(&plain, "strict-transport-security"), "");
    for (name, value) in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=203.0.113.9;proto=https"),
    ] {
        let tls = page(browser().get(&url).header(name, value).call());
        assert_eq!(tls.status, 200);
        assert_eq!(
            header(&tls, "strict-transport-security"),
            "max-age=63072000",
            "{name}: {value}"
        );
    }
    let http = page(
        browser()
            .get(&url)
            .header("x-forwarded-proto", "http")
            .call(),
    );
    assert_eq!(header(&http, "strict-transport-security"), "");
}
