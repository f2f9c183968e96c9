//! Changing one stored record: correcting its data (Art. 16, rectification) and deleting it
//! (Art. 17, or the app's own clean-up). Both are audited with the record id and category only,
//! and both tell every recipient that received the subject's data (Art. 19).

use std::collections::HashMap;

use custos_policy::Policy;
use jiff::Timestamp;
use zeroize::Zeroize;

use crate::error::{Result, VaultError};
use crate::ids::RecordId;
use crate::keys::{self, RecordIdentity};
use crate::store::{RecordRow, Tx};
use crate::vault::{AuditCtx, KeysToKeep, Record, TenantVault};

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
    /// The key it is encrypted under, kept by the transaction that writes it.
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

/// Writes one sealed correction inside a transaction: the ciphertext replaced where the record
/// still is, under a hold refused, audited. A key it was sealed under that is gone (or not yet
/// stored, and stored by another first) is answered [`VaultError::DataKeyGone`]: seal again. `reference` is the request id for Art. 19 (a
/// rectification request's own, or [`change_reference`]) — `None` when the caller tells the
/// recipients itself.
pub(crate) fn write_correction(
    tx: &mut dyn Tx,
    ctx: &AuditCtx,
    s: &Sealed,
    request_id: Option<&str>,
) -> Result<Vec<String>> {
    refuse_if_held(tx, &ctx.tenant, &s.row)?;
    s.keys.keep_in(tx, &ctx.tenant, ctx.now.as_microsecond())?;
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

    /// Encrypts corrected data for a record under its own data key, with its identity bound as
    /// before (a correction cannot move a record to another subject or category). A data key
    /// made for it is stored by [`write_correction`].
    pub(crate) fn seal_correction(&mut self, c: &Correction) -> Result<Sealed> {
        let id = &c.record;
        let mut payload = c.payload.clone();
        let row = self.stored_row(id)?;
        let (dk, keys) = self.category_key_of_row(&row)?;
        let mut nonce = [0u8; keys::RECORD_NONCE_LEN];
        keys::fill_random(&mut nonce)?;
        let identity = RecordIdentity {
            tenant: self.tenant_id().as_str(),
            pseudonym: &row.pseudonym,
            category: &row.category,
            record_id: &row.record_id,
        };
        let ciphertext = keys::encrypt_record(&dk, &nonce, &identity, &payload);
        let plain = zeroize::Zeroizing::new(payload.clone());
        payload.zeroize();
        let ciphertext = ciphertext?;
        let mut read = row.clone();
        read.ciphertext = ciphertext.clone();
        // The cache of `decrypt` is keyed by domain and key category.
        let mut cache = HashMap::new();
        cache.insert(format!("{}\u{0}{}", row.key_domain, row.category), dk);
        let mut record = self.decrypt(read, &mut cache)?;
        debug_assert_eq!(*record.payload, *plain);
        record.payload = plain;
        Ok(Sealed {
            row,
            ciphertext,
            record,
            keys,
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
        let correction = Correction {
            record: id.clone(),
            payload,
        };
        let ctx = self.audit_ctx(now);
        let tenant = ctx.tenant.clone();
        let reference = change_reference(id);
        let mut attempts = 0;
        let sealed = loop {
            let sealed = self.seal_correction(&correction)?;
            match self
                .store()
                .in_tx(&tenant, "correcting a record", &mut |tx| {
                    write_correction(tx, &ctx, &sealed, Some(&reference)).map(|_| ())
                }) {
                Ok(()) => break sealed,
                Err(VaultError::DataKeyGone) if attempts < crate::vault::KEY_RETRIES => {
                    attempts += 1
                }
                Err(e) => return Err(e),
            }
        };
        Ok(sealed.record)
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
