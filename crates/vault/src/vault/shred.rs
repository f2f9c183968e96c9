//! Crypto-shredding across the two key schemes: before an erasure that keeps some categories
//! (Art. 17(3)(b) GDPR) destroys keys, the kept records still encrypted under a legacy key (one
//! per subject and key domain, from before per-category keys) are re-encrypted under their
//! category's key, so the legacy key, which also opens the erased records, can go with them.

use std::collections::HashMap;

use super::{TenantVault, Vault};
use crate::error::{Result, VaultError};
use crate::ids::{Pseudonym, TenantId};
use crate::keys::{self, LEGACY_CATEGORY, RecordIdentity};
use crate::store::{JournalEntry, Val};
use jiff::Timestamp;

impl Vault {
    /// [`TenantVault::rekey_kept_legacy`] for a journaled erasure being replayed.
    pub(super) fn rekey_kept_legacy(&mut self, entry: &JournalEntry, now: Timestamp) -> Result<()> {
        if entry.keep.is_empty() {
            return Ok(());
        }
        let tenant = TenantId::new(&entry.tenant)?;
        self.tenant(&tenant).rekey_kept_legacy(entry, now)
    }
}

impl TenantVault<'_> {
    /// Re-encrypts the subject's records of the categories `entry` keeps that are still under a
    /// legacy key, each under its own category's key, in one transaction. A record that does not
    /// decrypt is left as it is (the erasure then keeps the legacy key it needs rather than lose
    /// a record the law says to keep). Nothing to do for a full erasure or a vault written after
    /// per-category keys. New category keys are dated `now`, and stored in the same transaction.
    pub(super) fn rekey_kept_legacy(&mut self, entry: &JournalEntry, now: Timestamp) -> Result<()> {
        if entry.keep.is_empty() {
            return Ok(());
        }
        let mut attempts = 0;
        loop {
            match self.rekey_kept_legacy_once(entry, now) {
                // A category key read changed before the transaction: encrypt again.
                Err(VaultError::DataKeyGone) if attempts < super::KEY_RETRIES => attempts += 1,
                other => return other,
            }
        }
    }

    fn rekey_kept_legacy_once(&mut self, entry: &JournalEntry, now: Timestamp) -> Result<()> {
        let tenant = self.tenant.as_str().to_owned();
        let pseudonym = Pseudonym::parse(&entry.pseudonym)?;
        let legacy: Vec<_> = self
            .vault
            .store
            .records_of(&tenant, pseudonym.as_str())?
            .into_iter()
            .filter(|r| {
                entry.keep.contains(&r.category)
                    && keys::key_category_of(&r.ciphertext, &r.category) == Some(LEGACY_CATEGORY)
            })
            .collect();
        if legacy.is_empty() {
            return Ok(());
        }
        let slots: Vec<super::KeySlot> = legacy
            .iter()
            .map(|r| (pseudonym.clone(), r.key_domain.clone(), r.category.clone()))
            .collect();
        let (new_keys, keep) = self.keys_to_rewrite(&pseudonym, &slots)?;
        let mut nonces = vec![0u8; legacy.len() * keys::RECORD_NONCE_LEN];
        keys::fill_random(&mut nonces)?;
        let mut cache = HashMap::new();
        let mut updates: Vec<[Val; 4]> = Vec::with_capacity(legacy.len());
        for ((row, slot), nonce) in legacy
            .into_iter()
            .zip(&slots)
            .zip(nonces.chunks_exact(keys::RECORD_NONCE_LEN))
        {
            let (record_id, old) = (row.record_id.clone(), row.ciphertext.clone());
            let Ok(record) = self.decrypt(row, &mut cache) else {
                continue;
            };
            let Some(key) = new_keys.get(slot) else {
                continue;
            };
            let identity = RecordIdentity {
                tenant: &tenant,
                pseudonym: pseudonym.as_str(),
                category: &record.category,
                record_id: &record_id,
            };
            let mut n = [0u8; keys::RECORD_NONCE_LEN];
            n.copy_from_slice(nonce);
            let new = keys::encrypt_record(key, &n, &identity, &record.payload)?;
            updates.push([
                tenant.as_str().into(),
                record_id.into(),
                new.into(),
                old.into(),
            ]);
        }
        self.vault
            .store
            .in_tx(&tenant, "re-encrypting kept records", &mut |tx| {
                keep.keep_in(tx, &tenant, now.as_microsecond())?;
                for u in &updates {
                    // Only if unchanged since it was read.
                    tx.execute(
                        "UPDATE records SET ciphertext = $3 WHERE tenant_id = $1 AND record_id = $2 AND ciphertext = $4",
                        u,
                    )?;
                }
                Ok(())
            })
    }
}

#[cfg(test)]
mod tests {
    //! Vaults written before per-category keys: their records read, rotate and erase as before,
    //! and a partial erasure destroys the legacy key after moving the kept records to their own.
    //! The test writes through today's code, then rewrites the data as the old code left it (one
    //! key per subject and domain, records of format 1, the data-key table of schema 4) and
    //! reopens, so migration 5 runs on real rows.

    use std::collections::{BTreeMap, HashMap};

    use crate::keys::{self, DataKey, LEGACY_CATEGORY, RecordIdentity};
    use crate::records::{Correction, write_corrections};
    use crate::store::{JournalEntry, Val};
    use crate::{
        MasterKey, NewRecord, RecordId, StoreConfig, SubjectId, TenantId, Vault, VaultError,
    };

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    pub(super) fn policy() -> custos_policy::Policy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/policies/jbsync.toml");
        custos_policy::load(&path).expect("loads").policy
    }

    pub(super) fn open(config: &StoreConfig) -> Vault {
        Vault::open(config, MasterKey::parse(KEY, "test").expect("key")).expect("opens")
    }

    fn new_record(category: &str, payload: &str) -> NewRecord {
        NewRecord {
            subject: SubjectId::new("jan").expect("id"),
            category: category.into(),
            purposes: vec!["service".into()],
            payload: payload.as_bytes().to_vec(),
            created_at: "2026-01-10T00:00:00Z".parse().expect("ts"),
            clocks: BTreeMap::new(),
        }
    }

    /// Rewrites the tenant's data as the code before per-category keys wrote it, and the
    /// data-key table back to schema 4.
    fn make_legacy(v: &mut Vault, tenant: &TenantId, postgres: bool) {
        let mut t = v.tenant(tenant);
        let pseudonym = t.pseudonym(&SubjectId::new("jan").expect("id"));
        let rows = t
            .vault
            .store
            .records_of(tenant.as_str(), pseudonym.as_str())
            .expect("rows");
        let legacy = DataKey::generate().expect("random");
        let wrapped = t
            .vault
            .keys
            .wrap(
                &legacy,
                tenant.as_str(),
                pseudonym.as_str(),
                "default",
                LEGACY_CATEGORY,
                1,
            )
            .expect("wraps");
        let mut cache = HashMap::new();
        let mut updates = Vec::new();
        for row in rows {
            let id = row.record_id.clone();
            let r = t.decrypt(row, &mut cache).expect("decrypts");
            let identity = RecordIdentity {
                tenant: tenant.as_str(),
                pseudonym: pseudonym.as_str(),
                category: &r.category,
                record_id: &id,
            };
            let mut ct =
                keys::encrypt_record(&legacy, &[7; 12], &identity, &r.payload).expect("encrypts");
            ct[0] = 1;
            updates.push((id, ct));
        }
        let downgrade = if postgres {
            "DELETE FROM data_keys; ALTER TABLE data_keys DROP CONSTRAINT data_keys_pkey;
             ALTER TABLE data_keys DROP COLUMN category;
             ALTER TABLE data_keys ADD PRIMARY KEY (tenant_id, pseudonym, key_domain)"
        } else {
            "DROP TABLE data_keys; CREATE TABLE data_keys (
                tenant_id TEXT NOT NULL, pseudonym TEXT NOT NULL, key_domain TEXT NOT NULL,
                key_version INTEGER NOT NULL, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, pseudonym, key_domain)) STRICT, WITHOUT ROWID"
        };
        t.vault
            .store
            .in_tx(tenant.as_str(), "making a legacy vault", &mut |tx| {
                for stmt in downgrade.split(';') {
                    tx.execute(stmt, &[])?;
                }
                // Back to schema 4: migrations 6 (approvals bound to a subject, idempotency keys),
                // 8 (what a hold covers) and 10 to 15 (who filed a request, policy versions, the
                // breach register, the open-queue index, announcements, breach letters) undone
                // too, so that reopening runs 5 to 17 (16 only rebuilds an erasure key) on the old tables (7, 9
                // and 17 create their tables only where they are missing).
                tx.execute("DROP TABLE idempotency_keys", &[])?;
                tx.execute("ALTER TABLE approvals DROP COLUMN pseudonym", &[])?;
                tx.execute("ALTER TABLE holds DROP COLUMN covers", &[])?;
                tx.execute("DROP INDEX requests_open_by_due", &[])?;
                tx.execute("ALTER TABLE requests DROP COLUMN requester", &[])?;
                for table in [
                    "breach_reminders",
                    "breach_deliveries",
                    "breach_letters",
                    "policy_versions",
                    "breach_versions",
                    "breaches",
                    "announcement_deliveries",
                    "announcement_objections",
                    "announcement_settings",
                    "announcements",
                ] {
                    tx.execute(&format!("DROP TABLE {table}"), &[])?;
                }
                tx.execute("DELETE FROM schema_migrations WHERE version >= 5", &[])?;
                tx.execute(
                    "INSERT INTO data_keys (tenant_id, pseudonym, key_domain, key_version, wrapped, created_at) VALUES ($1, $2, 'default', 1, $3, 0)",
                    &[tenant.as_str().into(), pseudonym.as_str().into(), wrapped.clone().into()],
                )?;
                for (id, ct) in &updates {
                    tx.execute(
                        "UPDATE records SET ciphertext = $3 WHERE tenant_id = $1 AND record_id = $2",
                        &[tenant.as_str().into(), id.as_str().into(), ct.clone().into()],
                    )?;
                }
                Ok(())
            })
            .expect("legacy written");
    }

    fn legacy_vault_reads_rotates_and_erases_with_its_keys(config: StoreConfig, postgres: bool) {
        let p = policy();
        let tenant = TenantId::new("acme").expect("id");
        let (kept, gone): (RecordId, RecordId) = {
            let mut v = open(&config);
            let mut t = v.tenant(&tenant);
            let kept = t
                .put(
                    &p,
                    new_record("account", "kept by tax law"),
                    jiff::Timestamp::now(),
                )
                .expect("put");
            let gone = t
                .put(
                    &p,
                    new_record("credentials", "erased"),
                    jiff::Timestamp::now(),
                )
                .expect("put");
            make_legacy(&mut v, &tenant, postgres);
            (kept, gone)
        };
        // Reopening runs migration 5 on the old table; the records read as before.
        let mut v = open(&config);
        assert_eq!(
            v.tenant(&tenant)
                .get(&gone)
                .expect("reads")
                .payload
                .as_slice(),
            b"erased"
        );
        // Rotation re-wraps the legacy key without re-encrypting.
        let rotation = v.rotate_keys().expect("rotates");
        assert_eq!(rotation.rewrapped, 1);
        let mut t = v.tenant(&tenant);
        assert_eq!(
            t.get(&kept).expect("reads").payload.as_slice(),
            b"kept by tax law"
        );
        // A new record of a legacy subject gets its category's own key, beside the legacy one.
        let fresh = t
            .put(&p, new_record("credentials", "new"), jiff::Timestamp::now())
            .expect("put");
        assert_eq!(t.get(&fresh).expect("reads").payload.as_slice(), b"new");

        let pseudonym = t.pseudonym(&SubjectId::new("jan").expect("id"));
        let copy = t
            .vault
            .store
            .record(tenant.as_str(), gone.as_str())
            .expect("row")
            .expect("row");
        let e = t
            .erase_pseudonym(
                pseudonym.clone(),
                "2026-03-03T09:00:00Z".parse().expect("ts"),
                vec!["account".into()],
                None,
                "subject.erase",
            )
            .expect("erased");
        assert_eq!(e.counts.records, 2);
        assert_eq!(e.counts.restricted, 1);
        assert_eq!(
            e.counts.keys, 2,
            "the legacy key and the new credentials key"
        );
        // The kept record moved to its own key and still decrypts.
        let row = t
            .vault
            .store
            .record(tenant.as_str(), kept.as_str())
            .expect("row")
            .expect("kept");
        assert_eq!(row.ciphertext[0], 2, "re-encrypted under the category key");
        assert_eq!(
            t.decrypt(row, &mut HashMap::new())
                .expect("decrypts")
                .payload
                .as_slice(),
            b"kept by tax law"
        );
        // A saved copy of an erased legacy record cannot be opened any more.
        t.vault
            .store
            .in_tx(tenant.as_str(), "putting back a copy", &mut |tx| {
                tx.execute(
                    "INSERT INTO records (tenant_id, record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        tenant.as_str().into(),
                        copy.record_id.as_str().into(),
                        copy.pseudonym.as_str().into(),
                        copy.category.as_str().into(),
                        copy.purposes.as_str().into(),
                        copy.key_domain.as_str().into(),
                        Val::Bytes(Some(copy.ciphertext.clone())),
                        copy.created_at.into(),
                        copy.clocks.as_str().into(),
                    ],
                )
                .map(|_| ())
            })
            .expect("put back");
        assert!(matches!(t.get(&gone), Err(VaultError::KeyDestroyed(_))));
        // Replaying the same erasure (a restored backup) changes nothing more.
        let entry = JournalEntry {
            erasure_id: e.erasure_id.clone(),
            tenant: tenant.as_str().into(),
            pseudonym: pseudonym.as_str().into(),
            erased_at: 0,
            keep: vec!["account".into()],
        };
        t.rekey_kept_legacy(&entry, jiff::Timestamp::now())
            .expect("nothing to re-key");
    }

    /// Records of every category the tests below correct, written by today's code and then
    /// rewritten as the code before per-category keys left them: `credentials`, `usage_log`,
    /// `support` and two of `oauth_token`, in that order.
    fn legacy_records(config: &StoreConfig, postgres: bool) -> Vec<RecordId> {
        let p = policy();
        let tenant = TenantId::new("acme").expect("id");
        let mut v = open(config);
        let mut t = v.tenant(&tenant);
        let ids = [
            "credentials",
            "usage_log",
            "support",
            "oauth_token",
            "oauth_token",
        ]
        .into_iter()
        .map(|category| {
            t.put(&p, record(category, "old"), jiff::Timestamp::now())
                .expect("put")
        })
        .collect();
        make_legacy(&mut v, &tenant, postgres);
        ids
    }

    /// A record of `category` for a purpose it serves.
    fn record(category: &str, payload: &str) -> NewRecord {
        let purpose = match category {
            "usage_log" => "security",
            "support" => "support",
            _ => "service",
        };
        NewRecord {
            purposes: vec![purpose.into()],
            ..new_record(category, payload)
        }
    }

    fn corrected(ids: &[&RecordId]) -> Vec<Correction> {
        ids.iter()
            .map(|id| Correction {
                record: (*id).clone(),
                payload: b"corrected".to_vec(),
            })
            .collect()
    }

    /// A correction of a record still under its domain's legacy key moves it to its category's
    /// key, a key no record uses until the correction commits. Between the correction's sealing
    /// and its transaction, another of the subject's records is deleted (which destroys every
    /// key of the subject no record uses): the key must survive, or be refused.
    fn corrections_of_legacy_records_keep_their_keys(config: StoreConfig, postgres: bool) {
        let ids = legacy_records(&config, postgres);
        let [made, read, deleted, twins @ ..] = ids.as_slice() else {
            panic!("five records")
        };
        let p = policy();
        let tenant = TenantId::new("acme").expect("id");
        let now = jiff::Timestamp::now();
        let mut v = open(&config);
        let mut t = v.tenant(&tenant);
        let write = |t: &mut super::TenantVault<'_>, sealed| {
            let ctx = t.audit_ctx(now);
            t.store().in_tx("acme", "correcting records", &mut |tx| {
                write_corrections(tx, &ctx, sealed, None)
            })
        };
        let reads =
            |t: &mut super::TenantVault<'_>, id: &RecordId| t.get(id).map(|r| r.payload.to_vec());

        // The credentials key is made by the correction; the support record goes meanwhile.
        let sealed = t
            .seal_corrections(&corrected(&[made]), None)
            .expect("sealed");
        t.delete_record(&p, deleted, now).expect("deleted");
        write(&mut t, &sealed).expect("the correction is written");
        assert_eq!(reads(&mut t, made).expect("reads"), b"corrected");

        // The usage_log key is read by the correction (a newer record made it); that record goes
        // meanwhile, with the key, and a later record makes another.
        let newer = t.put(&p, record("usage_log", "newer"), now).expect("put");
        let sealed = t
            .seal_corrections(&corrected(&[read]), None)
            .expect("sealed");
        t.delete_record(&p, &newer, now).expect("deleted");
        let later = t.put(&p, record("usage_log", "later"), now).expect("put");
        let refused = write(&mut t, &sealed);
        assert!(
            matches!(refused, Err(VaultError::DataKeyGone)),
            "{refused:?}"
        );
        assert_eq!(reads(&mut t, read).expect("reads as it was"), b"old");
        // Corrected the usual way, it is sealed again under the key stored now.
        t.update_record(read, b"corrected".to_vec(), now)
            .expect("corrected");
        assert_eq!(reads(&mut t, read).expect("reads"), b"corrected");
        assert_eq!(reads(&mut t, &later).expect("reads"), b"later");

        // Two records of one category corrected at once (one rectification) share the one key
        // made for them.
        let both: Vec<&RecordId> = twins.iter().collect();
        let sealed = t.seal_corrections(&corrected(&both), None).expect("sealed");
        write(&mut t, &sealed).expect("both corrections are written");
        for id in both {
            assert_eq!(reads(&mut t, id).expect("reads"), b"corrected");
        }
    }

    /// A deletion of a record that a correction is writing, on another server: the correction
    /// holds the subject (and waits here to store the key it made); the deletion waits for the
    /// subject before it touches the record. Taking the record first, it deadlocked with the
    /// correction's update of it.
    #[test]
    fn a_deletion_of_a_record_being_corrected_waits_for_the_correction_on_postgres() {
        let Some(scratch) = PgScratch::new("legacy_deadlock") else {
            return;
        };
        let (url, schema, config) = (&scratch.url, &scratch.schema, scratch.config());
        let ids = legacy_records(&config, true);
        let target = &ids[0];
        let p = policy();
        let tenant = TenantId::new("acme").expect("id");
        let now = jiff::Timestamp::now();
        let (mut corrector, mut deleter) = (open(&config), open(&config));
        let pseudonym = corrector
            .tenant(&tenant)
            .pseudonym(&SubjectId::new("jan").expect("id"));
        let mut watch = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        let waiting = |watch: &mut postgres::Client, sql: &str| {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !watch.query_one(sql, &[]).expect("locks").get::<_, bool>(0) {
                assert!(std::time::Instant::now() < until, "nothing waited: {sql}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        // Held here, the correction stops after taking the subject, before storing its key.
        let mut holder = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        let mut hold = holder.transaction().expect("tx");
        hold.batch_execute(&format!("LOCK TABLE {schema}.data_keys IN SHARE MODE"))
            .expect("locks the keys");
        std::thread::scope(|scope| {
            let correcting = scope.spawn(|| {
                corrector
                    .tenant(&tenant)
                    .update_record(target, b"corrected".to_vec(), now)
                    .map(|_| ())
            });
            waiting(
                &mut watch,
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = '{schema}.data_keys'::regclass AND NOT granted)"
                ),
            );
            let deleting = scope.spawn(|| deleter.tenant(&tenant).delete_record(&p, target, now));
            waiting(
                &mut watch,
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = {} AND objsubid = 2 AND NOT granted AND objid::text::bigint = (hashtext('{schema}/acme/' || (hashtext('{}') & {})) & 4294967295))",
                    crate::store::SUBJECT_LOCK,
                    pseudonym.as_str(),
                    crate::store::SUBJECT_LOCK_BUCKETS - 1
                ),
            );
            hold.commit().expect("lets the correction go on");
            let corrected = correcting.join().expect("the correction ends");
            let deleted = deleting.join().expect("the deletion ends");
            assert!(corrected.is_ok(), "the correction: {corrected:?}");
            assert!(deleted.is_ok(), "the deletion: {deleted:?}");
        });
        let gone = deleter.tenant(&tenant).get(target);
        assert!(
            matches!(gone, Err(VaultError::RecordNotFound(_))),
            "{gone:?}"
        );
    }

    /// Runs `test` on a vault in a scratch SQLite file named after `name`.
    fn on_sqlite(name: &str, test: fn(StoreConfig, bool)) {
        let dir = std::env::temp_dir().join(format!("custos-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        test(
            StoreConfig::Sqlite {
                path: dir.join("custos.db"),
            },
            false,
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A scratch PostgreSQL schema named after `name`, dropped with it; `None` (the test is
    /// skipped) without `CUSTOS_TEST_DATABASE_URL`.
    pub(super) struct PgScratch {
        pub(super) url: String,
        pub(super) schema: String,
    }

    impl PgScratch {
        pub(super) fn new(name: &str) -> Option<PgScratch> {
            let Some(url) = crate::database_url::postgres_url() else {
                eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL test");
                return None;
            };
            let schema = format!("u_{}_{name}", std::process::id());
            Some(PgScratch { url, schema })
        }

        /// A vault's configuration on the schema.
        pub(super) fn config(&self) -> StoreConfig {
            StoreConfig::Postgres {
                url: self.url.clone(),
                schema: self.schema.clone(),
                journal: None,
            }
        }
    }

    impl Drop for PgScratch {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    /// Runs `test` on a vault in a scratch PostgreSQL schema named after `name` ([`PgScratch`]).
    fn on_postgres(name: &str, test: fn(StoreConfig, bool)) {
        if let Some(scratch) = PgScratch::new(name) {
            test(scratch.config(), true);
        }
    }

    #[test]
    fn corrections_of_legacy_records_keep_their_keys_on_sqlite() {
        on_sqlite(
            "legacy-corrections",
            corrections_of_legacy_records_keep_their_keys,
        );
    }

    #[test]
    fn corrections_of_legacy_records_keep_their_keys_on_postgres() {
        on_postgres(
            "legacy_corrections",
            corrections_of_legacy_records_keep_their_keys,
        );
    }

    #[test]
    fn a_vault_written_before_per_category_keys_reads_rotates_and_erases_on_sqlite() {
        on_sqlite(
            "legacy-keys",
            legacy_vault_reads_rotates_and_erases_with_its_keys,
        );
    }

    #[test]
    fn a_vault_written_before_per_category_keys_reads_rotates_and_erases_on_postgres() {
        on_postgres(
            "legacy_keys",
            legacy_vault_reads_rotates_and_erases_with_its_keys,
        );
    }
}

#[cfg(test)]
mod unused_keys {
    use std::collections::BTreeMap;

    use crate::store::{self, Val};
    use crate::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, Vault, VaultError};

    /// Deleting one record (as single-record deletion will) and then calling
    /// `destroy_unused_keys` destroys its key once no record of its category is left, and only
    /// then.
    #[test]
    fn a_key_goes_with_the_last_record_that_needs_it() {
        let dir = std::env::temp_dir().join(format!("custos-unused-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let config = StoreConfig::Sqlite {
            path: dir.join("custos.db"),
        };
        let key = MasterKey::parse(&"11".repeat(32), "test").expect("key");
        let mut v = Vault::open(&config, key).expect("opens");
        let p = super::tests::policy();
        let tenant = TenantId::new("acme").expect("id");
        let mut t = v.tenant(&tenant);
        let rec = |category: &str| NewRecord {
            subject: SubjectId::new("jan").expect("id"),
            category: category.into(),
            purposes: vec!["service".into()],
            payload: b"x".to_vec(),
            created_at: "2026-01-10T00:00:00Z".parse().expect("ts"),
            clocks: BTreeMap::new(),
        };
        let ids = t
            .put_batch(
                &p,
                vec![rec("account"), rec("credentials"), rec("credentials")],
                jiff::Timestamp::now(),
            )
            .expect("put");
        let pseudonym = t.pseudonym(&SubjectId::new("jan").expect("id"));
        let delete_one = |t: &mut super::TenantVault<'_>, id: &str| {
            let mut destroyed = 0;
            t.vault
                .store
                .in_tx(tenant.as_str(), "deleting a record", &mut |tx| {
                    tx.execute(
                        "DELETE FROM records WHERE tenant_id = $1 AND record_id = $2",
                        &[Val::from(tenant.as_str()), Val::from(id)],
                    )?;
                    destroyed =
                        store::destroy_unused_keys(tx, tenant.as_str(), pseudonym.as_str())?;
                    Ok(())
                })
                .expect("deleted");
            destroyed
        };
        assert_eq!(
            delete_one(&mut t, ids[1].as_str()),
            0,
            "another credentials record needs it"
        );
        assert_eq!(
            delete_one(&mut t, ids[2].as_str()),
            1,
            "the last one took its key along"
        );
        assert_eq!(
            t.get(&ids[0])
                .expect("account untouched")
                .payload
                .as_slice(),
            b"x"
        );
        assert!(matches!(t.get(&ids[1]), Err(VaultError::RecordNotFound(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A write read its subject's data key and waits to commit; meanwhile the subject's only
    /// record of the category is deleted (its key destroyed) and another server makes the subject
    /// a new key. The write must not commit under the key it read, which nobody has any more:
    /// it is encrypted again under the new one, and its record reads.
    #[test]
    fn a_write_whose_key_was_destroyed_and_made_again_meanwhile_is_encrypted_again_on_postgres() {
        let Some(scratch) = super::tests::PgScratch::new("key_made_again") else {
            return;
        };
        let (url, schema, config) = (&scratch.url, &scratch.schema, scratch.config());
        let (mut writer, mut other) = (super::tests::open(&config), super::tests::open(&config));
        let p = super::tests::policy();
        let tenant = TenantId::new("acme").expect("id");
        let now = jiff::Timestamp::now();
        let rec = |payload: &str| NewRecord {
            subject: SubjectId::new("jan").expect("id"),
            category: "credentials".into(),
            purposes: vec!["service".into()],
            payload: payload.as_bytes().to_vec(),
            created_at: "2026-01-10T00:00:00Z".parse().expect("ts"),
            clocks: BTreeMap::new(),
        };
        let first = writer
            .tenant(&tenant)
            .put(&p, rec("first"), now)
            .expect("put");
        let pseudonym = writer
            .tenant(&tenant)
            .pseudonym(&SubjectId::new("jan").expect("id"));
        // Held here, the next write's transaction stops at its first statement (the tenant's
        // retention version, read FOR SHARE), after it read and used the key.
        let mut holder = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        let mut hold = holder.transaction().expect("tx");
        hold.batch_execute(&format!(
            "SELECT set_config('custos.tenant', 'acme', true);
             SELECT 1 FROM {schema}.tenant_retention WHERE tenant_id = 'acme' FOR UPDATE"
        ))
        .expect("holds the retention row");
        let holder_pid: i32 = hold
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0);
        let mut watch = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        std::thread::scope(|scope| {
            let writing = scope.spawn(|| writer.tenant(&tenant).put(&p, rec("second"), now));
            let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !watch
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))",
                    &[&holder_pid],
                )
                .expect("activity")
                .get::<_, bool>(0)
            {
                assert!(!writing.is_finished(), "the write did not wait");
                assert!(std::time::Instant::now() < until, "the write never waited");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // The subject's only credentials record goes, and its key with it; then another
            // server makes the subject a new credentials key.
            let mut t = other.tenant(&tenant);
            t.delete_record(&p, &first, now).expect("deleted");
            let slot = (
                pseudonym.clone(),
                "default".to_owned(),
                "credentials".to_owned(),
            );
            t.data_keys_for(std::slice::from_ref(&slot), now)
                .expect("a new key");
            hold.commit().expect("lets the write go on");
            let second = writing.join().expect("the write ends").expect("written");
            assert_eq!(
                other
                    .tenant(&tenant)
                    .get(&second)
                    .expect("the record the write acknowledged reads")
                    .payload
                    .as_slice(),
                b"second"
            );
        });
    }
}
