//! What the vault keeps for requests filed over OpenGDPR / OpenDSR (PRODUCT.md C5; the protocol
//! itself lives in the server): the controller's status callback URLs, stored in the request's
//! detail, and the per-tenant secret that signs the callbacks and the processor's responses.
//!
//! The request is an ordinary request of the rights library ([`crate::rights`]); its id is the
//! controller's `subject_request_id` without dashes, so no mapping table is needed.

use crate::error::{Result, VaultError};
use crate::recipients::WebhookSecret;
use crate::rights::{Request, RequestError};
use crate::vault::TenantVault;

/// The key of the request detail that holds what OpenGDPR needs.
pub const DETAIL_KEY: &str = "opengdpr";

/// The most status callback URLs one request may carry.
pub const MAX_CALLBACK_URLS: usize = 10;

/// The status callback URLs stored with `request` (empty when the controller gave none).
pub fn status_callbacks(request: &Request) -> Vec<String> {
    request
        .detail
        .get(DETAIL_KEY)
        .and_then(|o| o.get("status_callback_urls"))
        .and_then(|u| u.as_array())
        .map(|urls| {
            urls.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl TenantVault<'_> {
    /// Stores the controller's status callback URLs with request `request_id` (in its detail,
    /// under [`DETAIL_KEY`]), replacing any stored before. The caller checks that they are
    /// http(s) URLs; at most [`MAX_CALLBACK_URLS`] are kept. Not a step of the request, so no
    /// history row or audit entry is written; the URLs name the controller's endpoints, never
    /// the person.
    pub fn set_status_callbacks(&mut self, request_id: &str, urls: &[String]) -> Result<()> {
        let tenant = self.tenant_id().as_str().to_owned();
        let urls: Vec<&String> = urls.iter().take(MAX_CALLBACK_URLS).collect();
        self.store()
            .in_tx(&tenant, "storing OpenGDPR callbacks", &mut |tx| {
                let lock = tx.for_update();
                let rows = tx.query(
                    &format!(
                        "SELECT detail FROM requests WHERE tenant_id = $1 AND request_id = $2{lock}"
                    ),
                    &[tenant.as_str().into(), request_id.into()],
                )?;
                let Some(text) = rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.into_text())
                else {
                    return Err(RequestError::NotFound(request_id.to_owned()).into());
                };
                let mut detail: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
                    VaultError::Corrupt("a stored request has an unreadable detail".into())
                })?;
                let Some(obj) = detail.as_object_mut() else {
                    return Err(VaultError::Corrupt(
                        "a stored request's detail is not an object".into(),
                    ));
                };
                obj.insert(
                    DETAIL_KEY.to_owned(),
                    serde_json::json!({ "status_callback_urls": urls }),
                );
                tx.execute(
                    "UPDATE requests SET detail = $3 WHERE tenant_id = $1 AND request_id = $2",
                    &[
                        tenant.as_str().into(),
                        request_id.into(),
                        detail.to_string().into(),
                    ],
                )?;
                Ok(())
            })
    }

    /// The secret that signs this tenant's OpenGDPR status callbacks and responses
    /// (HMAC-SHA256, as `custos_rights::webhook::sign`): a key of the tenant's own derived from
    /// the master key, the same as long as the master key is, different for every tenant, and
    /// stored nowhere.
    pub fn opengdpr_secret(&self) -> WebhookSecret {
        let key = self.tenant_key("opengdpr/callback-signing");
        WebhookSecret::new(key.to_vec()).expect("32 bytes is a valid webhook secret length")
    }
}

#[cfg(test)]
mod tests {
    use crate::{MasterKey, StoreConfig, TenantId, Vault, VaultError};

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn open(dir: &std::path::Path) -> Vault {
        let config = StoreConfig::Sqlite {
            path: dir.join("custos.db"),
        };
        Vault::open(&config, MasterKey::parse(KEY, "test").unwrap()).expect("the vault opens")
    }

    #[test]
    fn the_callback_secret_is_stable_per_tenant_and_differs_between_tenants() {
        let dir = std::env::temp_dir().join(format!("custos-opengdpr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (acme, globex) = (
            TenantId::new("acme").unwrap(),
            TenantId::new("globex").unwrap(),
        );
        let first = {
            let mut v = open(&dir);
            let a = v.tenant(&acme).opengdpr_secret().expose().to_vec();
            let g = v.tenant(&globex).opengdpr_secret().expose().to_vec();
            assert_ne!(a, g);
            assert_eq!(a.len(), 32);
            a
        };
        let mut v = open(&dir);
        assert_eq!(v.tenant(&acme).opengdpr_secret().expose(), first.as_slice());
        // Callbacks attach only to a request that exists.
        let e = v
            .tenant(&acme)
            .set_status_callbacks("00000000000000000000000000000000", &["http://x/".into()])
            .unwrap_err();
        assert!(matches!(
            e,
            VaultError::Request(crate::rights::RequestError::NotFound(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
