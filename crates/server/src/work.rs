//! How a handler runs vault work off the async threads, in one place: the vault is synchronous
//! (rusqlite, the blocking PostgreSQL client), so a handler never calls it on a runtime thread
//! directly.
//!
//! - [`blocking`]: any work, on tokio's blocking pool (writes, long reads, answers).
//! - [`with_vault`]: inside such work, the vault connection for writes (on SQLite the one
//!   writer, so writes queue in order).
//! - [`write`], [`read`]: a handler's vault work on the blocking pool, on the connection for
//!   writes or on any pooled one; [`as_caller`]: on the caller's tenant, attributed to the
//!   caller's key in the audit trail; [`records_as_caller`]: the same for writes of records,
//!   which the store commits in groups, on any pooled connection.
//! - [`periodic`]: a background job's runs on a timer (the purge, the notifier, checkpoints).
//! - [`quick`]: a short read on the hot path (decisions): at once when the SQLite connection is
//!   free, else on the pool in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use custos_types::ErrorCode;
use custos_vault::{TenantId, TenantVault, Vault};

use crate::AppState;
use crate::problem::Problem;

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(Problem::new(ErrorCode::Internal).detail("a worker failed; it has been logged"))
    })
}

/// Runs `work` on the vault connection for consent calls. On SQLite that is the single write
/// connection even for reads: the vault reads the ledger, flags and suppression list inside
/// `BEGIN IMMEDIATE` transactions, so spreading reads over the pool only moves the queue into
/// SQLite's busy handler (measured on 50 clients: decisions' p99 23 ms through the pool, 11 ms
/// queued on one connection; see BENCHMARKS.md). On PostgreSQL it is any pooled connection.
pub(crate) fn with_vault<T>(
    s: &AppState,
    work: impl FnOnce(&mut Vault) -> Result<T, Problem>,
) -> Result<T, Problem> {
    work(&mut s.backend()?.vault_for_write())
}

/// Runs `work` on the blocking pool with the vault connection for writes (see [`with_vault`]).
pub(crate) async fn write<T: Send + 'static>(
    s: &Arc<AppState>,
    work: impl FnOnce(&AppState, &mut Vault) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let s = s.clone();
    blocking(move || with_vault(&s, |v| work(&s, v))).await
}

/// Runs `work` on the blocking pool with any pooled vault connection: for reads that need not
/// queue behind the writes.
pub(crate) async fn read<T: Send + 'static>(
    s: &Arc<AppState>,
    work: impl FnOnce(&AppState, &mut Vault) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let s = s.clone();
    blocking(move || work(&s, &mut s.backend()?.vault())).await
}

/// Runs `work` on the blocking pool on `tenant`'s data through the connection for writes, acting
/// as `actor` (the caller's key, which the audit trail names for every change `work` makes).
pub(crate) async fn as_caller<T: Send + 'static>(
    s: &Arc<AppState>,
    tenant: &TenantId,
    actor: String,
    work: impl FnOnce(&AppState, &mut TenantVault<'_>) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    acting(s, tenant, actor, Connection::ForWrites, work).await
}

/// Runs a write of records (`work`) on `tenant`'s data as `actor`, on any pooled connection:
/// its reads and its encryption run beside other writes, and the store commits the records in
/// groups through its own turn to write (on SQLite, `store/sqlite.rs`), so the writes need not
/// queue on the one connection [`with_vault`] gives.
pub(crate) async fn records_as_caller<T: Send + 'static>(
    s: &Arc<AppState>,
    tenant: &TenantId,
    actor: String,
    work: impl FnOnce(&AppState, &mut TenantVault<'_>) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    acting(s, tenant, actor, Connection::Any, work).await
}

/// Which pooled connection a handler's work takes.
enum Connection {
    /// The connection for writes ([`with_vault`]).
    ForWrites,
    /// Whichever is free.
    Any,
}

async fn acting<T: Send + 'static>(
    s: &Arc<AppState>,
    tenant: &TenantId,
    actor: String,
    connection: Connection,
    work: impl FnOnce(&AppState, &mut TenantVault<'_>) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let (s, tenant) = (s.clone(), tenant.clone());
    blocking(move || {
        let backend = s.backend()?;
        let mut v = match connection {
            Connection::ForWrites => backend.vault_for_write(),
            Connection::Any => backend.vault(),
        };
        work(&s, &mut v.tenant(&tenant).acting_as(actor))
    })
    .await
}

/// Runs `work` on the blocking pool every `every`, the first time one interval from now, one run
/// at a time: a run that takes longer delays the next instead of bunching them up. Never returns;
/// aborting the task stops the timer (a run in flight finishes on its thread).
pub(crate) async fn periodic(every: std::time::Duration, work: impl Fn() + Send + Sync + 'static) {
    let work = Arc::new(work);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let run = work.clone();
        let _ = tokio::task::spawn_blocking(move || run()).await;
    }
}

/// Short reads waiting on the blocking pool for the vault connection.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Runs a short read: at once on this thread when the SQLite connection is free and no short
/// read is already waiting for it (a hand-off to the blocking pool and back costs two thread
/// wake-ups, which on a busy machine is where the tail latency came from: single-client p99
/// 2 ms handed off, 0.3 ms at once; BENCHMARKS.md), else on the blocking pool in turn, so reads
/// that queued are not overtaken. PostgreSQL always takes the pool.
pub(crate) async fn quick<T: Send + 'static>(
    s: Arc<AppState>,
    work: impl FnOnce(&mut Vault) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread;
    if multi_thread
        && QUEUED.load(Ordering::Relaxed) == 0
        && let Some(mut v) = s.backend()?.try_sqlite_vault()
    {
        return tokio::task::block_in_place(move || work(&mut v));
    }
    blocking(move || {
        let b = s.backend()?;
        QUEUED.fetch_add(1, Ordering::Relaxed);
        let mut v = b.vault_for_write();
        QUEUED.fetch_sub(1, Ordering::Relaxed);
        work(&mut v)
    })
    .await
}
