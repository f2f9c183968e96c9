//! The one table of error codes. Every error a user can meet, over HTTP or on the command line,
//! has a stable kebab-case name, the HTTP status it is answered with, its kind and a title; the
//! server's problem documents and the CLI's exit codes and messages are derived from it, and
//! `docs/errors.md` has a row for each (a test keeps the two in step). A client branches on the
//! name; a person looks it up at `docs/errors.md#<name>`.

use std::fmt;

/// What sort of error a code is: what a client can do about it, and the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request itself is wrong (malformed, or against the policy or the law): fix it.
    InvalidRequest,
    /// The command line's own input (a flag, a file, the policy file) cannot be used: fix it.
    Usage,
    /// No key, an unknown key, or a key whose role may not do this.
    Auth,
    /// The thing asked about does not exist (in the caller's tenant).
    NotFound,
    /// The current state refuses the request; the detail says what would change it.
    Conflict,
    /// A passing state refused the request: the same request may succeed when retried.
    RetryLater,
    /// The database or the server cannot serve the request right now; nothing was written.
    Unavailable,
    /// A bug or a broken installation: logged, never the caller's fault.
    Internal,
}

impl ErrorKind {
    /// Every kind, in the order of `docs/errors.md`.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidRequest,
        ErrorKind::Usage,
        ErrorKind::Auth,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::RetryLater,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// Its stable name, as `docs/errors.md` writes it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid-request",
            ErrorKind::Usage => "usage",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RetryLater => "retry-later",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    /// The CLI's exit code for an error of this kind: 2 when the command line's own input cannot
    /// be used, 1 when the command was refused or failed (the exit codes `docs/errors.md`
    /// promises scripts).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::InvalidRequest
            | ErrorKind::Auth
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::RetryLater
            | ErrorKind::Unavailable
            | ErrorKind::Internal => 1,
        }
    }
}

/// Where the documentation of every code lives, relative to the repository root.
pub const ERRORS_DOC: &str = "docs/errors.md";

/// The base of every problem `type` URI: the code's name follows it.
pub const PROBLEM_BASE: &str = "https://custos.dev/problems/";

macro_rules! codes {
    ($($variant:ident = $name:literal, $status:literal, $kind:ident, $title:literal;)*) => {
        /// Every error a user can meet. Add a variant here, a row to `docs/errors.md`, and map the
        /// library error to it in that error's `code()`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($status), "): ", $title, ".")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in the order of `docs/errors.md`.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// Name, HTTP status, kind and title: the row of the table.
            fn row(self) -> (&'static str, u16, ErrorKind, &'static str) {
                match self {
                    $(ErrorCode::$variant => ($name, $status, ErrorKind::$kind, $title),)*
                }
            }

            /// The problem `type` URI: `https://custos.dev/problems/<name>`.
            pub fn type_uri(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!("https://custos.dev/problems/", $name),)*
                }
            }
        }
    };
}

codes! {
    // The HTTP layer: the request could not be read or routed.
    InvalidBody = "invalid-body", 400, InvalidRequest, "The request body is invalid";
    UnsupportedMediaType = "unsupported-media-type", 415, InvalidRequest, "The request body must be JSON";
    BodyTooLarge = "body-too-large", 413, InvalidRequest, "The request body is too large";
    RequestTimeout = "request-timeout", 408, InvalidRequest, "The request did not arrive in time";
    InvalidQuery = "invalid-query", 400, InvalidRequest, "A query parameter is invalid";
    InvalidPath = "invalid-path", 400, InvalidRequest, "A path parameter is invalid";
    NotFound = "not-found", 404, NotFound, "Not found";
    MethodNotAllowed = "method-not-allowed", 405, InvalidRequest, "Method not allowed";
    Gone = "gone", 410, NotFound, "This route was removed; use the one named in the detail";
    Unprocessable = "unprocessable", 422, InvalidRequest, "The request breaks a rule of the API";
    Unauthenticated = "unauthenticated", 401, Auth, "A valid API key is required";
    Forbidden = "forbidden", 403, Auth, "This key's role may not do this";
    TooManyRequests = "too-many-requests", 429, RetryLater, "Too many requests for this key";
    TooManyFailedAuthentications = "too-many-failed-authentications", 429, RetryLater, "Too many failed authentications from this client";
    Unavailable = "unavailable", 503, Unavailable, "The service is not ready";
    Internal = "internal", 500, Internal, "Internal error";
    // The command line.
    InvalidArgument = "invalid-argument", 400, Usage, "A flag, argument or file cannot be used";
    InvalidPolicy = "invalid-policy", 400, Usage, "The policy file cannot be read or is not valid";
    LanguageNotOffered = "language-not-offered", 404, NotFound, "The statement is not published in that language";
    // Identifiers and tenants.
    InvalidId = "invalid-id", 400, InvalidRequest, "An identifier is malformed";
    InvalidTenant = "invalid-tenant", 400, InvalidRequest, "The tenant id is invalid";
    InvalidRole = "invalid-role", 400, InvalidRequest, "The role cannot be given to a tenant key";
    TenantExists = "tenant-exists", 409, Conflict, "The tenant already exists";
    TenantNotFound = "tenant-not-found", 404, NotFound, "No such tenant";
    UnknownTenant = "unknown-tenant", 404, NotFound, "The tenant has no data yet";
    UnknownSubject = "unknown-subject", 404, NotFound, "The subject has no records in this tenant";
    // Records and the policy they are stored under.
    RecordNotFound = "record-not-found", 404, NotFound, "No such record in this tenant";
    UnknownCategory = "unknown-category", 422, InvalidRequest, "The category is not declared in the policy";
    NeverStored = "never-stored", 422, InvalidRequest, "The category is never stored";
    UnknownPurpose = "unknown-purpose", 422, InvalidRequest, "The purpose is not declared in the policy";
    NoPurpose = "no-purpose", 422, InvalidRequest, "A record must serve a purpose";
    CategoryNotForPurpose = "category-not-for-purpose", 422, InvalidRequest, "The purpose does not use this category";
    InvalidClock = "invalid-clock", 422, InvalidRequest, "An event clock has no name";
    InFuture = "in-future", 422, InvalidRequest, "The time given lies in the future";
    IdempotencyKeyReused = "idempotency-key-reused", 422, InvalidRequest, "The idempotency key was used with another request";
    Restricted = "restricted", 409, Conflict, "The record is restricted";
    // Retention, events and legal holds.
    UnknownEvent = "unknown-event", 422, InvalidRequest, "The event is not declared in the policy";
    EventScope = "event-scope", 422, InvalidRequest, "The event is not declared for this scope";
    UnknownTier = "unknown-tier", 422, InvalidRequest, "The tier is not declared in the policy";
    NoOverride = "no-override", 422, InvalidRequest, "The category has no tenant override";
    OutOfBounds = "out-of-bounds", 422, InvalidRequest, "The period is outside the category's bounds";
    PeriodOverflow = "period-overflow", 422, InvalidRequest, "The retention period overflows the calendar";
    UnreadableOverride = "unreadable-override", 422, InvalidRequest, "The tenant's stored override cannot be read";
    InvalidHold = "invalid-hold", 422, InvalidRequest, "The legal hold is malformed";
    HoldNotFound = "hold-not-found", 404, NotFound, "No such active legal hold";
    LegalHold = "legal-hold", 409, Conflict, "A legal hold covers the data";
    KeptByLaw = "kept-by-law", 409, Conflict, "A law obliges keeping the record";
    ClockWentBack = "clock-went-back", 409, Conflict, "The clock is earlier than the last purge";
    RetentionChanged = "retention-changed", 409, RetryLater, "The retention settings changed during the write";
    DataKeyGone = "data-key-gone", 409, RetryLater, "A data key the write used was destroyed during the write";
    // The breach register.
    BreachNotFound = "breach-not-found", 404, NotFound, "No such breach in this tenant";
    BreachStale = "breach-stale", 409, Conflict, "The breach has a newer version than the one the change was made on";
    InvalidBreach = "invalid-breach", 422, InvalidRequest, "The breach record is incomplete or contradicts itself";
    // Data-subject requests.
    RequestNotFound = "request-not-found", 404, NotFound, "No such request in this tenant";
    AnswerChanged = "answer-changed", 409, RetryLater, "The subject's records changed while the answer was written";
    RequestIdTaken = "request-id-taken", 409, Conflict, "A request with this id exists already";
    InvalidRequestId = "invalid-request-id", 422, InvalidRequest, "The request id is malformed";
    RequestNotVerified = "request-not-verified", 409, Conflict, "The requester's identity is not verified";
    RequestClosed = "request-closed", 409, Conflict, "The request is closed";
    AlreadyVerified = "already-verified", 409, Conflict, "The request is verified already";
    ExtensionRefused = "extension-refused", 409, Conflict, "The request cannot be extended";
    WrongRequestKind = "wrong-request-kind", 409, Conflict, "The step does not apply to this kind of request";
    PurposeRequired = "purpose-required", 422, InvalidRequest, "The request needs the purpose it concerns";
    NotConsentBased = "not-consent-based", 422, InvalidRequest, "The purpose is not based on consent";
    NotObjectable = "not-objectable", 422, InvalidRequest, "The purpose cannot be objected to";
    ReasonRequired = "reason-required", 422, InvalidRequest, "A reason is required";
    NoCorrections = "no-corrections", 422, InvalidRequest, "A rectification carries its corrections";
    NoVerificationCode = "no-verification-code", 422, InvalidRequest, "No verification code was issued";
    WrongVerificationCode = "wrong-verification-code", 422, InvalidRequest, "The verification code is wrong";
    VerificationCodeVoid = "verification-code-void", 422, InvalidRequest, "The verification code expired or was tried too often";
    // Recipients (Art. 19).
    UnknownRecipient = "unknown-recipient", 422, InvalidRequest, "The recipient is not declared in the policy";
    NoCategories = "no-categories", 422, InvalidRequest, "A disclosure names its categories";
    InvalidReference = "invalid-reference", 422, InvalidRequest, "The reference is invalid";
    InvalidWebhook = "invalid-webhook", 422, InvalidRequest, "The webhook URL or secret is invalid";
    NotificationNotFound = "notification-not-found", 404, NotFound, "No such dead notification";
    // Announcements of new sub-processors and material changes (Art. 28(2) GDPR).
    AnnouncementNotFound = "announcement-not-found", 404, NotFound, "No such announcement, or no open objection to it";
    ObjectionClosed = "objection-closed", 409, Conflict, "The change took effect; the time to object has passed";
    InvalidContacts = "invalid-contacts", 422, InvalidRequest, "The contact addresses cannot be used";
    RecipientInNotice = "recipient-in-notice", 409, Conflict, "The recipient was announced as new and its notice period has not run";
    RecipientObjected = "recipient-objected", 409, Conflict, "The tenant objected to the recipient's announcement";
    // Consent, acceptance and approvals.
    NothingToWithdraw = "nothing-to-withdraw", 422, InvalidRequest, "No consent in force to withdraw";
    OutOfOrder = "out-of-order", 422, InvalidRequest, "The entry is older than the last one";
    MissingValue = "missing-value", 422, InvalidRequest, "A required value is empty";
    InvalidNoticeHash = "invalid-notice-hash", 422, InvalidRequest, "The notice hash is not a SHA-256";
    FullIpAddress = "full-ip-address", 422, InvalidRequest, "The proof holds a full IP address";
    UnknownAction = "unknown-action", 422, InvalidRequest, "The action needs no approval in the policy";
    ApprovalNotFound = "approval-not-found", 404, NotFound, "No such approval in this tenant";
    AlreadyDecided = "already-decided", 409, Conflict, "The approval was decided before";
    TokenInvalid = "token-invalid", 409, Conflict, "The approval token is not valid";
    TokenUsed = "token-used", 409, Conflict, "The approval token was used already";
    TokenExpired = "token-expired", 409, Conflict, "The approval token expired";
    TokenMismatch = "token-mismatch", 409, Conflict, "The approval token is for something else";
    // Connectors: the company's own databases.
    ConnectorUnavailable = "connector-unavailable", 503, Unavailable, "The company's database cannot be reached or refused the login";
    DatasetCheckFailed = "dataset-check-failed", 422, InvalidRequest, "The dataset annotations do not fit the database or the policy";
    ConnectorBusy = "connector-busy", 409, RetryLater, "Rows the job needs are locked by another transaction";
    ConnectorStatementFailed = "connector-statement-failed", 409, Conflict, "The company's database refused a statement; nothing was changed";
    ErasureUnverified = "erasure-unverified", 500, Internal, "Rows of the subject remain after the erasure";
    // E-mail: verification codes and status notices to data subjects.
    MailUnavailable = "mail-unavailable", 503, Unavailable, "The mail server cannot be reached or refused the message";
    // The installation: keys, files, the database.
    MasterKeyMissing = "master-key-missing", 500, Internal, "No master key is configured";
    MasterKeyInvalid = "master-key-invalid", 500, Internal, "The master key is malformed";
    WrongMasterKey = "wrong-master-key", 500, Internal, "The master key does not open this vault";
    MasterKeyReplaced = "master-key-replaced", 503, Unavailable, "The master key was replaced; restart with the new one";
    KeyFileExists = "key-file-exists", 409, Conflict, "A master key file exists already";
    FileError = "file-error", 500, Internal, "A file could not be read or written";
    BackupUnsupported = "backup-unsupported", 400, Usage, "This store is backed up with its own tools";
    SchemaTooNew = "schema-too-new", 500, Internal, "The database was migrated by a newer Custos";
    DataCorrupt = "data-corrupt", 500, Internal, "Stored data cannot be read";
}

impl ErrorCode {
    /// The stable kebab-case name, e.g. `legal-hold`.
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status the server answers with.
    pub fn status(self) -> u16 {
        self.row().1
    }

    /// What sort of error it is.
    pub fn kind(self) -> ErrorKind {
        self.row().2
    }

    /// A short summary, the same for every error of this code (the problem's `title`).
    pub fn title(self) -> &'static str {
        self.row().3
    }

    /// Where the code is documented: `docs/errors.md#<name>`.
    pub fn doc_anchor(self) -> String {
        format!("{ERRORS_DOC}#{}", self.name())
    }

    /// The CLI's exit code for this error, from its kind.
    pub fn exit_code(self) -> u8 {
        self.kind().exit_code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{ErrorCode, ErrorKind, PROBLEM_BASE};

    const DOC: &str = include_str!("../../../docs/errors.md");

    /// The rows of the code table: `| <a id="name"></a>`name` | status | kind | … |`, as the
    /// name and the line.
    fn documented() -> Vec<(String, String)> {
        DOC.lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let first = cells.get(1)?.strip_prefix("<a id=\"")?;
                let (anchor, rest) = first.split_once("\"></a>")?;
                let name = rest.strip_prefix('`')?.strip_suffix('`')?;
                cells.get(2)?.parse::<u16>().ok()?;
                (anchor == name).then(|| (name.to_owned(), l.to_owned()))
            })
            .collect()
    }

    #[test]
    fn every_problem_type_is_documented_in_the_error_table() {
        let rows = documented();
        for c in ErrorCode::ALL {
            let row = format!(
                "| <a id=\"{0}\"></a>`{0}` | {1} | {2} |",
                c.name(),
                c.status(),
                c.kind().name()
            );
            assert!(
                rows.iter().any(|(_, l)| l.starts_with(&row)),
                "docs/errors.md lacks the row `{row} …`"
            );
        }
        for (name, _) in &rows {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.name() == name),
                "docs/errors.md documents `{name}`, which is no code"
            );
        }
        assert_eq!(rows.len(), ErrorCode::ALL.len(), "each code has one row");
    }

    #[test]
    fn names_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(c.type_uri(), format!("{PROBLEM_BASE}{}", c.name()));
            assert!(seen.insert(c.name()), "`{}` twice", c.name());
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                c.name()
            );
            assert!((400..600).contains(&c.status()), "{}", c.name());
        }
    }

    #[test]
    fn a_legal_hold_is_not_retryable_but_a_retention_change_is() {
        assert_eq!(ErrorCode::LegalHold.kind(), ErrorKind::Conflict);
        assert_eq!(ErrorCode::RetentionChanged.kind(), ErrorKind::RetryLater);
        assert_eq!(
            ErrorCode::LegalHold.status(),
            ErrorCode::RetentionChanged.status()
        );
        assert_ne!(
            ErrorCode::LegalHold.type_uri(),
            ErrorCode::RetentionChanged.type_uri()
        );
    }

    #[test]
    fn the_cli_exits_2_for_unusable_input_and_1_otherwise() {
        assert_eq!(ErrorCode::InvalidArgument.exit_code(), 2);
        assert_eq!(ErrorCode::LegalHold.exit_code(), 1);
        assert_eq!(ErrorCode::UnknownEvent.exit_code(), 1);
        assert_eq!(
            ErrorCode::LegalHold.doc_anchor(),
            "docs/errors.md#legal-hold"
        );
    }
}
