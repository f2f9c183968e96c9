//! `Authorization: Bearer cst_…`: the caller's key, looked up once per request. Missing,
//! malformed, unknown and revoked keys are all the same 401: the caller learns nothing about
//! which. A client (by its address, `client.rs`) that presented too many unknown keys is refused
//! for a while before its key is looked at (`failed_auth_per_minute`). Over a PostgreSQL that
//! several servers share, requests take their tokens from the key's bucket in the database a few
//! at a time, and a key revoked through another server is heard of, or asked about on every
//! request while it cannot be heard (`limits.rs`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use custos_access::{Principal, Role};

use crate::AppState;
use crate::problem::Problem;
use custos_types::ErrorCode;

/// An authenticated caller.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::to_owned);
        let Some(key) = key else {
            return Err(Problem::new(ErrorCode::Unauthenticated)
                .detail("send `Authorization: Bearer <API key>`"));
        };
        state.backend()?;
        let client = state.client_of(parts);
        if let Some(client) = &client
            && let Err(wait) = state.failed_auth.check(client, std::time::Instant::now())
        {
            let mut p = Problem::new(ErrorCode::TooManyFailedAuthentications).detail(
                "too many unknown or revoked keys came from this address; retry after the time in Retry-After",
            );
            p.retry_after = Some(u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX));
            return Err(p);
        }
        // Storage calls block (the PostgreSQL driver runs its own runtime): off the async threads.
        let digest = crate::limits::hash(key.as_bytes());
        // Read before the lookup: a revocation heard meanwhile leaves what it finds stale.
        let (epoch, heard) = state.backend()?.revocations();
        let found = match state
            .auth_cache
            .get(&digest, std::time::Instant::now(), epoch)
        {
            Some(p) => Some(p),
            None => {
                let st = state.clone();
                let found = crate::work::blocking(move || {
                    let backend = st.backend()?;
                    let mut a = backend.access.lock().unwrap_or_else(|p| p.into_inner());
                    a.authenticate(&key).map_err(Problem::from)
                })
                .await?;
                if let Some(p) = &found {
                    state
                        .auth_cache
                        .put(digest, p.clone(), std::time::Instant::now(), epoch);
                }
                found
            }
        };
        let Some(principal) = found else {
            if let Some(client) = &client {
                state.failed_auth.failed(client, std::time::Instant::now());
            }
            return Err(unknown_or_revoked());
        };
        // Over a shared PostgreSQL: the key's tokens and, unless heard, its liveness.
        let gate = match shared_gate(state, &principal, heard).await {
            Ok(gate) => gate,
            Err(e) => {
                // Fails open to this process's bucket and cache (limits.rs says why).
                tracing::warn!(
                    code = e.code,
                    "the shared key check failed; this server's own limit applies"
                );
                None
            }
        };
        let wait = match gate {
            Some(g) if !g.live => {
                state.auth_cache.forget(&digest);
                if let Some(client) = &client {
                    state.failed_auth.failed(client, std::time::Instant::now());
                }
                return Err(unknown_or_revoked());
            }
            Some(g) => g.wait,
            None => state
                .limiter
                .check(&principal.key_id, std::time::Instant::now())
                .err(),
        };
        if let Some(wait) = wait {
            let mut p = Problem::new(ErrorCode::TooManyRequests)
                .detail("this key has used its request rate; retry after the time in Retry-After");
            p.retry_after = Some(u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX));
            return Err(p);
        }
        Ok(Caller(principal))
    }
}

/// The one answer to a key that is unknown or revoked (the caller cannot tell which).
fn unknown_or_revoked() -> Problem {
    Problem::new(ErrorCode::Unauthenticated).detail("the API key is unknown or revoked")
}

/// Over a database every server shares: the key's liveness and one token of its bucket, as far
/// as this server does not know them already; `Ok(None)` when the database is this process's
/// alone (SQLite). A token held from an earlier take is spent without asking; liveness is asked
/// only when revocations are not `heard` (see `limits.rs`). When nothing needs asking, the
/// answer is a live key with its token.
async fn shared_gate(
    state: &Arc<AppState>,
    principal: &Principal,
    heard: bool,
) -> Result<Option<custos_vault::key_gate::KeyGate>, Problem> {
    use custos_vault::key_gate::KeyGate;
    if !state.backend()?.shared() {
        return Ok(None);
    }
    let now = std::time::Instant::now();
    let rate = state.limiter.rate();
    let spent = rate.is_some() && state.leases.spend(&principal.key_id, now);
    let take = rate.filter(|_| !spent);
    if take.is_none() && heard {
        return Ok(Some(KeyGate {
            live: true,
            taken: u32::from(spent),
            wait: None,
        }));
    }
    let tenant = principal
        .tenant
        .as_deref()
        .map(custos_vault::TenantId::new)
        .transpose()
        .map_err(Problem::from)?;
    // One chunk per key at a time; a request arriving meanwhile takes its own token only.
    let taking = take.and_then(|_| state.leases.taking(&principal.key_id));
    let up_to = match (take, &taking) {
        (Some(rate), Some(_)) => crate::limits::Leases::chunk(rate),
        _ => 1,
    };
    let (st, key_id) = (state.clone(), principal.key_id.clone());
    let gate = crate::work::blocking(move || {
        st.backend()?
            .vault()
            .key_gate(tenant.as_ref(), &key_id, take, up_to)
            .map_err(Problem::from)
    })
    .await;
    drop(taking);
    let gate = gate?;
    if let Some(g) = &gate
        && take.is_some()
        && g.taken > 1
    {
        // One for this request; the rest for the next ones.
        state
            .leases
            .hold(&principal.key_id, g.taken - 1, std::time::Instant::now());
    }
    // A token spent from the lease lets the request on whatever the bucket says now.
    Ok(gate.map(|g| {
        if spent {
            KeyGate { wait: None, ..g }
        } else {
            g
        }
    }))
}

impl Caller {
    /// The tenant of a tenant key; admin keys are refused here.
    pub fn tenant(&self) -> Result<&str, Problem> {
        self.0.tenant.as_deref().ok_or_else(|| {
            Problem::new(ErrorCode::Forbidden)
                .detail("use a tenant key; admin keys manage tenants only")
        })
    }

    /// Requires `ok(role)`.
    pub fn require(&self, ok: impl Fn(Role) -> bool, what: &str) -> Result<(), Problem> {
        if ok(self.0.role) {
            Ok(())
        } else {
            Err(Problem::new(ErrorCode::Forbidden).detail(format!(
                "a key with role `{}` may not {what}",
                self.0.role.as_str()
            )))
        }
    }
}
