//! Extractors whose rejections are problem documents that name the field and the reason,
//! instead of axum's plain-text defaults.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;
use custos_types::ErrorCode;

/// Query parameters; a malformed query string is a 400 `invalid-query` problem.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => {
                let text = e.body_text();
                let reason = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                let field = reason.split('`').nth(1).unwrap_or("query").to_owned();
                Err(Problem::new(ErrorCode::InvalidQuery).field(field, reason))
            }
        }
    }
}

/// A JSON body: `Content-Type: application/json`, valid UTF-8 JSON, no unknown fields; every
/// rejection is a problem naming the place and the reason.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(Problem::new(ErrorCode::UnsupportedMediaType)
                .detail("send the body as JSON with `Content-Type: application/json`"));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(ErrorCode::BodyTooLarge)
                        .detail("the body exceeds the server's limit")
                } else {
                    Problem::new(ErrorCode::InvalidBody).detail("the body could not be read")
                }
            })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "/".to_owned()
            } else {
                format!("/{}", path.replace('.', "/"))
            };
            // serde_json's messages name the problem and the line/column; they never echo values.
            Problem::new(ErrorCode::InvalidBody)
                .field(field, without_values(&e.into_inner().to_string()))
        })?;
        de.end()
            .map_err(|e| Problem::new(ErrorCode::InvalidBody).field("/", e.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// serde_json quotes the offending value in some messages (`invalid type: string "…"`); the
/// value may be personal data, so it is blanked.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Path parameters; a malformed one (bad percent-encoding, invalid UTF-8) is a 400
/// `invalid-path` problem.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(Problem::new(ErrorCode::InvalidPath).field("path", e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_values_are_blanked_from_messages() {
        assert_eq!(
            super::without_values(
                "invalid type: string \"jan@example.nl\", expected u64 at line 1"
            ),
            "invalid type: string \"…\", expected u64 at line 1"
        );
    }
}
