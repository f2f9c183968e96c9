//! Whether a test that needs an external tool (nginx, openssl, systemd-analyze, ...) runs: one
//! rule for every test binary, included by `#[path]` like `database_url.rs`. Without the tool
//! the test skips with a note, so a developer's machine need not have every tool; under CI (the
//! `CI` variable set, and not `0` or `false`) a missing tool fails the test, because a run that
//! silently skipped must never pass (`.ci/run` installs the tools).

/// Whether the test needing `name` runs: `probe` says whether the tool is there and usable.
/// True: run. False: skip (a note on standard error says which tool).
///
/// # Panics
/// Under CI when `probe` says the tool is missing, naming what to install.
pub(crate) fn require_tool(name: &str, probe: impl FnOnce() -> bool) -> bool {
    if probe() {
        return true;
    }
    let ci = std::env::var("CI").ok();
    let under_ci = ci.as_deref().is_some_and(|c| {
        let c = c.trim();
        !c.is_empty() && !c.eq_ignore_ascii_case("false") && c != "0"
    });
    if under_ci {
        panic!(
            "{name} is missing or unusable, and CI is set: this test must run in CI rather than \
             be skipped (install {name}; .ci/run installs it)"
        );
    }
    eprintln!("{name} is missing or unusable: skipping this test (CI would fail it)");
    false
}
