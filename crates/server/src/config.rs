//! Server configuration: a TOML file, then environment variables on top (`CUSTOS_LISTEN`,
//! `CUSTOS_DATABASE_URL`, `CUSTOS_POLICY`, `CUSTOS_KEY_FILE`, `CUSTOS_LOG_FORMAT`). Every error
//! names the file or variable and the field.

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
    /// Seconds between signed audit checkpoints (besides one every 1000 entries); 0: none.
    #[serde(default = "default_checkpoint")]
    pub audit_checkpoint_seconds: u64,
    /// Milliseconds between writes of batched read accesses to the audit trail.
    #[serde(default = "default_flush")]
    pub audit_flush_millis: u64,
    /// Database connections (each a vault handle) the server keeps open.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
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
            rate_limit_per_second: default_rate(),
            policy: policy.into(),
            key_file: None,
            log_format: LogFormat::default(),
            max_body_bytes: default_body_limit(),
        }
    }

    /// Reads `file` (if any), then applies the environment `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
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
        if !table.contains_key("policy") {
            return Err(ConfigError::NoPolicy);
        }
        let origin = file.map_or_else(|| PathBuf::from("<environment>"), Path::to_owned);
        table.try_into::<Config>().map_err(|e| {
            let message = e.to_string();
            for (var, key) in [
                ("CUSTOS_LISTEN", "listen"),
                ("CUSTOS_LOG_FORMAT", "log_format"),
            ] {
                if env(var).is_some() && message.contains(key) {
                    return ConfigError::Env {
                        var,
                        message: message.trim().to_owned(),
                    };
                }
            }
            ConfigError::Invalid {
                path: origin,
                message: message.trim().to_owned(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
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
}
