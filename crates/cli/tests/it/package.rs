//! The Debian package (`packaging/debian/`), built from this test's own binary: its control
//! fields and files, its systemd unit, and the binary installed from it starting with the
//! packaged configuration. The installation runs for real (the maintainer script, `custos init`
//! as the `custos` user, `custos serve`) but inside a mount namespace whose `/etc`, `/usr` and
//! `/var` are overlays on a temporary directory, so the machine is left as it was.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::demo_server::Stopped;
use crate::proxy::{repo_root, runs};
use crate::tools::require_tool;

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory of the test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `packaging/debian/build.sh` on the test's binary: the path of the .deb.
fn build_package(out: &Path) -> PathBuf {
    let built = run(Command::new("sh")
        .arg(repo_root().join("packaging/debian/build.sh"))
        .arg(env!("CARGO_BIN_EXE_custos"))
        .arg(out));
    let deb = PathBuf::from(text(&built).trim());
    assert!(deb.is_file(), "build.sh printed {}", deb.display());
    deb
}

fn have_dpkg_deb() -> bool {
    require_tool("dpkg-deb", || runs("dpkg-deb", &["--version"]))
}

#[test]
fn the_package_carries_the_binary_the_unit_and_the_configuration_as_conffiles() {
    if !have_dpkg_deb() {
        return;
    }
    let dir = scratch("deb-contents");
    let deb = build_package(&dir);
    let arch = text(&run(Command::new("dpkg").arg("--print-architecture")));
    let field = |name: &str| text(&run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name)));
    assert_eq!(field("Package").trim(), "custos");
    assert_eq!(field("Version").trim(), env!("CARGO_PKG_VERSION"));
    assert_eq!(field("Architecture").trim(), arch.trim());
    let depends = field("Depends");
    for needed in ["adduser", "libc6", "util-linux"] {
        assert!(depends.contains(needed), "Depends: {depends}");
    }
    assert!(field("Maintainer").contains('<'), "a maintainer address");
    let info = text(&run(Command::new("dpkg-deb").arg("-I").arg(&deb)));
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(info.contains(script), "{script} missing:\n{info}");
    }
    let conffiles = text(&run(Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles")));
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/custos/custos.toml", "/etc/custos/policy.toml"]
    );
    // Every file with its mode and owner; nothing the package owns lies in /var or a home.
    let listing = text(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)));
    let files: Vec<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (
                cols[0].to_owned(),
                cols[1].to_owned(),
                cols[cols.len() - 1].to_owned(),
            )
        })
        .collect();
    let entry = |path: &str| {
        files
            .iter()
            .find(|(_, _, p)| p == path)
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    assert_eq!(entry("./usr/bin/custos").0, "-rwxr-xr-x");
    assert_eq!(
        entry("./usr/lib/systemd/system/custos.service").0,
        "-rw-r--r--"
    );
    assert_eq!(entry("./etc/custos/custos.toml").0, "-rw-r-----");
    assert_eq!(entry("./etc/custos/policy.toml").0, "-rw-r-----");
    entry("./usr/share/doc/custos/copyright");
    entry("./usr/share/doc/custos/operations.md");
    entry("./usr/share/doc/custos/nginx/custos.conf");
    for (mode, owner, path) in &files {
        assert_eq!(owner, "root/root", "{path} is owned by {owner}");
        assert!(
            ["./", "./etc/"].contains(&path.as_str())
                || path.starts_with("./usr/")
                || path.starts_with("./etc/custos/"),
            "{path} lies outside /usr and /etc/custos"
        );
        assert!(
            !mode.contains('s') && !mode.ends_with('w'),
            "{path}: {mode}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The unit's settings, `key=value` per line (comments and sections dropped).
fn unit_settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_unit_runs_as_its_own_user_in_a_read_only_sandbox() {
    let unit = std::fs::read_to_string(repo_root().join("packaging/debian/custos.service"))
        .expect("the unit file");
    let settings = unit_settings(&unit);
    let has = |k: &str, v: &str| settings.iter().any(|(kk, vv)| kk == k && vv == v);
    for (k, v) in [
        ("User", "custos"),
        ("Group", "custos"),
        (
            "ExecStart",
            "/usr/bin/custos serve --config /etc/custos/custos.toml",
        ),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("StateDirectory", "custos"),
        ("StateDirectoryMode", "0700"),
        ("ConfigurationDirectory", "custos"),
        ("UMask", "0077"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert!(has(k, v), "the unit lacks {k}={v}");
    }
    // What the packaged configuration names is inside what the unit lets the service write.
    let config = std::fs::read_to_string(repo_root().join("packaging/debian/custos.toml"))
        .expect("the packaged configuration");
    let config: toml::Table = config.parse().expect("the packaged configuration is TOML");
    for key in ["database", "key_file", "audit_checkpoint_file"] {
        let path = config[key].as_str().expect(key);
        assert!(path.starts_with("/var/lib/custos/"), "{key} = {path}");
    }
    assert_eq!(config["policy"].as_str(), Some("/etc/custos/policy.toml"));
    if !require_tool("systemd-analyze", || {
        runs("systemd-analyze", &["--version"])
    }) {
        return;
    }
    // The exposure score systemd computes from the unit alone (0 = fully sandboxed, 10 = none).
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(repo_root().join("packaging/debian/custos.service"))
        .output()
        .expect("systemd-analyze runs");
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("→ Overall exposure level for custos.service:")
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"));
    eprintln!("systemd-analyze security: exposure {score} for custos.service");
    assert!(score <= 1.5, "exposure {score}:\n{report}");
}

/// The machine as the installed package sees it, in a mount namespace: `/etc`, `/usr` and
/// `/var` are overlays whose changes land in `$T/up` (kept from one phase to the next, as a
/// disk keeps them between boots), with the package's files under `/etc` and `/usr`. Then
/// `$PHASE` runs:
///
/// - `install`: the postinst twice (a first install, then a reconfiguration); modes and owners,
///   `systemd-analyze verify`, whether another user reads the first admin key; then `custos
///   serve` as the service runs it.
/// - `own-policy`: the runbook's "replace the starter policy" and "tenants and keys" steps as
///   written in docs/operations.md, then `custos serve` again.
/// - `purge`: the prerm and postrm of a removal and a purge; what is left.
///
/// The server runs as the unit runs it (its user, the packaged configuration); only the port is
/// set through the environment, as 8080 may be taken here.
const SANDBOX: &str = r#"
set -eu
for d in etc usr var; do mkdir -p "$T/up/$d" "$T/work-$PHASE/$d"; done
mount -t overlay overlay -o "lowerdir=$ROOT/etc:/etc,upperdir=$T/up/etc,workdir=$T/work-$PHASE/etc" /etc
mount -t overlay overlay -o "lowerdir=$ROOT/usr:/usr,upperdir=$T/up/usr,workdir=$T/work-$PHASE/usr" /usr
mount -t overlay overlay -o "lowerdir=/var,upperdir=$T/up/var,workdir=$T/work-$PHASE/var" /var
# The maintainer scripts talk to systemd only where it runs; hide it, so the real one is never
# touched.
if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi
case "$PHASE" in
install)
  sh "$CONTROL/postinst" configure >"$T/postinst-1.out" 2>&1
  sh "$CONTROL/postinst" configure >"$T/postinst-2.out" 2>&1
  stat -c '%n %U %G %a' /etc/custos /etc/custos/custos.toml /etc/custos/policy.toml \
    /etc/custos/first-admin.key /var/lib/custos /var/lib/custos/master.key \
    /var/lib/custos/custos.db >"$T/modes"
  if command -v systemd-analyze >/dev/null; then
    if systemd-analyze verify /usr/lib/systemd/system/custos.service >"$T/verify" 2>&1; then
      echo ok >>"$T/verify"
    fi
  fi
  if setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat /etc/custos/first-admin.key \
     >/dev/null 2>&1; then echo readable >"$T/nobody"; else echo refused >"$T/nobody"; fi
  ;;
own-policy)
  install -o root -g custos -m 0640 "$NEW_POLICY" /etc/custos/policy.toml
  custos check /etc/custos/policy.toml >"$T/check.out" 2>&1
  runuser -u custos -- custos tenant create globex --name "Globex B.V." \
    --config /etc/custos/custos.toml >"$T/tenant.out" 2>&1
  ;;
purge)
  sh "$CONTROL/prerm" remove
  rm -f /usr/bin/custos /usr/lib/systemd/system/custos.service
  sh "$CONTROL/postrm" remove
  sh "$CONTROL/postrm" purge
  for f in /etc/custos/first-admin.key /var/lib/custos/master.key /var/lib/custos/custos.db; do
    if [ -e "$f" ]; then echo "kept $f"; else echo "gone $f"; fi
  done >"$T/after-purge"
  exit 0
  ;;
esac
export CUSTOS_LISTEN="127.0.0.1:$PORT"
exec setpriv --reuid=custos --regid=custos --init-groups -- \
  /usr/bin/custos serve --config /etc/custos/custos.toml
"#;

/// The package unpacked (`root`), its control area (`control`), and the sandbox's directory.
struct Unpacked {
    root: PathBuf,
    control: PathBuf,
    t: PathBuf,
}

impl Unpacked {
    /// Runs `phase` of [`SANDBOX`]; its server, if the phase starts one, listens on `port`.
    fn phase(&self, phase: &str, port: u16, new_policy: Option<&Path>) -> Stopped {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(SANDBOX)
            .env("PHASE", phase)
            .env("T", &self.t)
            .env("ROOT", &self.root)
            .env("CONTROL", &self.control)
            .env("PORT", port.to_string())
            // What dpkg gives maintainer scripts, whatever the test's own PATH lacks.
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env_remove("CUSTOS_MASTER_KEY")
            .env_remove("CUSTOS_POLICY")
            .env_remove("CUSTOS_DATABASE_URL")
            .env_remove("CUSTOS_KEY_FILE")
            .env_remove("CUSTOS_LISTEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(p) = new_policy {
            cmd.env("NEW_POLICY", p);
        }
        Stopped(cmd.spawn().expect("unshare starts"))
    }

    /// What a phase wrote to `name` in the sandbox's directory.
    fn report(&self, name: &str) -> String {
        std::fs::read_to_string(self.t.join(name)).unwrap_or_default()
    }
}

/// Waits until the server of `sandbox` answers `/healthz` on `base`.
fn wait_healthy(sandbox: &mut Stopped, unpacked: &Unpacked, agent: &ureq::Agent, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = sandbox.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = sandbox.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!(
                "the installation or the server stopped ({status}):\n{}{}{}\n{err}",
                unpacked.report("postinst-1.out"),
                unpacked.report("check.out"),
                unpacked.report("tenant.out"),
            );
        }
        if agent
            .get(&format!("{base}/healthz"))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/healthz never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `POST /v1/tenants` of `id` with the key `admin`: the status.
fn create_tenant(agent: &ureq::Agent, base: &str, admin: &str, id: &str) -> u16 {
    agent
        .post(&format!("{base}/v1/tenants"))
        .header("authorization", &format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .send(format!(r#"{{"id":"{id}","name":"Tenant {id}"}}"#).as_bytes())
        .expect("request completes")
        .status()
        .as_u16()
}

/// `GET /v1/policy`, the body.
fn served_policy(agent: &ureq::Agent, base: &str) -> String {
    let mut answer = agent
        .get(&format!("{base}/v1/policy"))
        .call()
        .expect("request completes");
    answer.body_mut().read_to_string().unwrap()
}

/// Whether this process may make a mount namespace with overlays (root, or the capability).
fn can_overlay() -> bool {
    let dir = scratch("overlay-probe");
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(dir.join(d)).expect("probe dirs");
    }
    let d = dir.display();
    let ok = runs(
        "unshare",
        &[
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &format!(
                "mount -t overlay overlay -o lowerdir={d}/lower,upperdir={d}/upper,workdir={d}/work {d}/merged"
            ),
        ],
    ) && runs("setpriv", &["--version"]);
    let _ = std::fs::remove_dir_all(&dir);
    ok
}

#[test]
fn the_binary_installed_from_the_package_starts_with_the_packaged_configuration() {
    if !have_dpkg_deb()
        || !require_tool(
            "unshare and overlayfs (run as root) and setpriv",
            can_overlay,
        )
    {
        return;
    }
    let dir = scratch("deb-install");
    let deb = build_package(&dir);
    let unpacked = Unpacked {
        root: dir.join("root"),
        control: dir.join("control"),
        t: dir.join("sandbox"),
    };
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked.root));
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(&unpacked.control));
    std::fs::create_dir_all(&unpacked.t).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut server = unpacked.phase("install", port, None);
    wait_healthy(&mut server, &unpacked, &agent, &base);

    // The postinst made the user and directories with tight modes, and `custos init` ran once.
    let modes = unpacked.report("modes");
    for expected in [
        "/etc/custos root custos 750",
        "/etc/custos/custos.toml root custos 640",
        "/etc/custos/policy.toml root custos 640",
        "/etc/custos/first-admin.key root root 600",
        "/var/lib/custos custos custos 700",
        "/var/lib/custos/master.key custos custos 600",
    ] {
        assert!(modes.lines().any(|l| l == expected), "{expected}:\n{modes}");
    }
    assert_eq!(
        unpacked.report("nobody").trim(),
        "refused",
        "another user reads the first admin key"
    );
    let key_file = unpacked.report("up/etc/custos/first-admin.key");
    let admin = key_file
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cst_"))
        .unwrap_or_else(|| panic!("no key in the first admin key file:\n{key_file}"))
        .to_owned();
    let first = unpacked.report("postinst-1.out");
    assert!(
        first.contains("/etc/custos/first-admin.key") && !first.contains(&admin),
        "the postinst names the file and never prints the key:\n{first}"
    );
    let second = unpacked.report("postinst-2.out");
    assert!(
        !second.contains("first admin") && !second.contains("cst_"),
        "reconfiguring runs no second init:\n{second}"
    );
    let verify = unpacked.report("verify");
    if verify.is_empty() {
        // Not run in the namespace: skipped with a note, or a failure under CI.
        require_tool("systemd-analyze", || false);
    } else {
        assert!(
            verify.trim_end().ends_with("ok") && !verify.contains("custos.service:"),
            "systemd-analyze verify on the installed unit:\n{verify}"
        );
    }

    // The first admin key works against the server started from the package, which runs the
    // packaged starter policy.
    assert_eq!(create_tenant(&agent, &base, &admin, "acme"), 201);
    assert!(served_policy(&agent, &base).contains("starter policy: replace it"));
    drop(server);

    // The runbook's next steps: the operator's own policy, checked, and a tenant made on the
    // command line as the service's user; the restarted service runs that policy and knows
    // that tenant.
    let own = dir.join("my-policy.toml");
    std::fs::write(
        &own,
        crate::scratch::CLEAN_POLICY.replace("\"Acme\"", "\"Own Company B.V.\""),
    )
    .unwrap();
    let mut server = unpacked.phase("own-policy", port, Some(&own));
    wait_healthy(&mut server, &unpacked, &agent, &base);
    let policy = served_policy(&agent, &base);
    assert!(
        policy.contains("Own Company B.V.") && !policy.contains("starter policy"),
        "the restarted service runs the operator's policy"
    );
    assert_eq!(
        create_tenant(&agent, &base, &admin, "globex"),
        409,
        "the tenant made with `custos tenant create` exists: {}",
        unpacked.report("tenant.out")
    );
    drop(server);

    // Removing and purging the package keeps the vault and its key, not the first key's file.
    let mut purged = unpacked.phase("purge", port, None);
    let status = purged.0.wait().expect("the purge runs");
    assert!(status.success(), "prerm/postrm failed");
    assert_eq!(
        unpacked.report("after-purge").lines().collect::<Vec<_>>(),
        [
            "gone /etc/custos/first-admin.key",
            "kept /var/lib/custos/master.key",
            "kept /var/lib/custos/custos.db",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
