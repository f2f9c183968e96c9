//! Whether a test binary runs its PostgreSQL tests: one rule for every test binary of the
//! workspace, included by `#[path]` (test code cannot otherwise be shared between crates).
//!
//! The PostgreSQL tests run against `CUSTOS_TEST_DATABASE_URL`. Without it they skip with a note,
//! so a developer without PostgreSQL can still run everything else; under CI (the `CI` variable
//! set, as CI systems set it) a missing URL fails the test instead, because a run that silently
//! skipped half the storage tests must never pass (`.ci/run` exports the URL).

/// The URL of the PostgreSQL test database; `None` when the PostgreSQL tests are to be skipped
/// (the caller prints the note).
///
/// # Panics
/// Under CI when `CUSTOS_TEST_DATABASE_URL` is unset or empty.
pub(crate) fn postgres_url() -> Option<String> {
    let url = std::env::var("CUSTOS_TEST_DATABASE_URL").ok();
    let ci = std::env::var("CI").ok();
    decide(url, ci.as_deref()).unwrap_or_else(|message| panic!("{message}"))
}

/// The URL of the MariaDB (or MySQL) server the connector tests create their databases on, from
/// `CUSTOS_TEST_MARIADB_URL` (`mysql://root@127.0.0.1:3306`), by the same rule as PostgreSQL's:
/// skipped when unset, a failure under CI.
///
/// # Panics
/// Under CI when `CUSTOS_TEST_MARIADB_URL` is unset or empty.
#[allow(dead_code)]
pub(crate) fn mariadb_url() -> Option<String> {
    let url = std::env::var("CUSTOS_TEST_MARIADB_URL").ok();
    let ci = std::env::var("CI").ok();
    decide(url, ci.as_deref())
        .map_err(|m| {
            m.replace("CUSTOS_TEST_DATABASE_URL", "CUSTOS_TEST_MARIADB_URL")
                .replace("PostgreSQL", "MariaDB")
        })
        .unwrap_or_else(|message| panic!("{message}"))
}

/// The rule itself: a URL that is set is used; a missing one skips the PostgreSQL tests, or is
/// an error (the message) under CI. An empty value counts as unset for both variables, and so do
/// `CI=false` and `CI=0`.
fn decide(url: Option<String>, ci: Option<&str>) -> Result<Option<String>, String> {
    let url = url.filter(|u| !u.trim().is_empty());
    let under_ci = ci.is_some_and(|c| {
        let c = c.trim();
        !c.is_empty() && !c.eq_ignore_ascii_case("false") && c != "0"
    });
    match url {
        Some(url) => Ok(Some(url)),
        None if under_ci => Err(
            "CUSTOS_TEST_DATABASE_URL is not set, and CI is: the PostgreSQL tests must run in CI \
             rather than be skipped (set it to the test database, as .ci/run does)"
                .to_owned(),
        ),
        None => Ok(None),
    }
}

#[cfg(test)]
mod database_url_rule {
    use super::decide;

    const URL: &str = "postgres://custos:custos@127.0.0.1:5432/custos_test";

    #[test]
    fn without_a_url_outside_ci_the_postgresql_tests_are_skipped() {
        assert_eq!(decide(None, None), Ok(None));
        assert_eq!(decide(Some(String::new()), None), Ok(None));
        assert_eq!(decide(None, Some("")), Ok(None));
    }

    #[test]
    fn without_a_url_under_ci_the_postgresql_tests_fail_naming_the_variable() {
        for ci in ["true", "1", "yes", "TRUE"] {
            let message = decide(None, Some(ci)).expect_err(ci);
            assert!(message.contains("CUSTOS_TEST_DATABASE_URL"), "{message}");
        }
        assert!(decide(Some("  ".into()), Some("true")).is_err());
    }

    #[test]
    fn ci_set_to_false_or_zero_is_not_ci() {
        assert_eq!(decide(None, Some("false")), Ok(None));
        assert_eq!(decide(None, Some("0")), Ok(None));
    }

    #[test]
    fn a_url_that_is_set_is_used_with_or_without_ci() {
        for ci in [None, Some("true")] {
            assert_eq!(decide(Some(URL.into()), ci), Ok(Some(URL.into())));
        }
    }
}
