//! Data-subject requests over HTTP, and the OpenGDPR-compatible endpoint.
