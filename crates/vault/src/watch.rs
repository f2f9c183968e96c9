//! What needs a person's attention, read across tenants for the server's metrics and the daily
//! digest: open data-subject requests, dead letters, how long ago each tenant was purged, and
//! how much of the audit trail no signed checkpoint covers yet. Reads only, and nothing
//! personal: requests carry pseudonyms, which the digest drops.
//!
//! Also the once-a-day claim ([`Vault::claim_day`]): several servers over one database send the
//! digest once, because only one of them moves the stored day forward.

use jiff::Timestamp;
use jiff::civil::Date;

use custos_rights::digest::TenantState;

use crate::error::{Result, VaultError};
use crate::store::NO_TENANT;
use crate::{TenantId, Vault};

/// Everything the watch reads in one pass.
pub struct Attention {
    /// Per tenant: open requests and dead letters.
    pub tenants: Vec<TenantState>,
    /// Per tenant with data: when its retention purge last ran (`None`: never).
    pub last_purges: Vec<(String, Option<Timestamp>)>,
    /// The audit trail's seal.
    pub audit: SealState,
    /// Every open breach: its authority deadline (Art. 33(1)) and whether the authority (as
    /// processor: the controller) was told.
    pub breaches: Vec<OpenBreach>,
}

/// An open breach as the watch sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenBreach {
    /// When the authority must have been notified.
    pub deadline_at: Timestamp,
    /// Whether it was.
    pub notified: bool,
}

/// How much of the audit trail signed checkpoints cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealState {
    /// The last entry's seq (0: empty trail).
    pub head: u64,
    /// The last checkpoint's seq (0: none).
    pub sealed: u64,
    /// When the last checkpoint was signed.
    pub last_checkpoint_at: Option<Timestamp>,
    /// When the oldest entry after the last checkpoint was written (`None`: all sealed).
    pub oldest_unsealed_at: Option<Timestamp>,
}

impl Vault {
    /// Reads what needs attention across every tenant with data in the vault.
    pub fn attention(&mut self) -> Result<Attention> {
        let mut tenants = Vec::new();
        let mut last_purges = Vec::new();
        let mut breaches = Vec::new();
        for id in self.tenant_ids()? {
            let tenant = TenantId::new(&id)?;
            let mut t = self.tenant(&tenant);
            breaches.extend(t.breaches(false)?.into_iter().map(|b| OpenBreach {
                deadline_at: b.deadline_at,
                notified: b.authority_notified_at.is_some(),
            }));
            let open = t.requests(false)?;
            let dead_letters = t.dead_letters()?.len() as u64;
            let last = t.last_purge()?;
            tenants.push(TenantState {
                tenant: id.clone(),
                open,
                dead_letters,
            });
            last_purges.push((id, last));
        }
        Ok(Attention {
            tenants,
            last_purges,
            audit: self.seal_state()?,
            breaches,
        })
    }

    /// How much of the audit trail signed checkpoints cover.
    pub fn seal_state(&self) -> Result<SealState> {
        let err = |e: custos_audit::AuditError| VaultError::Storage {
            operation: "reading the audit trail's seal",
            target: "audit trail".into(),
            reason: e.to_string(),
        };
        let mut store = self.audit_store()?;
        let head = store.head().map_err(err)?.map_or(0, |e| e.seq);
        let last = store.last_checkpoint().map_err(err)?;
        let sealed = last.as_ref().map_or(0, |c| c.seq);
        let last_checkpoint_at = last.and_then(|c| c.at.parse().ok());
        let oldest_unsealed_at = if head > sealed {
            store
                .read(sealed, 1)
                .map_err(err)?
                .first()
                .and_then(|e| e.at.parse().ok())
        } else {
            None
        };
        Ok(SealState {
            head,
            sealed,
            last_checkpoint_at,
            oldest_unsealed_at,
        })
    }

    /// Claims `day` for the once-a-day job `job`: `true` for the one caller that moves the
    /// stored day forward to `day`, `false` for every other (the job ran that day already, here
    /// or on another server over the same database).
    pub fn claim_day(&mut self, job: &str, day: Date) -> Result<bool> {
        let key = format!("daily.{job}");
        let day = day.to_string();
        let mut claimed = false;
        self.store
            .in_tx(NO_TENANT, "claiming a daily job", &mut |tx| {
                // ISO dates order as text, so "moves forward" is a string comparison.
                let inserted = tx.execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    &[key.as_str().into(), day.as_str().into()],
                )?;
                claimed = inserted == 1
                    || tx.execute(
                        "UPDATE meta SET value = $2 WHERE key = $1 AND value < $2",
                        &[key.as_str().into(), day.as_str().into()],
                    )? == 1;
                Ok(())
            })?;
        Ok(claimed)
    }

    /// Gives back today's claim of [`Vault::claim_day`] after its job failed, so the next try
    /// the same day claims it again: the stored day goes back to the day before, if it is still
    /// `day`.
    pub fn release_day(&mut self, job: &str, day: Date) -> Result<()> {
        let key = format!("daily.{job}");
        let before = day.yesterday().unwrap_or(day).to_string();
        let day = day.to_string();
        self.store
            .in_tx(NO_TENANT, "releasing a daily job", &mut |tx| {
                tx.execute(
                    "UPDATE meta SET value = $3 WHERE key = $1 AND value = $2",
                    &[
                        key.as_str().into(),
                        day.as_str().into(),
                        before.as_str().into(),
                    ],
                )?;
                Ok(())
            })
    }
}
