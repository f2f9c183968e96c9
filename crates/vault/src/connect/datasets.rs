//! The company's databases one installation reaches (`[[dataset]]` in the server's
//! configuration, see docs/connectors.md) and the use cases that carry Custos's own jobs into
//! them: a request's erasure, the scheduled purge, the replay after a restore. The server and the
//! command line call these and hold none of the steps; the access answer reads them in
//! `export.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use custos_connect::{Annotations, Plan, Schema};
use custos_policy::diag::{Diagnostic, Severity};
use custos_policy::resolved::Policy;
use custos_policy::source::SourceFile;
use jiff::Timestamp;

use super::driver::{Conn, open, redacted};
use super::jobs::{
    ErasureReceipt, HeldCount, Identities, PurgeReceipt, count_held, erase, erase_dry_run, purge,
};
use super::{ConnectorError, introspect};
use crate::retention::HoldInfo;
use crate::vault::{TenantVault, Vault};
use crate::{SubjectId, TenantId, VaultError};

/// One of the company's databases: its reviewed annotations and where it is. The URL may hold
/// a password; it is never shown (`Debug` and every error name host, port and database only).
pub struct Dataset {
    name: String,
    file: SourceFile,
    annotations: Annotations,
    url: String,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("annotations", &self.file.name())
            .field("database", &redacted(&self.url))
            .finish()
    }
}

/// A dataset opened for one job: the plan its annotations make against the live schema and the
/// policy, and the connection.
pub struct Prepared {
    /// The plan (checked: building it refused any drift).
    pub plan: Plan,
    /// The connection.
    pub conn: Box<dyn Conn>,
    /// The live schema, as read just now.
    pub schema: Schema,
}

/// A finding on one line: `file:line:column: error[D101]: message`.
fn one_line(d: &Diagnostic, file: &SourceFile) -> String {
    let at = match &d.span {
        Some(s) => {
            let lc = file.line_col(s.start);
            format!("{}:{}:{}", file.name(), lc.line, lc.column)
        }
        None => file.name().to_owned(),
    };
    format!("{at}: {}[{}]: {}", d.severity.as_str(), d.code, d.message)
}

impl Dataset {
    /// Reads and parses the annotations file at `path`; `url` says where the database is. The
    /// database is not opened yet: each job opens it and checks the annotations against the
    /// schema as it is then ([`Dataset::prepare`]).
    pub fn load(path: &Path, url: String) -> Result<Dataset, ConnectorError> {
        let file = SourceFile::read(path).map_err(|e| ConnectorError::Annotations {
            message: e.to_string(),
        })?;
        Dataset::from_source(file, url)
    }

    /// [`Dataset::load`] from a file already read.
    pub fn from_source(file: SourceFile, url: String) -> Result<Dataset, ConnectorError> {
        let annotations =
            custos_connect::annotations::parse(&file).map_err(|d| ConnectorError::Annotations {
                message: format!(
                    "{} is not a usable annotations file: {}",
                    file.name(),
                    one_line(&d, &file)
                ),
            })?;
        Ok(Dataset {
            name: annotations.dataset.name.get_ref().clone(),
            file,
            annotations,
            url,
        })
    }

    /// The dataset's name, as answers and receipts give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The annotations file.
    pub fn file(&self) -> &SourceFile {
        &self.file
    }

    /// The annotations.
    pub fn annotations(&self) -> &Annotations {
        &self.annotations
    }

    /// Where the database is, without user or password.
    pub fn target(&self) -> String {
        redacted(&self.url)
    }

    /// Opens the database and reads its schema, without checking the annotations.
    pub fn connect(&self) -> Result<(Box<dyn Conn>, Schema), ConnectorError> {
        let mut conn = open(&self.url)?;
        let schema = introspect(conn.as_mut())?;
        Ok((conn, schema))
    }

    /// Opens the database, reads its schema as it is now and builds the plan. Annotations that
    /// no longer fit the schema or the policy refuse the job before it touches a row
    /// ([`ConnectorError::Drift`], the first finding located).
    pub fn prepare(&self, policy: &Policy) -> Result<Prepared, ConnectorError> {
        let (conn, schema) = self.connect()?;
        match Plan::build(&self.annotations, &schema, policy) {
            Ok(plan) => Ok(Prepared { plan, conn, schema }),
            Err(findings) => {
                let errors: Vec<&Diagnostic> = findings
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .collect();
                let first = errors.first().copied().or(findings.first());
                Err(ConnectorError::Drift {
                    dataset: self.name.clone(),
                    first: first.map_or_else(String::new, |d| one_line(d, &self.file)),
                    more: match errors.len() {
                        0 | 1 => String::new(),
                        n => format!(" (and {} more)", n - 1),
                    },
                })
            }
        }
    }

    /// Reaches the database, checks the annotations against it, and purges it with `context`
    /// ([`PurgeContext::purge`]); the caller writes the receipt's events to the audit trail.
    pub fn purge(
        &self,
        context: &PurgeContext,
        policy: &Policy,
        now: Timestamp,
        batch: u32,
    ) -> Result<PurgeReceipt, ConnectorError> {
        context.purge(policy, &mut self.prepare(policy)?, now, batch)
    }

    /// A finding rendered against the annotations file, as `custos check` prints it.
    pub fn render(&self, d: &Diagnostic) -> String {
        d.render(&self.file)
    }
}

/// Why a connector job may not touch the tenant's rows of `category`, if a legal hold says so.
/// A hold on one subject holds the whole tenant's connector rows: a purge cannot tell rows apart
/// by subject without an identity (fail closed).
fn purge_held(holds: &[HoldInfo], category: &str) -> Option<String> {
    holds.iter().find_map(|h| match (h.scope.as_str(), h.category.as_deref()) {
        ("tenant", _) => Some(format!("legal hold {} on the whole tenant", h.hold_id)),
        ("category", Some(c)) if covers(c, category) => {
            Some(format!("legal hold {} on category {c}", h.hold_id))
        }
        ("subject", _) => Some(format!(
            "legal hold {} on a subject of this tenant: connector rows are not purged while it holds",
            h.hold_id
        )),
        _ => None,
    })
}

/// Whether a hold on category `held` covers `category` (itself or a dotted sub-category).
fn covers(held: &str, category: &str) -> bool {
    category == held
        || category
            .strip_prefix(held)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl ErasureReceipt {
    /// The receipt as an erasure request's answer gives it: totals, and the kept rows per table
    /// with their date.
    pub fn summary(&self) -> custos_rights::erasure::DatasetErasure {
        let mut s = custos_rights::erasure::DatasetErasure {
            dataset: self.dataset.clone(),
            remaining: self.remaining,
            ..Default::default()
        };
        for t in &self.tables {
            s.deleted += t.deleted;
            s.masked += t.masked;
            s.unlinked += t.unlinked;
            if t.kept > 0 {
                s.kept.push(custos_rights::erasure::DatasetKept {
                    table: t.table.clone(),
                    rows: t.kept,
                    until: t.kept_until.clone(),
                });
            }
        }
        s
    }
}

impl TenantVault<'_> {
    /// The keyed hash a `hash` mask writes for an identity: its pseudonym in this tenant.
    fn identity_hash(&self, id: &str) -> Result<String, ConnectorError> {
        let subject = SubjectId::new(id).map_err(VaultError::from)?;
        Ok(self.pseudonym(&subject).as_str().to_owned())
    }

    /// Refuses an erasure a legal hold forbids (Art. 17(3)(e)): one on the whole tenant, on the
    /// subject, or on a category of a table the plan would touch.
    fn erasure_held(&mut self, plan: &Plan, pseudonym: &str) -> Result<(), ConnectorError> {
        if let Some(h) = self.hold_on_subject(pseudonym)? {
            return Err(VaultError::Held {
                hold_id: h.hold_id,
                scope: h.scope,
            }
            .into());
        }
        for h in self.holds(false)? {
            let on_table = h.scope == "category"
                && h.category
                    .as_deref()
                    .is_some_and(|c| plan.tables.iter().any(|t| covers(c, &t.category)));
            if on_table {
                return Err(VaultError::Held {
                    hold_id: h.hold_id,
                    scope: h.scope,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Erases the subject known by `given` (an e-mail address, a phone number, an application's
    /// own id; the first is the one the receipt's pseudonym is of) from one dataset: refused
    /// while a legal hold covers the subject or a category of the plan, then one transaction,
    /// verified, and its receipt (`connector.erase`: pseudonym and counts only) in the audit
    /// trail. Idempotent: a rerun finds nothing and says so.
    pub fn erase_in_dataset(
        &mut self,
        policy: &Policy,
        prepared: &mut Prepared,
        given: &[String],
        now: Timestamp,
    ) -> Result<ErasureReceipt, ConnectorError> {
        let first = given.first().ok_or_else(|| {
            VaultError::Corrupt("an erasure in a dataset was asked without an identity".into())
        })?;
        let pseudonym = self.identity_hash(first)?;
        let plan = &prepared.plan;
        self.erasure_held(plan, &pseudonym)?;
        let ids = Identities::from_given(given, plan.phone_country.as_deref());
        let hashes: BTreeMap<String, String> = ids
            .values
            .iter()
            .map(|(_, v)| Ok((v.clone(), self.identity_hash(v)?)))
            .collect::<Result<_, ConnectorError>>()?;
        let hash = |id: &str| hashes.get(id).cloned().unwrap_or_default();
        let tenant = self.tenant_id().as_str().to_owned();
        let receipt = erase(prepared.conn.as_mut(), plan, policy, &tenant, &ids, &hash)?;
        let event = receipt.event(&tenant, self.actor(), &pseudonym);
        self.vault.append_audit(&[event], now).map_err(|e| {
            ConnectorError::Statement {
                reason: format!("the erasure in dataset `{}` committed but writing its receipt to the audit trail failed ({e}); run it again (it is idempotent) to write the receipt", plan.dataset),
            }
        })?;
        Ok(receipt)
    }

    /// Who a breach of `categories` may have affected in the company's own databases: per
    /// configured dataset (its annotations checked against its schema first), the tenant's rows
    /// held now in each table of those categories and the distinct subjects where one column
    /// names them ([`count_held`]). Counts only; the query and the SHA-256 of its answer go into
    /// the audit trail (`breach.affected_queried` with `datasets`), as the vault's count does.
    pub fn breach_affected_in_datasets(
        &mut self,
        policy: &Policy,
        breach_id: Option<&str>,
        categories: &[String],
        now: Timestamp,
    ) -> Result<Vec<DatasetHeld>, ConnectorError> {
        let datasets = self.vault.shared_datasets();
        if datasets.is_empty() {
            return Ok(Vec::new());
        }
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::with_capacity(datasets.len());
        for d in datasets.iter() {
            let mut prepared = d.prepare(policy)?;
            let tables = count_held(prepared.conn.as_mut(), &prepared.plan, &tenant, categories)?;
            out.push(DatasetHeld {
                dataset: d.name().to_owned(),
                rows: tables.iter().map(|t| t.rows).sum(),
                tables,
            });
        }
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(
            serde_json::to_string(&out).unwrap_or_default().as_bytes(),
        ));
        let event = custos_audit::Event::new(
            &tenant,
            self.actor(),
            "breach.affected_queried",
            None,
            serde_json::json!({
                "breach_id": breach_id,
                "categories": categories,
                "datasets": out.iter().map(|d| d.dataset.as_str()).collect::<Vec<_>>(),
                "result_sha256": digest,
            }),
        );
        self.vault.append_audit(&[event], now)?;
        Ok(out)
    }

    /// What [`TenantVault::erase_in_dataset`] would do: the ordered statements with
    /// placeholders and the row counts; nothing written, nothing audited.
    pub fn erase_in_dataset_dry_run(
        &mut self,
        policy: &Policy,
        prepared: &mut Prepared,
        given: &[String],
    ) -> Result<ErasureReceipt, ConnectorError> {
        let plan = &prepared.plan;
        let ids = Identities::from_given(given, plan.phone_country.as_deref());
        let tenant = self.tenant_id().as_str().to_owned();
        erase_dry_run(prepared.conn.as_mut(), plan, policy, &tenant, &ids)
    }

    /// Erases `subject` from every configured dataset, one after the other, each in its own
    /// verified transaction with its receipt in the audit trail. Every dataset is prepared (its
    /// database reached, its annotations checked against the schema) before any is written, so
    /// a dataset that is down or drifted stops the erasure before it starts anywhere.
    pub fn erase_in_datasets(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        now: Timestamp,
    ) -> Result<Vec<ErasureReceipt>, VaultError> {
        let datasets = self.vault.datasets.clone();
        let mut prepared = Vec::with_capacity(datasets.len());
        for d in datasets.iter() {
            prepared.push(d.prepare(policy)?);
        }
        let given = [subject.expose().to_owned()];
        let mut receipts = Vec::with_capacity(prepared.len());
        for p in &mut prepared {
            receipts.push(self.erase_in_dataset(policy, p, &given, now)?);
        }
        Ok(receipts)
    }

    /// After a restore of the company's database: erases again every subject this tenant's
    /// audit trail says was erased from the dataset. The subject columns' values are keyed and
    /// matched against the receipts' pseudonyms, so no identity is kept in clear anywhere.
    pub fn replay_in_dataset(
        &mut self,
        policy: &Policy,
        prepared: &mut Prepared,
        now: Timestamp,
    ) -> Result<Vec<ErasureReceipt>, ConnectorError> {
        let dataset = prepared.plan.dataset.clone();
        let mut erased: BTreeSet<String> = BTreeSet::new();
        let mut after_seq = 0;
        loop {
            let q = custos_audit::Query {
                action: Some("connector.erase".into()),
                after_seq,
                limit: 1000,
                ..custos_audit::Query::default()
            };
            let page = self.audit(&q)?;
            let Some(last) = page.last() else { break };
            after_seq = last.seq;
            for e in page {
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or_default();
                if details.get("dataset").and_then(|d| d.as_str()) == Some(dataset.as_str())
                    && let Some(s) = e.subject
                {
                    erased.insert(s);
                }
            }
        }
        let keyed = |id: &str| self.identity_hash(id).unwrap_or_default();
        let tenant = self.tenant_id().as_str().to_owned();
        let done = super::jobs::replay_erasures(
            prepared.conn.as_mut(),
            &prepared.plan,
            policy,
            &tenant,
            &erased,
            &keyed,
            &keyed,
        )?;
        let events: Vec<custos_audit::Event> = done
            .iter()
            .map(|(p, r)| r.event(&tenant, self.actor(), p))
            .collect();
        self.vault.append_audit(&events, now)?;
        Ok(done.into_iter().map(|(_, r)| r).collect())
    }
}

/// A breach's categories as one dataset holds them for a tenant ([`count_held`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetHeld {
    /// The dataset.
    pub dataset: String,
    /// Its rows of those categories, all tables together.
    pub rows: u64,
    /// Per table.
    pub tables: Vec<HeldCount>,
}

impl Vault {
    /// The company's databases this vault's jobs reach as well (none unless set).
    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    /// The same, shared, for a job that runs without holding the vault.
    pub fn shared_datasets(&self) -> std::sync::Arc<Vec<Dataset>> {
        self.datasets.clone()
    }

    /// Sets the company's databases requests and purges reach besides the vault.
    pub fn set_datasets(&mut self, datasets: std::sync::Arc<Vec<Dataset>>) {
        self.datasets = datasets;
    }

    /// What a purge of the company's databases needs from the vault, read once: each tenant's
    /// retention settings (override, tier) and active legal holds.
    pub fn purge_context(&mut self) -> Result<PurgeContext, VaultError> {
        let mut cx = PurgeContext::default();
        for t in self.tenant_ids()? {
            let Ok(id) = TenantId::new(&t) else { continue };
            let mut tv = self.tenant(&id);
            cx.settings.insert(t.clone(), tv.retention_settings()?);
            cx.holds.insert(t, tv.holds(false)?);
        }
        Ok(cx)
    }

    /// Purges one dataset ([`PurgeContext::purge`]) and writes the receipts (`connector.purge`)
    /// to each tenant's audit trail.
    pub fn purge_dataset(
        &mut self,
        policy: &Policy,
        prepared: &mut Prepared,
        now: Timestamp,
        batch: u32,
        actor: &str,
    ) -> Result<PurgeReceipt, ConnectorError> {
        let receipt = self.purge_context()?.purge(policy, prepared, now, batch)?;
        self.append_audit(&receipt.events(actor), now)?;
        Ok(receipt)
    }
}

/// Each tenant's retention settings and legal holds, as a purge of the company's databases
/// applies them ([`Vault::purge_context`]). Reading it once lets a long purge run without
/// holding the vault.
#[derive(Debug, Clone, Default)]
pub struct PurgeContext {
    settings: BTreeMap<String, custos_retention::TenantSettings>,
    holds: BTreeMap<String, Vec<HoldInfo>>,
}

impl PurgeContext {
    /// Deletes every row of the dataset whose retention ended, per tenant with that tenant's
    /// settings and never where a legal hold covers it, in batches of `batch` rows. A tenant
    /// the vault does not know has no settings and no holds: its rows follow the policy's own
    /// periods. The caller writes the receipt's events to the audit trail.
    pub fn purge(
        &self,
        policy: &Policy,
        prepared: &mut Prepared,
        now: Timestamp,
        batch: u32,
    ) -> Result<PurgeReceipt, ConnectorError> {
        let settings_of = |t: &str| self.settings.get(t).cloned().unwrap_or_default();
        let held = |t: &str, category: &str| purge_held(self.holds.get(t)?, category);
        purge(
            prepared.conn.as_mut(),
            &prepared.plan,
            &prepared.schema,
            policy,
            &settings_of,
            &held,
            now,
            batch,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_category_hold_covers_its_sub_categories_only() {
        assert!(covers("mail", "mail"));
        assert!(covers("mail", "mail.metadata"));
        assert!(!covers("mail", "mailbox"));
        assert!(!covers("mail.metadata", "mail"));
    }
}
