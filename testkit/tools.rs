//! Whether a test that needs an outside tool (pg_dump, nginx, a Python or Node package) runs:
//! one rule for every test binary, included by `#[path]`, the same rule as for PostgreSQL
//! (`database_url.rs`). Without the tool the test skips with a note, so a developer can run the
//! rest; under CI (`CI` set, not `0` or `false`) a missing tool fails the test, because a CI run
//! that silently skipped a check must never pass (`.ci/run` installs every tool).

/// `true` when the test is to run: `probe` found the tool. `false` (after a note on standard
/// error) when it is missing and the run is not CI.
///
/// # Panics
/// Under CI, when the tool is missing: the message says what to install.
pub(crate) fn require_tool(name: &str, probe: impl FnOnce() -> bool) -> bool {
    if probe() {
        return true;
    }
    let under_ci = std::env::var("CI").is_ok_and(|c| {
        let c = c.trim();
        !c.is_empty() && !c.eq_ignore_ascii_case("false") && c != "0"
    });
    if under_ci {
        panic!("{name} is missing, and CI is set: install it (.ci/run does) rather than skip");
    }
    eprintln!("note: {name} is missing; skipping this test (CI would fail it)");
    false
}

/// Whether `program` runs with `args` and exits 0 (a probe for [`require_tool`]).
#[allow(dead_code)]
pub(crate) fn runs(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
