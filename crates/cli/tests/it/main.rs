//! End-to-end tests of the `custos` binary. All of them live in this one test binary (each file
//! under `tests/` would link a binary of its own): add a module here rather than a new file in
//! `tests/`.

mod access;
mod announced;
mod api_contract;
mod app_events;
mod audit;
mod backup;
mod breaches;
mod consent;
#[path = "../../../../testkit/database_url.rs"]
mod database_url;
mod datasets;
mod demo_server;
mod export;
mod monitoring;
mod package;
mod policy;
mod proxy;
mod requests;
mod retention;
mod rights;
#[path = "../../../../testkit/connectors/sample.rs"]
mod sample;
mod scan;
mod scratch;
mod serve;
#[path = "../../../../testkit/stale_schemas.rs"]
mod stale_schemas;
#[path = "../../../../testkit/tools.rs"]
mod tools;
#[path = "../../../../testkit/unzip.rs"]
mod unzip;
mod upgrade;
mod vault;
