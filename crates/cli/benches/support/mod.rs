//! What the HTTP benches share: the release `custos serve --demo` they start, the HTTP client,
//! the client threads and the percentiles. Each bench includes it as `mod support;`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The value at fraction `p` (0 to 1) of sorted latencies; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// An HTTP client that returns error statuses as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A running `custos serve --demo`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub key: String,
    /// The demo console account: name, password, and the second factor's otpauth:// URI (read
    /// by the benches that sign in to the console).
    #[allow(dead_code)]
    pub console: (String, String, String),
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `custos serve --demo` without rate limits, on a fresh SQLite file in the temporary directory
/// `dir`, or on PostgreSQL (`database`) in the schema `schema`; returns once it printed its key.
pub fn start(dir: &str, schema: &str, database: Option<&str>) -> Server {
    let dir = std::env::temp_dir().join(dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .env_remove("CUSTOS_DATABASE_URL")
        .env("CUSTOS_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(db) = database {
        cmd.env("CUSTOS_DATABASE_URL", db)
            .env("CUSTOS_SCHEMA", schema);
        // Writes commit in groups as large as the writes in flight, each holding a connection
        // while it waits: 32 connections for 50 clients (docs/scale-out.md). Set
        // CUSTOS_POOL_SIZE to measure another size.
        if std::env::var_os("CUSTOS_POOL_SIZE").is_none() {
            cmd.env("CUSTOS_POOL_SIZE", "32");
        }
    }
    let mut child = cmd.spawn().expect("custos serve starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut key = String::new();
    let mut console = (String::new(), String::new(), String::new());
    for _ in 0..30 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(k) = line.trim().strip_prefix("app key (tenant demo):") {
            key = k.trim().to_owned();
        }
        if let Some(a) = line.trim().strip_prefix("demo account:") {
            let words: Vec<&str> = a.split_whitespace().collect();
            if let ["name", name, "password", password] = words[..] {
                console.0 = name.to_owned();
                console.1 = password.to_owned();
            }
        }
        if let Some(f) = line.trim().strip_prefix("second factor:") {
            console.2 = f.split_whitespace().next().unwrap_or_default().to_owned();
        }
        if line.contains("try: curl") {
            break;
        }
    }
    assert!(!key.is_empty(), "the demo server printed no key");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        key,
        console,
    }
}

/// Runs `client(c, agent)` for each client `c` on a thread of its own, all at once, each with
/// its own HTTP client; returns the latencies they all measured.
pub fn on_threads(
    clients: usize,
    client: &(dyn Fn(usize, &ureq::Agent) -> Vec<Duration> + Sync),
) -> Vec<Duration> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| s.spawn(move || client(c, &agent())))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Client `c` calling back to back until `deadline`: returns the latencies of the calls that
/// succeeded and counts the others in `errors`; `after(i)` runs after call `i` (counted from 1).
pub fn back_to_back(
    a: &ureq::Agent,
    c: usize,
    deadline: Instant,
    request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync),
    errors: &AtomicU64,
    after: impl Fn(usize),
) -> Vec<Duration> {
    let mut lat = Vec::new();
    let mut i = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        if request(a, c, i) {
            lat.push(t.elapsed());
        } else {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        i += 1;
        after(i);
    }
    lat
}
