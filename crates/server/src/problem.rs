//! RFC 9457 problem details for every error the API returns, and the one place where a library
//! error becomes one. The codes, their statuses and titles are the table of `custos_types`
//! ([`ErrorCode`], documented in `docs/errors.md`); this module adds only what HTTP needs: which
//! field of the request is to blame, and that internal and storage trouble is logged and answered
//! without detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_access::AccessError;
use custos_consent::ledger::ConsentError;
use custos_retention::RetentionError;
use custos_types::{ErrorCode, ErrorKind, InvalidId};
use custos_vault::VaultError;
use custos_vault::consent::ConsentCallError;
use custos_vault::recipients::RecipientError;
use custos_vault::rights::RequestError;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field (a JSON pointer or query parameter name).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `https://custos.dev/problems/legal-hold`: the
    /// code's documentation.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The code's stable name alone, e.g. `legal-hold`, to branch on (`docs/errors.md` lists
    /// every one).
    #[schema(example = "legal-hold")]
    pub code: &'static str,
    /// Short summary of the kind of problem, the same for every problem of its code.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this request. Never holds personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub detail: Option<Box<str>>,
    /// The invalid fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before retrying (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem of kind `code`.
    pub fn new(code: ErrorCode) -> Problem {
        Problem {
            kind: code.type_uri(),
            code: code.name(),
            title: code.title(),
            status: code.status(),
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// With a detail sentence.
    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into().into_boxed_str());
        self
    }

    /// With an invalid field.
    pub fn field(mut self, field: impl Into<String>, reason: impl Into<String>) -> Problem {
        self.errors.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
        self
    }

    /// The same problem blamed on another field: for a route whose body names the value
    /// differently (`/purpose` where most say `/purposes`). A problem that blamed no field now
    /// blames `field`, with the detail as the reason.
    pub fn refield(mut self, field: impl Into<String>) -> Problem {
        let field = field.into();
        match self.errors.first_mut() {
            Some(e) => e.field = field,
            None => {
                let reason = String::from(self.detail.take().unwrap_or_default());
                self = self.field(field, reason);
            }
        }
        self
    }

    /// The problem for a library error: its code's status and title, the message as the detail
    /// or as the reason of the field to blame. Internal and storage trouble is logged and
    /// answered without detail (the log has it, under the request id).
    fn of_error(code: ErrorCode, message: String, blame: Blame) -> Problem {
        match code.kind() {
            ErrorKind::Internal => {
                tracing::error!(code = code.name(), error = %message, "internal error");
                Problem::new(ErrorCode::Internal)
                    .detail("an internal error occurred; it has been logged")
            }
            ErrorKind::Unavailable => {
                tracing::error!(code = code.name(), error = %message, "storage unavailable");
                Problem::new(ErrorCode::Unavailable)
                    .detail("the database is unavailable; nothing was written")
            }
            ErrorKind::InvalidRequest
            | ErrorKind::Usage
            | ErrorKind::Auth
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::RetryLater => match blame {
                Blame::Detail => Problem::new(code).detail(message),
                Blame::Field(f) => Problem::new(code).field(f, message),
                Blame::FieldAndDetail(f) => {
                    Problem::new(code).field(f, message.clone()).detail(message)
                }
            },
        }
    }
}

/// What a library error blames: nothing in particular (the detail says why), or a field of the
/// request (a JSON pointer into the body, a header or a parameter).
enum Blame {
    /// The detail says it all.
    Detail,
    /// This field.
    Field(String),
    /// This field, and the detail repeats the reason (the bounds of an override).
    FieldAndDetail(String),
}

fn field(f: &str) -> Blame {
    Blame::Field(f.to_owned())
}

impl From<VaultError> for Problem {
    fn from(e: VaultError) -> Problem {
        Problem::from(&e)
    }
}

impl From<&VaultError> for Problem {
    fn from(e: &VaultError) -> Problem {
        let blame = match e {
            VaultError::Retention(r) => return Problem::from(r),
            VaultError::Request(r) => return Problem::from(r),
            VaultError::Recipient(r) => return Problem::from(r),
            VaultError::Consent(c) => return Problem::from(c),
            VaultError::InvalidId { kind, reason } => {
                return Problem::from(&InvalidId { kind, reason });
            }
            VaultError::UnknownTenant(_) => {
                return Problem::new(e.code()).detail(format!(
                    "{e}: store a record first; events act on stored data"
                ));
            }
            VaultError::UnknownCategory { .. } | VaultError::NeverStored { .. } => {
                field("/category")
            }
            VaultError::UnknownPurpose { .. }
            | VaultError::NoPurpose { .. }
            | VaultError::CategoryNotForPurpose { .. } => field("/purposes"),
            VaultError::EmptyClockName { .. } => field("/clocks"),
            VaultError::UnknownEvent { .. } | VaultError::EventScope { .. } => field("/event"),
            VaultError::UnknownTier { .. } => field("/tier"),
            VaultError::EventInFuture { .. } => field("/at"),
            VaultError::UnknownSubject => field("/subject"),
            VaultError::InvalidHold(_) => field("/reason"),
            VaultError::IdempotencyKeyReused => field("Idempotency-Key"),
            VaultError::RecordNotFound(_)
            | VaultError::KeyDestroyed(_)
            | VaultError::HoldNotFound(_)
            | VaultError::Breach(_)
            | VaultError::InvalidBreach(_)
            | VaultError::Held { .. }
            | VaultError::ClockWentBack { .. }
            | VaultError::KeptByLaw { .. }
            | VaultError::RetentionChanged
            | VaultError::DataKeyGone
            | VaultError::Restricted(_)
            | VaultError::MasterKeyMissing
            | VaultError::MasterKeyInvalid { .. }
            | VaultError::WrongMasterKey
            | VaultError::MasterKeyReplaced
            | VaultError::KeyFileExists(_)
            | VaultError::Io { .. }
            | VaultError::Unavailable { .. }
            | VaultError::Storage { .. }
            | VaultError::SchemaTooNew { .. }
            | VaultError::Corrupt(_)
            | VaultError::Decrypt(_)
            | VaultError::KeyUnwrap { .. }
            | VaultError::Journal { .. }
            | VaultError::IdempotencyRace
            | VaultError::TenantNotBound
            | VaultError::Connector(_)
            | VaultError::Random(_) => Blame::Detail,
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl From<&InvalidId> for Problem {
    /// The field is the kind of identifier (`record id`), the reason what is wrong with it; the
    /// text itself is never repeated (it may be personal data).
    fn from(e: &InvalidId) -> Problem {
        Problem::new(e.code()).field(e.kind, e.reason)
    }
}

impl From<InvalidId> for Problem {
    fn from(e: InvalidId) -> Problem {
        Problem::from(&e)
    }
}

impl From<&RetentionError> for Problem {
    fn from(e: &RetentionError) -> Problem {
        let blame = match e {
            RetentionError::UnknownCategory(_)
            | RetentionError::NeverStored(_)
            | RetentionError::NoOverride(_)
            | RetentionError::UnreadableOverride { .. } => field("/category"),
            RetentionError::OutOfBounds { .. } => Blame::FieldAndDetail("/period".into()),
            RetentionError::Overflow(_) => field("/period"),
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl From<RequestError> for Problem {
    fn from(e: RequestError) -> Problem {
        Problem::from(&e)
    }
}

impl From<&RequestError> for Problem {
    fn from(e: &RequestError) -> Problem {
        let blame = match e {
            RequestError::BadId(_) => field("/request_id"),
            RequestError::NoCorrections => field("/corrections"),
            RequestError::PurposeRequired { .. }
            | RequestError::UnknownPurpose { .. }
            | RequestError::NotConsent { .. }
            | RequestError::NotObjectable { .. } => field("/purpose"),
            RequestError::ReasonRequired(_) => field("/reason"),
            RequestError::NoCode(_) | RequestError::WrongCode { .. } | RequestError::CodeVoid => {
                field("/code")
            }
            RequestError::NotFound(_)
            | RequestError::OtherSubject(_)
            | RequestError::IdTaken(_)
            | RequestError::NotVerified(_)
            | RequestError::Closed { .. }
            | RequestError::ExtensionTooLate { .. }
            | RequestError::AlreadyExtended(_)
            | RequestError::AlreadyVerified(_)
            | RequestError::WrongKind { .. } => Blame::Detail,
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl From<&RecipientError> for Problem {
    fn from(e: &RecipientError) -> Problem {
        let blame = match e {
            RecipientError::UnknownRecipient { .. } => field("/recipient"),
            RecipientError::NoCategories => field("/categories"),
            RecipientError::InvalidReference(_) => field("/reference"),
            RecipientError::InFuture { .. } => field("/disclosed_at"),
            RecipientError::InvalidUrl(_) => field("/url"),
            RecipientError::InvalidSecret(_) => field("/secret"),
            RecipientError::NotDead(_) | RecipientError::UnknownAction(_) => Blame::Detail,
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl From<&ConsentCallError> for Problem {
    fn from(e: &ConsentCallError) -> Problem {
        let blame = match e {
            ConsentCallError::Ledger(l) => match l {
                ConsentError::UnknownPurpose(_) | ConsentError::NotConsentBased { .. } => {
                    field("/purpose")
                }
                ConsentError::NothingToWithdraw(_) => field("/kind"),
                ConsentError::OutOfOrder { .. } => field("/at"),
            },
            ConsentCallError::Empty(f) => Blame::Field(format!("/{f}")),
            ConsentCallError::BadHash => field("/notice_hash"),
            ConsentCallError::FullIp => field("/proof"),
            ConsentCallError::UnknownAction { .. } => field("/action"),
            ConsentCallError::ApprovalNotFound(_)
            | ConsentCallError::AlreadyDecided { .. }
            | ConsentCallError::TokenInvalid
            | ConsentCallError::TokenUsed(_)
            | ConsentCallError::TokenExpired(_)
            | ConsentCallError::TokenForOtherAction { .. }
            | ConsentCallError::TokenForOtherItem
            | ConsentCallError::TokenForOtherSubject => Blame::Detail,
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl From<AccessError> for Problem {
    fn from(e: AccessError) -> Problem {
        Problem::from(&e)
    }
}

impl From<&AccessError> for Problem {
    fn from(e: &AccessError) -> Problem {
        let blame = match e {
            AccessError::InvalidTenant(_) => field("/id"),
            AccessError::BadRole(_) => field("/role"),
            AccessError::TenantExists(_)
            | AccessError::NoSuchTenant(_)
            | AccessError::Storage(_)
            | AccessError::Random(_)
            // Console accounts are made from the command line, never over the API.
            | AccessError::BadAccountRole(..)
            | AccessError::InvalidAccountName
            | AccessError::AccountExists(_) => Blame::Detail,
        };
        Problem::of_error(e.code(), e.to_string(), blame)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use custos_types::ErrorCode;
    use custos_vault::VaultError;
    use custos_vault::rights::RequestError;

    use super::Problem;

    #[test]
    fn a_problem_names_its_code_in_the_type_and_alone() {
        let p = Problem::from(VaultError::Held {
            hold_id: "0123456789abcdef".into(),
            scope: "subject".into(),
        });
        assert_eq!(p.status, 409);
        assert_eq!(p.code, "legal-hold");
        assert_eq!(p.kind, "https://custos.dev/problems/legal-hold");
        assert_eq!(p.title, ErrorCode::LegalHold.title());
        let json = serde_json::to_value(&p).expect("a problem is JSON");
        assert_eq!(json["code"], "legal-hold");
    }

    #[test]
    fn internal_and_storage_errors_are_answered_without_detail() {
        let p = Problem::from(VaultError::Corrupt("row 7 of table x".into()));
        assert_eq!((p.status, p.code), (500, "internal"));
        assert!(!p.detail.unwrap_or_default().contains("row 7"));
        let p = Problem::from(VaultError::Storage {
            operation: "writing",
            target: "db".into(),
            reason: "disk full".into(),
        });
        assert_eq!((p.status, p.code), (503, "unavailable"));
        assert!(!p.detail.unwrap_or_default().contains("disk full"));
    }

    #[test]
    fn a_field_to_blame_is_named_and_can_be_renamed() {
        let p = Problem::from(RequestError::ReasonRequired("refusal"));
        assert_eq!((p.status, p.code), (422, "reason-required"));
        assert_eq!(p.errors[0].field, "/reason");
        let p = p.refield("/note");
        assert_eq!(p.errors[0].field, "/note");
        let p = Problem::new(ErrorCode::RecordNotFound)
            .detail("gone")
            .refield("/record_id");
        assert_eq!(
            (p.errors[0].field.as_str(), p.errors[0].reason.as_str()),
            ("/record_id", "gone")
        );
    }
}
