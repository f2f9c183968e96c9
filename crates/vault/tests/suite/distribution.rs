//! Ready for distribution by tenant (issue 23; docs/scale-out.md): on a distributed PostgreSQL
//! such as Citus every distributed table carries the distribution column in its primary key, in
//! every unique key and in every foreign key. This reads the vault's and the access store's
//! schema from PostgreSQL's own catalog and fails on any table that could not be distributed by
//! `tenant_id`, unless it is one of the few named reference tables (global by nature, small,
//! copied to every node).

use crate::harness::Backend;

/// Tables that are global on purpose, with why: Citus keeps them as reference tables (small,
/// copied to every node, joined locally).
const REFERENCE: &[(&str, &str)] = &[
    (
        "schema_migrations",
        "the schema's version: one per database",
    ),
    (
        "meta",
        "the vault's identity and key check: one per database",
    ),
    (
        "policy_versions",
        "one policy serves every tenant: its published versions",
    ),
    (
        "announcements",
        "one policy serves every tenant: its changes (deliveries are per tenant)",
    ),
    (
        "access_keys",
        "looked up by key id before the tenant is known (admin keys have none)",
    ),
    (
        "console_accounts",
        "signed in to by name before the tenant is known",
    ),
    (
        "console_sessions",
        "looked up by session before the tenant is known",
    ),
];

/// What cannot be distributed by tenant yet, with why. Empty: the audit tables were the last
/// (keyed by `seq` alone until they were re-keyed by (tenant_id, seq)). Kept so that the list
/// must stay empty, never grow, unnoticed.
const NOT_YET: &[&str] = &[];

#[test]
fn every_table_can_be_distributed_by_tenant_or_is_a_named_reference_table() {
    let Some(b) = Backend::postgres("distribution") else {
        return;
    };
    drop(b.open());
    drop(b.access());
    let mut c = b.pg_as_tenant("-");
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() > 20, "{tables:?}");
    let mut wrong = Vec::new();
    for t in &tables {
        let reference = REFERENCE.iter().any(|(name, _)| name == t);
        let has_tenant = c
            .query_opt(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'tenant_id'",
                &[t],
            )
            .expect("columns")
            .is_some();
        if reference {
            continue;
        }
        if !has_tenant {
            wrong.push(format!("{t}: no tenant_id column"));
            continue;
        }
        // Every primary key and unique index includes tenant_id.
        for r in c
            .query(
                "SELECT ic.relname::text, i.indisprimary, ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace n ON n.oid = tc.relnamespace \
                 WHERE n.nspname = current_schema() AND tc.relname = $1 AND i.indisunique",
                &[t],
            )
            .expect("indexes")
        {
            let (name, columns): (String, Vec<String>) = (r.get(0), r.get(2));
            if !columns.iter().any(|c| c == "tenant_id") {
                wrong.push(format!("{t}: unique key {name} ({}) lacks tenant_id", columns.join(", ")));
            }
        }
    }
    // Every foreign key joins on tenant_id too (a row never points into another tenant).
    for r in c
        .query(
            "SELECT con.conname::text, tc.relname::text, \
                    ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = ANY(con.conkey)) \
             FROM pg_constraint con JOIN pg_class tc ON tc.oid = con.conrelid JOIN pg_namespace n ON n.oid = tc.relnamespace \
             WHERE n.nspname = current_schema() AND con.contype = 'f'",
            &[],
        )
        .expect("foreign keys")
    {
        let (name, table, columns): (String, String, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        // Reference tables may point at each other: both are whole on every node.
        let reference = REFERENCE.iter().any(|(t, _)| *t == table);
        if !reference && !columns.iter().any(|c| c == "tenant_id") {
            wrong.push(format!("{table}: foreign key {name} ({}) lacks tenant_id", columns.join(", ")));
        }
    }
    let unexpected: Vec<&String> = wrong
        .iter()
        .filter(|w| !NOT_YET.contains(&w.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "not distributable by tenant:\n{}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for gap in NOT_YET {
        assert!(
            wrong.iter().any(|w| w == gap),
            "fixed, take it off NOT_YET: {gap}"
        );
    }
}
