//! Changing one stored record: correcting its data (Art. 16, rectification) and deleting it
//! (Art. 17, or the app's own clean-up). Both are audited with the record id and category only,
//! and both tell every recipient that received the subject's data (Art. 19).

use std::collections::HashMap;

use custos_policy::Policy;
use jiff::Timestamp;
use zeroize::Zeroize;

use crate::error::{Result, VaultError};
use crate::ids::Pseudonym;
use crate::ids::RecordId;
use crate::keys::{self, DataKey, RecordIdentity};
use crate::store::{RecordRow, Tx};
use crate::vault::{AuditCtx, KeySlot, KeysToKeep, Record, TenantVault};

/// The request id Art. 19 notifications carry for a change made through the records API rather
/// than a data-subject request: `record:` and the record's id (no personal data).
fn change_reference(id: &RecordId) -> String {
    format!("record:{}", id.as_str())
}

/// One record's new data, for a rectification.
#[derive(Clone)]
pub struct Correction {
    /// The record.
    pub record: RecordId,
    /// Its corrected data (plaintext; zeroized when the correction is dropped).
    pub payload: Vec<u8>,
}

impl Drop for Correction {
    fn drop(&mut self) {
        self.payload.zeroize();
    }
}

impl std::fmt::Debug for Correction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correction")
            .field("record", &self.record)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

/// A correction encrypted and ready to be written.
pub(crate) struct Sealed {
    pub(crate) row: RecordRow,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) record: Record,
}

/// Corrections of one subject's records, encrypted and ready to be written
/// ([`write_corrections`]), with the data keys they are under.
pub(crate) struct SealedCorrections {
    pub(crate) each: Vec<Sealed>,
    keys: KeysToKeep,
}

/// Refuses a change to a record a legal hold covers (Art. 17(3)(e): kept as it is for legal
/// claims), inside the change's transaction.
fn refuse_if_held(tx: &mut dyn Tx, tenant: &str, row: &RecordRow) -> Result<()> {
    let holds = crate::retention::active_holds_for(tx, tenant, &row.pseudonym)?;
    match holds
        .into_iter()
        .find(|h| h.covers(&row.pseudonym, &row.category))
    {
        Some(h) => Err(VaultError::Held {
            hold_id: h.info.hold_id,
            scope: h.info.scope,
        }),
        None => Ok(()),
    }
}

fn audit_change(
    tx: &mut dyn Tx,
    ctx: &AuditCtx,
    action: &str,
    row: &RecordRow,
    extra: serde_json::Value,
) -> Result<()> {
    let mut details = serde_json::json!({ "record": row.record_id, "category": row.category });
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    ctx.audit(tx, action, Some(row.pseudonym.clone()), details)
}

/// Writes sealed corrections inside a transaction: first their data keys are kept (the subject
/// held as erasures and deletions hold it, the keys read still stored as they were, the keys
/// made stored; otherwise [`VaultError::DataKeyGone`]: seal again), then each correction is
/// written: the ciphertext replaced where the record still is, under a hold refused, audited.
/// `reference` is the request id for Art. 19 (a rectification request's own, or
/// [`change_reference`]) — `None` when the caller tells the recipients itself.
pub(crate) fn write_corrections(
    tx: &mut dyn Tx,
    ctx: &AuditCtx,
    sealed: &SealedCorrections,
    request_id: Option<&str>,
) -> Result<()> {
    sealed
        .keys
        .keep_in(tx, &ctx.tenant, ctx.now.as_microsecond())?;
    for s in &sealed.each {
        write_correction(tx, ctx, s, request_id)?;
    }
    Ok(())
}

fn write_correction(
    tx: &mut dyn Tx,
    ctx: &AuditCtx,
    s: &Sealed,
    request_id: Option<&str>,
) -> Result<Vec<String>> {
    refuse_if_held(tx, &ctx.tenant, &s.row)?;
    let n = tx.execute(
        "UPDATE records SET ciphertext = $4 WHERE tenant_id = $1 AND record_id = $2 AND pseudonym = $3",
        &[
            ctx.tenant.as_str().into(),
            s.row.record_id.as_str().into(),
            s.row.pseudonym.as_str().into(),
            s.ciphertext.clone().into(),
        ],
    )?;
    if n == 0 {
        return Err(VaultError::RecordNotFound(s.record.id.clone()));
    }
    audit_change(
        tx,
        ctx,
        "record.rectify",
        &s.row,
        serde_json::json!({ "article": "Art. 16 GDPR" }),
    )?;
    match request_id {
        Some(reference) => crate::recipients::enqueue_notifications(
            tx,
            &ctx.tenant,
            &s.row.pseudonym,
            reference,
            "rectification",
            ctx.now.as_microsecond(),
        ),
        None => Ok(Vec::new()),
    }
}

impl TenantVault<'_> {
    /// Reads a record's stored row (restricted ones too: a restricted record can be corrected,
    /// Art. 18(1)(a)).
    fn stored_row(&mut self, id: &RecordId) -> Result<RecordRow> {
        let tenant = self.tenant_id().as_str().to_owned();
        self.store_record(&tenant, id)?
            .ok_or_else(|| VaultError::RecordNotFound(id.clone()))
    }

    /// Encrypts corrected data for records of one subject (`subject`'s, or else the first
    /// record's), each under its category's data key for the subject, with its identity bound as
    /// before (a correction cannot move a record to another subject or category). A record of
    /// another subject is answered as absent ([`VaultError::RecordNotFound`]): a request reveals
    /// nothing of it. Keys made for them are stored by [`write_corrections`], one per category
    /// however many records need it.
    pub(crate) fn seal_corrections(
        &mut self,
        cs: &[Correction],
        subject: Option<&str>,
    ) -> Result<SealedCorrections> {
        let mut rows = Vec::with_capacity(cs.len());
        for c in cs {
            let row = self.stored_row(&c.record)?;
            let owner = subject.or(rows.first().map(|r: &RecordRow| r.pseudonym.as_str()));
            if owner.is_some_and(|p| p != row.pseudonym) {
                return Err(VaultError::RecordNotFound(c.record.clone()));
            }
            rows.push(row);
        }
        let owner = subject.or(rows.first().map(|r| r.pseudonym.as_str()));
        let pseudonym = Pseudonym::parse(owner.unwrap_or_default())
            .map_err(|_| VaultError::Corrupt("a record has a malformed pseudonym".into()))?;
        let slots: Vec<KeySlot> = rows
            .iter()
            .map(|r| (pseudonym.clone(), r.key_domain.clone(), r.category.clone()))
            .collect();
        let (keys, keep) = self.keys_to_rewrite(&pseudonym, &slots)?;
        // The cache of `decrypt` is keyed by domain and key category.
        let mut cache: HashMap<String, DataKey> = keys
            .into_iter()
            .map(|((_, domain, category), key)| (format!("{domain}\u{0}{category}"), key))
            .collect();
        let mut each = Vec::with_capacity(rows.len());
        for (row, c) in rows.into_iter().zip(cs) {
            each.push(self.seal_one(row, &c.payload, &mut cache)?);
        }
        Ok(SealedCorrections { each, keys: keep })
    }

    /// `payload` encrypted as `row`'s new data, under its category's key in `cache`.
    fn seal_one(
        &mut self,
        row: RecordRow,
        payload: &[u8],
        cache: &mut HashMap<String, DataKey>,
    ) -> Result<Sealed> {
        let dk = cache
            .get(&format!("{}\u{0}{}", row.key_domain, row.category))
            .ok_or_else(|| VaultError::Corrupt("a data key of a correction is missing".into()))?;
        let mut nonce = [0u8; keys::RECORD_NONCE_LEN];
        keys::fill_random(&mut nonce)?;
        let identity = RecordIdentity {
            tenant: self.tenant_id().as_str(),
            pseudonym: &row.pseudonym,
            category: &row.category,
            record_id: &row.record_id,
        };
        let ciphertext = keys::encrypt_record(dk, &nonce, &identity, payload)?;
        let mut read = row.clone();
        read.ciphertext = ciphertext.clone();
        let record = self.decrypt(read, cache)?;
        debug_assert_eq!(*record.payload, *payload);
        Ok(Sealed {
            row,
            ciphertext,
            record,
        })
    }

    /// Corrects a record's data (Art. 16): re-encrypted under the record's own key, in place,
    /// its category, purposes, clocks and retention unchanged. Audited (`record.rectify`, with
    /// the record id and category, never the data); every recipient that received the
    /// subject's data is told (Art. 19), with `record:<id>` as the reference. Refused while a
    /// legal hold covers the record. Answers with the record as written.
    pub fn update_record(
        &mut self,
        id: &RecordId,
        payload: Vec<u8>,
        now: Timestamp,
    ) -> Result<Record> {
        let correction = [Correction {
            record: id.clone(),
            payload,
        }];
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let reference = change_reference(id);
        let mut attempts = 0;
        loop {
            let sealed = self.seal_corrections(&correction, None)?;
            match self
                .store()
                .in_tx(&tenant, "correcting a record", &mut |tx| {
                    write_corrections(tx, &ctx, &sealed, Some(&reference))
                }) {
                Ok(()) => {
                    return sealed
                        .each
                        .into_iter()
                        .next()
                        .map(|s| s.record)
                        .ok_or_else(|| {
                            VaultError::Corrupt("a correction of one record sealed none".into())
                        });
                }
                Err(VaultError::DataKeyGone) if attempts < crate::vault::KEY_RETRIES => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes one record (Art. 17 for that record, or the app's own clean-up). Refused while a
    /// legal hold covers it (Art. 17(3)(e)), and while a law obliges keeping it: a record of a
    /// category with `retention.statutory` that has not expired (Art. 17(3)(b)) — erasure
    /// requests keep such records restricted instead. Audited (`record.delete`); every recipient
    /// that received the subject's data is told (Art. 19). On SQLite the deleted bytes are
    /// overwritten (`secure_delete`).
    pub fn delete_record(&mut self, policy: &Policy, id: &RecordId, now: Timestamp) -> Result<()> {
        let row = self.stored_row(id)?;
        if let Some(law) = policy
            .category(&row.category)
            .and_then(|c| c.retention.as_ref()?.statutory.as_ref())
            && row.expires_at.is_none_or(|e| e > now.as_microsecond())
        {
            return Err(VaultError::KeptByLaw {
                category: row.category.clone(),
                law: law.law.get_or_any(custos_policy::Lang::En).to_owned(),
            });
        }
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let reference = change_reference(id);
        self.store().in_tx(&tenant, "deleting a record", &mut |tx| {
            refuse_if_held(tx, &tenant, &row)?;
            // The subject before the record's row, as corrections and erasures take them: taken
            // after the row (by `destroy_unused_keys`), a correction holding the subject and
            // waiting for the row would deadlock with this.
            crate::store::lock_subject(tx, &tenant, &row.pseudonym)?;
            let n = tx.execute(
                "DELETE FROM records WHERE tenant_id = $1 AND record_id = $2 AND pseudonym = $3",
                &[
                    tenant.as_str().into(),
                    row.record_id.as_str().into(),
                    row.pseudonym.as_str().into(),
                ],
            )?;
            if n == 0 {
                return Err(VaultError::RecordNotFound(id.clone()));
            }
            // The category's key goes with its last record of the subject: a copy of the
            // ciphertext left in a WAL, a dead tuple or a backup can then never be opened.
            let keys = crate::store::destroy_unused_keys(tx, &tenant, &row.pseudonym)?;
            audit_change(
                tx,
                &ctx,
                "record.delete",
                &row,
                serde_json::json!({ "article": "Art. 17 GDPR", "keys_destroyed": keys }),
            )?;
            crate::recipients::enqueue_notifications(
                tx,
                &tenant,
                &row.pseudonym,
                &reference,
                "erasure",
                now.as_microsecond(),
            )
            .map(|_| ())
        })
    }
}
