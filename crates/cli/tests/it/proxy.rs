//! Custos behind the real nginx with the example configuration (`packaging/nginx/custos.conf`,
//! only its ports and paths changed) and a self-signed certificate: TLS 1.3 with HSTS, plain
//! HTTP redirected, the failed-authentication limit following the real client through the proxy
//! while forged `X-Forwarded-For` headers change nothing, and an access log that holds no
//! subject id, e-mail address, query string or full client address.
//!
//! On loopback every 127.x address is local, so clients are told apart by their source address:
//! nginx connects to Custos from 127.0.0.1 (the one trusted proxy), and curl from 127.0.0.3 and
//! up (`--interface`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::demo_server::Stopped;
use crate::tools::require_tool;

/// The repository's root (the CLI crate is `crates/cli`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `program --version` (or `args`) runs.
pub(crate) fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What curl got: its exit status, the status code, the headers (lower-cased names) and body.
struct Got {
    ok: bool,
    status: u16,
    headers: String,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// `curl` with `args`, from the source address `from`.
fn curl(from: &str, args: &[&str]) -> Got {
    let dir = std::env::temp_dir().join(format!("custos-it-{}-curl", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let headers = dir.join(format!("h-{}", rand_suffix()));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--interface", from, "-D"])
        .arg(&headers)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    let got = Got {
        ok: out.status.success(),
        status: code.trim().parse().unwrap_or(0),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: body.to_owned(),
    };
    let _ = std::fs::remove_file(&headers);
    got
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The example configuration with only its ports and paths changed; each change must apply, so
/// an edit of the example that this test no longer matches fails here rather than tests
/// something else.
fn site_config(dir: &Path, https: u16, http: u16, custos: u16, ipv6: bool) -> String {
    let mut conf = std::fs::read_to_string(repo_root().join("packaging/nginx/custos.conf"))
        .expect("the nginx example");
    let v6 = |listen: &str| {
        if ipv6 {
            format!("listen [::1]:{listen}")
        } else {
            "# (no IPv6 loopback here)".to_owned()
        }
    };
    let replacements = [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{https} ssl;")),
        (
            "listen [::]:443 ssl;",
            format!("{};", v6(&format!("{https} ssl"))),
        ),
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        ("listen [::]:80;", format!("{};", v6(&http.to_string()))),
        (
            "server 127.0.0.1:8080;",
            format!("server 127.0.0.1:{custos};"),
        ),
        ("/var/log/nginx/", format!("{}/", dir.display())),
        ("/etc/ssl/custos/", format!("{}/", dir.display())),
    ];
    for (from, to) in replacements {
        assert!(conf.contains(from), "the example no longer has `{from}`");
        conf = conf.replace(from, &to);
    }
    conf
}

/// A configuration file for nginx around the site file: its own prefix, pid file and temporary
/// directories, in the foreground.
fn nginx_main_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  \
         fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n  \
         access_log off;\n  include {d}/custos.conf;\n}}\n"
    )
}

/// nginx on the PATH, or where Debian puts it (`/usr/sbin`, not on every user's PATH).
fn nginx() -> String {
    if runs("nginx", &["-v"]) {
        "nginx".to_owned()
    } else {
        "/usr/sbin/nginx".to_owned()
    }
}

fn tools_present() -> bool {
    require_tool("nginx", || runs(&nginx(), &["-v"]))
        && require_tool("openssl", || runs("openssl", &["version"]))
        && require_tool("curl", || runs("curl", &["--version"]))
}

/// Custos on `port` with `failed_auth_per_minute = 3`, trusting 127.0.0.1 as its proxy; the
/// first admin key and the file its logs go to.
fn start_custos(dir: &Path, port: u16) -> (Stopped, String, PathBuf) {
    std::fs::write(dir.join("policy.toml"), crate::scratch::CLEAN_POLICY).unwrap();
    let config = dir.join("custos.toml");
    std::fs::write(
        &config,
        format!(
            "policy = \"{d}/policy.toml\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{d}/custos.db\"\n\
             key_file = \"{d}/custos.key\"\ntrusted_proxies = [\"127.0.0.1/32\"]\nfailed_auth_per_minute = 3\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let custos = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
        for v in [
            "CUSTOS_MASTER_KEY",
            "CUSTOS_POLICY",
            "CUSTOS_DATABASE_URL",
            "CUSTOS_KEY_FILE",
            "CUSTOS_LISTEN",
            "CUSTOS_TRUSTED_PROXIES",
            "CUSTOS_FAILED_AUTH_LIMIT",
        ] {
            c.env_remove(v);
        }
        c
    };
    let init = custos()
        .args(["init", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&init.stdout).into_owned();
    assert!(init.status.success(), "custos init: {printed}");
    let admin = printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cst_"))
        .expect("init prints the first admin key")
        .to_owned();
    let log = dir.join("custos.log");
    let server = custos()
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("custos serve starts");
    (Stopped(server), admin, log)
}

#[test]
fn nginx_terminates_tls_forwards_the_real_client_and_logs_nothing_personal() {
    if !tools_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("custos-it-{}-proxy", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let (custos_port, https, http) = (free_port(), free_port(), free_port());
    let (_custos, admin, custos_log) = start_custos(&dir, custos_port);

    // A self-signed certificate for the name the clients use.
    let cert = dir.join("fullchain.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=custos.test"])
        .args(["-addext", "subjectAltName=DNS:custos.test", "-keyout"])
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    std::fs::write(
        dir.join("custos.conf"),
        site_config(&dir, https, http, custos_port, ipv6),
    )
    .unwrap();
    let main = dir.join("nginx.conf");
    std::fs::write(&main, nginx_main_config(&dir)).unwrap();
    let nginx = Command::new(nginx())
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&main)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx starts");
    let _nginx = Stopped(nginx);

    let base = format!("https://custos.test:{https}");
    let resolve = format!("custos.test:{https}:127.0.0.1");
    let ca = cert.display().to_string();
    let tls = |from: &str, extra: &[&str], path: &str| {
        let url = format!("{base}{path}");
        let mut args = vec!["--resolve", &resolve, "--cacert", &ca];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(from, &args)
    };

    // Both servers up: nginx answers /healthz from Custos over TLS, trusting the certificate.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let health = loop {
        let got = tls("127.0.0.3", &[], "/healthz");
        if got.status == 200 {
            break got;
        }
        let log = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "no answer through nginx ({}): {}\n{log}",
            got.status,
            got.body
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let hsts = health.header("strict-transport-security").expect("HSTS");
    assert!(hsts.contains("max-age=63072000"), "{hsts}");
    assert!(
        health.headers.contains("HTTP/1.1 200"),
        "{}",
        health.headers
    );

    // The metrics are not published through the proxy (the monitoring host scrapes Custos).
    assert_eq!(tls("127.0.0.3", &[], "/metrics").status, 404);

    // Without the certificate's authority the client refuses; TLS 1.2 is not offered.
    let url = format!("{base}/healthz");
    let untrusted = curl("127.0.0.3", &["--resolve", &resolve, &url]);
    assert!(
        !untrusted.ok && untrusted.status == 0,
        "an unverified certificate was accepted"
    );
    let old = tls("127.0.0.3", &["--tlsv1.2", "--tls-max", "1.2"], "/healthz");
    assert!(!old.ok && old.status == 0, "TLS 1.2 was accepted");

    // Plain HTTP only redirects to HTTPS.
    let plain = curl(
        "127.0.0.3",
        &[&format!("http://127.0.0.1:{http}/v1/policy?lang=en")],
    );
    assert_eq!(plain.status, 301);
    let location = plain.header("location").expect("a Location");
    assert!(location.starts_with("https://"), "{location}");

    // Through the proxy the limit counts the real client (127.0.0.3), whatever it forges.
    let wrong = "Authorization: Bearer cst_0123456789abcdef_wrongwrongwrongwrongwrongwrong";
    let admin_auth = format!("Authorization: Bearer {admin}");
    for forged in ["198.51.100.1", "198.51.100.2", "127.0.0.1"] {
        let xff = format!("X-Forwarded-For: {forged}");
        let got = tls("127.0.0.3", &["-H", wrong, "-H", &xff], "/v1/audit");
        assert_eq!(got.status, 401, "{}", got.body);
    }
    let limited = tls(
        "127.0.0.3",
        &["-H", wrong, "-H", "X-Forwarded-For: 203.0.113.77"],
        "/v1/audit",
    );
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(
        limited.header("retry-after").is_some(),
        "{}",
        limited.headers
    );
    assert!(
        limited
            .body
            .contains("https://custos.dev/problems/too-many-failed-authentications"),
        "{}",
        limited.body
    );
    // The admin key is accepted (403: it reads no tenant's trail) from another client.
    let other = tls("127.0.0.4", &["-H", &admin_auth], "/v1/audit");
    assert_eq!(
        other.status, 403,
        "another client is not held back: {}",
        other.body
    );

    // Straight to Custos, a peer that is not the proxy is itself, whatever it forwards: its
    // failures count against it and not against the client it names.
    let direct = format!("http://127.0.0.1:{custos_port}/v1/audit");
    for _ in 0..3 {
        let got = curl(
            "127.0.0.5",
            &["-H", wrong, "-H", "X-Forwarded-For: 127.0.0.4", &direct],
        );
        assert_eq!(got.status, 401, "{}", got.body);
    }
    let got = curl(
        "127.0.0.5",
        &[
            "-H",
            &admin_auth,
            "-H",
            "X-Forwarded-For: 127.0.0.4",
            &direct,
        ],
    );
    assert_eq!(got.status, 429, "{}", got.body);
    let other = tls("127.0.0.4", &["-H", &admin_auth], "/v1/audit");
    assert_eq!(
        other.status, 403,
        "a forged header charged another client: {}",
        other.body
    );

    // Requests that carry a subject's e-mail address and ids in paths, queries and bodies.
    let email = "alice.jansen@example.com";
    let record = "0123456789abcdef0123456789abcdef";
    for (extra, path) in [
        (vec![], format!("/v1/records/{record}?subject={email}")),
        (vec![], format!("/v1/subjects/{email}/records")),
        (vec![], format!("/{email}")),
        (
            vec![],
            "/v1/consent/state?subject=alice.jansen%40example.com".to_owned(),
        ),
        (vec![], format!("/v1/requests/{record}/verify?code=123456")),
        (
            vec!["-X", "POST", "-H", "Content-Type: application/json", "-d"],
            format!(r#"{{"subject":"{email}"}}"#),
        ),
    ] {
        let mut args: Vec<&str> = vec!["-H", &admin_auth];
        let got = if extra.is_empty() {
            tls("127.0.0.6", &args, &path)
        } else {
            args.extend(extra.iter().copied());
            args.push(&path);
            tls("127.0.0.6", &args, "/v1/records/query")
        };
        assert!(
            got.status >= 200 && got.status != 502,
            "{path}: {}",
            got.status
        );
    }
    let log = std::fs::read_to_string(dir.join("custos.access.log")).expect("the access log");
    assert!(log.contains("\"route\":\"/v1/records/:id\""), "{log}");
    assert!(log.contains("\"route\":\"/v1/subjects/:subject\""), "{log}");
    assert!(log.contains("\"route\":\"/(unlisted)\""), "{log}");
    assert!(log.contains("\"client\":\"127.0.0.0/24\""), "{log}");
    for secret in [
        "alice",
        "jansen",
        "example.com",
        "@",
        "%40",
        "?",
        "subject=",
        "code=",
        record,
        "cst_",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.6",
    ] {
        assert!(
            !log.contains(secret),
            "the access log holds `{secret}`:\n{log}"
        );
    }
    // Nor does Custos log a client's address or the identifiers.
    let custos_log = std::fs::read_to_string(&custos_log).unwrap_or_default();
    for secret in [
        "alice",
        "example.com",
        record,
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.5",
    ] {
        assert!(
            !custos_log.contains(secret),
            "Custos's log holds `{secret}`:\n{custos_log}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("custos-it-{}-curl", std::process::id())),
    );
}
