//! Rendering the statement.
use crate::{Lang, Policy};
/// Output formats.
pub enum Format { Markdown, Html, Json }
/// Rendering errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);
/// Renders.
pub fn render(policy: &Policy, _lang: Lang, _format: Format) -> Result<String, RenderError> {
    serde_json::to_string_pretty(policy).map_err(|e| RenderError(e.to_string()))
}
