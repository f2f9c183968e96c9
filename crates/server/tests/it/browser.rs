//! Every web page in a real browser (issue 20): the real server, Debian's Chromium driven by
//! `tests/browser/run.mjs` (playwright-core), each page with JavaScript on and off. A page passes
//! with the status it should have, the right `<html lang>`, no axe-core violation of WCAG 2.2 AA,
//! no request to another host, no console error and no Content-Security-Policy violation; a
//! screenshot of each lands in `target/browser-artifacts/` (see docs/browser-tests.md).
//!
//! Chromium, Node.js and `tests/browser/node_modules` (`npm ci` there) are outside tools: without
//! them the test skips with a note, under CI it fails (`testkit/tools.rs`; `.ci/run` installs
//! them).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Running;
use crate::tools::{require_tool, runs};

/// The workspace root, where `tests/browser/` lives.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Longer than the whole run takes on a 2-core machine (about a minute), short enough that a
/// browser that hangs fails the test instead of the CI run.
const TIMEOUT: Duration = Duration::from_secs(600);

/// How many journeys sign in to the console: each gets an account per mode.
const CONSOLE_SLOTS: usize = 4;

/// The pages and journeys checked, as run.mjs reads them. A new page is one more line here
/// (`status` when it is not 200); a journey is a script in `tests/browser/journeys/`.
fn pages() -> serde_json::Value {
    serde_json::json!([
        // No `?lang=`: the browser's Accept-Language decides (Chromium here asks for en-US).
        { "path": "/privacy", "lang": "en", "name": "statement-default" },
        { "path": "/privacy?lang=nl", "lang": "nl", "name": "statement-nl" },
        { "path": "/privacy?lang=en", "lang": "en", "name": "statement-en" },
        { "journey": "journeys/statement-contents.mjs", "name": "statement-contents" },
        // The privacy center of tenant `acme` (docs/privacy-center.md).
        { "path": "/center/acme?lang=nl", "lang": "nl", "name": "center-home-nl" },
        { "path": "/center/acme?lang=en", "lang": "en", "name": "center-home-en" },
        { "path": "/center/acme/signin?lang=nl", "lang": "nl", "name": "center-signin-nl" },
        { "path": "/center/acme/signin?lang=en", "lang": "en", "name": "center-signin-en" },
        { "path": "/center/acme/me?lang=en", "lang": "en", "name": "center-me-signed-out-en", "status": 403 },
        { "path": "/center/nobody?lang=nl", "lang": "nl", "name": "center-unknown-tenant-nl", "status": 404 },
        { "journey": "journeys/center-request.mjs", "name": "center-request" },
        // The privacy team's console (docs/console.md).
        { "path": "/console/signin?lang=nl", "lang": "nl", "name": "console-signin-nl" },
        { "path": "/console/signin?lang=en", "lang": "en", "name": "console-signin-en" },
        { "journey": "journeys/console-queue.mjs", "name": "console-queue" },
        { "journey": "journeys/console-oversight.mjs", "name": "console-oversight" },
        // Across both: a request filed, extended, released and downloaded; a consent withdrawn.
        { "journey": "journeys/request-handled.mjs", "name": "request-handled" },
        { "journey": "journeys/consent-withdrawn.mjs", "name": "consent-withdrawn" },
        { "journey": "journeys/console-breaches.mjs", "name": "console-breaches" },
        // The consent banner on a webshop's own site (a second server runs webshop.toml).
        { "journey": "journeys/consent-banner.mjs", "name": "consent-banner" },
    ])
}

/// Whether Chromium, Node.js and the npm packages are there (see the module comment).
fn browser_tools(browser_dir: &Path) -> bool {
    let chromium = std::env::var("CUSTOS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require_tool(
        &format!("Chromium ({chromium}, Debian's package chromium)"),
        || Path::new(&chromium).is_file(),
    ) && require_tool("Node.js (node)", || runs("node", &["--version"]))
        && require_tool(
            "tests/browser/node_modules (`npm ci` in tests/browser)",
            || {
                ["playwright-core", "axe-core"]
                    .iter()
                    .all(|p| browser_dir.join("node_modules").join(p).is_dir())
            },
        )
}

#[test]
fn the_public_pages_pass_the_browser_checks_with_and_without_javascript() {
    let root = PathBuf::from(ROOT);
    let browser_dir = root.join("tests/browser");
    if !browser_tools(&browser_dir) {
        return;
    }
    let artifacts = std::env::var_os("CUSTOS_BROWSER_ARTIFACTS")
        .map_or_else(|| root.join("target/browser-artifacts"), PathBuf::from);
    std::fs::create_dir_all(&artifacts).expect("the artifacts directory can be made");
    // Kept beside the screenshots, so a run can be repeated against `custos serve --demo`.
    let list = artifacts.join("pages.json");
    std::fs::write(&list, serde_json::to_vec_pretty(&pages()).expect("JSON")).expect("page list");
    // Written to a file rather than a pipe: nothing to drain while the run is timed.
    let log_path = artifacts.join("run.log");
    let log = std::fs::File::create(&log_path).expect("run log");

    // A server with a vault and tenant `acme`, writing its mail to an outbox the journeys read.
    let outbox = artifacts.join("outbox");
    let _ = std::fs::remove_dir_all(&outbox);
    let config = crate::data::sqlite_config("browser");
    let backend = crate::data::open_backend(&config);
    // Tenant `acme`, and a privacy officer's console account for the console journey.
    backend
        .access
        .lock()
        .expect("access store")
        .create_tenant("acme", "acme", jiff::Timestamp::now())
        .expect("tenant");
    // A TOTP code signs in once: every journey that signs in gets an account per mode (lib.mjs,
    // `consoleSignIn(session, slot)`).
    let accounts: Vec<serde_json::Value> = (0..CONSOLE_SLOTS * 2)
        .map(|i| {
            let a = backend
                .access
                .lock()
                .expect("access store")
                .add_account(
                    Some("acme"),
                    custos_access::Role::Dpo,
                    &format!("dpo-browser-{i}"),
                    jiff::Timestamp::now(),
                )
                .expect("account");
            serde_json::json!({
                "name": a.info.name, "password": a.password.expose(), "secret": a.totp.base32(),
            })
        })
        .collect();
    let app_key = backend
        .access
        .lock()
        .expect("access store")
        .issue_key(
            Some("acme"),
            custos_access::Role::App,
            "browser app",
            jiff::Timestamp::now(),
        )
        .expect("app key")
        .key;
    let admin = crate::data::admin_key(&backend);
    let box_dir = outbox.clone();
    let server = Running::start_configured(Some(backend), crate::JBSYNC.to_owned(), move |c| {
        c.mail_outbox = Some(box_dir);
    });
    let setup = crate::data::Setup { server, admin };
    let server = setup.server;
    // A consent per mode for the withdrawal journey, given as the app records them.
    let consent_subjects = ["consent-js@example.test", "consent-nojs@example.test"];
    for who in consent_subjects {
        let r = crate::data::send(
            "POST",
            &server.url("/v1/consent"),
            &app_key,
            Some(serde_json::json!({
                "subject": who, "purpose": "style_learning", "kind": "grant",
                "at": jiff::Timestamp::now().to_string(), "notice_version": "2.0",
                "notice_hash": "a".repeat(64), "channel": "web", "proof": "settings toggle",
            })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // The webshop of examples/policies/webshop.toml, whose own site the banner journey visits.
    let shop_config = crate::data::sqlite_config("browser-shop");
    let shop_backend = crate::data::open_backend(&shop_config);
    let shop_key = {
        let mut a = shop_backend.access.lock().expect("access store");
        a.create_tenant("korenbloem", "Korenbloem Wonen", jiff::Timestamp::now())
            .expect("tenant");
        a.issue_key(
            Some("korenbloem"),
            custos_access::Role::Dpo,
            "browser shop dpo",
            jiff::Timestamp::now(),
        )
        .expect("dpo key")
        .key
    };
    let shop_db = shop_config.database.clone();
    let shop = Running::start_configured(
        Some(shop_backend),
        include_str!("../../../../examples/policies/webshop.toml").to_owned(),
        move |c| c.database = shop_db,
    );
    let started = Instant::now();
    let mut node = Command::new("node")
        .current_dir(&root)
        .arg(browser_dir.join("run.mjs"))
        .arg(server.url("/"))
        .arg(&list)
        .arg(&artifacts)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("CUSTOS_OUTBOX", &outbox)
        .env(
            "CUSTOS_CONSOLE_ACCOUNTS",
            serde_json::Value::from(accounts).to_string(),
        )
        .env("CUSTOS_APP_KEY", &app_key)
        .env("CUSTOS_SHOP_SERVER", shop.url("/"))
        .env("CUSTOS_SHOP_KEY", &shop_key)
        .env(
            "CUSTOS_CONSENT_SUBJECTS",
            serde_json::json!(consent_subjects).to_string(),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("run log"))
        .stderr(log)
        .spawn()
        .expect("node starts");
    let status = loop {
        if let Some(status) = node.try_wait().expect("node is waited for") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            let _ = node.kill();
            let _ = node.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(server);
    drop(shop);
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => println!("{output}"),
        Some(s) => panic!("the browser checks failed ({s}):\n{output}"),
        None => panic!("the browser checks took longer than {TIMEOUT:?}:\n{output}"),
    }
}
