//! The one error type of the vault. Messages say what went wrong, where and what to do; they
//! never carry a payload or a subject's own identifier (only record ids, tenant ids, category
//! and purpose ids and pseudonyms, none of which is personal data in the clear).

use std::path::PathBuf;

use custos_types::ErrorCode;

use crate::ids::RecordId;

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Neither `CUSTOS_MASTER_KEY` nor a key file was given.
    #[error(
        "no master key: set CUSTOS_MASTER_KEY (32 bytes, hex or base64) or create a key file with `custos init`"
    )]
    MasterKeyMissing,
    /// The master key text is not 32 bytes of hex or base64.
    #[error(
        "the master key from {origin} is not valid: {reason} (expected 32 bytes as 64 hex digits or base64)"
    )]
    MasterKeyInvalid {
        /// Where the key came from (the variable name or the file path).
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The master key does not open this vault: its key check value differs.
    #[error(
        "wrong master key: it does not match the key check value stored in this vault; refusing to open (use the key this vault was created with)"
    )]
    WrongMasterKey,
    /// The vault's master key was replaced while this process ran with the old one: it may not
    /// create data keys the new key could not open.
    #[error(
        "the vault's master key was replaced (`custos keys replace`) while this process ran with the old one; nothing was written: restart it with the new key"
    )]
    MasterKeyReplaced,
    /// A key file already exists and would be overwritten.
    #[error("{} already exists; refusing to overwrite a master key (move it away first if you really mean to)", .0.display())]
    KeyFileExists(PathBuf),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database cannot be reached or opened.
    #[error("the vault database ({target}) is unavailable: {reason}")]
    Unavailable {
        /// Which database (a path, or host/port/database without credentials).
        target: String,
        /// The driver's message.
        reason: String,
    },
    /// A database statement failed; the transaction it was part of was rolled back.
    #[error("vault storage failed while {operation} ({target}); nothing was written: {reason}")]
    Storage {
        /// What the vault was doing.
        operation: &'static str,
        /// Which database.
        target: String,
        /// The driver's message.
        reason: String,
    },
    /// The database was migrated by a newer Custos.
    #[error(
        "the vault database has schema version {found}, newer than this Custos supports ({supported}); upgrade Custos"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A statement of a tenant's transaction filtered on a tenant it did not bind: a bug in
    /// Custos, refused before it ran (see `store::check_tenant_bound`).
    #[error(
        "internal error: a statement filtered on a tenant other than its transaction's; nothing was written"
    )]
    TenantNotBound,
    /// The database holds data the vault cannot interpret.
    #[error("the vault database is inconsistent: {0}")]
    Corrupt(String),
    /// An identifier is malformed.
    #[error("invalid {kind}: {reason}")]
    InvalidId {
        /// Which kind of identifier.
        kind: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The policy does not define the category.
    #[error(
        "category {} is not defined in the policy; records can only be stored under a declared category", custos_policy::diag::shown(.category)
    )]
    UnknownCategory {
        /// The category id given.
        category: String,
    },
    /// The policy marks the category as never stored.
    #[error(
        "category `{category}` is marked `stored = false` in the policy: it may be held in memory only and is never written to the vault"
    )]
    NeverStored {
        /// The category id.
        category: String,
    },
    /// The policy does not define the purpose.
    #[error(
        "purpose {} (for a record of category `{category}`) is not defined in the policy", custos_policy::diag::shown(.purpose)
    )]
    UnknownPurpose {
        /// The purpose id given.
        purpose: String,
        /// The record's category.
        category: String,
    },
    /// A record is stored under a purpose that does not use its category (Art. 5(1)(b) GDPR,
    /// purpose limitation): the decision call would deny the same pair.
    #[error(
        "purpose `{purpose}` does not use category `{category}` (the policy does not list it among the purpose's categories); a record is stored only for purposes that use its data (Art. 5(1)(b) GDPR)"
    )]
    CategoryNotForPurpose {
        /// The purpose.
        purpose: String,
        /// The record's category.
        category: String,
    },
    /// A record must serve at least one purpose (Art. 5(1)(b) GDPR, purpose limitation).
    #[error(
        "a record of category `{category}` names no purpose; every stored record serves at least one declared purpose (Art. 5(1)(b) GDPR)"
    )]
    NoPurpose {
        /// The record's category.
        category: String,
    },
    /// An event clock name is empty.
    #[error("an event clock of a record of category `{category}` has an empty name")]
    EmptyClockName {
        /// The record's category.
        category: String,
    },
    /// The record does not exist in this tenant (or was erased).
    #[error("record {0} does not exist in this tenant")]
    RecordNotFound(RecordId),
    /// The record's ciphertext did not authenticate.
    #[error(
        "record {0} cannot be decrypted: its ciphertext is truncated, corrupted, or was moved from another record or tenant"
    )]
    Decrypt(RecordId),
    /// A record's data key is gone (the subject was erased while the record was being read).
    #[error("record {0} has no data key: its subject was erased, so it is unreadable")]
    KeyDestroyed(RecordId),
    /// A wrapped data key did not authenticate.
    #[error(
        "the data key of subject {pseudonym} in key domain `{key_domain}` cannot be unwrapped: it is corrupted or was moved"
    )]
    KeyUnwrap {
        /// The subject's pseudonym.
        pseudonym: String,
        /// The key domain.
        key_domain: String,
    },
    /// The erasure journal cannot be read.
    #[error("erasure journal {}, line {line}: {reason}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A law obliges keeping the record (Art. 17(3)(b)): `retention.statutory` on its category,
    /// not yet expired.
    #[error(
        "a record of category `{category}` must be kept by law ({law}) until its retention runs out; it cannot be deleted before (Art. 17(3)(b) GDPR)"
    )]
    KeptByLaw {
        /// The category.
        category: String,
        /// The law, as the policy names it.
        law: String,
    },
    /// Another write remembered the same idempotency key first; nothing was written (the caller
    /// answers as a replay of that write).
    #[error("another write with the same idempotency key committed first; nothing was written")]
    IdempotencyRace,
    /// The idempotency key was used before with a different request.
    #[error("this idempotency key was already used with a different request in the last 24 hours")]
    IdempotencyKeyReused,
    /// A retention change committed while records were being written; the write retries.
    #[error("the tenant's retention settings changed during the write; retry it")]
    RetentionChanged,
    /// A data key the records were encrypted under was destroyed (an erasure or deletion of
    /// the subject's last record of the category) after they were encrypted, or was made by
    /// this write while another write stored the slot's key first; the write encrypts again,
    /// under a new key or the stored one.
    #[error("a data key of the write was destroyed during the write; retry it")]
    DataKeyGone,
    /// A retention rule refused the request (an override outside its bounds, …).
    #[error(transparent)]
    Retention(#[from] custos_retention::RetentionError),
    /// The event is not declared in the policy and is not a built-in clock.
    #[error("event {} is not declared in the policy (`[[event]]`) nor a built-in clock{}", custos_policy::diag::shown(.event), suggestion(.nearest))]
    UnknownEvent {
        /// The event asked for.
        event: String,
        /// The nearest declared one.
        nearest: Option<String>,
    },
    /// The event is declared for other scopes than the one it was sent at.
    #[error(
        "event `{event}` happens to one {declared} in the policy (`scope`), not to one {asked}; send it for what it happened to, so it does not start the clock of data it does not concern (Art. 5(1)(e) GDPR)"
    )]
    EventScope {
        /// The event.
        event: String,
        /// The scope it was sent at.
        asked: &'static str,
        /// The scopes the policy declares, comma-separated.
        declared: String,
    },
    /// The tier is not declared in the policy.
    #[error("tier {} is not declared in the policy (`[[tier]]`){}", custos_policy::diag::shown(.tier), suggestion(.nearest))]
    UnknownTier {
        /// The tier asked for.
        tier: String,
        /// The nearest declared one.
        nearest: Option<String>,
    },
    /// The subject has no data in this tenant.
    #[error("the subject has no records in this tenant")]
    UnknownSubject,
    /// The tenant has no data in this vault.
    #[error("tenant `{0}` has no data in this vault")]
    UnknownTenant(String),
    /// An event dated after now (beyond the allowed clock skew).
    #[error(
        "event `{event}` is dated {at}, after now ({now}) by more than {skew_seconds} s; send it when it has happened"
    )]
    EventInFuture {
        /// The event.
        event: String,
        /// When it says it happened.
        at: jiff::Timestamp,
        /// Now.
        now: jiff::Timestamp,
        /// The skew allowed.
        skew_seconds: i64,
    },
    /// The clock is earlier than the tenant's last purge: refusing to purge on a clock that went
    /// back.
    #[error(
        "the clock ({now}) is earlier than tenant `{tenant}`'s last purge ({last}); refusing to purge until the clock is right again"
    )]
    ClockWentBack {
        /// The tenant.
        tenant: String,
        /// The last purge.
        last: jiff::Timestamp,
        /// The clock now.
        now: jiff::Timestamp,
    },
    /// A legal hold covers the data; it cannot be erased while the hold lasts.
    #[error(
        "legal hold {hold_id} ({scope}) covers this subject's data; erasure is refused until it is released (Art. 17(3)(e) GDPR: legal claims)"
    )]
    Held {
        /// The hold.
        hold_id: String,
        /// What it covers: tenant, subject or category.
        scope: String,
    },
    /// The record is kept under restriction (a law obliges keeping it after an erasure request,
    /// Art. 17(3)(b), or the subject restricted processing, Art. 18): not for everyday processing.
    #[error(
        "record {0} is restricted (Art. 17(3)(b) / Art. 18 GDPR): it is kept only because the law requires it and may not be processed otherwise"
    )]
    Restricted(RecordId),
    /// A consent, acceptance or approval call was refused.
    #[error(transparent)]
    Consent(ConsentCallError),
    /// A data-subject request could not go ahead.
    #[error(transparent)]
    Request(#[from] custos_rights::request::RequestError),
    /// A disclosure, a webhook or a notification to a recipient could not go ahead (Art. 19).
    #[error(transparent)]
    Recipient(#[from] RecipientError),
    /// No active legal hold with this id in this tenant.
    #[error("no active legal hold `{0}` in this tenant")]
    HoldNotFound(String),
    /// The breach register refused a write or a read.
    #[error(transparent)]
    Breach(#[from] crate::breaches::BreachError),
    /// A breach record (or a decision on it) is incomplete or contradicts itself; every field
    /// named with its reason.
    #[error("the breach record is invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidBreach(Vec<custos_breach::Invalid>),
    /// A job in one of the company's own databases (PRODUCT.md C10) failed; it rolled back.
    #[error(transparent)]
    Connector(Box<crate::connect::ConnectorError>),
    /// A legal hold's request is malformed.
    #[error("invalid legal hold: {0}")]
    InvalidHold(String),
    /// The operating system's random generator failed.
    #[error("the system random generator failed: {0}")]
    Random(String),
}

/// The vault's result type.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

fn suggestion(nearest: &Option<String>) -> String {
    match nearest {
        Some(n) => format!("; did you mean `{n}`?"),
        None => String::new(),
    }
}

impl VaultError {
    /// Its code in the error table (`docs/errors.md`): what the server answers and the CLI
    /// prints. A wrapped error answers with its own code.
    pub fn code(&self) -> ErrorCode {
        match self {
            VaultError::MasterKeyMissing => ErrorCode::MasterKeyMissing,
            VaultError::MasterKeyInvalid { .. } => ErrorCode::MasterKeyInvalid,
            VaultError::WrongMasterKey => ErrorCode::WrongMasterKey,
            VaultError::MasterKeyReplaced => ErrorCode::MasterKeyReplaced,
            VaultError::KeyFileExists(_) => ErrorCode::KeyFileExists,
            VaultError::Io { .. } => ErrorCode::FileError,
            VaultError::Unavailable { .. } | VaultError::Storage { .. } => ErrorCode::Unavailable,
            VaultError::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            VaultError::Corrupt(_)
            | VaultError::Decrypt(_)
            | VaultError::KeyUnwrap { .. }
            | VaultError::Journal { .. } => ErrorCode::DataCorrupt,
            VaultError::InvalidId { .. } => ErrorCode::InvalidId,
            VaultError::UnknownCategory { .. } => ErrorCode::UnknownCategory,
            VaultError::NeverStored { .. } => ErrorCode::NeverStored,
            VaultError::UnknownPurpose { .. } => ErrorCode::UnknownPurpose,
            VaultError::CategoryNotForPurpose { .. } => ErrorCode::CategoryNotForPurpose,
            VaultError::NoPurpose { .. } => ErrorCode::NoPurpose,
            VaultError::EmptyClockName { .. } => ErrorCode::InvalidClock,
            // An erased record's key is gone: to the caller, the record is gone.
            VaultError::RecordNotFound(_) | VaultError::KeyDestroyed(_) => {
                ErrorCode::RecordNotFound
            }
            VaultError::KeptByLaw { .. } => ErrorCode::KeptByLaw,
            // The caller never sees it: the write answers as a replay of the first one.
            VaultError::IdempotencyRace | VaultError::Random(_) => ErrorCode::Internal,
            // A bug: the statement was refused before it ran.
            VaultError::TenantNotBound => ErrorCode::Internal,
            VaultError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            VaultError::RetentionChanged => ErrorCode::RetentionChanged,
            VaultError::DataKeyGone => ErrorCode::DataKeyGone,
            VaultError::Retention(e) => e.code(),
            VaultError::UnknownEvent { .. } => ErrorCode::UnknownEvent,
            VaultError::EventScope { .. } => ErrorCode::EventScope,
            VaultError::UnknownTier { .. } => ErrorCode::UnknownTier,
            VaultError::UnknownSubject => ErrorCode::UnknownSubject,
            VaultError::UnknownTenant(_) => ErrorCode::UnknownTenant,
            VaultError::EventInFuture { .. } => ErrorCode::InFuture,
            VaultError::ClockWentBack { .. } => ErrorCode::ClockWentBack,
            VaultError::Held { .. } => ErrorCode::LegalHold,
            VaultError::Connector(e) => e.code(),
            VaultError::Restricted(_) => ErrorCode::Restricted,
            VaultError::Consent(e) => e.code(),
            VaultError::Request(e) => e.code(),
            VaultError::Recipient(e) => e.code(),
            VaultError::HoldNotFound(_) => ErrorCode::HoldNotFound,
            VaultError::Breach(crate::breaches::BreachError::NotFound(_)) => {
                ErrorCode::BreachNotFound
            }
            VaultError::Breach(crate::breaches::BreachError::Stale { .. }) => {
                ErrorCode::BreachStale
            }
            VaultError::InvalidBreach(_) => ErrorCode::InvalidBreach,
            VaultError::InvalidHold(_) => ErrorCode::InvalidHold,
        }
    }
}

impl RecipientError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> ErrorCode {
        match self {
            RecipientError::UnknownRecipient { .. } => ErrorCode::UnknownRecipient,
            RecipientError::NoCategories => ErrorCode::NoCategories,
            RecipientError::InvalidReference(_) => ErrorCode::InvalidReference,
            RecipientError::InFuture { .. } => ErrorCode::InFuture,
            RecipientError::InvalidUrl(_) | RecipientError::InvalidSecret(_) => {
                ErrorCode::InvalidWebhook
            }
            // Only a request can queue notifications, with its own action: a bug if not.
            RecipientError::UnknownAction(_) => ErrorCode::Internal,
            RecipientError::NotDead(_) => ErrorCode::NotificationNotFound,
        }
    }
}

impl ConsentCallError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> ErrorCode {
        match self {
            ConsentCallError::Ledger(e) => e.code(),
            ConsentCallError::Empty(_) => ErrorCode::MissingValue,
            ConsentCallError::BadHash => ErrorCode::InvalidNoticeHash,
            ConsentCallError::FullIp => ErrorCode::FullIpAddress,
            ConsentCallError::ApprovalNotFound(_) => ErrorCode::ApprovalNotFound,
            ConsentCallError::UnknownAction { .. } => ErrorCode::UnknownAction,
            ConsentCallError::AlreadyDecided { .. } => ErrorCode::AlreadyDecided,
            ConsentCallError::TokenInvalid => ErrorCode::TokenInvalid,
            ConsentCallError::TokenUsed(_) => ErrorCode::TokenUsed,
            ConsentCallError::TokenExpired(_) => ErrorCode::TokenExpired,
            ConsentCallError::TokenForOtherAction { .. }
            | ConsentCallError::TokenForOtherItem
            | ConsentCallError::TokenForOtherSubject => ErrorCode::TokenMismatch,
        }
    }
}

/// Why a consent, acceptance or approval call is refused. No message names the subject.
#[derive(Debug, thiserror::Error)]
pub enum ConsentCallError {
    /// The ledger's own rules (undefined purpose, not consent-based, nothing to withdraw, out
    /// of order).
    #[error(transparent)]
    Ledger(#[from] custos_consent::ConsentError),
    /// A required text field is empty.
    #[error("`{0}` must not be empty")]
    Empty(&'static str),
    /// The notice hash is not a SHA-256 in hex.
    #[error("`notice_hash` must be the SHA-256 of the notice text, 64 hex digits")]
    BadHash,
    /// The proof holds what looks like a full IPv4 or IPv6 address.
    #[error(
        "`proof` must not hold a full IP address; truncate it (e.g. 192.0.2.0/24, 2001:db8:1::/48) so the proof is not personal data in the clear"
    )]
    FullIp,
    /// No such approval.
    #[error("no approval `{0}` in this tenant")]
    ApprovalNotFound(String),
    /// The approval was decided already.
    #[error("approval {id} is already {state}")]
    AlreadyDecided {
        /// The approval.
        id: String,
        /// `approved` or `rejected`.
        state: String,
    },
    /// The token is unknown (never issued, or for another tenant).
    #[error("the approval token is not valid")]
    TokenInvalid,
    /// The token was used before: one token, one action.
    #[error("the approval token was already used at {0}; an approval is good for one action")]
    TokenUsed(jiff::Timestamp),
    /// The token's time ran out.
    #[error("the approval token expired at {0}; ask for a new approval")]
    TokenExpired(jiff::Timestamp),
    /// The token approves another action.
    #[error("the approval token is for action `{approved}`, not `{asked}`")]
    TokenForOtherAction {
        /// What it approves.
        approved: String,
        /// What was asked.
        asked: String,
    },
    /// The token approves another item of the same action (another draft): one approval, one
    /// item.
    #[error(
        "the approval token is for another item than the one asked about; each item needs its own approval"
    )]
    TokenForOtherItem,
    /// The token approves the action for another subject.
    #[error(
        "the approval token was given for another subject; each subject's item needs its own approval"
    )]
    TokenForOtherSubject,
    /// The action is not one the policy gates behind an approval, so no approval can be asked
    /// for it, and a decision naming it cannot be answered (fail closed: a misspelt action must
    /// not skip its gate).
    #[error("action {} is not declared by any purpose's `approval = {{ action = … }}` in the policy{}", custos_policy::diag::shown(.action), suggestion(.nearest))]
    UnknownAction {
        /// The action asked for.
        action: String,
        /// The nearest declared one.
        nearest: Option<String>,
    },
}

/// What can be wrong with a disclosure, a webhook or a notification.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    /// The recipient is not declared in the policy.
    #[error("recipient {} is not declared in the policy (`[[recipient]]`){}", custos_policy::diag::shown(.recipient), suggestion(.nearest))]
    UnknownRecipient {
        /// The recipient asked for.
        recipient: String,
        /// The nearest declared one.
        nearest: Option<String>,
    },
    /// A disclosure must say which categories went.
    #[error(
        "a disclosure names no category; say which categories of the subject's data went to the recipient"
    )]
    NoCategories,
    /// The recipient's reference for the subject is unusable.
    #[error("invalid reference: {0}")]
    InvalidReference(&'static str),
    /// A disclosure dated after now.
    #[error("the disclosure is dated {at}, after now ({now}); record it when it has happened")]
    InFuture {
        /// When it says it happened.
        at: jiff::Timestamp,
        /// Now.
        now: jiff::Timestamp,
    },
    /// The webhook URL is unusable.
    #[error("invalid webhook URL: {0}")]
    InvalidUrl(String),
    /// The webhook secret is unusable.
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(&'static str),
    /// The action is not one Art. 19 covers.
    #[error(
        "`{0}` is not an action recipients are told about; use rectification, erasure or restriction"
    )]
    UnknownAction(String),
    /// No dead notification with this id in this tenant.
    #[error(
        "no dead notification `{0}` in this tenant (only dead letters can be retried; see the dead-letter list)"
    )]
    NotDead(String),
}

impl From<crate::ids::InvalidId> for VaultError {
    fn from(e: crate::ids::InvalidId) -> Self {
        VaultError::InvalidId {
            kind: e.kind,
            reason: e.reason,
        }
    }
}
