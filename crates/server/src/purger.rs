//! The retention scheduler inside `custos serve`: every `purge_interval`, one purge over every
//! tenant with the time of the run, on the blocking pool. It runs in rounds of a few batches per
//! tenant, releasing the write connection between rounds, so API writes interleave with a long
//! purge and shutdown waits for one round at most. Logs and metrics carry counts only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use custos_vault::{PurgeOptions, VaultError};

use crate::AppState;

/// Batches per tenant in one round (each batch is one transaction of `DEFAULT_BATCH` records).
const ROUND_BATCHES: u64 = 8;

/// What one scheduled run did.
#[derive(Debug, Default)]
pub struct PurgeRun {
    /// Records purged per category.
    pub purged: BTreeMap<String, u64>,
    /// Due records kept by legal holds.
    pub held: u64,
    /// Batches committed.
    pub batches: u64,
    /// Records whose expiry was recomputed first.
    pub recomputed: u64,
    /// Tenants that could not be purged, with the reason.
    pub failed: Vec<(String, String)>,
    /// Whether the run stopped early because the server is shutting down.
    pub interrupted: bool,
    /// Rows purged in the company's own databases, per dataset.
    pub dataset_rows: BTreeMap<String, u64>,
    /// Datasets that could not be purged (down, drifted), with the reason (no personal data:
    /// host, port and database at most).
    pub datasets_failed: Vec<(String, String)>,
}

/// Runs one purge over every tenant at `now`. Blocking. `stop` ends it between rounds.
pub fn run(
    state: &AppState,
    now: jiff::Timestamp,
    stop: &AtomicBool,
) -> Result<PurgeRun, VaultError> {
    let Ok(backend) = state.backend() else {
        return Ok(PurgeRun::default());
    };
    let policy = &state.loaded.policy;
    let opts = PurgeOptions {
        max_batches: Some(ROUND_BATCHES),
        ..PurgeOptions::default()
    };
    let mut run = PurgeRun::default();
    let mut first = true;
    loop {
        let report = {
            let mut v = backend.vault_for_write();
            v.purge_all(policy, now, opts, &mut |_, _| {})?
        };
        for r in &report.rules {
            *run.purged.entry(r.category.clone()).or_default() += r.purged;
        }
        run.batches += report.batches;
        run.recomputed += report.recomputed;
        if first {
            run.failed = report.failed.clone();
            first = false;
        }
        if report.purged() == 0 {
            run.held = report.held();
            break;
        }
        if stop.load(Ordering::Acquire) {
            run.interrupted = true;
            break;
        }
    }
    if !run.interrupted {
        purge_datasets(backend, policy, now, &mut run)?;
    }
    Ok(run)
}

/// Rows per batch in the company's databases (one short transaction each).
const DATASET_BATCH: u32 = 5000;

/// Who purges, in the audit trail.
const ACTOR: &str = "custos:scheduler";

/// The retention purge in every configured dataset, with the same settings and holds as the
/// vault's: those are read with the vault held, the purge runs without it (API writes go on),
/// and the receipts are written with it held again. A dataset that is down or no longer fits
/// its annotations is reported and the others go on.
fn purge_datasets(
    backend: &crate::backend::Backend,
    policy: &custos_policy::Policy,
    now: jiff::Timestamp,
    run: &mut PurgeRun,
) -> Result<(), VaultError> {
    let (datasets, context) = {
        let mut v = backend.vault_for_write();
        if v.datasets().is_empty() {
            return Ok(());
        }
        (v.shared_datasets(), v.purge_context()?)
    };
    for d in datasets.iter() {
        match d.purge(&context, policy, now, DATASET_BATCH) {
            Ok(r) => {
                let deleted = r.tables.iter().map(|t| t.deleted).sum();
                run.dataset_rows.insert(d.name().to_owned(), deleted);
                let v = backend.vault_for_write();
                v.append_audit(&r.events(ACTOR), now)?;
            }
            Err(e) => run
                .datasets_failed
                .push((d.name().to_owned(), e.to_string())),
        }
    }
    Ok(())
}

/// Runs one purge, then logs it and counts it in the metrics. Blocking.
pub fn tick(state: &AppState, stop: &AtomicBool) {
    let started = std::time::Instant::now();
    match run(state, jiff::Timestamp::now(), stop) {
        Ok(r) => {
            let outcome = if r.failed.is_empty() && r.datasets_failed.is_empty() {
                "ok"
            } else {
                "partial"
            };
            state.metrics.observe_purge(outcome, &r.purged);
            for (tenant, reason) in &r.failed {
                tracing::warn!(tenant = %tenant, reason = %reason, "retention purge skipped a tenant");
            }
            for (dataset, reason) in &r.datasets_failed {
                tracing::warn!(dataset = %dataset, reason = %reason, "retention purge skipped a dataset");
            }
            for (dataset, rows) in &r.dataset_rows {
                tracing::info!(dataset = %dataset, purged = rows, "retention purge in a dataset");
            }
            tracing::info!(
                outcome,
                purged = r.purged.values().sum::<u64>(),
                held = r.held,
                batches = r.batches,
                recomputed = r.recomputed,
                tenants_failed = r.failed.len() as u64,
                interrupted = r.interrupted,
                duration_ms = started.elapsed().as_millis() as u64,
                "retention purge"
            );
        }
        Err(e) => {
            state.metrics.observe_purge("error", &BTreeMap::new());
            tracing::error!(error = %e, duration_ms = started.elapsed().as_millis() as u64, "retention purge failed");
        }
    }
}
