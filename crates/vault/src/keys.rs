//! The key hierarchy, built only from vetted RustCrypto primitives:
//!
//! ```text
//! master key (32 bytes, env var or key file)
//!  ├─ HKDF-SHA256 "custos/vault/kek/v{version}/{key_domain}"  → key-encryption key per domain and version
//!  │    └─ AES-256-GCM wraps → data key (32 random bytes) per (tenant, subject, key domain, category)
//!  │         └─ AES-256-GCM encrypts → record payload, associated data = (tenant, subject, category, record id)
//!  ├─ HKDF-SHA256 "custos/vault/pseudonym/v1"  → HMAC-SHA256 key for subject pseudonyms
//!  └─ HKDF-SHA256 "custos/vault/key-check/v1"  → HMAC-SHA256 key for the key check value
//! ```
//!
//! Data keys are per category so that an erasure which keeps some categories under a statutory
//! obligation (Art. 17(3)(b) GDPR) still destroys the key of everything it erases. Vaults written
//! before that had one key per (tenant, subject, key domain): such a *legacy* key is stored with
//! the empty category, its wrapping binds no category, and the records it encrypts carry format
//! byte 1; records under a per-category key carry format byte 2. The format byte names the key, so
//! both kinds are read side by side and nothing has to be re-encrypted on upgrade.
//!
//! Every secret lives in a [`Zeroizing`] buffer and no type here prints its bytes.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Result, VaultError};
use crate::ids::{Pseudonym, SubjectId, TenantId};

/// The environment variable the master key is read from.
pub const MASTER_KEY_ENV: &str = "CUSTOS_MASTER_KEY";

const NONCE_LEN: usize = 12;
/// The AES-GCM tag that follows the ciphertext.
const TAG_LEN: usize = 16;
/// The first byte of every ciphertext the vault writes: the format, so it can change later.
const FORMAT_V1: u8 = 1;
/// The first byte of a record encrypted under a per-category data key (same layout as v1).
const FORMAT_V2: u8 = 2;

/// The category a legacy data key is stored under: one key per (subject, key domain).
pub(crate) const LEGACY_CATEGORY: &str = "";

/// Which data key a record's ciphertext needs: its category's own, or the legacy one of its key
/// domain (`LEGACY_CATEGORY`); `None` when the format byte is unknown.
pub(crate) fn key_category_of<'a>(ciphertext: &[u8], category: &'a str) -> Option<&'a str> {
    match ciphertext.first() {
        Some(&FORMAT_V2) => Some(category),
        Some(&FORMAT_V1) => Some(LEGACY_CATEGORY),
        _ => None,
    }
}
const HKDF_SALT: &[u8] = b"custos-vault";

/// What the sealed identity key is bound to.
const IDENTITY_AAD: &[u8] = b"custos/vault/identity/v1";

/// The 32-byte master key. Zeroized on drop; `Debug` prints `MasterKey(<redacted>)`.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(k.as_mut())?;
        Ok(Self(k))
    }

    /// Parses 32 bytes written as 64 hex digits or as base64 (standard or URL-safe alphabet,
    /// padding optional); surrounding whitespace is ignored. `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = |reason| VaultError::MasterKeyInvalid {
            origin: origin.to_owned(),
            reason,
        };
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            decode_base64(text).ok_or_else(|| invalid("neither 64 hex digits nor base64"))?
        };
        if bytes.len() != 32 {
            return Err(invalid("it does not decode to exactly 32 bytes"));
        }
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&bytes);
        Ok(Self(k))
    }

    /// Reads the key from `CUSTOS_MASTER_KEY` if set, else from `key_file` if given.
    pub fn from_env_or_file(key_file: Option<&Path>) -> Result<Self> {
        if let Some(text) = std::env::var_os(MASTER_KEY_ENV) {
            let text =
                Zeroizing::new(
                    text.into_string()
                        .map_err(|_| VaultError::MasterKeyInvalid {
                            origin: MASTER_KEY_ENV.to_owned(),
                            reason: "not valid UTF-8",
                        })?,
                );
            return Self::parse(&text, MASTER_KEY_ENV);
        }
        match key_file {
            Some(path) => Self::from_file(path),
            None => Err(VaultError::MasterKeyMissing),
        }
    }

    /// Reads the key from a file written by [`MasterKey::write_new_file`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| VaultError::Io {
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::parse(&text, &path.display().to_string())
    }

    /// Writes this key as hex to a new file readable by its owner only (mode 0600), refusing to
    /// overwrite an existing file.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                VaultError::KeyFileExists(path.to_owned())
            } else {
                VaultError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let mut text = Zeroizing::new(crate::ids::hex(self.0.as_ref()));
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| VaultError::Io {
                path: path.to_owned(),
                source,
            })
    }

    /// The public key that verifies this master key's audit checkpoints (what auditors get).
    pub fn audit_public_key(&self) -> custos_audit::VerifyingKey {
        custos_audit::SigningKey::from_bytes(&self.derive(b"custos/audit/checkpoint-signing/v1"))
            .verifying_key()
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(info, out.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }
}

/// The keys derived from the master key that a running vault needs.
///
/// Two roots: the **master key** wraps the data keys (through the key-encryption keys) and
/// proves itself by the key check value; the **identity key** derives what must stay the same
/// for the vault's whole life: subject pseudonyms (in records, the audit trail, the erasure
/// journal), the tenants' keyed hashes and secrets, and the key that signs audit checkpoints.
/// Until the master key is replaced ([`crate::Vault::replace_master_key`]) the identity key is
/// the master key; after, it is the first master key, stored wrapped under the new one.
pub(crate) struct KeyRing {
    master: MasterKey,
    identity: MasterKey,
    pseudonym_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyRing(<redacted>)")
    }
}

/// A subject's unwrapped data key for one key domain. Zeroized on drop, its cipher's expanded
/// round keys too (aes-gcm's `zeroize`).
pub(crate) struct DataKey {
    key: Zeroizing<[u8; 32]>,
    /// Built on first use and kept: a batch encrypts many records under one key, and expanding
    /// the AES key and the GHASH key per record cost more than encrypting a small record.
    cipher: std::sync::OnceLock<Aes256Gcm>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self {
            key,
            cipher: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(k.as_mut())?;
        Ok(Self::new(k))
    }

    fn cipher(&self) -> &Aes256Gcm {
        self.cipher.get_or_init(|| {
            let k: &[u8; 32] = &self.key;
            Aes256Gcm::new(k.into())
        })
    }
}

/// What a record's ciphertext is bound to.
pub(crate) struct RecordIdentity<'a> {
    pub tenant: &'a str,
    pub pseudonym: &'a str,
    pub category: &'a str,
    pub record_id: &'a str,
}

impl RecordIdentity<'_> {
    fn associated_data(&self) -> Vec<u8> {
        encode_fields(&[
            b"custos/vault/record/v1",
            self.tenant.as_bytes(),
            self.pseudonym.as_bytes(),
            self.category.as_bytes(),
            self.record_id.as_bytes(),
        ])
    }
}

impl KeyRing {
    /// A key of its own for `info`, derived from the identity key (HKDF-SHA256).
    pub(crate) fn derived(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        self.identity.derive(info)
    }

    /// The ring of a vault whose master key was never replaced: the identity key is the master.
    pub(crate) fn new(master: MasterKey) -> Self {
        let identity = master.clone();
        Self::with_identity(master, identity)
    }

    /// The ring of `master` with the identity key of an earlier master key.
    pub(crate) fn with_identity(master: MasterKey, identity: MasterKey) -> Self {
        let pseudonym_key = identity.derive(b"custos/vault/pseudonym/v1");
        Self {
            master,
            identity,
            pseudonym_key,
        }
    }

    /// The master key alone (to build a ring with another identity).
    pub(crate) fn into_master(self) -> MasterKey {
        self.master
    }

    /// The same identity under another master key (the ring a replacement moves to).
    pub(crate) fn replaced_by(&self, master: MasterKey) -> Self {
        Self::with_identity(master, self.identity.clone())
    }

    /// The identity key, sealed under this ring's master key, as stored in the vault's settings.
    pub(crate) fn sealed_identity(&self) -> Result<Vec<u8>> {
        seal(
            &self.identity_cipher(),
            self.identity.0.as_ref(),
            IDENTITY_AAD,
        )
    }

    /// The ring of `master` with the identity key it sealed (`None` when it does not open).
    pub(crate) fn with_sealed_identity(master: MasterKey, sealed: &[u8]) -> Option<Self> {
        let ring = Self::new(master);
        let plain = open(&ring.identity_cipher(), sealed, IDENTITY_AAD)?;
        let bytes: [u8; 32] = plain.as_slice().try_into().ok()?;
        let identity = MasterKey(Zeroizing::new(bytes));
        Some(Self::with_identity(ring.master, identity))
    }

    /// Who filed request `request_id` of `tenant` (the subject's identifier), sealed under a
    /// key of its own and bound to the tenant and the request, so it opens for that request only.
    pub(crate) fn seal_requester(
        &self,
        tenant: &TenantId,
        request_id: &str,
        subject: &SubjectId,
    ) -> Result<Vec<u8>> {
        seal(
            &self.requester_cipher(),
            subject.expose().as_bytes(),
            &requester_aad(tenant, request_id),
        )
    }

    /// The identifier [`seal_requester`](Self::seal_requester) sealed; `None` when it does not
    /// open (another request's, or tampered with).
    pub(crate) fn open_requester(
        &self,
        tenant: &TenantId,
        request_id: &str,
        sealed: &[u8],
    ) -> Option<SubjectId> {
        let plain = open(
            &self.requester_cipher(),
            sealed,
            &requester_aad(tenant, request_id),
        )?;
        SubjectId::new(std::str::from_utf8(&plain).ok()?).ok()
    }

    /// Where a breach letter goes, as the delivery record keeps it: a keyed digest of the
    /// address (lower-cased), bound to the tenant and the breach, so one address is told once per
    /// breach and the record proves who was told without holding the address.
    pub(crate) fn letter_target(
        &self,
        tenant: &TenantId,
        breach_id: &str,
        address: &str,
    ) -> String {
        let key = self.derived(b"custos/vault/breach-letter-target/v1");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
        mac.update(&encode_fields(&[
            tenant.as_str().as_bytes(),
            breach_id.as_bytes(),
            address.to_lowercase().as_bytes(),
        ]));
        crate::ids::hex(&mac.finalize().into_bytes()[..16])
    }

    /// A breach letter's address, sealed while the letter may still be sent, bound to the tenant,
    /// the letter and its target digest.
    pub(crate) fn seal_letter_address(
        &self,
        tenant: &TenantId,
        letter_id: &str,
        target: &str,
        address: &str,
    ) -> Result<Vec<u8>> {
        let key = self.derived(b"custos/vault/breach-letter/v1");
        seal_bound(
            &key,
            &encode_fields(&[tenant.as_str().as_bytes(), letter_id.as_bytes()]),
            target,
            address.as_bytes(),
        )
    }

    /// The address [`seal_letter_address`](Self::seal_letter_address) sealed; `None` when it does
    /// not open (another letter's, or tampered with).
    pub(crate) fn open_letter_address(
        &self,
        tenant: &TenantId,
        letter_id: &str,
        target: &str,
        sealed: &[u8],
    ) -> Option<String> {
        let key = self.derived(b"custos/vault/breach-letter/v1");
        let plain = open_bound(
            &key,
            &encode_fields(&[tenant.as_str().as_bytes(), letter_id.as_bytes()]),
            target,
            sealed,
        )?;
        String::from_utf8(plain.to_vec()).ok()
    }

    fn requester_cipher(&self) -> Aes256Gcm {
        let key = self.derived(b"custos/vault/requester/v1");
        let k: &[u8; 32] = &key;
        Aes256Gcm::new(k.into())
    }

    fn identity_cipher(&self) -> Aes256Gcm {
        let key = self.master.derive(b"custos/vault/identity-wrap/v1");
        let k: &[u8; 32] = &key;
        Aes256Gcm::new(k.into())
    }

    /// The key check value stored in the database: HMAC-SHA256 of a constant under a key derived
    /// from the master key. It proves the master key matches without revealing anything about it.
    pub(crate) fn check_value(&self) -> String {
        let key = self.master.derive(b"custos/vault/key-check/v1");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
        mac.update(b"custos vault key check");
        crate::ids::hex(&mac.finalize().into_bytes())
    }

    /// Compares a stored key check value in constant time.
    pub(crate) fn matches_check_value(&self, stored: &str) -> bool {
        let key = self.master.derive(b"custos/vault/key-check/v1");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
        mac.update(b"custos vault key check");
        match decode_hex_checked(stored) {
            Some(bytes) => mac.verify_slice(&bytes).is_ok(),
            None => false,
        }
    }

    /// The Ed25519 key that signs audit checkpoints, derived from the identity key (so the
    /// published public key outlives a master key's replacement).
    pub(crate) fn audit_signing_key(&self) -> custos_audit::SigningKey {
        let seed = self.identity.derive(b"custos/audit/checkpoint-signing/v1");
        custos_audit::SigningKey::from_bytes(&seed)
    }

    pub(crate) fn pseudonym(&self, tenant: &TenantId, subject: &SubjectId) -> Pseudonym {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.pseudonym_key.as_ref())
            .expect("HMAC takes any key length");
        mac.update(&encode_fields(&[
            tenant.as_str().as_bytes(),
            subject.expose().as_bytes(),
        ]));
        Pseudonym::from_bytes(&mac.finalize().into_bytes()[..16])
    }

    fn kek(&self, key_domain: &str, version: u32) -> Aes256Gcm {
        let info = format!("custos/vault/kek/v{version}/{key_domain}");
        let key = self.master.derive(info.as_bytes());
        let k: &[u8; 32] = &key;
        Aes256Gcm::new(k.into())
    }

    fn wrap_aad(
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
        version: u32,
    ) -> Vec<u8> {
        if category == LEGACY_CATEGORY {
            // A key of the first scheme (per subject and domain) keeps its binding, so rotation
            // re-wraps it without touching its records.
            return encode_fields(&[
                b"custos/vault/data-key/v1",
                tenant.as_bytes(),
                pseudonym.as_bytes(),
                key_domain.as_bytes(),
                &version.to_be_bytes(),
            ]);
        }
        encode_fields(&[
            b"custos/vault/data-key/v2",
            tenant.as_bytes(),
            pseudonym.as_bytes(),
            key_domain.as_bytes(),
            category.as_bytes(),
            &version.to_be_bytes(),
        ])
    }

    /// Wraps a data key under the key-encryption key of `key_domain` at `version`, bound to the
    /// subject, domain and category so a wrapped key cannot be moved to another subject or
    /// category. `category` is [`LEGACY_CATEGORY`] for a key of the first scheme.
    pub(crate) fn wrap(
        &self,
        key: &DataKey,
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
        version: u32,
    ) -> Result<Vec<u8>> {
        let aad = Self::wrap_aad(tenant, pseudonym, key_domain, category, version);
        seal(&self.kek(key_domain, version), key.key.as_ref(), &aad)
    }

    /// Unwraps a data key; `None` when it does not authenticate.
    pub(crate) fn unwrap(
        &self,
        wrapped: &[u8],
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
        version: u32,
    ) -> Option<DataKey> {
        let aad = Self::wrap_aad(tenant, pseudonym, key_domain, category, version);
        let plain = open(&self.kek(key_domain, version), wrapped, &aad)?;
        let mut k = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return None;
        }
        k.copy_from_slice(&plain);
        Some(DataKey::new(k))
    }
}

/// Encrypts a record payload under its category's data key, with a caller-supplied random nonce
/// (the vault draws the nonces of a whole batch in one system call).
pub(crate) fn encrypt_record(
    key: &DataKey,
    nonce: &[u8; NONCE_LEN],
    id: &RecordIdentity<'_>,
    payload: &[u8],
) -> Result<Vec<u8>> {
    let aad = id.associated_data();
    // Encrypted where it is stored (format byte, nonce, ciphertext, tag): the same bytes as
    // `Aead::encrypt` gives, without a second buffer and a copy of it.
    let body = 1 + NONCE_LEN;
    let mut out = Vec::with_capacity(body + payload.len() + TAG_LEN);
    out.push(FORMAT_V2);
    out.extend_from_slice(nonce);
    out.extend_from_slice(payload);
    match key
        .cipher()
        .encrypt_inout_detached(&Nonce::from(*nonce), &aad, (&mut out[body..]).into())
    {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(out)
        }
        Err(_) => {
            // Still the plaintext.
            out.zeroize();
            Err(VaultError::Corrupt(
                "AES-GCM refused to encrypt (payload too large)".into(),
            ))
        }
    }
}

/// Decrypts a record payload (either format; the caller picked the key with
/// [`key_category_of`]); `None` when it is truncated, corrupted or bound to another identity.
pub(crate) fn decrypt_record(
    key: &DataKey,
    id: &RecordIdentity<'_>,
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let (&format, rest) = ciphertext.split_first()?;
    if format != FORMAT_V1 && format != FORMAT_V2 {
        return None;
    }
    open_body(key.cipher(), rest, &id.associated_data())
}

pub(crate) const RECORD_NONCE_LEN: usize = NONCE_LEN;

fn seal(cipher: &Aes256Gcm, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
        .map_err(|_| VaultError::Corrupt("AES-GCM refused to encrypt".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (&format, rest) = sealed.split_first()?;
    if format != FORMAT_V1 {
        return None;
    }
    open_body(cipher, rest, aad)
}

/// Opens nonce ‖ ciphertext ‖ tag.
fn open_body(cipher: &Aes256Gcm, rest: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if rest.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

/// Wipes a plaintext buffer, its spare capacity included, and empties it: the same as
/// `Vec::zeroize`, which writes the bytes one volatile store at a time, but with the slice
/// zeroizers, which fill the memory at once behind an optimization barrier (a tenth of the time
/// for a 1 KiB payload).
pub(crate) fn wipe(buf: &mut Vec<u8>) {
    buf.spare_capacity_mut().zeroize();
    buf.as_mut_slice().zeroize();
    buf.clear();
}

/// Fills `buf` from the operating system's random generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| VaultError::Random(e.to_string()))
}

/// Length-prefixed concatenation, so no two different field lists encode alike.
/// Seals `plain` under `key` (AES-256-GCM, a fresh nonce), bound to `context` and `id`: for a
/// secret kept beside the vault that no row may take from another (a console account's TOTP
/// secret, bound to its account).
pub(crate) fn seal_bound(
    key: &[u8; 32],
    context: &[u8],
    id: &str,
    plain: &[u8],
) -> Result<Vec<u8>> {
    seal(
        &Aes256Gcm::new(key.into()),
        plain,
        &encode_fields(&[context, id.as_bytes()]),
    )
}

/// Opens what [`seal_bound`] sealed with the same key, context and id.
pub(crate) fn open_bound(
    key: &[u8; 32],
    context: &[u8],
    id: &str,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    open(
        &Aes256Gcm::new(key.into()),
        sealed,
        &encode_fields(&[context, id.as_bytes()]),
    )
}

fn requester_aad(tenant: &TenantId, request_id: &str) -> Vec<u8> {
    encode_fields(&[
        b"custos/vault/requester/v1",
        tenant.as_str().as_bytes(),
        request_id.as_bytes(),
    ])
}

fn encode_fields(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for f in fields {
        out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn decode_hex(text: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(decode_hex_checked(text).unwrap_or_default())
}

fn decode_hex_checked(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Base64 (RFC 4648, standard or URL-safe alphabet, padding optional). A decoder, not
/// cryptography: a few lines here spare a dependency.
fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let text = text.trim_end_matches('=');
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 3 / 4));
    for chunk in text.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wiped_buffer_is_empty_and_keeps_its_memory() {
        let mut buf = Vec::with_capacity(2048);
        buf.extend_from_slice(&[0x5a; 1024]);
        wipe(&mut buf);
        assert!(buf.is_empty());
        assert_eq!(
            buf.capacity(),
            2048,
            "the zeroed memory is not handed back early"
        );
    }

    use super::*;

    /// The record every single-record test encrypts.
    const ID: RecordIdentity<'static> = RecordIdentity {
        tenant: "t",
        pseudonym: "p",
        category: "c",
        record_id: "r",
    };

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn ring() -> KeyRing {
        KeyRing::new(MasterKey::parse(HEX, "test").expect("valid key"))
    }

    #[test]
    fn a_master_key_reads_the_same_from_hex_and_base64() {
        let a = MasterKey::parse(HEX, "hex").expect("hex");
        let b = MasterKey::parse(B64, "b64").expect("base64");
        let c = MasterKey::parse(B64.trim_end_matches('='), "b64").expect("unpadded base64");
        assert_eq!(a.0.as_ref(), b.0.as_ref());
        assert_eq!(a.0.as_ref(), c.0.as_ref());
    }

    #[test]
    fn a_master_key_of_the_wrong_length_is_refused_naming_its_origin() {
        let err = MasterKey::parse("AAEC", "CUSTOS_MASTER_KEY").expect_err("3 bytes");
        assert!(err.to_string().contains("CUSTOS_MASTER_KEY"), "{err}");
        assert!(MasterKey::parse("not a key!", "x").is_err());
        assert!(MasterKey::parse("", "x").is_err());
    }

    #[test]
    fn keys_never_print_their_bytes() {
        let k = MasterKey::parse(HEX, "test").expect("valid");
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
        assert_eq!(
            format!("{:?}", DataKey::generate().expect("random")),
            "DataKey(<redacted>)"
        );
        assert!(!format!("{:?}", ring()).contains("0001"));
    }

    #[test]
    fn a_key_check_value_matches_only_its_own_master_key() {
        let stored = ring().check_value();
        assert!(ring().matches_check_value(&stored));
        let other = KeyRing::new(MasterKey::generate().expect("random"));
        assert!(!other.matches_check_value(&stored));
        assert!(!ring().matches_check_value("zz"));
    }

    #[test]
    fn pseudonyms_are_stable_per_tenant_and_differ_between_tenants() {
        let r = ring();
        let s = SubjectId::new("jan@example.nl").expect("valid");
        let a = TenantId::new("a").expect("valid");
        let b = TenantId::new("b").expect("valid");
        assert_eq!(r.pseudonym(&a, &s), r.pseudonym(&a, &s));
        assert_ne!(r.pseudonym(&a, &s), r.pseudonym(&b, &s));
        assert_eq!(r.pseudonym(&a, &s).as_str().len(), 32);
    }

    #[test]
    fn a_wrapped_data_key_opens_only_for_its_subject_domain_and_version() {
        let r = ring();
        let dk = DataKey::generate().expect("random");
        for cat in ["support", LEGACY_CATEGORY] {
            let w = r.wrap(&dk, "t", "p", "mail", cat, 1).expect("wraps");
            let back = r.unwrap(&w, "t", "p", "mail", cat, 1).expect("unwraps");
            assert_eq!(back.key.as_ref(), dk.key.as_ref());
            assert!(r.unwrap(&w, "t", "q", "mail", cat, 1).is_none());
            assert!(r.unwrap(&w, "u", "p", "mail", cat, 1).is_none());
            assert!(r.unwrap(&w, "t", "p", "voice", cat, 1).is_none());
            assert!(r.unwrap(&w, "t", "p", "mail", cat, 2).is_none());
        }
        let w = r.wrap(&dk, "t", "p", "mail", "support", 1).expect("wraps");
        assert!(r.unwrap(&w, "t", "p", "mail", "billing", 1).is_none());
        assert!(r.unwrap(&w, "t", "p", "mail", LEGACY_CATEGORY, 1).is_none());
    }

    /// Encrypting in place stores exactly what `Aead::encrypt` gives (records written before
    /// still open, and so do those written now by older code).
    #[test]
    fn a_record_is_encrypted_to_the_bytes_aead_encrypt_gives() {
        let dk = DataKey::generate().expect("random");
        let payload = b"a payload of some length, longer than one AES block";
        let ct = encrypt_record(&dk, &[9; 12], &ID, payload).expect("encrypts");
        let expected = Aes256Gcm::new((&*dk.key).into())
            .encrypt(
                &Nonce::from([9; 12]),
                Payload {
                    msg: payload,
                    aad: &ID.associated_data(),
                },
            )
            .expect("encrypts");
        assert_eq!(ct[0], FORMAT_V2);
        assert_eq!(&ct[1..1 + NONCE_LEN], &[9; 12]);
        assert_eq!(&ct[1 + NONCE_LEN..], expected.as_slice());
    }

    #[test]
    fn a_record_ciphertext_bound_to_one_identity_fails_under_another() {
        let dk = DataKey::generate().expect("random");
        let id = ID;
        let ct = encrypt_record(&dk, &[7; 12], &id, b"hello").expect("encrypts");
        assert_eq!(
            decrypt_record(&dk, &id, &ct).expect("decrypts").as_slice(),
            b"hello"
        );
        for other in [
            RecordIdentity { tenant: "u", ..id },
            RecordIdentity {
                pseudonym: "q",
                ..id
            },
            RecordIdentity {
                category: "d",
                ..id
            },
            RecordIdentity {
                record_id: "s",
                ..id
            },
        ] {
            assert!(decrypt_record(&dk, &other, &ct).is_none());
        }
    }

    #[test]
    fn a_record_names_its_key_by_its_format_byte() {
        let dk = DataKey::generate().expect("random");
        let id = ID;
        let mut ct = encrypt_record(&dk, &[3; 12], &id, b"x").expect("encrypts");
        assert_eq!(key_category_of(&ct, "c"), Some("c"));
        // A record written before per-category keys: same layout, format byte 1, legacy key.
        ct[0] = FORMAT_V1;
        assert_eq!(key_category_of(&ct, "c"), Some(LEGACY_CATEGORY));
        assert!(decrypt_record(&dk, &id, &ct).is_some());
        ct[0] = 9;
        assert_eq!(key_category_of(&ct, "c"), None);
        assert!(decrypt_record(&dk, &id, &ct).is_none());
    }

    #[test]
    fn a_truncated_or_flipped_ciphertext_does_not_decrypt() {
        let dk = DataKey::generate().expect("random");
        let id = ID;
        let ct = encrypt_record(&dk, &[1; 12], &id, b"payload").expect("encrypts");
        for len in 0..ct.len() {
            assert!(
                decrypt_record(&dk, &id, &ct[..len]).is_none(),
                "truncated to {len}"
            );
        }
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x40;
            assert!(decrypt_record(&dk, &id, &bad).is_none(), "byte {i} flipped");
        }
    }
}
