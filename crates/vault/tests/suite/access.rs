//! Tenants and API keys in the vault's database, on both backends (moved here with the tables
//! from the access crate; its pure rules are tested there).

use custos_access::{AccessError, Role};

use crate::harness::Backend;

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000).expect("a valid time")
}

pub fn an_issued_key_authenticates_as_its_tenant_and_role_until_revoked(b: &Backend) {
    let a = &mut b.access();
    a.create_tenant("acme", "Acme B.V.", now()).unwrap();
    let k = a
        .issue_key(Some("acme"), Role::App, "backend", now())
        .unwrap();
    assert!(k.key.starts_with(&format!("cst_{}_", k.id)));
    let p = a.authenticate(&k.key).unwrap().expect("authenticates");
    assert_eq!(
        (p.tenant.as_deref(), p.role, p.actor()),
        (Some("acme"), Role::App, format!("key:{}", k.id))
    );
    assert!(
        !a.revoke(Some("globex"), &k.id, now()).unwrap(),
        "another tenant cannot revoke it"
    );
    assert!(a.revoke(Some("acme"), &k.id, now()).unwrap());
    assert_eq!(a.authenticate(&k.key).unwrap(), None);
}

pub fn wrong_malformed_and_unknown_keys_do_not_authenticate(b: &Backend) {
    let a = &mut b.access();
    a.create_tenant("acme", "Acme", now()).unwrap();
    let k = a.issue_key(Some("acme"), Role::Dpo, "dpo", now()).unwrap();
    let mut wrong = k.key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    for bad in [
        wrong.as_str(),
        "",
        "cst_",
        "Bearer x",
        "cst_0123456789abcdef_short",
        &k.key.replace("cst_", "cst_f"),
    ] {
        assert_eq!(a.authenticate(bad).unwrap(), None, "{bad}");
    }
}

pub fn tenants_are_validated_and_admin_keys_belong_to_no_tenant(b: &Backend) {
    let a = &mut b.access();
    assert!(matches!(
        a.create_tenant("Acme!", "x", now()),
        Err(AccessError::InvalidTenant(_))
    ));
    a.create_tenant("acme", "Acme", now()).unwrap();
    assert!(matches!(
        a.create_tenant("acme", "again", now()),
        Err(AccessError::TenantExists(_))
    ));
    assert!(matches!(
        a.issue_key(Some("acme"), Role::Admin, "x", now()),
        Err(AccessError::BadRole(_))
    ));
    assert!(matches!(
        a.issue_key(None, Role::App, "x", now()),
        Err(AccessError::BadRole(_))
    ));
    assert!(matches!(
        a.issue_key(Some("nope"), Role::App, "x", now()),
        Err(AccessError::NoSuchTenant(_))
    ));
    let admin = a.issue_key(None, Role::Admin, "ops", now()).unwrap();
    assert_eq!(a.authenticate(&admin.key).unwrap().unwrap().tenant, None);
}

pub fn the_first_admin_key_is_bootstrapped_once_and_keys_list_without_secrets(b: &Backend) {
    let a = &mut b.access();
    let first = a
        .bootstrap_admin("first admin", now())
        .unwrap()
        .expect("issued");
    assert_eq!(
        a.authenticate(&first.key).unwrap().unwrap().role,
        Role::Admin
    );
    assert!(a.bootstrap_admin("again", now()).unwrap().is_none());
    a.create_tenant("acme", "Acme", now()).unwrap();
    let approver = a
        .issue_key(Some("acme"), Role::Approver, "reviewer", now())
        .unwrap();
    let p = a.authenticate(&approver.key).unwrap().unwrap();
    assert!(p.role.may_approve() && !p.role.may_use_records() && !p.role.may_read_audit());
    let all = a.keys(None).unwrap();
    assert_eq!(all.len(), 2);
    let listed = format!("{all:?}");
    assert!(!listed.contains(&first.key[21..]), "no secret in {listed}");
    assert_eq!(a.keys(Some(Some("acme"))).unwrap()[0].role, "approver");
    assert_eq!(a.keys(Some(None)).unwrap()[0].id, first.id);
    assert_eq!(a.tenants().unwrap()[0].name, "Acme");
    assert!(a.revoke(None, &first.id, now()).unwrap());
    assert!(a.key(&first.id).unwrap().unwrap().revoked_at.is_some());
    assert!(
        a.bootstrap_admin("after revocation", now())
            .unwrap()
            .is_some(),
        "with every admin key revoked, the bootstrap issues a new one"
    );
}

/// A console account's TOTP secret is stored sealed under a key of the vault's: a store opened
/// without that key neither reads the second factor nor adds an account (fail closed), and the
/// store opened with it signs in as before.
pub fn a_console_accounts_second_factor_is_sealed_under_the_vaults_key(b: &Backend) {
    let now = jiff::Timestamp::now();
    let vault = b.open();
    let mut a = b.access().sealing_secrets_with(&vault);
    a.create_tenant("acme", "Acme", now).expect("tenant");
    let new = a
        .add_account(Some("acme"), custos_access::Role::Dpo, "ann", now)
        .expect("account");
    let stored = a
        .account_by_name("ann")
        .expect("read")
        .expect("the account");
    assert_eq!(stored.totp.expose(), new.totp.expose());
    let code = new.totp.code_at(now.as_second());
    let out = a
        .sign_in("ann", new.password.expose(), &code, now)
        .expect("signing in");
    assert!(
        matches!(out, custos_access::account::SignInOutcome::Accepted(_)),
        "signs in with the sealed secret: {out:?}"
    );
    let mut keyless = b.access();
    assert!(
        keyless.account_by_name("ann").is_err(),
        "the row holds no usable secret"
    );
    assert!(
        keyless
            .add_account(Some("acme"), custos_access::Role::Dpo, "bo", now)
            .is_err(),
        "no account without the key"
    );
}

/// Many servers over one PostgreSQL (issue 23, `custos_vault::key_gate`): a key's bucket is one
/// for every vault handle, and a key revoked through any handle is not live for the others. On
/// SQLite there is nothing to share: the answer is `None`.
pub fn a_keys_bucket_and_revocation_are_shared_by_every_handle_on_postgresql(b: &Backend) {
    use custos_vault::key_gate::Rate;
    let a = &mut b.access();
    a.create_tenant("acme", "Acme", now()).unwrap();
    let k = a.issue_key(Some("acme"), Role::App, "app", now()).unwrap();
    let acme = crate::harness::tenant("acme");
    let (mut one, mut two) = (b.open(), b.open());
    let rate = Some(Rate {
        per_second: 0.5,
        burst: 4.0,
    });
    let Some(first) = one.key_gate(Some(&acme), &k.id, rate, 1).unwrap() else {
        assert!(b.sqlite_path().exists(), "only SQLite answers None");
        return;
    };
    assert_eq!((first.live, first.wait), (true, None));
    for second in [true, false, true] {
        let v = if second { &mut two } else { &mut one };
        assert_eq!(
            v.key_gate(Some(&acme), &k.id, rate, 1)
                .unwrap()
                .unwrap()
                .wait,
            None
        );
    }
    let refused = two.key_gate(Some(&acme), &k.id, rate, 1).unwrap().unwrap();
    let wait = refused
        .wait
        .expect("the burst of 4 is spent, through both handles");
    assert!(
        wait > std::time::Duration::from_millis(1500) && wait <= std::time::Duration::from_secs(2),
        "one token back after 2 s at 0.5 a second: {wait:?}"
    );
    // Another key's bucket, and an admin key's (no tenant), are their own.
    let admin = a.issue_key(None, Role::Admin, "admin", now()).unwrap();
    assert_eq!(
        one.key_gate(None, &admin.id, rate, 1)
            .unwrap()
            .unwrap()
            .wait,
        None
    );
    // Several tokens at once: all whole tokens up to the number asked for, none below one.
    let other = a
        .issue_key(Some("acme"), Role::App, "other", now())
        .unwrap();
    let taken = |v: &mut custos_vault::Vault| {
        let g = v
            .key_gate(Some(&acme), &other.id, rate, 3)
            .unwrap()
            .unwrap();
        (g.taken, g.wait.is_some())
    };
    assert_eq!(taken(&mut one), (3, false), "3 of the burst of 4");
    assert_eq!(taken(&mut two), (1, false), "the one left");
    assert_eq!(taken(&mut one), (0, true), "none left: wait");
    assert!(a.revoke(Some("acme"), &k.id, now()).unwrap());
    assert!(
        !one.key_gate(Some(&acme), &k.id, None, 1)
            .unwrap()
            .unwrap()
            .live
    );
    assert!(
        !two.key_gate(Some(&acme), &k.id, rate, 1)
            .unwrap()
            .unwrap()
            .live
    );
    assert!(
        !one.key_gate(Some(&acme), "0123456789abcdef", None, 1)
            .unwrap()
            .unwrap()
            .live
    );
    // What it costs per request (printed; run with --nocapture): one statement, one round trip.
    let fast = Some(Rate {
        per_second: 1e6,
        burst: 2e6,
    });
    for (what, rate) in [("rate and revocation", fast), ("revocation alone", None)] {
        let n = 500;
        let start = std::time::Instant::now();
        for _ in 0..n {
            one.key_gate(None, &admin.id, rate, 1).unwrap();
        }
        eprintln!(
            "key_gate ({what}): {:.0} µs a call over {n} calls",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
}

/// Revocations are heard (issue 23, `custos_vault::key_gate::KeyWatch`): a key revoked through
/// any handle moves every watch's epoch on, and so does a lost listening connection, which
/// stops the watch vouching until it listens again. On SQLite there is no watch.
pub fn a_revocation_through_any_handle_moves_every_watch_on(b: &Backend) {
    use custos_vault::key_gate::KeyWatch;
    let a = &mut b.access();
    let Some(watch) = KeyWatch::start(&b.config) else {
        assert_eq!(b.kind, "sqlite", "only SQLite has no watch");
        return;
    };
    a.create_tenant("acme", "Acme", now()).unwrap();
    let k = a.issue_key(Some("acme"), Role::App, "app", now()).unwrap();
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !done() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(15),
                "{what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        start.elapsed()
    };
    until("the watch listens", &|| watch.epoch().is_some());
    let listening = watch.epoch().unwrap();
    // Issuing a key is no revocation.
    a.issue_key(Some("acme"), Role::App, "more", now()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(watch.epoch(), Some(listening), "nothing was revoked");
    assert!(a.revoke(Some("acme"), &k.id, now()).unwrap());
    let heard = until("the revocation is heard", &|| {
        watch.epoch().is_some_and(|e| e > listening)
    });
    eprintln!("revocation heard after {:.2} ms", heard.as_secs_f64() * 1e3);
    // A revocation in another schema of the same database is not this vault's.
    let elsewhere = Backend::postgres("watch_elsewhere").expect("PostgreSQL");
    let mut other = elsewhere.access();
    other.create_tenant("acme", "Acme", now()).unwrap();
    let ok = other
        .issue_key(Some("acme"), Role::App, "app", now())
        .unwrap();
    let before = watch.epoch();
    assert!(other.revoke(Some("acme"), &ok.id, now()).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(watch.epoch(), before, "another schema's revocation");
    // The listening connection ends: the watch stops vouching, then listens again in a new
    // epoch (whatever was revoked meanwhile is looked up again).
    let before = watch.epoch().unwrap();
    let custos_vault::StoreConfig::Postgres { schema, .. } = &b.config else {
        unreachable!("a watch runs on PostgreSQL only")
    };
    let mut admin = b.pg_as_tenant("");
    let ended = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = left('custos-key-watch ' || $1, 63) AND datname = current_database()",
            &[schema],
        )
        .unwrap();
    assert!(
        !ended.is_empty(),
        "the watch's connection is found by its name"
    );
    until("the watch stops vouching", &|| watch.epoch().is_none());
    until("the watch listens again", &|| watch.epoch().is_some());
    assert!(watch.epoch().unwrap() > before);
}
