//! A data-subject request from the privacy center through the console and back, over HTTP with
//! the mail going through a real SMTP exchange: the subject files and verifies, the privacy
//! team carries the request out (or extends or refuses it, seeing the letter first), the subject
//! is told by mail in their language and downloads the answer after a fresh code. Nobody types
//! the subject's address in the console: the vault kept it sealed with the request.

use std::io::Read as _;

use custos_access::Role;
use custos_access::account::NewAccount;
use jiff::Timestamp;

use crate::Running;
use crate::center::{code_for, smtp_at};
use crate::console::{Page, browser, csrf_of, get, post, session_on};
use crate::data::{json, open_backend, send, sqlite_config};
use crate::smtp::Receiver;

/// A server with tenant `acme`: its app and dpo keys, a dpo console account, and the SMTP
/// receiver its mail goes to.
struct Desk {
    server: Running,
    app: String,
    dpo_key: String,
    dpo: NewAccount,
    smtp: Receiver,
}

fn start(name: &str) -> Desk {
    let smtp = Receiver::start();
    let backend = open_backend(&sqlite_config(name));
    let now = Timestamp::now();
    let (app, dpo_key, dpo) = {
        let mut a = backend.access.lock().unwrap();
        a.create_tenant("acme", "acme", now).unwrap();
        let app = a
            .issue_key(Some("acme"), Role::App, "app", now)
            .unwrap()
            .key;
        let dpo_key = a
            .issue_key(Some("acme"), Role::Dpo, "dpo", now)
            .unwrap()
            .key;
        let dpo = a
            .add_account(Some("acme"), Role::Dpo, "dpo of acme", now)
            .unwrap();
        (app, dpo_key, dpo)
    };
    let port = smtp.addr().port();
    let server = Running::start_configured(Some(backend), crate::JBSYNC.to_owned(), |c| {
        c.smtp = Some(smtp_at(port));
    });
    Desk {
        server,
        app,
        dpo_key,
        dpo,
        smtp,
    }
}

impl Desk {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Files a request of `kind` for `email` in the center in `lang` and verifies it with the
    /// mailed code (the `n`th message); the request's id and the subject's session cookie.
    fn file_and_verify(&self, kind: &str, email: &str, lang: &str, n: usize) -> (String, String) {
        let home = get(&self.url(&format!("/center/acme?lang={lang}")), None);
        assert_eq!(home.status, 200, "{}", home.body);
        let filed = post(
            &self.url(&format!("/center/acme/requests?lang={lang}")),
            &[
                ("csrf", &csrf_of(&home.body, "/center/acme/requests")),
                ("kind", kind),
                ("email", email),
            ],
            None,
        );
        assert_eq!(filed.status, 303, "{}", filed.body);
        let verify_at = filed.header("location").to_owned();
        let code = code_for(&self.smtp, n, &email.to_lowercase());
        let form = get(&self.url(&verify_at), None);
        let ok = post(
            &self.url(&verify_at),
            &[
                ("csrf", &csrf_of(&form.body, "/center/acme/requests/")),
                ("code", &code),
            ],
            None,
        );
        assert_eq!(ok.status, 303, "{}", ok.body);
        let id = verify_at["/center/acme/requests/".len()..][..32].to_owned();
        let cookie = ok
            .header("set-cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (id, cookie)
    }

    /// Stores a support record `text` of `subject` through the app key.
    fn put(&self, subject: &str, text: &str) {
        let r = send(
            "POST",
            &self.url("/v1/records"),
            &self.app,
            Some(serde_json::json!({
                "subject": subject, "category": "support", "purposes": ["support"],
                "data": { "message": text },
            })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// The console's page of request `id` for the session `console`.
    fn request_page(&self, console: &str, id: &str) -> Page {
        let p = get(
            &self.url(&format!("/console/requests/{id}?lang=en")),
            Some(console),
        );
        assert_eq!(p.status, 200, "{}", p.body);
        p
    }

    /// Posts the console form of request `id` whose action ends in `what`, with `fields`.
    fn step(&self, console: &str, id: &str, what: &str, fields: &[(&str, &str)]) -> Page {
        let action = format!("/console/requests/{id}/{what}");
        let csrf = csrf_of(&self.request_page(console, id).body, &action);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        post(
            &self.url(&format!("{action}?lang=en")),
            &form,
            Some(console),
        )
    }

    /// The request as the dpo key reads it through the API.
    fn request(&self, id: &str) -> serde_json::Value {
        let r = send(
            "GET",
            &self.url(&format!("/v1/requests/{id}")),
            &self.dpo_key,
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)["request"].clone()
    }

    /// The text of the last message to `to`, once `n` messages have arrived.
    fn last_mail_to(&self, n: usize, to: &str) -> String {
        self.smtp.wait_for(n, std::time::Duration::from_secs(10));
        self.smtp
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.to.iter().any(|t| t.contains(to)))
            .expect("a message to the address")
            .data
    }
}

#[test]
fn a_subject_files_an_access_request_the_dpo_releases_it_and_the_subject_downloads_it_after_a_fresh_code()
 {
    let d = start("handling-access");
    d.put("ann@example.test", "my ticket");
    let (id, subject) = d.file_and_verify("access", "Ann@Example.test", "en", 1);
    let console = session_on(&d.server, &d.dpo, 0);

    // The dpo carries it out without ever seeing or typing the address.
    let p = d.request_page(&console, &id);
    assert!(!p.body.to_lowercase().contains("ann@"), "{}", p.body);
    let done = d.step(&console, &id, "carry-out", &[]);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(d.request(&id)["state"], "in_progress");
    let ready = d.last_mail_to(2, "ann@example.test");
    assert!(ready.contains("Your answer is ready"), "{ready}");
    assert!(!ready.contains("my ticket"), "no data by mail");

    // The subject's page offers the download; it takes a fresh code to the filing address.
    let status_at = format!("/center/acme/requests/{id}?lang=en");
    let status = get(&d.url(&status_at), Some(&subject));
    assert_eq!(status.status, 200, "{}", status.body);
    let action = format!("/center/acme/requests/{id}/download");
    let asked = post(
        &d.url(&format!("{action}?lang=en")),
        &[("csrf", &csrf_of(&status.body, &action))],
        Some(&subject),
    );
    assert_eq!(asked.status, 303, "{}", asked.body);
    let code_at = asked.header("location").to_owned();
    assert!(code_at.starts_with("/center/acme/signin/"), "{code_at}");
    let code = code_for(&d.smtp, 3, "ann@example.test");
    let form = get(&d.url(&code_at), None);
    let opened = post(
        &d.url(&code_at),
        &[
            ("csrf", &csrf_of(&form.body, "/center/acme/signin/")),
            ("code", &code),
        ],
        None,
    );
    assert_eq!(opened.status, 303, "{}", opened.body);
    let answer_at = opened.header("location").to_owned();
    assert_eq!(
        answer_at,
        format!("/center/acme/requests/{id}/answer?lang=en")
    );
    let fresh = opened
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Without the fresh code's session: no archive.
    assert_eq!(get(&d.url(&answer_at), Some(&subject)).status, 403);
    let mut res = browser()
        .get(d.url(&answer_at))
        .header("cookie", &fresh)
        .call()
        .expect("the download completes");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/zip"
    );
    let mut zip = Vec::new();
    res.body_mut()
        .as_reader()
        .read_to_end(&mut zip)
        .expect("the archive");
    assert!(zip.starts_with(b"PK"), "a zip archive");
    assert!(
        zip.windows(9).any(|w| w == b"my ticket"),
        "the subject's record is in it"
    );
    assert_eq!(d.request(&id)["state"], "completed");
    // Once: the same session does not download again.
    assert_eq!(get(&d.url(&answer_at), Some(&fresh)).status, 403);
}

#[test]
fn the_dpo_sees_the_extension_letter_first_and_the_subject_then_sees_the_new_due_date() {
    let d = start("handling-extension");
    let (id, subject) = d.file_and_verify("erasure", "bo@example.test", "nl", 1);
    let due_before = d.request(&id)["due_on"].as_str().unwrap().to_owned();
    let console = session_on(&d.server, &d.dpo, 0);

    let preview = d.step(
        &console,
        &id,
        "extend",
        &[("reason", "many systems to search")],
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    for words in [
        "artikel 12, lid 3",
        "Onze reden: many systems to search",
        "lang=\"nl\"",
    ] {
        assert!(preview.body.contains(words), "{words} in {}", preview.body);
    }
    assert_eq!(
        d.request(&id)["extended"],
        false,
        "a preview changes nothing"
    );
    let action = format!("/console/requests/{id}/extend");
    let done = post(
        &d.url(&format!("{action}?lang=en")),
        &[
            ("csrf", &csrf_of(&preview.body, &action)),
            ("reason", "many systems to search"),
            ("confirm", "yes"),
        ],
        Some(&console),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let r = d.request(&id);
    assert_eq!(r["extended"], true);
    let due_after = r["due_on"].as_str().unwrap().to_owned();
    assert!(due_after > due_before, "{due_before} → {due_after}");
    let letter = d.last_mail_to(2, "bo@example.test");
    assert!(letter.contains("Content-Language: nl"), "{letter}");

    // The subject's page shows the new date and the reason.
    let status = get(
        &d.url(&format!("/center/acme/requests/{id}?lang=en")),
        Some(&subject),
    );
    assert_eq!(status.status, 200, "{}", status.body);
    assert!(
        status.body.contains(&format!("datetime=\"{due_after}\"")),
        "{}",
        status.body
    );
    assert!(status.body.contains("many systems to search"));
}

#[test]
fn a_refusal_letter_names_the_reason_and_the_right_to_complain_and_to_go_to_court() {
    let d = start("handling-refusal");
    let (id, _) = d.file_and_verify("portability", "cy@example.test", "en", 1);
    let console = session_on(&d.server, &d.dpo, 0);
    let empty = d.step(&console, &id, "refuse", &[("reason", "  ")]);
    assert_eq!(empty.status, 422, "{}", empty.body);
    let preview = d.step(
        &console,
        &id,
        "refuse",
        &[("reason", "manifestly unfounded")],
    );
    assert_eq!(preview.status, 200, "{}", preview.body);
    for words in [
        "Art. 12(4) GDPR",
        "Our reason: manifestly unfounded",
        "Art. 77 GDPR",
        "Art. 79 GDPR",
    ] {
        assert!(preview.body.contains(words), "{words} in {}", preview.body);
    }
    let action = format!("/console/requests/{id}/refuse");
    // A forged token: nothing changes.
    let forged = post(
        &d.url(&format!("{action}?lang=en")),
        &[
            ("csrf", "forged"),
            ("reason", "manifestly unfounded"),
            ("confirm", "yes"),
        ],
        Some(&console),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(d.request(&id)["state"], "verified");
    let done = post(
        &d.url(&format!("{action}?lang=en")),
        &[
            ("csrf", &csrf_of(&preview.body, &action)),
            ("reason", "manifestly unfounded"),
            ("confirm", "yes"),
        ],
        Some(&console),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(d.request(&id)["state"], "refused");
    let letter = d.last_mail_to(2, "cy@example.test");
    assert!(letter.contains("Art. 77 GDPR"), "{letter}");
}

#[test]
fn an_erasure_carried_out_in_the_console_shows_its_outcome_and_is_the_accounts_in_the_trail() {
    let d = start("handling-erasure");
    d.put("di@example.test", "help");
    let (id, _) = d.file_and_verify("erasure", "di@example.test", "en", 1);
    let console = session_on(&d.server, &d.dpo, 0);
    let done = d.step(&console, &id, "carry-out", &[]);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(d.request(&id)["state"], "completed");
    let p = d.request_page(&console, &id);
    assert!(
        p.body.contains("Outcome of the erasure (Art. 17)"),
        "{}",
        p.body
    );
    assert!(p.body.contains("1 record(s) erased"), "{}", p.body);
    // The erasure is the account's, in the audit trail.
    let r = send(
        "GET",
        &d.url("/v1/audit?action=request.completed&limit=10"),
        &d.dpo_key,
        None,
    );
    let entries = json(&r)["entries"].as_array().unwrap().clone();
    let actor = format!("account:{}", d.dpo.info.account_id);
    assert!(
        entries.iter().any(|e| e["actor"] == actor.as_str()),
        "{actor} in {entries:?}"
    );
}
