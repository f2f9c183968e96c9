//! The policy versions a server has published (issue 20): each version's text, kept once, so
//! the privacy team can compare what was published then with what is published now
//! (`custos_policy::diff`). A server serves one policy to every tenant, so the list belongs to
//! no tenant. Append-only: a version is recorded the first time a server runs with it and is
//! never changed or removed (there is no call that could).

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};
use crate::store::{NO_TENANT, Val};
use crate::vault::Vault;

/// One published policy version, without its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// The SHA-256 of the policy file's text, in hex ([`policy_fingerprint`]): what tells two
    /// texts apart even when their version labels are the same.
    pub fingerprint: String,
    /// The policy's own version label (`[meta] version`), if it has one.
    pub version: Option<String>,
    /// When a server first ran with it.
    pub first_published_at: Timestamp,
}

/// The fingerprint of a policy file's text: SHA-256, in lowercase hex.
pub fn policy_fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn version_row(r: Vec<Val>) -> Result<PolicyVersion> {
    let corrupt = || VaultError::Corrupt("a row of policy_versions".into());
    let mut r = r.into_iter();
    let fingerprint = r.next().and_then(Val::into_text).ok_or_else(corrupt)?;
    let version = r.next().and_then(Val::into_text);
    let at = r.next().and_then(|v| v.int()).ok_or_else(corrupt)?;
    Ok(PolicyVersion {
        fingerprint,
        version,
        first_published_at: Timestamp::from_microsecond(at).map_err(|_| corrupt())?,
    })
}

impl Vault {
    /// Records that the policy with `text` (labelled `version`) is published as of `now`, unless
    /// that text was recorded before: then the earlier record stands. Returns the record.
    pub fn record_policy_version(
        &mut self,
        version: Option<&str>,
        text: &str,
        now: Timestamp,
    ) -> Result<PolicyVersion> {
        let fingerprint = policy_fingerprint(text);
        let mut out = None;
        self.store
            .in_tx(NO_TENANT, "recording a policy version", &mut |tx| {
                tx.execute(
                    "INSERT INTO policy_versions (fingerprint, version, policy, first_published_at) VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING",
                    &[
                        fingerprint.as_str().into(),
                        version.map(str::to_owned).into(),
                        text.into(),
                        now.as_microsecond().into(),
                    ],
                )?;
                let row = tx
                    .query(
                        "SELECT fingerprint, version, first_published_at FROM policy_versions WHERE fingerprint = $1",
                        &[fingerprint.as_str().into()],
                    )?
                    .into_iter()
                    .next()
                    .ok_or_else(|| VaultError::Corrupt("a policy version just recorded".into()))?;
                out = Some(version_row(row)?);
                Ok(())
            })?;
        out.ok_or_else(|| VaultError::Corrupt("a policy version just recorded".into()))
    }

    /// Every published policy version, the first published first.
    pub fn policy_versions(&mut self) -> Result<Vec<PolicyVersion>> {
        let mut out = Vec::new();
        self.store
            .in_read_tx(NO_TENANT, "listing policy versions", &mut |tx| {
                out = tx
                    .query(
                        "SELECT fingerprint, version, first_published_at FROM policy_versions ORDER BY first_published_at, fingerprint",
                        &[],
                    )?
                    .into_iter()
                    .map(version_row)
                    .collect::<Result<_>>()?;
                Ok(())
            })?;
        Ok(out)
    }

    /// The text of the published policy version with `fingerprint` (`None`: no such version).
    pub fn policy_text(&mut self, fingerprint: &str) -> Result<Option<String>> {
        let mut out = None;
        self.store
            .in_read_tx(NO_TENANT, "reading a policy version", &mut |tx| {
                out = tx
                    .query(
                        "SELECT policy FROM policy_versions WHERE fingerprint = $1",
                        &[fingerprint.into()],
                    )?
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .and_then(Val::into_text);
                Ok(())
            })?;
        Ok(out)
    }
}
