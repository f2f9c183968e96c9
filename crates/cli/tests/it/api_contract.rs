//! The API's contract, checked by the tools clients use: the served `/openapi.json` of a real
//! `custos serve --demo` passes openapi-spec-validator, schemathesis finds no failure of any check
//! with the app and the dpo key, and clients generated from it (TypeScript with
//! openapi-typescript and openapi-fetch, Python with openapi-python-client) compile and talk to
//! the server. The tools come from `.ci/openapi-tools.sh`: Python ones from the venv named by
//! `CUSTOS_PY_BIN`, node ones from `clients/typescript/node_modules`. Without them the tests skip
//! with a note, under CI they fail (`testkit/tools.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::demo_server::DemoServer;
use crate::tools::require_tool;

/// The demo server the contract is checked against: the fuzzer's requests come fast and try
/// wrong keys on purpose, so the per-key rate limit and the failed-authentication limit (both
/// tested elsewhere) are off.
fn start_demo(name: &str) -> DemoServer {
    let dir = crate::scratch::fresh_dir(&format!("contract-{name}"));
    DemoServer::start_with_env(
        &dir,
        &[],
        &[
            ("CUSTOS_RATE_LIMIT", "0"),
            ("CUSTOS_FAILED_AUTH_LIMIT", "0"),
        ],
    )
}

/// The served document, also written to `openapi.json` in the demo's directory.
fn document(demo: &DemoServer) -> (serde_json::Value, PathBuf) {
    let (status, text) = demo.get("", "/openapi.json");
    assert_eq!(status, 200, "the document is served");
    let path = demo.dir.join("openapi.json");
    std::fs::write(&path, &text).unwrap();
    (serde_json::from_str(&text).expect("JSON"), path)
}

/// A program of the Python venv `.ci/openapi-tools.sh` makes (`CUSTOS_PY_BIN`), when there.
fn py_tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CUSTOS_PY_BIN").filter(|d| !d.is_empty())?;
    Some(Path::new(&dir).join(name)).filter(|p| p.is_file())
}

/// Runs `cmd`, failing the test with its output unless it succeeds; returns standard output.
fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// PATH with the venv's programs first (openapi-python-client runs ruff from the PATH).
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("PATH")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_served_document_passes_openapi_spec_validator() {
    let validator = py_tool("openapi-spec-validator");
    if !require_tool("openapi-spec-validator (CUSTOS_PY_BIN)", || {
        validator.is_some()
    }) {
        return;
    }
    let demo = start_demo("validator");
    let (doc, path) = document(&demo);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut cmd = Command::new(validator.unwrap());
    cmd.arg(&path);
    let out = run(cmd, "openapi-spec-validator");
    assert!(out.contains("OK"), "{out}");
}

/// Schemathesis with every check, for a bounded time and derandomized (the same requests on
/// every run), first with the app key, then with the dpo key (the requests, erasure and retention
/// routes). `schemathesis.toml` beside this file says what the checks cannot know.
#[test]
fn schemathesis_finds_no_failure_with_the_app_and_dpo_keys() {
    let st = py_tool("schemathesis");
    if !require_tool("schemathesis (CUSTOS_PY_BIN)", || st.is_some()) {
        return;
    }
    let st = st.unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/schemathesis.toml");
    let demo = start_demo("schemathesis");
    for (role, key, seconds) in [("app", &demo.app, "50"), ("dpo", &demo.dpo, "30")] {
        let mut cmd = Command::new(&st);
        cmd.current_dir(&demo.dir)
            .env("PATH", path_with(st.parent().unwrap()))
            .env("NO_COLOR", "1")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{}/openapi.json", demo.base)])
            // Every check runs by default; `--checks all` would also override the few
            // per-operation exclusions of schemathesis.toml.
            .arg("--generation-deterministic")
            // One worker: with two, Hypothesis (inside schemathesis) describes its strategies
            // from two threads at once and trips over its own source cache ("AST constructor
            // recursion depth mismatch", "Inconsistent results"), a fault of the tool that no
            // check of the API raised.
            .args(["--max-time", seconds, "--workers", "1"])
            .args(["--continue-on-failure", "--warnings", "off"])
            .args(["-H", &format!("Authorization: Bearer {key}")]);
        let out = match cmd.output() {
            // Schemathesis itself (its Hypothesis engine) can report a "runtime error" that a
            // test case "failed on the first run but now succeeds": no check failed, the tool
            // could not replay its own case. Only that, and only once, is run again; a failed
            // check is never retried.
            Ok(o) if !o.status.success() && tool_flake(&String::from_utf8_lossy(&o.stdout)) => {
                eprintln!("schemathesis ({role} key): a runtime error inside the tool; once more");
                run(cmd, &format!("schemathesis with the {role} key"))
            }
            Ok(o) => {
                let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
                assert!(
                    o.status.success(),
                    "schemathesis with the {role} key failed ({}):\n{stdout}\n{}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                );
                stdout
            }
            Err(e) => panic!("schemathesis starts: {e}"),
        };
        let summary = out
            .lines()
            .rev()
            .find(|l| l.contains(" in ") && l.starts_with('='))
            .unwrap_or_default();
        eprintln!(
            "schemathesis ({role} key): {}",
            summary.trim_matches('=').trim()
        );
        assert!(
            out.contains("Tested: ") && !summary.contains("fail"),
            "{out}"
        );
    }
}

/// Whether schemathesis' output reports only faults of the tool itself: every error a
/// "Runtime Error" raised inside Hypothesis (its replay or its source cache), and no failed check.
fn tool_flake(out: &str) -> bool {
    let errors: Vec<&str> = out
        .lines()
        .skip_while(|l| l.trim() != "Errors:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    out.contains("site-packages/hypothesis/")
        && !out.contains("FAILURES")
        && !out.contains("Failures:")
        && !errors.is_empty()
        && errors.iter().all(|l| l.contains("Runtime Error"))
}

#[test]
fn a_generated_python_client_imports_and_talks_to_the_server() {
    let generator = py_tool("openapi-python-client");
    if !require_tool("openapi-python-client (CUSTOS_PY_BIN)", || {
        generator.is_some()
    }) {
        return;
    }
    let generator = generator.unwrap();
    let bin = generator.parent().unwrap().to_path_buf();
    let demo = start_demo("python");
    let (_, doc) = document(&demo);
    let root = demo.dir.join("py");
    std::fs::create_dir_all(&root).unwrap();
    let mut cmd = Command::new(&generator);
    cmd.env("PATH", path_with(&bin))
        .arg("generate")
        .arg("--path")
        .arg(&doc)
        .arg("--output-path")
        .arg(root.join("custos_client"))
        .args(["--meta", "none"]);
    run(cmd, "openapi-python-client generate");
    let mut cmd = Command::new(bin.join("python"));
    cmd.arg(repo().join("clients/python/smoke.py"))
        .arg(&root)
        .args([&demo.base, &demo.app]);
    let out = run(cmd, "the Python client's smoke script");
    assert!(
        out.contains("python client:") && out.contains(": ok"),
        "{out}"
    );
}

#[test]
fn a_generated_typescript_client_compiles_strictly_and_talks_to_the_server() {
    let ts = repo().join("clients/typescript");
    let modules = ts.join("node_modules");
    let ready = || {
        modules.join(".bin/tsc").is_file()
            && modules.join(".bin/openapi-typescript").is_file()
            && Command::new("node").arg("--version").output().is_ok()
    };
    if !require_tool("node and clients/typescript/node_modules (npm ci)", ready) {
        return;
    }
    let demo = start_demo("typescript");
    let (_, doc) = document(&demo);
    let work = demo.dir.join("ts");
    std::fs::create_dir_all(&work).unwrap();
    for f in ["smoke.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(ts.join(f), work.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(&modules, work.join("node_modules")).unwrap();
    let mut cmd = Command::new(modules.join(".bin/openapi-typescript"));
    cmd.current_dir(&work)
        .arg(&doc)
        .args(["--output", "schema.d.ts"]);
    run(cmd, "openapi-typescript");
    // Strict (tsconfig.json), and nothing is emitted when a type does not check.
    let mut cmd = Command::new(modules.join(".bin/tsc"));
    cmd.current_dir(&work).args(["-p", "tsconfig.json"]);
    run(cmd, "tsc");
    let mut cmd = Command::new("node");
    cmd.current_dir(&work)
        .arg("out/smoke.js")
        .args([&demo.base, &demo.app]);
    let out = run(cmd, "the TypeScript client's smoke script");
    assert!(
        out.contains("typescript client:") && out.contains(": ok"),
        "{out}"
    );
}

#[test]
fn only_a_runtime_error_inside_hypothesis_counts_as_the_tools_own_fault() {
    let tool = "ERRORS\n_ POST /v1/requests/{request_id}/code _\nRuntime Error\n\
        File \"/venv/lib/python3.11/site-packages/hypothesis/internal/lambda_sources.py\"\n\
        Errors:\n  🚫 Runtime Error: 1\n\nTest cases:\n";
    assert!(tool_flake(tool));
    let failed = format!("{tool}Failures:\n  ❌ Server error: 1\n");
    assert!(
        !tool_flake(&failed),
        "a failed check is never the tool's fault"
    );
    let other = "Errors:\n  🚫 Network Error: 1\n\n site-packages/hypothesis/";
    assert!(!tool_flake(other), "only runtime errors");
    assert!(
        !tool_flake("Errors:\n  🚫 Runtime Error: 1\n\n"),
        "raised elsewhere"
    );
}
