//! End-to-end tests of the `custos` binary. All of them live in this one test binary (each file
//! under `tests/` would link a binary of its own): add a module here rather than a new file in
//! `tests/`.

mod access;
mod audit;
mod consent;
#[path = "../../../../testkit/database_url.rs"]
mod database_url;
mod export;
mod package;
mod policy;
mod proxy;
mod requests;
mod retention;
mod rights;
mod scan;
mod scratch;
mod serve;
#[path = "../../../../testkit/stale_schemas.rs"]
mod stale_schemas;
#[path = "../../../../testkit/tools.rs"]
mod tools;
#[path = "../../../../testkit/unzip.rs"]
mod unzip;
mod vault;
