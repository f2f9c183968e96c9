//! The privacy team's console over HTTP: an account made through the access store signs in with
//! its password and a TOTP code computed here (RFC 6238), sees its tenant's queue by due date
//! with the flags that say why, opens a request and extends it; five wrong sign-ins lock the
//! account; a forged form token changes nothing; another tenant's request does not exist; and
//! every sign-in, failure, sign-out and step is in the audit trail with the account as actor.

use custos_access::Role;
use custos_access::account::NewAccount;
use jiff::{SignedDuration, Timestamp};

use crate::Running;
use crate::data::{Setup, json, on_postgresql, open_backend, send, sqlite_config};

/// A client that shows redirects and cookies instead of following them.
pub(crate) fn browser() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: ureq::http::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub(crate) fn page(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut r = r.expect("the request completes");
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        // As a browser reads attributes: minijinja escapes `/` and `&` in them.
        body: r
            .body_mut()
            .read_to_string()
            .unwrap_or_default()
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
            .replace("&#x27;", "'")
            .replace("&quot;", "\""),
    }
}

pub(crate) fn get(url: &str, cookie: Option<&str>) -> Page {
    let mut req = browser().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    page(req.call())
}

pub(crate) fn post(url: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Page {
    let mut req = browser().post(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    page(req.send_form(form.iter().copied()))
}

/// A page of the console as `cookie`'s session gets it.
pub(crate) fn get_in(url: &str, cookie: &str) -> Page {
    get(url, Some(cookie))
}

/// A form posted in `cookie`'s session.
pub(crate) fn post_in(url: &str, form: &[(&str, &str)], cookie: &str) -> Page {
    post(url, form, Some(cookie))
}

/// The token the server would give the form of `purpose` in the session of `cookie`: what a
/// page of that session holds, made here to show a role check holds even with a valid one.
pub(crate) fn token_for(cookie: &str, purpose: &str) -> String {
    use hmac::{KeyInit, Mac};
    let session = cookie.split_once('=').expect("name=value").1;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(session.as_bytes()).unwrap();
    m.update(format!("console-form|{purpose}").as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// The hidden `csrf` field of the form posting to an action starting with `action`.
pub(crate) fn csrf_of(body: &str, action: &str) -> String {
    let at = body
        .find(&format!("action=\"{action}"))
        .unwrap_or_else(|| panic!("no form to {action} in {body}"));
    let rest = &body[at..];
    let v = &rest[rest.find("name=\"csrf\" value=\"").expect("a csrf field") + 19..];
    v[..v.find('"').expect("a closing quote")].to_owned()
}

/// Signs in to the console of `server` as `who` with a TOTP code `steps` steps from now (each
/// step signs in once); the session cookie.
pub(crate) fn session_on(server: &Running, who: &NewAccount, steps: i64) -> String {
    let form = get(&server.url("/console/signin?lang=en"), None);
    assert_eq!(form.status, 200, "{}", form.body);
    let code = who.totp.code_at(Timestamp::now().as_second() + 30 * steps);
    let r = post(
        &server.url("/console/signin?lang=en"),
        &[
            ("csrf", &csrf_of(&form.body, "/console/signin")),
            ("name", &who.info.name),
            ("password", who.password.expose()),
            ("code", &code),
        ],
        None,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), "/console/requests?lang=en");
    let cookie = r.header("set-cookie");
    cookie.split(';').next().unwrap().to_owned()
}

/// The console, tenants `acme` and `globex` with a dpo account each (and their dpo API keys).
struct Console {
    setup: Setup,
    acme: NewAccount,
    globex: NewAccount,
    acme_key: String,
    globex_key: String,
}

fn start(name: &str) -> Console {
    start_on(&sqlite_config(name))
}

fn start_on(config: &custos_server::Config) -> Console {
    let backend = open_backend(config);
    let now = Timestamp::now();
    let (admin, acme, globex, acme_key, globex_key) = {
        let mut a = backend.access.lock().unwrap();
        let admin = a
            .issue_key(None, Role::Admin, "test admin", now)
            .unwrap()
            .key;
        let mut keys = Vec::new();
        let mut accounts = Vec::new();
        for t in ["acme", "globex"] {
            a.create_tenant(t, t, now).unwrap();
            keys.push(a.issue_key(Some(t), Role::Dpo, "dpo", now).unwrap().key);
            accounts.push(
                a.add_account(Some(t), Role::Dpo, &format!("dpo of {t}"), now)
                    .unwrap(),
            );
        }
        let globex = accounts.pop().unwrap();
        let acme = accounts.pop().unwrap();
        let globex_key = keys.pop().unwrap();
        (admin, acme, globex, keys.pop().unwrap(), globex_key)
    };
    Console {
        setup: Setup {
            server: Running::start_with(Some(backend)),
            admin,
        },
        acme,
        globex,
        acme_key,
        globex_key,
    }
}

impl Console {
    fn url(&self, path: &str) -> String {
        self.setup.server.url(path)
    }

    /// Files a request of `kind` received `days_ago` days ago through the API; its id.
    fn file(&self, key: &str, kind: &str, subject: &str, days_ago: i64) -> String {
        let at = Timestamp::now() - SignedDuration::from_hours(24 * days_ago);
        let r = send(
            "POST",
            &self.url("/v1/requests"),
            key,
            Some(
                serde_json::json!({ "kind": kind, "subject": subject, "received_at": at.to_string() }),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        json(&r)["request"]["request_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Signs in as `who` with `password` and `code`; the answer.
    fn sign_in(&self, who: &NewAccount, password: &str, code: &str) -> Page {
        self.sign_in_as(&who.info.name, password, code)
    }

    /// Signs in with the name `name`, `password` and `code`; the answer.
    fn sign_in_as(&self, name: &str, password: &str, code: &str) -> Page {
        let form = get(&self.url("/console/signin?lang=en"), None);
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = csrf_of(&form.body, "/console/signin");
        post(
            &self.url("/console/signin?lang=en"),
            &[
                ("csrf", &csrf),
                ("name", name),
                ("password", password),
                ("code", code),
            ],
            None,
        )
    }

    /// Signs in as `who` with a code `steps` steps from now (each step signs in once); the
    /// session cookie.
    fn session(&self, who: &NewAccount, steps: i64) -> String {
        session_on(&self.setup.server, who, steps)
    }

    /// The audit entries of `action` (all with `""`) as the tenant's dpo key reads them.
    fn audit(&self, key: &str, action: &str) -> Vec<serde_json::Value> {
        let filter = if action.is_empty() {
            String::new()
        } else {
            format!("action={action}&")
        };
        let r = send(
            "GET",
            &self.url(&format!("/v1/audit?{filter}limit=1000")),
            key,
            None,
        );
        json(&r)["entries"].as_array().unwrap().clone()
    }
}

#[test]
fn a_dpo_signs_in_sees_the_queue_by_due_date_with_why_and_opens_a_request() {
    let c = start("console_queue");
    // Received two months ago (overdue), four weeks ago (due within the week: at risk), today.
    let overdue = c.file(&c.acme_key, "access", "ann@example.nl", 60);
    let at_risk = c.file(&c.acme_key, "erasure", "bob@example.nl", 28);
    let on_track = c.file(&c.acme_key, "access", "cees@example.nl", 0);
    let listed = json(&send("GET", &c.url("/v1/requests"), &c.acme_key, None));
    let risks: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["risk"].as_str().unwrap())
        .collect();
    assert_eq!(risks, ["overdue", "at_risk", "on_track"], "the API agrees");

    let r = get(&c.url("/console/requests?lang=en"), None);
    assert_eq!(r.status, 303, "signed out, to the sign-in page");
    assert_eq!(r.header("location"), "/console/signin?lang=en");

    let code = c.acme.totp.code_at(Timestamp::now().as_second());
    let r = c.sign_in(&c.acme, c.acme.password.expose(), &code);
    assert_eq!(r.status, 303, "{}", r.body);
    let set = r.header("set-cookie").to_owned();
    assert!(set.starts_with("__Host-custos-console="), "{set}");
    for attr in ["; Path=/", "; HttpOnly", "; Secure", "; SameSite=Strict"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain="), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    let q = get(&c.url("/console/requests?lang=en"), Some(&cookie));
    assert_eq!(q.status, 200, "{}", q.body);
    assert!(
        q.header("content-security-policy")
            .contains("default-src 'none'")
    );
    assert_eq!(q.header("cache-control"), "no-store");
    assert!(q.body.contains("<html lang=\"en\">"));
    assert!(!q.body.contains("<script"), "no script on a console page");
    let at = |id: &str| {
        q.body
            .find(&format!("/console/requests/{id}?"))
            .unwrap_or_else(|| panic!("{id} listed in {}", q.body))
    };
    assert!(
        at(&overdue) < at(&at_risk) && at(&at_risk) < at(&on_track),
        "by due date"
    );
    assert!(
        q.body.contains("Overdue:") && q.body.contains("Art. 12(3) GDPR"),
        "{}",
        q.body
    );
    assert!(q.body.contains("At risk:"));
    assert!(q.body.contains("3 request(s); 1 overdue, 1 at risk."));

    // Filters: by kind, by state; an unknown value is a clear page, not a guess.
    let f = get(
        &c.url("/console/requests?lang=en&kind=erasure"),
        Some(&cookie),
    );
    assert!(f.body.contains(&at_risk) && !f.body.contains(&overdue));
    let f = get(
        &c.url("/console/requests?lang=en&state=completed"),
        Some(&cookie),
    );
    assert!(f.body.contains("No requests match."));
    let f = get(
        &c.url("/console/requests?lang=en&kind=everything"),
        Some(&cookie),
    );
    assert_eq!(f.status, 400);

    // In Dutch, by the browser's language.
    let nl = page(
        browser()
            .get(&c.url("/console/requests"))
            .header("cookie", &cookie)
            .header("accept-language", "nl-NL,nl;q=0.9")
            .call(),
    );
    assert!(nl.body.contains("<html lang=\"nl\">") && nl.body.contains("Te laat:"));

    // One request: its due date and history; extended with a reason, in the audit trail.
    let r = get(
        &c.url(&format!("/console/requests/{at_risk}?lang=en")),
        Some(&cookie),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Erasure (Art. 17)") && r.body.contains("History"));
    assert!(r.body.contains("Received"), "{}", r.body);
    let csrf = csrf_of(&r.body, &format!("/console/requests/{at_risk}/extend"));
    let r = post(
        &c.url(&format!("/console/requests/{at_risk}/extend?lang=en")),
        &[
            ("csrf", &csrf),
            ("reason", "many requests this month"),
            ("confirm", "yes"),
        ],
        Some(&cookie),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = get(
        &c.url(&format!("/console/requests/{at_risk}?lang=en")),
        Some(&cookie),
    );
    assert!(r.body.contains("many requests this month") && r.body.contains("Extended"));
    let account = format!("account:{}", c.acme.info.account_id);
    assert!(r.body.contains(&account), "the history names the account");
    let verify = csrf_of(&r.body, &format!("/console/requests/{at_risk}/verify"));
    let r = post(
        &c.url(&format!("/console/requests/{at_risk}/verify?lang=en")),
        &[("csrf", &verify), ("method", "ID checked at the desk")],
        Some(&cookie),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let v = json(&send(
        "GET",
        &c.url(&format!("/v1/requests/{at_risk}")),
        &c.acme_key,
        None,
    ));
    assert_eq!(v["request"]["state"], "verified");
    assert_eq!(v["request"]["extended"], true);

    // Signed in and out, in the audit trail under the account, without secrets.
    let signins = c.audit(&c.acme_key, "console.signin");
    assert_eq!(signins.len(), 1, "{signins:?}");
    assert_eq!(signins[0]["actor"], account);
    assert_eq!(signins[0]["tenant"], "acme");
    let by_account: Vec<String> = c
        .audit(&c.acme_key, "")
        .iter()
        .filter(|e| e["actor"] == account)
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        by_account.len(),
        3,
        "the sign-in, the extension and the verification: {by_account:?}"
    );
    let q = get(&c.url("/console/requests?lang=en"), Some(&cookie));
    let out = csrf_of(&q.body, "/console/signout");
    let r = post(
        &c.url("/console/signout?lang=en"),
        &[("csrf", &out)],
        Some(&cookie),
    );
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").contains("Max-Age=0"));
    let r = get(&c.url("/console/requests?lang=en"), Some(&cookie));
    assert_eq!(r.status, 303, "the session ended on the server");
    let outs = c.audit(&c.acme_key, "console.signout");
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0]["actor"], account);
    let whole = c
        .audit(&c.acme_key, "")
        .iter()
        .map(|e| e.to_string())
        .collect::<String>();
    assert!(!whole.contains(c.acme.password.expose()), "no password");
    assert!(!whole.contains(&c.acme.totp.base32()), "no TOTP secret");
}

#[test]
fn five_wrong_sign_ins_lock_the_account_even_against_the_right_password() {
    let c = start("console_lockout");
    let now = Timestamp::now().as_second();
    let code = c.acme.totp.code_at(now);
    let wrong_code = if code == "000000" { "000001" } else { "000000" };
    for i in 0..5 {
        let r = if i % 2 == 0 {
            c.sign_in(&c.acme, "not the password", &code)
        } else {
            c.sign_in(&c.acme, c.acme.password.expose(), wrong_code)
        };
        assert_eq!(r.status, 401, "attempt {i}: {}", r.body);
        assert!(r.body.contains("is not right"), "{}", r.body);
        assert!(r.header("set-cookie").is_empty());
    }
    let r = c.sign_in(&c.acme, c.acme.password.expose(), &code);
    assert_eq!(r.status, 401, "locked: {}", r.body);
    assert!(r.header("set-cookie").is_empty());
    // Another account is not locked by it.
    let r = c.sign_in(
        &c.globex,
        c.globex.password.expose(),
        &c.globex.totp.code_at(now),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let failed = c.audit(&c.acme_key, "console.signin_failed");
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], format!("account:{}", c.acme.info.account_id));
            let d: serde_json::Value =
                serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
            match d["reason"].as_str().unwrap() {
                "wrong" => "wrong",
                "now-locked" => "now-locked",
                "locked" => "locked",
                other => panic!("{other}"),
            }
        })
        .collect();
    assert_eq!(
        reasons,
        ["wrong", "wrong", "wrong", "wrong", "now-locked", "locked"]
    );
    // An unknown name is refused alike, with nobody's account as actor.
    let r = c.sign_in_as("nobody", "x", &code);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("is not right"));
}

#[test]
fn a_forged_form_token_is_refused_and_nothing_changes() {
    let c = start("console_csrf");
    let id = c.file(&c.acme_key, "access", "ann@example.nl", 3);
    // The sign-in form itself.
    let r = post(
        &c.url("/console/signin?lang=en"),
        &[
            ("csrf", "1999999999.00"),
            ("name", &c.acme.info.name),
            ("password", c.acme.password.expose()),
            ("code", &c.acme.totp.code_at(Timestamp::now().as_second())),
        ],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.header("set-cookie").is_empty());
    let cookie = c.session(&c.acme, 0);
    for (action, field, value) in [
        ("extend", "reason", "because"),
        ("verify", "method", "desk"),
    ] {
        for forged in ["", "00", &"ab".repeat(32)] {
            let r = post(
                &c.url(&format!("/console/requests/{id}/{action}?lang=en")),
                &[("csrf", forged), (field, value)],
                Some(&cookie),
            );
            assert_eq!(r.status, 403, "{action} with {forged:?}: {}", r.body);
            assert!(r.body.contains("nothing was changed"), "{}", r.body);
        }
    }
    // A real token of another session does not work in this one either.
    let other = c.session(&c.acme, 1);
    let page = get(
        &c.url(&format!("/console/requests/{id}?lang=en")),
        Some(&other),
    );
    let theirs = csrf_of(&page.body, &format!("/console/requests/{id}/extend"));
    let r = post(
        &c.url(&format!("/console/requests/{id}/extend?lang=en")),
        &[("csrf", &theirs), ("reason", "because")],
        Some(&cookie),
    );
    assert_eq!(r.status, 403);
    let v = json(&send(
        "GET",
        &c.url(&format!("/v1/requests/{id}")),
        &c.acme_key,
        None,
    ));
    assert_eq!(v["request"]["extended"], false);
    assert_eq!(v["request"]["state"], "received");
    assert_eq!(
        v["history"].as_array().unwrap().len(),
        1,
        "only its receipt"
    );
    let r = post(&c.url("/console/signout"), &[("csrf", "00")], Some(&cookie));
    assert_eq!(r.status, 403);
    assert_eq!(
        get(&c.url("/console/requests"), Some(&cookie)).status,
        200,
        "still signed in"
    );
}

#[test]
fn a_dpo_of_one_tenant_cannot_see_another_tenants_request() {
    let c = start("console_tenants");
    let theirs = c.file(&c.globex_key, "erasure", "ann@example.nl", 1);
    let cookie = c.session(&c.acme, 0);
    let r = get(
        &c.url(&format!("/console/requests/{theirs}?lang=en")),
        Some(&cookie),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(!r.body.contains("Erasure"), "{}", r.body);
    let q = get(&c.url("/console/requests?lang=en"), Some(&cookie));
    assert!(!q.body.contains(&theirs), "not in the queue either");
    let r = post(
        &c.url(&format!("/console/requests/{theirs}/extend?lang=en")),
        &[
            ("csrf", &csrf_for_extend(&c, &cookie, &theirs)),
            ("reason", "x"),
            ("confirm", "yes"),
        ],
        Some(&cookie),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let v = json(&send(
        "GET",
        &c.url(&format!("/v1/requests/{theirs}")),
        &c.globex_key,
        None,
    ));
    assert_eq!(v["request"]["extended"], false);
    let r = get(&c.url("/console/requests/not-an-id?lang=en"), Some(&cookie));
    assert_eq!(r.status, 404);
}

/// The extend form's token for request `id` as the session would get it, had it the page: the
/// tenant check must hold even with a valid token.
fn csrf_for_extend(c: &Console, cookie: &str, id: &str) -> String {
    // A request of the session's own tenant serves the page; its token is for its own id, so
    // the token for `id` is made the way the server makes it.
    let own = c.file(&c.acme_key, "access", "zed@example.nl", 1);
    let page = get(
        &c.url(&format!("/console/requests/{own}?lang=en")),
        Some(cookie),
    );
    assert!(page.body.contains("/extend"));
    let token = cookie.split_once('=').unwrap().1;
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).unwrap();
    m.update(format!("console-form|extend:{id}").as_bytes());
    hex::encode(m.finalize().into_bytes())
}

#[test]
fn accounts_sessions_and_the_lock_work_on_postgresql_too() {
    on_postgresql("console", |config| {
        let c = start_on(&config);
        let id = c.file(&c.acme_key, "access", "ann@example.nl", 28);
        let cookie = c.session(&c.acme, 0);
        let q = get(&c.url("/console/requests?lang=en"), Some(&cookie));
        assert!(
            q.body.contains(&id) && q.body.contains("At risk:"),
            "{}",
            q.body
        );
        let code = c.globex.totp.code_at(Timestamp::now().as_second());
        for _ in 0..5 {
            assert_eq!(c.sign_in(&c.globex, "wrong", &code).status, 401);
        }
        assert_eq!(
            c.sign_in(&c.globex, c.globex.password.expose(), &code)
                .status,
            401,
            "locked"
        );
    });
}
