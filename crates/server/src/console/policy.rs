//! The console's policy pages (issue 20). Filled in by the work on these pages.

use std::sync::Arc;

use crate::AppState;

/// The policy pages' routes.
pub(super) fn router() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
}

/// A sample context for each of these pages' templates, for the unit test that renders them.
#[cfg(test)]
pub(super) fn samples() -> Vec<(&'static str, serde_json::Value)> {
    Vec::new()
}
