//! Server configuration: a TOML file, then environment variables on top (`CUSTOS_LISTEN`,
//! `CUSTOS_DATABASE_URL`, `CUSTOS_POLICY`, `CUSTOS_KEY_FILE`, `CUSTOS_LOG_FORMAT`,
//! `CUSTOS_PURGE_INTERVAL`, `CUSTOS_NOTIFY_INTERVAL`, `CUSTOS_NOTIFY_TIMEOUT`,
//! `CUSTOS_AUDIT_CHECKPOINT_FILE`, `CUSTOS_HEADER_TIMEOUT`, `CUSTOS_BODY_TIMEOUT`,
//! `CUSTOS_IDLE_TIMEOUT`, `CUSTOS_MAX_CONNECTIONS`, `CUSTOS_TRUSTED_PROXIES`,
//! `CUSTOS_FAILED_AUTH_LIMIT`, `CUSTOS_SMTP_HOST`, `CUSTOS_SMTP_PORT`, `CUSTOS_SMTP_FROM`). Every
//! error names the file or variable and the field.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (the default: machines read logs).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Everything `custos serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Database: an SQLite file path (the default, `custos.db`) or a `postgres://` URL.
    #[serde(default = "default_database")]
    pub database: String,
    /// The PostgreSQL schema (with a `postgres://` database).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// With PostgreSQL: an erasure journal file kept outside the database.
    pub journal: Option<PathBuf>,
    /// The policy file.
    pub policy: PathBuf,
    /// The master key file.
    pub key_file: Option<PathBuf>,
    /// Log format.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Requests per second per API key (bursts of twice that); 0 turns limiting off.
    #[serde(default = "default_rate")]
    pub rate_limit_per_second: u32,
    /// The reverse proxies (networks in CIDR notation) whose `X-Forwarded-For` header names
    /// the client; from any other peer the header is ignored. Empty by default: the TCP peer is
    /// the client.
    #[serde(default)]
    pub trusted_proxies: Vec<crate::client::Cidr>,
    /// Unknown or revoked API keys a client address may present per minute before it is
    /// answered 429 (without its key being looked at) until the minute's budget refills; 0
    /// turns the limit off.
    #[serde(default = "default_failed_auth")]
    pub failed_auth_per_minute: u32,
    /// Seconds between signed audit checkpoints at the head (besides one every 1000 entries and
    /// one at graceful shutdown); 0: none.
    #[serde(default = "default_checkpoint")]
    pub audit_checkpoint_seconds: u64,
    /// A file, outside the database, to which every signed audit checkpoint is appended as a
    /// JSON line: the copy an auditor verifies against (`custos audit verify --checkpoints`).
    pub audit_checkpoint_file: Option<PathBuf>,
    /// Milliseconds between writes of batched read accesses to the audit trail.
    #[serde(default = "default_flush")]
    pub audit_flush_millis: u64,
    /// Database connections (each a vault handle) the server keeps open.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// How often the retention purge runs over every tenant (`"1 hour"`, `"30 minutes"`,
    /// `"P1D"`); `"off"` or `0` turns the scheduler off (purge with `custos purge` instead).
    #[serde(default = "default_purge_interval", deserialize_with = "de_interval")]
    pub purge_interval: Option<std::time::Duration>,
    /// How often the notifier sends due notifications to recipients' webhooks (Art. 19):
    /// `"15 seconds"`, …; `"off"` or `0` turns it off.
    #[serde(default = "default_notify_interval", deserialize_with = "de_interval")]
    pub notify_interval: Option<std::time::Duration>,
    /// How long one webhook delivery may take before it counts as a failed attempt.
    #[serde(default = "default_notify_timeout", deserialize_with = "de_timeout")]
    pub notify_timeout: std::time::Duration,
    /// When failed deliveries are tried again, and how often (not read from the file: the
    /// default schedule is the documented one; tests shorten it).
    #[serde(skip)]
    pub notify_backoff: custos_rights::webhook::Backoff,
    /// Days the government equates to public holidays by decree (Algemene termijnenwet
    /// art. 3(3)), as `YYYY-MM-DD`: a request's deadline that would end on one ends on the next
    /// working day (Regulation 1182/71 art. 3(4)), like on a statutory holiday.
    #[serde(default, deserialize_with = "de_dates")]
    pub equated_holidays: Vec<jiff::civil::Date>,
    /// How long a client may take to send a request's headers, from the connection's opening
    /// or the first byte of the request; then the connection is closed.
    #[serde(default = "default_header_timeout", deserialize_with = "de_timeout")]
    pub header_timeout: std::time::Duration,
    /// How long a client may take to send a request's whole body, from when the server starts
    /// reading it; then the request is answered 408 and the connection closed.
    #[serde(default = "default_body_timeout", deserialize_with = "de_timeout")]
    pub body_timeout: std::time::Duration,
    /// How long a keep-alive connection may wait for its next request; then it is closed.
    #[serde(default = "default_idle_timeout", deserialize_with = "de_timeout")]
    pub idle_timeout: std::time::Duration,
    /// Connections served at once. At the cap a new connection replaces the one that has
    /// waited longest for a request; when all are answering one, it waits in the listen
    /// backlog. Keep it well below the open-files limit (`ulimit -n`), which the database and
    /// logs share.
    #[serde(
        default = "default_max_connections",
        deserialize_with = "de_max_connections"
    )]
    pub max_connections: usize,
    /// Findings of `custos check` of severity error that the server runs with anyway, each with
    /// the reason (`[[accept_finding]] code = "C105" reason = "…"`). Without one, `serve`
    /// refuses a policy with errors. Accepted findings are logged at start and listed by
    /// `/readyz`.
    #[serde(default, rename = "accept_finding")]
    pub accepted_findings: Vec<AcceptedFinding>,
    /// The company's own databases Custos reaches (PRODUCT.md C10, docs/connectors.md): each
    /// `[[dataset]]` names its reviewed annotations file and where the database is. Access
    /// answers include the subject's rows there, erasures erase them there, and the retention
    /// scheduler purges there.
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<DatasetConfig>,
    /// The daily digest of data-subject requests at risk and overdue, sent to a webhook
    /// (`[digest]`; `CUSTOS_DIGEST_URL`, `CUSTOS_DIGEST_SECRET_FILE`, `CUSTOS_DIGEST_AT`).
    pub digest: Option<DigestConfig>,
    /// The mail server that e-mail to data subjects goes through (`[smtp]`; `CUSTOS_SMTP_HOST`,
    /// `CUSTOS_SMTP_PORT`, `CUSTOS_SMTP_FROM`): verification codes and request status notices.
    pub smtp: Option<SmtpConfig>,
    /// A directory where e-mail to data subjects is written as `.eml` files instead of sent,
    /// when no `[smtp]` is configured: what `custos serve --demo` uses so a newcomer can read
    /// the privacy center's codes. Not for production: nothing leaves the machine.
    pub mail_outbox: Option<PathBuf>,
    /// How the breach register counts and proposes (`[breaches]`): from when the Digital
    /// Omnibus rule set applies (not law yet; off unless a date is set), a processing contract's
    /// hours, and the UAVG art. 42 exemption of financial undertakings.
    #[serde(default)]
    pub breaches: BreachConfig,
    /// Each tenant's look in its privacy center (`[[brand]]`: `tenant`, `name`, `accent`,
    /// `logo`); an accent below 4.5:1 against white is refused at start (WCAG 2.2 SC 1.4.3).
    #[serde(default, rename = "brand")]
    pub brands: Vec<crate::center::brand::BrandConfig>,
    /// How often the server reads what needs attention (open requests against their deadlines,
    /// dead letters, purges, the audit seal) for `/metrics` and the digest; the first read is at
    /// start. Not read from the file.
    #[serde(skip, default = "default_watch_interval")]
    pub watch_interval: std::time::Duration,
}

/// One of the company's databases (`[[dataset]]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// The reviewed annotations file (`custos datasets scan`, then `custos datasets check`).
    pub annotations: PathBuf,
    /// The environment variable that holds the database's URL (`postgres://…`, `mysql://…` or
    /// a SQLite file), so its password is in no file. Read when the configuration is loaded.
    pub url_env: Option<String>,
    /// The URL itself, for a database without a password (a SQLite file); one with a password
    /// is refused here: use `url_env`.
    pub url: Option<String>,
}

impl std::fmt::Debug for DatasetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetConfig")
            .field("annotations", &self.annotations)
            .field("url_env", &self.url_env)
            .field(
                "url",
                &self.url.as_deref().map(custos_vault::connect::redacted),
            )
            .finish()
    }
}

/// The breach register's settings (`[breaches]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachConfig {
    /// The day from which the Digital Omnibus rules apply (authority only for high risk,
    /// 96 hours, a single EU entry point), e.g. `2027-09-01`; none: the GDPR's 72 hours only.
    pub omnibus_from: Option<jiff::civil::Date>,
    /// Hours a processing agreement gives this organisation, as processor, to tell a
    /// controller of a breach (Art. 33(2) sets none: "without undue delay").
    pub contract_hours: Option<u32>,
    /// Deprecated: the policy's `[breach] financial_undertaking` is where this is said (it is
    /// part of what the controller declares, not of how a server runs). Still honoured: either
    /// one sets it.
    #[serde(default)]
    pub financial_undertaking: bool,
}

impl BreachConfig {
    /// The register's settings these make with `policy`'s own: the UAVG art. 42 exemption of a
    /// financial undertaking under the Wft from Art. 34 GDPR comes from the policy's
    /// `[breach] financial_undertaking`.
    pub fn settings(
        &self,
        policy: &custos_policy::Policy,
    ) -> custos_vault::breaches::RegisterSettings {
        custos_vault::breaches::RegisterSettings {
            rules: custos_breach::rules::builtin(self.omnibus_from),
            contract_hours: self.contract_hours,
            national: custos_breach::assess::Settings {
                uavg_art42_financial_undertaking: policy.breach.financial_undertaking
                    || self.financial_undertaking,
            },
        }
    }
}

/// Where and when the daily digest goes: a signed webhook, like the recipients' (Art. 19) ones,
/// sent once a day however many servers run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// The receiver, `http(s)://…` without credentials in it.
    pub url: String,
    /// A file holding the secret that signs each digest (16 to 512 bytes; a trailing newline
    /// is ignored), so the secret is in no configuration file or environment.
    pub secret_file: PathBuf,
    /// From which local time (Europe/Amsterdam, the zone deadlines are counted in) the day's
    /// digest is sent, `"HH:MM"`; default `"08:00"`.
    #[serde(default = "default_digest_at", deserialize_with = "de_time")]
    pub at: jiff::civil::Time,
}

fn default_digest_at() -> jiff::civil::Time {
    jiff::civil::time(8, 0, 0, 0)
}

/// The mail server that e-mail to data subjects goes through (`[smtp]`): the privacy center's
/// one-time verification codes and the notices that a request changed, nothing else. Read by
/// [`crate::mail::Mailer::new`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The mail server's host name or address.
    pub host: String,
    /// Its port; default 587 (submission, with `starttls`). Implicit `tls` is usually 465.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender: `privacy@example.nl` or `Privacy desk <privacy@example.nl>`; checked when
    /// the configuration is read.
    #[serde(deserialize_with = "de_mail_address")]
    pub from: String,
    /// How the connection is protected; default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// The login, when the server asks for one; its password is in `password_file`.
    pub username: Option<String>,
    /// A file holding the password (a trailing newline is ignored), so the password is in no
    /// configuration file or environment. Read when the mailer is built.
    pub password_file: Option<PathBuf>,
    /// How long connecting, and then each exchange with the server, may take before the
    /// message counts as not sent; default `"10 seconds"`.
    #[serde(default = "default_smtp_timeout", deserialize_with = "de_timeout")]
    pub timeout: std::time::Duration,
}

/// How the connection to the mail server is protected (`[smtp] tls`). The server's certificate
/// is checked against the Mozilla roots and the host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// None: only for a relay on this machine (a loopback host), where nothing crosses a network.
    None,
    /// A plain connection upgraded with STARTTLS before anything else is said; a server that
    /// cannot upgrade is refused, never used in clear (the default).
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, "SMTPS").
    Tls,
}

impl SmtpConfig {
    /// Refuses what would put messages or the password on a network in clear, and a login
    /// without its password: the message names the field and what to write instead.
    pub fn check(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("[smtp] host is empty: name the mail server".into());
        }
        if self.port == 0 {
            return Err("[smtp] port cannot be 0 (587 for starttls, 465 for tls)".into());
        }
        if self.tls == SmtpTls::None && !is_loopback(&self.host) {
            return Err(format!(
                "[smtp] tls = \"none\" is allowed only for a relay on this machine (localhost, \
                 127.0.0.1, ::1), not `{}`: messages and the password would cross the network in \
                 clear; write tls = \"starttls\" or tls = \"tls\"",
                self.host
            ));
        }
        match (&self.username, &self.password_file) {
            (Some(_), None) => Err(
                "[smtp] username is set without password_file: put the password in a file \
                 (mode 0600) and name it in password_file"
                    .into(),
            ),
            (None, Some(_)) => Err("[smtp] password_file is set without username".into()),
            _ => Ok(()),
        }
    }
}

/// `localhost` or a loopback address (`127.0.0.0/8`, `::1`, with or without brackets).
fn is_loopback(host: &str) -> bool {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

/// An address as a mail header takes it, with or without a display name.
fn de_mail_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let t = s.trim();
    t.parse::<lettre::message::Mailbox>()
        .map(|_| t.to_owned())
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "`{s}` is not an e-mail address like \"privacy@example.nl\" or \
                 \"Privacy desk <privacy@example.nl>\""
            ))
        })
}

fn default_watch_interval() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<jiff::civil::Time, D::Error> {
    let s = String::deserialize(d)?;
    s.trim()
        .parse::<jiff::civil::Time>()
        .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a time of day like \"08:00\"")))
}

/// A finding of `custos check` the configuration accepts, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedFinding {
    /// The finding's code, e.g. `C105`.
    pub code: String,
    /// Why the policy runs with it: who decided, and why it is not a defect here.
    pub reason: String,
    /// Only the findings of this code at this line of the policy file (default: every finding
    /// of the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// At least one connection, and no more than a process could hold.
fn de_max_connections<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 || n > MAX_CONNECTIONS_LIMIT {
        return Err(serde::de::Error::custom(format!(
            "max_connections must be between 1 and {MAX_CONNECTIONS_LIMIT}, not {n}"
        )));
    }
    usize::try_from(n).map_err(|_| serde::de::Error::custom("max_connections is too large"))
}

/// The largest connection cap accepted (far above any open-files limit in practice).
const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;

fn default_header_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

fn default_body_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(30)
}

fn default_idle_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(30)
}

fn default_max_connections() -> usize {
    512
}

/// Dates written as TOML dates (`2026-05-15`) or strings (`"2026-05-15"`).
fn de_dates<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<jiff::civil::Date>, D::Error> {
    let values = Vec::<toml::Value>::deserialize(d)?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(dt) => dt.to_string(),
                other => other.to_string(),
            };
            text.parse::<jiff::civil::Date>().map_err(|_| {
                serde::de::Error::custom(format!(
                    "equated_holidays[{i}]: `{text}` is not a date (YYYY-MM-DD)"
                ))
            })
        })
        .collect()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_database() -> String {
    "custos.db".into()
}

fn default_rate() -> u32 {
    1000
}

/// Enough for an application that starts with a stale key and retries, far too few to guess
/// a key.
fn default_failed_auth() -> u32 {
    30
}

fn default_checkpoint() -> u64 {
    300
}

fn default_flush() -> u64 {
    200
}

fn default_pool() -> usize {
    8
}

fn default_schema() -> String {
    "custos".into()
}

fn default_body_limit() -> usize {
    1024 * 1024
}

fn default_purge_interval() -> Option<std::time::Duration> {
    Some(std::time::Duration::from_secs(3600))
}

fn default_notify_interval() -> Option<std::time::Duration> {
    Some(std::time::Duration::from_secs(15))
}

fn default_notify_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

fn de_timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    de_interval(d)?.ok_or_else(|| {
        serde::de::Error::custom("a timeout cannot be `off` or 0; write \"10 seconds\"")
    })
}

/// Parses a purge interval: `off`/`0` (none), or a span in words or ISO 8601 (`"1 hour"`,
/// `"15 minutes"`, `"30 seconds"`, `"P1D"`). Calendar units count from a fixed reference date.
pub fn parse_interval(text: &str) -> Result<Option<std::time::Duration>, String> {
    let t = text.trim();
    if t.is_empty() || t == "0" || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "`{t}` is not an interval: write `off`, `0`, or a number and a unit (\"1 hour\", \"30 minutes\", \"1 day\")"
        )
    };
    let span: jiff::Span = t.parse().map_err(|_| bad())?;
    if span.is_negative() {
        return Err(bad());
    }
    let reference = jiff::civil::date(2000, 1, 1).at(0, 0, 0, 0);
    let secs = span
        .total((jiff::Unit::Second, reference))
        .map_err(|_| bad())?;
    if secs <= 0.0 {
        return Ok(None);
    }
    if secs < 1.0 {
        return Err(format!("`{t}` is shorter than one second"));
    }
    Ok(Some(std::time::Duration::from_secs_f64(secs)))
}

fn de_interval<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(0) => Ok(None),
        Raw::Number(n) => Ok(Some(std::time::Duration::from_secs(n))),
        Raw::Text(t) => parse_interval(&t).map_err(serde::de::Error::custom),
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What toml said, with line and column.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// Variable.
        var: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `[[dataset]]` entry cannot be used.
    #[error("{origin}: [[dataset]] number {number}: {message}")]
    Dataset {
        /// The file (or `<environment>`).
        origin: PathBuf,
        /// Its position among the `[[dataset]]` entries, from 1.
        number: usize,
        /// What is wrong.
        message: String,
    },
    /// No policy file is configured.
    #[error("no policy configured: set `policy = \"…\"` in the config file or CUSTOS_POLICY")]
    NoPolicy,
}

impl Config {
    /// A configuration for `policy` with every default.
    pub fn with_policy(policy: impl Into<PathBuf>) -> Config {
        Config {
            listen: default_listen(),
            database: default_database(),
            schema: default_schema(),
            journal: None,
            pool_size: default_pool(),
            audit_flush_millis: default_flush(),
            audit_checkpoint_seconds: default_checkpoint(),
            audit_checkpoint_file: None,
            rate_limit_per_second: default_rate(),
            trusted_proxies: Vec::new(),
            failed_auth_per_minute: default_failed_auth(),
            policy: policy.into(),
            key_file: None,
            log_format: LogFormat::default(),
            max_body_bytes: default_body_limit(),
            purge_interval: default_purge_interval(),
            notify_interval: default_notify_interval(),
            notify_timeout: default_notify_timeout(),
            notify_backoff: custos_rights::webhook::Backoff::default(),
            equated_holidays: Vec::new(),
            accepted_findings: Vec::new(),
            datasets: Vec::new(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: default_max_connections(),
            digest: None,
            smtp: None,
            mail_outbox: None,
            brands: Vec::new(),
            breaches: BreachConfig::default(),
            watch_interval: default_watch_interval(),
        }
    }

    /// Reads `file` (if any), then applies the environment `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::load_inner(file, env, true)
    }

    /// Like [`Config::load`], for the commands that only reach the database (`custos init`,
    /// `custos tenant`, `custos key`): the policy may be left out (it is then empty).
    pub fn load_storage(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::load_inner(file, env, false)
    }

    fn load_inner(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        need_policy: bool,
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid {
                        path: path.to_owned(),
                        message: e.to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        for (var, key) in [
            ("CUSTOS_LISTEN", "listen"),
            ("CUSTOS_DATABASE_URL", "database"),
            ("CUSTOS_SCHEMA", "schema"),
            ("CUSTOS_POLICY", "policy"),
            ("CUSTOS_KEY_FILE", "key_file"),
            ("CUSTOS_LOG_FORMAT", "log_format"),
            ("CUSTOS_PURGE_INTERVAL", "purge_interval"),
            ("CUSTOS_NOTIFY_INTERVAL", "notify_interval"),
            ("CUSTOS_NOTIFY_TIMEOUT", "notify_timeout"),
            ("CUSTOS_AUDIT_CHECKPOINT_FILE", "audit_checkpoint_file"),
            ("CUSTOS_HEADER_TIMEOUT", "header_timeout"),
            ("CUSTOS_BODY_TIMEOUT", "body_timeout"),
            ("CUSTOS_IDLE_TIMEOUT", "idle_timeout"),
        ] {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                table.insert(key.into(), toml::Value::String(v));
            }
        }
        if let Some(v) = env("CUSTOS_RATE_LIMIT").filter(|v| !v.is_empty()) {
            let n: u32 = v.trim().parse().map_err(|_| ConfigError::Env {
                var: "CUSTOS_RATE_LIMIT",
                message: format!("`{v}` is not a number of requests per second"),
            })?;
            table.insert(
                "rate_limit_per_second".into(),
                toml::Value::Integer(i64::from(n)),
            );
        }
        if let Some(v) = env("CUSTOS_FAILED_AUTH_LIMIT").filter(|v| !v.is_empty()) {
            let n: u32 = v.trim().parse().map_err(|_| ConfigError::Env {
                var: "CUSTOS_FAILED_AUTH_LIMIT",
                message: format!("`{v}` is not a number of failed authentications per minute"),
            })?;
            table.insert(
                "failed_auth_per_minute".into(),
                toml::Value::Integer(i64::from(n)),
            );
        }
        if let Some(v) = env("CUSTOS_TRUSTED_PROXIES") {
            // Comma-separated; set but empty trusts no proxy (overriding the file).
            let list = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect();
            table.insert("trusted_proxies".into(), toml::Value::Array(list));
        }
        if let Some(v) = env("CUSTOS_POOL_SIZE").filter(|v| !v.is_empty()) {
            let n: u32 = v.trim().parse().map_err(|_| ConfigError::Env {
                var: "CUSTOS_POOL_SIZE",
                message: format!("`{v}` is not a number of database connections"),
            })?;
            table.insert("pool_size".into(), toml::Value::Integer(i64::from(n)));
        }
        if let Some(v) = env("CUSTOS_MAX_CONNECTIONS").filter(|v| !v.is_empty()) {
            let n: u32 = v.trim().parse().map_err(|_| ConfigError::Env {
                var: "CUSTOS_MAX_CONNECTIONS",
                message: format!("`{v}` is not a number of connections"),
            })?;
            table.insert("max_connections".into(), toml::Value::Integer(i64::from(n)));
        }
        for (var, key) in [
            ("CUSTOS_DIGEST_URL", "url"),
            ("CUSTOS_DIGEST_SECRET_FILE", "secret_file"),
            ("CUSTOS_DIGEST_AT", "at"),
        ] {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                let digest = table
                    .entry("digest")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(digest) = digest else {
                    return Err(ConfigError::Env {
                        var,
                        message: "`digest` in the file is not a table".into(),
                    });
                };
                digest.insert(key.into(), toml::Value::String(v));
            }
        }
        for (var, key) in [
            ("CUSTOS_SMTP_HOST", "host"),
            ("CUSTOS_SMTP_PORT", "port"),
            ("CUSTOS_SMTP_FROM", "from"),
        ] {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                let value = if key == "port" {
                    let n: u16 = v.trim().parse().map_err(|_| ConfigError::Env {
                        var,
                        message: format!("`{v}` is not a port number"),
                    })?;
                    toml::Value::Integer(i64::from(n))
                } else {
                    toml::Value::String(v)
                };
                let smtp = table
                    .entry("smtp")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(smtp) = smtp else {
                    return Err(ConfigError::Env {
                        var,
                        message: "`smtp` in the file is not a table".into(),
                    });
                };
                smtp.insert(key.into(), value);
            }
        }
        if !table.contains_key("policy") {
            if need_policy {
                return Err(ConfigError::NoPolicy);
            }
            table.insert("policy".into(), toml::Value::String(String::new()));
        }
        let origin = file.map_or_else(|| PathBuf::from("<environment>"), Path::to_owned);
        let mut config = table.try_into::<Config>().map_err(|e| {
            let message = e.to_string();
            for (var, key) in [
                ("CUSTOS_LISTEN", "listen"),
                ("CUSTOS_LOG_FORMAT", "log_format"),
                ("CUSTOS_PURGE_INTERVAL", "purge_interval"),
                ("CUSTOS_NOTIFY_INTERVAL", "notify_interval"),
                ("CUSTOS_NOTIFY_TIMEOUT", "notify_timeout"),
                ("CUSTOS_HEADER_TIMEOUT", "header_timeout"),
                ("CUSTOS_BODY_TIMEOUT", "body_timeout"),
                ("CUSTOS_IDLE_TIMEOUT", "idle_timeout"),
                ("CUSTOS_MAX_CONNECTIONS", "max_connections"),
                ("CUSTOS_TRUSTED_PROXIES", "trusted_proxies"),
            ] {
                if env(var).is_some() && message.contains(key) {
                    return ConfigError::Env {
                        var,
                        message: message.trim().to_owned(),
                    };
                }
            }
            ConfigError::Invalid {
                path: origin.clone(),
                message: message.trim().to_owned(),
            }
        })?;
        for (i, d) in config.datasets.iter_mut().enumerate() {
            let bad = |message: String| ConfigError::Dataset {
                origin: origin.clone(),
                number: i + 1,
                message,
            };
            d.url = match (&d.url_env, &d.url) {
                (Some(_), Some(_)) => {
                    return Err(bad("give `url_env` or `url`, not both".into()));
                }
                (None, None) => {
                    return Err(bad(
                        "say where the database is: `url_env = \"VARIABLE\"` (the variable holds the URL)".into(),
                    ));
                }
                (Some(var), None) => match env(var).filter(|v| !v.is_empty()) {
                    Some(url) => Some(url),
                    None => {
                        return Err(bad(format!(
                            "the environment variable {var} (`url_env`) is not set"
                        )));
                    }
                },
                (None, Some(url)) if has_password(url) => {
                    return Err(bad(format!(
                        "`url` ({}) holds a password; put the URL in an environment variable and name it in `url_env`",
                        custos_vault::connect::redacted(url)
                    )));
                }
                (None, Some(url)) => Some(url.clone()),
            };
        }
        if let Some(smtp) = &config.smtp {
            smtp.check().map_err(|message| ConfigError::Invalid {
                path: origin.clone(),
                message,
            })?;
        }
        Ok(config)
    }

    /// The configured datasets, their annotations read and parsed (the databases are reached
    /// by each job, which checks the annotations against the schema as it is then).
    pub fn load_datasets(&self) -> Result<Vec<custos_vault::connect::Dataset>, ConfigError> {
        self.datasets
            .iter()
            .enumerate()
            .map(|(i, d)| {
                custos_vault::connect::Dataset::load(
                    &d.annotations,
                    d.url.clone().unwrap_or_default(),
                )
                .map_err(|e| ConfigError::Dataset {
                    origin: PathBuf::from("configuration"),
                    number: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// Whether a database URL carries a password (`scheme://user:password@host/…`).
fn has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_datasets_url_comes_from_its_variable_and_never_holds_a_password_in_the_file() {
        let dir = std::env::temp_dir().join(format!("custos-config-ds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        let write = |dataset: &str| {
            std::fs::write(
                &f,
                format!(
                    "policy = \"a.toml\"\n\n[[dataset]]\nannotations = \"mail.toml\"\n{dataset}\n"
                ),
            )
            .unwrap();
        };
        write("url_env = \"JBSYNC_DB\"");
        let url = "postgres://app:s3cret@db.internal:5432/jbsync";
        let c = Config::load(Some(&f), |k| (k == "JBSYNC_DB").then(|| url.to_owned())).unwrap();
        assert_eq!(c.datasets[0].url.as_deref(), Some(url));
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password is not in the configuration's debug form"
        );
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(
            e.contains("[[dataset]] number 1") && e.contains("JBSYNC_DB"),
            "{e}"
        );
        write(&format!("url = \"{url}\""));
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(e.contains("url_env") && !e.contains("s3cret"), "{e}");
        write("url = \"/var/lib/app/app.db\"");
        let c = Config::load(Some(&f), no_env).unwrap();
        assert_eq!(c.datasets[0].url.as_deref(), Some("/var/lib/app/app.db"));
        write("");
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(e.contains("say where the database is"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("custos-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9000\"\npolicy = \"a.toml\"\n").unwrap();
        let c = Config::load(Some(&f), no_env).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database, "custos.db");
        let c = Config::load(Some(&f), |k| {
            (k == "CUSTOS_LISTEN").then(|| "127.0.0.1:9100".to_owned())
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
    }

    #[test]
    fn equated_holidays_are_toml_dates_or_strings_and_a_bad_one_is_named() {
        let dir = std::env::temp_dir().join(format!("custos-config-eq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        std::fs::write(
            &f,
            "policy = \"a.toml\"\nequated_holidays = [2026-05-15, \"2027-05-07\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), no_env).unwrap();
        assert_eq!(
            c.equated_holidays,
            vec![
                jiff::civil::date(2026, 5, 15),
                jiff::civil::date(2027, 5, 7)
            ]
        );
        assert!(Config::with_policy("p.toml").equated_holidays.is_empty());
        std::fs::write(
            &f,
            "policy = \"a.toml\"\nequated_holidays = [\"2026-05-15\", \"15 May\"]\n",
        )
        .unwrap();
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(e.contains("custos.toml"), "{e}");
        assert!(
            e.contains("equated_holidays[1]: `15 May` is not a date"),
            "{e}"
        );
    }

    #[test]
    fn the_purge_interval_is_words_a_number_or_off() {
        let load = |v: &str| {
            Config::load(None, |k| match k {
                "CUSTOS_POLICY" => Some("p.toml".into()),
                "CUSTOS_PURGE_INTERVAL" => Some(v.into()),
                _ => None,
            })
        };
        let secs = |v: &str| load(v).unwrap().purge_interval.map(|d| d.as_secs());
        assert_eq!(secs("1 hour"), Some(3600));
        assert_eq!(secs("30 seconds"), Some(30));
        assert_eq!(secs("P1D"), Some(86_400));
        assert_eq!(secs("off"), None);
        assert_eq!(secs("0"), None);
        let e = load("soon").unwrap_err().to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_PURGE_INTERVAL"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("custos-config-pi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        std::fs::write(&f, "policy = \"a.toml\"\npurge_interval = 0\n").unwrap();
        assert_eq!(Config::load(Some(&f), no_env).unwrap().purge_interval, None);
        assert_eq!(
            Config::with_policy("p.toml").purge_interval,
            Some(std::time::Duration::from_secs(3600))
        );
    }

    #[test]
    fn the_notifier_interval_and_timeout_are_words_or_numbers() {
        let load = |k: &'static str, v: &str| {
            let v = v.to_owned();
            Config::load(None, move |var| match var {
                "CUSTOS_POLICY" => Some("p.toml".into()),
                _ if var == k => Some(v.clone()),
                _ => None,
            })
        };
        let c = Config::with_policy("p.toml");
        assert_eq!(c.notify_interval.map(|d| d.as_secs()), Some(15));
        assert_eq!(c.notify_timeout.as_secs(), 10);
        let c = load("CUSTOS_NOTIFY_INTERVAL", "1 minute").unwrap();
        assert_eq!(c.notify_interval.map(|d| d.as_secs()), Some(60));
        assert_eq!(
            load("CUSTOS_NOTIFY_INTERVAL", "off")
                .unwrap()
                .notify_interval,
            None
        );
        let c = load("CUSTOS_NOTIFY_TIMEOUT", "30 seconds").unwrap();
        assert_eq!(c.notify_timeout.as_secs(), 30);
        let e = load("CUSTOS_NOTIFY_TIMEOUT", "off")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_NOTIFY_TIMEOUT"),
            "{e}"
        );
        assert!(e.contains("cannot be `off`"), "{e}");
    }

    #[test]
    fn the_connection_timeouts_and_cap_have_defaults_and_read_words_or_numbers() {
        let c = Config::with_policy("p.toml");
        assert_eq!(c.header_timeout.as_secs(), 10);
        assert_eq!(c.body_timeout.as_secs(), 30);
        assert_eq!(c.idle_timeout.as_secs(), 30);
        assert_eq!(c.max_connections, 512);
        let c = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_HEADER_TIMEOUT" => Some("5 seconds".into()),
            "CUSTOS_BODY_TIMEOUT" => Some("1 minute".into()),
            "CUSTOS_IDLE_TIMEOUT" => Some("2 minutes".into()),
            "CUSTOS_MAX_CONNECTIONS" => Some("256".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.header_timeout.as_secs(), 5);
        assert_eq!(c.body_timeout.as_secs(), 60);
        assert_eq!(c.idle_timeout.as_secs(), 120);
        assert_eq!(c.max_connections, 256);
        let dir = std::env::temp_dir().join(format!("custos-config-conn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        std::fs::write(
            &f,
            "policy = \"a.toml\"\nheader_timeout = 3\nmax_connections = 100\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), no_env).unwrap();
        assert_eq!(c.header_timeout.as_secs(), 3);
        assert_eq!(c.max_connections, 100);
        std::fs::write(&f, "policy = \"a.toml\"\nmax_connections = 0\n").unwrap();
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(e.contains("max_connections must be between 1"), "{e}");
        let e = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_IDLE_TIMEOUT" => Some("off".into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_IDLE_TIMEOUT"),
            "{e}"
        );
        let e = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_MAX_CONNECTIONS" => Some("many".into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_MAX_CONNECTIONS"),
            "{e}"
        );
    }

    #[test]
    fn trusted_proxies_are_networks_from_the_file_or_the_environment() {
        let c = Config::with_policy("p.toml");
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.failed_auth_per_minute, 30);
        let dir = std::env::temp_dir().join(format!("custos-config-tp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("custos.toml");
        std::fs::write(
            &f,
            "policy = \"a.toml\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\nfailed_auth_per_minute = 5\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), no_env).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[1].contains("10.9.8.7".parse().unwrap()));
        assert_eq!(c.failed_auth_per_minute, 5);
        let c = Config::load(Some(&f), |k| match k {
            "CUSTOS_TRUSTED_PROXIES" => Some("::1, 192.0.2.0/24".into()),
            "CUSTOS_FAILED_AUTH_LIMIT" => Some("0".into()),
            _ => None,
        })
        .unwrap();
        assert!(c.trusted_proxies[0].contains("::1".parse().unwrap()));
        assert!(c.trusted_proxies[1].contains("192.0.2.77".parse().unwrap()));
        assert_eq!(c.failed_auth_per_minute, 0);
        let e = Config::load(Some(&f), |k| {
            (k == "CUSTOS_TRUSTED_PROXIES").then(|| "10.0.0.1/8".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_TRUSTED_PROXIES"),
            "{e}"
        );
        std::fs::write(
            &f,
            "policy = \"a.toml\"\ntrusted_proxies = [\"proxy.local\"]\n",
        )
        .unwrap();
        let e = Config::load(Some(&f), no_env).unwrap_err().to_string();
        assert!(
            e.contains("custos.toml") && e.contains("proxy.local"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_where_they_came_from() {
        let e = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_LISTEN" => Some("not-an-address".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("environment variable CUSTOS_LISTEN"),
            "{e}"
        );
        assert!(matches!(
            Config::load(None, no_env),
            Err(ConfigError::NoPolicy)
        ));
    }

    /// Loads `toml` (after `policy = "p.toml"`) with no environment.
    fn load_smtp(toml: &str) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("custos-config-smtp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(format!("{:x}.toml", {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            toml.hash(&mut h);
            h.finish()
        }));
        std::fs::write(&f, format!("policy = \"p.toml\"\n{toml}")).unwrap();
        Config::load(Some(&f), no_env)
    }

    #[test]
    fn smtp_has_defaults_and_no_table_means_no_mail() {
        assert!(load_smtp("").unwrap().smtp.is_none());
        assert!(Config::with_policy("p.toml").smtp.is_none());
        let c = load_smtp("[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\n")
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!(
            (c.port, c.tls, c.timeout.as_secs()),
            (587, SmtpTls::Starttls, 10)
        );
        assert!(c.username.is_none() && c.password_file.is_none());
    }

    #[test]
    fn smtp_without_tls_is_refused_unless_the_relay_is_on_this_machine() {
        let e = load_smtp(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\ntls = \"none\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[smtp] tls = \"none\"") && e.contains("smtp.example.nl"),
            "{e}"
        );
        for host in ["localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]"] {
            let c = load_smtp(&format!(
                "[smtp]\nhost = \"{host}\"\nport = 25\nfrom = \"privacy@example.nl\"\ntls = \"none\"\n"
            ));
            assert!(c.is_ok(), "{host}: {:?}", c.err());
        }
        let e = load_smtp(
            "[smtp]\nhost = \"localhost\"\nfrom = \"privacy@example.nl\"\ntls = \"plain\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls") && e.contains("plain"), "{e}");
    }

    #[test]
    fn smtp_refuses_a_bad_sender_and_a_login_without_its_password_file() {
        let e = load_smtp("[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy desk\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("from") && e.contains("not an e-mail address"),
            "{e}"
        );
        let c = load_smtp(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"Privacy desk <privacy@example.nl>\"\n",
        );
        assert!(c.is_ok(), "a display name is allowed: {:?}", c.err());
        let e = load_smtp(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\nusername = \"custos\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[smtp] username") && e.contains("password_file"),
            "{e}"
        );
        let e = load_smtp(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\npassword = \"hunter2\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("password"), "no password in the file: {e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = load_smtp(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\ntimeout = \"off\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("timeout"), "{e}");
    }

    #[test]
    fn smtp_host_port_and_sender_come_from_the_environment() {
        let c = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_SMTP_HOST" => Some("smtp.example.nl".into()),
            "CUSTOS_SMTP_PORT" => Some("465".into()),
            "CUSTOS_SMTP_FROM" => Some("privacy@example.nl".into()),
            _ => None,
        })
        .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.from.as_str()),
            ("smtp.example.nl", 465, "privacy@example.nl")
        );
        let e = Config::load(None, |k| match k {
            "CUSTOS_POLICY" => Some("p.toml".into()),
            "CUSTOS_SMTP_PORT" => Some("smtp".into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("environment variable CUSTOS_SMTP_PORT"),
            "{e}"
        );
    }

    #[test]
    fn the_smtp_configuration_holds_no_password() {
        let dir =
            std::env::temp_dir().join(format!("custos-config-smtp-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("smtp.password");
        std::fs::write(&pw, "correct horse battery\n").unwrap();
        let c = load_smtp(&format!(
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"privacy@example.nl\"\nusername = \"custos\"\npassword_file = \"{}\"\n",
            pw.display()
        ))
        .unwrap();
        assert!(!format!("{c:?}").contains("correct horse"), "{c:?}");
    }
}
