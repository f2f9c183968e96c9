//! Streaming reads of a subject's records for access and portability answers (Art. 15, 20).
//!
//! [`TenantVault::for_each_record`] reads a subject's records in keyset-paged batches of
//! [`PAGE`] rows ordered by (created_at, record_id), one short transaction per batch, decrypts
//! each and hands it to a callback: memory holds one batch, whatever the subject's record count.
//! Unlike [`TenantVault::list`], it includes records kept under restriction (Art. 17(3), 18),
//! marked: the subject has the right to see them. [`TenantVault::write_answer`] builds the
//! whole answer archive on it (see `custos_rights::archive`) and audits it.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::mpsc;

use custos_policy::{Lang, Policy};
use custos_rights::access::{ExportError, ExportRecord};
use custos_rights::archive::{self, AnswerKind, Written};
use jiff::Timestamp;
use serde_json::value::RawValue;

use crate::connect::ConnectorError;
use crate::error::{Result, VaultError};
use crate::ids::SubjectId;
use crate::store::{RecordRow, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, Record, TenantVault};

/// Records read and decrypted per transaction.
pub const PAGE: usize = 1000;

/// One of a subject's records, as an answer to the subject sees it.
#[derive(Debug)]
pub struct SubjectRecord {
    /// The record, decrypted.
    pub record: Record,
    /// Why it is kept under restriction, e.g. `Art. 17(3)(b) GDPR`; `None` for a record in
    /// everyday processing.
    pub restriction: Option<String>,
}

impl SubjectRecord {
    /// The record as it appears in an answer: the payload verbatim when it is JSON, else as a
    /// JSON string of its text (or of its hex digits when it is not UTF-8), so that nothing
    /// stored is left out.
    pub fn to_export(&self) -> ExportRecord {
        let r = &self.record;
        let data = serde_json::from_slice::<Box<RawValue>>(&r.payload).unwrap_or_else(|_| {
            let text = match std::str::from_utf8(&r.payload) {
                Ok(text) => text.to_owned(),
                Err(_) => crate::ids::hex(&r.payload),
            };
            // A string always encodes.
            serde_json::value::to_raw_value(&text).unwrap_or_default()
        });
        ExportRecord {
            id: r.id.as_str().to_owned(),
            category: r.category.clone(),
            purposes: r.purposes.clone(),
            created_at: r.created_at.to_string(),
            data,
            restriction: self.restriction.clone(),
            source: None,
        }
    }
}

/// The `basis` of a stored restriction, or a generic reason when it names none.
fn restriction_basis(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("basis").and_then(|b| b.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "Art. 17(3) / Art. 18 GDPR".to_owned())
}

/// What one page query returns, in order.
const COLUMNS: &str =
    "record_id, category, purposes, key_domain, created_at, clocks, expires_at, restriction";

impl TenantVault<'_> {
    /// Reads every record of `subject` in this tenant, restricted ones included, oldest first
    /// (by creation time, then record id), and calls `f` with each, decrypted. Reads in
    /// transactions of [`PAGE`] records, so memory stays flat for any number of records; `f`
    /// runs outside any transaction. Returns how many records `f` was given.
    ///
    /// Stops at the first error, from storage, from decryption (for instance
    /// [`VaultError::KeyDestroyed`] when the subject is erased meanwhile) or from `f`.
    pub fn for_each_record<E: From<VaultError>>(
        &mut self,
        subject: &SubjectId,
        f: impl FnMut(SubjectRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        self.each_record_until(subject, None, f)
    }

    /// [`for_each_record`](Self::for_each_record), leaving out records created after `until`
    /// (microseconds) when given.
    fn each_record_until<E: From<VaultError>>(
        &mut self,
        subject: &SubjectId,
        until: Option<i64>,
        mut f: impl FnMut(SubjectRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        let tenant = self.tenant_id().as_str().to_owned();
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let mut after: (i64, String) = (i64::MIN, String::new());
        let mut keys = HashMap::new();
        let mut n = 0u64;
        loop {
            let mut page = Vec::new();
            self.store().in_tx(
                &tenant,
                "reading a subject's records for an answer",
                &mut |tx| {
                    let sql = format!(
                        "SELECT {COLUMNS}, ciphertext FROM records \
                         WHERE tenant_id = $1 AND pseudonym = $2 AND created_at <= $3 \
                         AND created_at >= $4 AND (created_at > $4 OR record_id > $5) \
                         ORDER BY created_at, record_id LIMIT {PAGE}"
                    );
                    page = tx.query(
                        &sql,
                        &[
                            Val::from(tenant.as_str()),
                            Val::from(pseudonym.as_str()),
                            Val::from(until.unwrap_or(i64::MAX)),
                            Val::from(after.0),
                            Val::from(after.1.as_str()),
                        ],
                    )?;
                    Ok(())
                },
            )?;
            let full = page.len() == PAGE;
            for row in page {
                let (row, restriction) = record_row(row, &pseudonym)?;
                after = (row.created_at, row.record_id.clone());
                let record = self.decrypt(row, &mut keys)?;
                f(SubjectRecord {
                    record,
                    restriction: restriction.as_deref().map(restriction_basis),
                })?;
                n += 1;
            }
            if !full {
                return Ok(n);
            }
        }
    }

    /// The categories of the subject's records (restricted ones included) and the latest
    /// creation time among them, read without decrypting anything.
    fn subject_categories(
        &mut self,
        subject: &SubjectId,
    ) -> Result<(BTreeSet<String>, Option<i64>)> {
        let tenant = self.tenant_id().as_str().to_owned();
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let mut rows = Vec::new();
        self.store()
            .in_tx(&tenant, "reading a subject's categories", &mut |tx| {
                rows = tx.query(
                    "SELECT category, MAX(created_at) FROM records \
                     WHERE tenant_id = $1 AND pseudonym = $2 GROUP BY category",
                    &[Val::from(tenant.as_str()), Val::from(pseudonym.as_str())],
                )?;
                Ok(())
            })?;
        let mut categories = BTreeSet::new();
        let mut latest = None;
        for mut row in rows {
            let max = row.get(1).and_then(Val::int);
            let category = row
                .drain(..)
                .next()
                .and_then(Val::into_text)
                .ok_or_else(|| VaultError::Corrupt("a record has no category".into()))?;
            categories.insert(category);
            latest = latest.max(max);
        }
        Ok((categories, latest))
    }

    /// Writes the subject's access answer (Art. 15) or portability answer (Art. 20(1)) to `out`
    /// as one zip archive (see `custos_rights::archive::write_answer`): every record of the
    /// subject in this tenant, restricted ones marked, and for access the Art. 15(1) report
    /// drawn from `policy` in `lang`. Records are streamed from the store, one page at a time,
    /// once per data file of the archive (twice); records created after the answer began are
    /// left out, so ongoing writes for the subject do not disturb it.
    ///
    /// The answer is audited (`subject.answer`: the kind, the record count and whether it was
    /// completed; never the data), whether or not writing succeeded. An unknown subject gets an
    /// empty answer: whether a person exists is for the caller to reveal or not.
    pub fn write_answer<E>(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        kind: AnswerKind,
        lang: Lang,
        now: Timestamp,
        out: impl Write + Send,
    ) -> std::result::Result<Written, E>
    where
        E: From<VaultError> + From<ExportError> + Send,
    {
        let (mut categories, latest) = self.subject_categories(subject)?;
        let until = latest.unwrap_or(i64::MIN);
        // The company's own databases (PRODUCT.md C10): every one reached and checked before
        // the first byte, since an answer that leaves a database out would be incomplete
        // (Art. 15(1)); their categories join the report's.
        let mut datasets = self.datasets_for_answer(policy, subject, &mut categories)?;
        // Reading (the store, decryption) is most of an answer's time, writing (encoding,
        // checksums, output) the rest: the archive is written on a second thread while this
        // one reads, so the answer takes about as long as reading it.
        // For each pass over the records the writer sends a channel to stream them into; the
        // reader serves passes until the writer is done. A pass ends with `End`; a channel that
        // closes without it means the reader failed, and its error is the one returned.
        let (ask, asked) = mpsc::channel::<mpsc::SyncSender<Pass>>();
        let mut read_error: Option<VaultError> = None;
        let written = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                archive::write_answer::<E>(
                    policy,
                    lang,
                    kind,
                    &categories,
                    now,
                    &mut |sink| {
                        let (tx, rx) = mpsc::sync_channel(2);
                        ask.send(tx).map_err(|_| stopped())?;
                        for item in rx {
                            match item {
                                Pass::Records(batch) => {
                                    for r in batch {
                                        sink(r.to_export())?;
                                    }
                                }
                                Pass::Exported(batch) => {
                                    for r in batch {
                                        sink(r)?;
                                    }
                                }
                                Pass::End => return Ok(()),
                            }
                        }
                        Err(stopped().into())
                    },
                    out,
                )
            });
            for tx in asked {
                let mut batch = Vec::with_capacity(BATCH);
                let pass = self.each_record_until(subject, Some(until), |r| {
                    batch.push(r);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        tx.send(Pass::Records(full))
                            .map_err(|_| ReadStop::WriterGone)?;
                    }
                    Ok(())
                });
                let pass = pass.and_then(|_| {
                    tx.send(Pass::Records(std::mem::take(&mut batch)))
                        .map_err(|_| ReadStop::WriterGone)?;
                    self.dataset_pass(policy, &mut datasets, &tx)
                });
                match pass {
                    Ok(_) => {
                        // The writer may have gone meanwhile; it then reports why.
                        let _ = tx.send(Pass::End);
                    }
                    Err(ReadStop::WriterGone) => {}
                    Err(ReadStop::Vault(e)) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let written = match read_error {
            Some(e) => Err(E::from(e)),
            None => written,
        };
        let details = match &written {
            Ok(w) => {
                serde_json::json!({ "kind": kind, "records": w.records, "files": w.files, "completed": true })
            }
            Err(_) => serde_json::json!({ "kind": kind, "completed": false }),
        };
        let event = custos_audit::Event {
            tenant: self.tenant_id().as_str().to_owned(),
            actor: self.actor().to_owned(),
            action: "subject.answer".to_owned(),
            subject: Some(self.pseudonym(subject).as_str().to_owned()),
            details,
        };
        let tenant = self.tenant_id().as_str().to_owned();
        let key = self.audit_key().clone();
        self.store()
            .in_tx(&tenant, "auditing an answer to a subject", &mut |tx| {
                tx.append_audit(&mut |head| {
                    custos_audit::build(
                        head,
                        std::slice::from_ref(&event),
                        now,
                        &key,
                        AUDIT_CHECKPOINT_EVERY,
                    )
                })
            })?;
        written
    }
}

/// A company database opened for one answer, with the subject's identities in its normal forms.
type AnswerDataset = (crate::connect::Prepared, crate::connect::Identities);

impl TenantVault<'_> {
    /// Every configured dataset reached and its annotations checked against the live schema,
    /// then a first pass over the subject's rows there for the categories the report names.
    fn datasets_for_answer(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        categories: &mut BTreeSet<String>,
    ) -> Result<Vec<AnswerDataset>> {
        let datasets = self.vault.datasets.clone();
        let tenant = self.tenant_id().as_str().to_owned();
        let given = [subject.expose().to_owned()];
        let mut out = Vec::with_capacity(datasets.len());
        for d in datasets.iter() {
            let mut p = d.prepare(policy)?;
            let ids =
                crate::connect::Identities::from_given(&given, p.plan.phone_country.as_deref());
            crate::connect::access(p.conn.as_mut(), &p.plan, policy, &tenant, &ids, &mut |r| {
                if !categories.contains(&r.category) {
                    categories.insert(r.category);
                }
                Ok(())
            })?;
            out.push((p, ids));
        }
        Ok(out)
    }

    /// One pass over the subject's rows in every dataset, handed to the writer in batches.
    fn dataset_pass(
        &self,
        policy: &Policy,
        datasets: &mut [AnswerDataset],
        tx: &mpsc::SyncSender<Pass>,
    ) -> std::result::Result<(), ReadStop> {
        let tenant = self.tenant_id().as_str();
        for (p, ids) in datasets.iter_mut() {
            let mut batch = Vec::with_capacity(BATCH);
            let mut gone = false;
            let read =
                crate::connect::access(p.conn.as_mut(), &p.plan, policy, tenant, ids, &mut |r| {
                    batch.push(r);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(Pass::Exported(full)).is_err() {
                            gone = true;
                            return Err(ConnectorError::Statement {
                                reason: "the answer's writer stopped".into(),
                            });
                        }
                    }
                    Ok(())
                });
            if gone {
                return Err(ReadStop::WriterGone);
            }
            read.map_err(|e| ReadStop::Vault(e.into()))?;
            tx.send(Pass::Exported(batch))
                .map_err(|_| ReadStop::WriterGone)?;
        }
        Ok(())
    }
}

/// Records handed from the reading thread to the writing thread at a time: one hand-over (a
/// wake-up of the other thread) per record would cost more than the record. The channel holds
/// two batches, so memory stays at a few batches whatever the record count.
const BATCH: usize = 256;

/// What the reading thread sends the writing thread during one pass.
enum Pass {
    /// The next records, in order.
    Records(Vec<SubjectRecord>),
    /// The next rows of the company's own databases, as records of the answer.
    Exported(Vec<ExportRecord>),
    /// Every record of the pass was sent.
    End,
}

/// Why the reading thread stopped a pass.
enum ReadStop {
    /// Storage or decryption failed.
    Vault(VaultError),
    /// The writing thread stopped (it reports why).
    WriterGone,
}

impl From<VaultError> for ReadStop {
    fn from(e: VaultError) -> Self {
        ReadStop::Vault(e)
    }
}

/// The writer's error when the reader stopped mid-pass; the reader's own error replaces it.
fn stopped() -> ExportError {
    ExportError::Io(std::io::Error::other(
        "reading the subject's records stopped",
    ))
}

/// A page row as a [`RecordRow`] and its restriction.
fn record_row(row: Vec<Val>, pseudonym: &str) -> Result<(RecordRow, Option<String>)> {
    let bad = |what: &str| VaultError::Corrupt(format!("a record read for an answer has {what}"));
    let mut it = row.into_iter();
    let mut text = |what: &str| it.next().and_then(Val::into_text).ok_or_else(|| bad(what));
    let record_id = text("no record id")?;
    let category = text("no category")?;
    let purposes = text("no purposes")?;
    let key_domain = text("no key domain")?;
    let mut rest: Vec<Val> = it.collect();
    if rest.len() != 5 {
        return Err(bad("an unexpected shape"));
    }
    let ciphertext = rest
        .pop()
        .and_then(Val::into_bytes)
        .ok_or_else(|| bad("an unreadable ciphertext"))?;
    let restriction = rest.pop().and_then(Val::into_text);
    let expires_at = rest.pop().and_then(|v| v.int());
    let clocks = rest
        .pop()
        .and_then(Val::into_text)
        .ok_or_else(|| bad("no event clocks"))?;
    let created_at = rest
        .pop()
        .and_then(|v| v.int())
        .ok_or_else(|| bad("no creation time"))?;
    Ok((
        RecordRow {
            record_id,
            pseudonym: pseudonym.to_owned(),
            category,
            purposes,
            key_domain,
            ciphertext,
            created_at,
            clocks,
            expires_at,
            restriction: restriction.clone(),
        },
        restriction,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restriction_names_its_basis_or_a_generic_reason() {
        assert_eq!(
            restriction_basis(r#"{"basis":"Art. 17(3)(b) GDPR","erasure_id":"x"}"#),
            "Art. 17(3)(b) GDPR"
        );
        assert_eq!(restriction_basis("{}"), "Art. 17(3) / Art. 18 GDPR");
        assert_eq!(restriction_basis("not json"), "Art. 17(3) / Art. 18 GDPR");
    }
}
