//! Shared by the server's and the command line's test binaries (included by `#[path]`): they
//! name their PostgreSQL schemas `{prefix}_{pid}_…`, and each run drops what earlier runs left.

/// Drops the PostgreSQL schemas that earlier runs of this test binary left behind
/// (`{prefix}_{pid}_…` of a process no longer running), once per run, so the test database does
/// not grow with every run. Only where `/proc` tells which processes run.
pub(crate) fn sweep(url: &str, prefix: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !std::path::Path::new("/proc/self").exists() {
            return;
        }
        let Ok(mut c) = custos_vault::postgres_connection(url, "public") else {
            return;
        };
        let pattern = format!("{prefix}\\_%");
        let Ok(rows) = c.query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            &[&pattern],
        ) else {
            return;
        };
        for row in rows {
            let name: String = row.get(0);
            let pid = name[prefix.len() + 1..]
                .split('_')
                .next()
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
            }
        }
    });
}
