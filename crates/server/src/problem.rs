//! RFC 9457 problem details for every error the API returns. Each kind of problem has a stable
//! code (one table, like meilisearch's error codes) that names its HTTP status and its `type`
//! URI, so a client can branch on it and a person can look it up.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every problem the API can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The body is not valid JSON, has unknown fields or wrong types.
    InvalidBody,
    /// The body is not JSON (`Content-Type`).
    UnsupportedMediaType,
    /// The body exceeds the limit.
    BodyTooLarge,
    /// The body did not arrive within the body timeout.
    RequestTimeout,
    /// A query parameter is invalid.
    InvalidQuery,
    /// No such route or resource.
    NotFound,
    /// A path parameter is malformed.
    InvalidPath,
    /// The request is well-formed but breaks a rule (e.g. a category the policy never stores).
    Unprocessable,
    /// The resource already exists.
    Conflict,
    /// The current state refuses the request (a legal hold, a clock behind the last purge).
    Refused,
    /// No valid API key was presented.
    Unauthenticated,
    /// The key's role may not do this.
    Forbidden,
    /// The key sent more requests than its rate allows.
    TooManyRequests,
    /// The method is not allowed on this route.
    MethodNotAllowed,
    /// The route was removed; the problem names the one to use.
    Gone,
    /// The server cannot serve the request right now.
    Unavailable,
    /// A bug: something the server did not expect.
    Internal,
}

impl Code {
    /// Every code, in the order of `docs/errors.md`.
    pub const ALL: [Code; 17] = [
        Code::InvalidBody,
        Code::UnsupportedMediaType,
        Code::BodyTooLarge,
        Code::RequestTimeout,
        Code::InvalidQuery,
        Code::NotFound,
        Code::InvalidPath,
        Code::Unprocessable,
        Code::Conflict,
        Code::Refused,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::TooManyRequests,
        Code::MethodNotAllowed,
        Code::Gone,
        Code::Unavailable,
        Code::Internal,
    ];

    /// Status, stable name and title.
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Code::InvalidBody => (
                StatusCode::BAD_REQUEST,
                "invalid-body",
                "The request body is invalid",
            ),
            Code::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The request body must be JSON",
            ),
            Code::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "The request body is too large",
            ),
            Code::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "The request did not arrive in time",
            ),
            Code::InvalidQuery => (
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "A query parameter is invalid",
            ),
            Code::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Code::InvalidPath => (
                StatusCode::BAD_REQUEST,
                "invalid-path",
                "A path parameter is invalid",
            ),
            Code::Unprocessable => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "The request breaks a rule of the policy",
            ),
            Code::Conflict => (
                StatusCode::CONFLICT,
                "conflict",
                "The resource already exists",
            ),
            Code::Refused => (
                StatusCode::CONFLICT,
                "refused",
                "The current state refuses this request",
            ),
            Code::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "A valid API key is required",
            ),
            Code::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key's role may not do this",
            ),
            Code::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests for this key",
            ),
            Code::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Code::Gone => (
                StatusCode::GONE,
                "gone",
                "This route was removed; use the one named in the detail",
            ),
            Code::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is not ready",
            ),
            Code::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

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
    /// A URI naming the kind of problem, e.g. `https://custos.dev/problems/invalid-body`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this request. Never holds personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The invalid fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before retrying (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `code`.
    pub fn new(code: Code) -> Problem {
        let (status, name, title) = code.parts();
        Problem {
            kind: format!("https://custos.dev/problems/{name}"),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// With a detail sentence.
    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
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
    use super::Code;

    /// `Code::ALL` lists every code: a new variant fails to compile here until it is added.
    fn listed(c: Code) -> bool {
        match c {
            Code::InvalidBody
            | Code::UnsupportedMediaType
            | Code::BodyTooLarge
            | Code::RequestTimeout
            | Code::InvalidQuery
            | Code::NotFound
            | Code::InvalidPath
            | Code::Unprocessable
            | Code::Conflict
            | Code::Refused
            | Code::Unauthenticated
            | Code::Forbidden
            | Code::TooManyRequests
            | Code::MethodNotAllowed
            | Code::Gone
            | Code::Unavailable
            | Code::Internal => Code::ALL.contains(&c),
        }
    }

    #[test]
    fn every_problem_type_is_documented_in_the_error_table() {
        let doc = include_str!("../../../docs/errors.md");
        for c in Code::ALL {
            assert!(listed(c));
            let (status, name, _) = c.parts();
            let row = format!("| `{name}` | {} |", status.as_u16());
            assert!(doc.contains(&row), "docs/errors.md lacks the row `{row}`");
        }
    }
}
