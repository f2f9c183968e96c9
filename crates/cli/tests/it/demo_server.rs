//! A real `custos serve --demo` in a directory of the test's own, with the keys it printed: for
//! the tests that need a running server beside a command (backups, upgrades, digests).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub(crate) struct DemoServer {
    child: Child,
    /// Its working directory (the demo's database and key file).
    pub(crate) dir: std::path::PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    pub(crate) app: String,
    pub(crate) dpo: String,
}

impl DemoServer {
    /// Starts the demo in `dir` (its `custos-demo.db` and `custos-demo.key` are made there on the
    /// first start and reused after), with `extra` arguments, and waits until it prints its keys.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> DemoServer {
        DemoServer::start_with_env(dir, extra, &[])
    }

    /// As [`DemoServer::start`], with environment variables set for the server.
    pub(crate) fn start_with_env(dir: &Path, extra: &[&str], envs: &[(&str, &str)]) -> DemoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .current_dir(dir)
            .env_remove("CUSTOS_MASTER_KEY")
            .env_remove("CUSTOS_POLICY")
            .env_remove("CUSTOS_DATABASE_URL")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("server.log")).unwrap(),
            ))
            .spawn()
            .expect("custos serve starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut app, mut dpo, mut printed) = (None, None, String::new());
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("the demo server stopped before it printed its keys:\n{printed}\n{log}");
            }
            if let Some(k) = line.trim().strip_prefix("app key (tenant demo):") {
                app = Some(k.trim().to_owned());
            }
            if let Some(k) = line.trim().strip_prefix("dpo key (tenant demo):") {
                dpo = Some(k.trim().to_owned());
            }
            printed.push_str(&line);
            if line.contains("try: curl") {
                break;
            }
        }
        // Keep draining its standard output, so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        DemoServer {
            child,
            dir: dir.to_path_buf(),
            base: format!("http://127.0.0.1:{port}"),
            app: app.expect("app key printed"),
            dpo: dpo.expect("dpo key printed"),
        }
    }

    /// POSTs `body` as JSON with `key`; the status and the body.
    pub(crate) fn post(&self, key: &str, path: &str, body: &serde_json::Value) -> (u16, String) {
        let mut r = agent()
            .post(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {key}"))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .expect("the server answers");
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// GETs `path` with `key`; the status and the body.
    pub(crate) fn get(&self, key: &str, path: &str) -> (u16, String) {
        let mut r = agent()
            .get(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {key}"))
            .call()
            .expect("the server answers");
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// SIGTERM, and the graceful shutdown's exit status must be 0.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns every status as a response.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A child process of a test, stopped (SIGTERM, then SIGKILL after 10 s) when the test ends,
/// however it ends.
pub(crate) struct Stopped(pub(crate) Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `custos ARGS` run in `dir`, with no master key or database from the environment.
pub(crate) fn custos_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .current_dir(dir)
        .env_remove("CUSTOS_MASTER_KEY")
        .env_remove("CUSTOS_DATABASE_URL")
        .output()
        .expect("custos runs")
}
