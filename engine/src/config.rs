//! Connection URLs and pool options, checked up front so a mistake is a
//! `ConfigurationError` that names it rather than a failure deep inside a driver.

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::errors::{EngineError, EngineResult};

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: usize,
    pub min_size: usize,
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
    pub statement_cache: bool,
}

impl PoolOptions {
    pub fn new(
        max_size: Option<usize>,
        min_size: usize,
        acquire_timeout: f64,
        connect_timeout: f64,
        statement_cache: bool,
        default_max: usize,
    ) -> EngineResult<Self> {
        let max_size = max_size.unwrap_or(default_max.max(min_size));
        if max_size == 0 {
            return Err(EngineError::config("max_size must be at least 1"));
        }
        if min_size > max_size {
            return Err(EngineError::config(format!(
                "min_size ({min_size}) is larger than max_size ({max_size})"
            )));
        }
        Ok(PoolOptions {
            max_size,
            min_size,
            acquire_timeout: seconds("acquire_timeout", acquire_timeout)?,
            connect_timeout: seconds("connect_timeout", connect_timeout)?,
            statement_cache,
        })
    }
}

pub fn seconds(name: &str, value: f64) -> EngineResult<Duration> {
    match Duration::try_from_secs_f64(value) {
        // Too large for a Duration is refused too, rather than panicking.
        Ok(duration) if value > 0.0 => Ok(duration),
        _ => Err(EngineError::config(format!(
            "{name} must be a positive number of seconds, not {value}"
        ))),
    }
}

/// Where a PostgreSQL server is, and how to log in.
#[derive(Debug, Clone, PartialEq)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub application_name: Option<String>,
    pub options: Option<String>,
}

impl PgTarget {
    /// `host:port`, or the socket path, for messages.
    pub fn describe(&self) -> String {
        if self.host.starts_with('/') {
            format!("PostgreSQL at {}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("PostgreSQL at {}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SqliteTarget {
    Memory,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Postgres(PgTarget),
    Sqlite(SqliteTarget),
}

const SCHEMES: &str = "postgres://, postgresql://, sqlite:///path/to.db or sqlite://:memory:";

pub fn parse_url(url: &str) -> EngineResult<Target> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(EngineError::config(format!(
            "{} is not a database URL; expected one of {SCHEMES}",
            redact(url)
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => parse_postgres(url).map(Target::Postgres),
        "sqlite" => parse_sqlite(url).map(Target::Sqlite),
        other => Err(EngineError::config(format!(
            "unsupported database scheme {other:?} in {}; expected one of {SCHEMES}",
            redact(url)
        ))),
    }
}

fn decode(part: &str) -> EngineResult<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| EngineError::config(format!("{part:?} is not valid percent-encoded UTF-8")))
}

fn parse_postgres(url: &str) -> EngineResult<PgTarget> {
    let parsed = match url::Url::parse(url) {
        // libpq allows `postgres://user@/db?host=/socket/dir`: a user but no host.
        Err(url::ParseError::EmptyHost) if url.contains("@/") => {
            url::Url::parse(&url.replacen("@/", "@localhost/", 1))
        }
        other => other,
    }
    .map_err(|e| EngineError::config(format!("malformed PostgreSQL URL {}: {e}", redact(url))))?;
    let mut host = match parsed.host_str() {
        Some(h) if !h.is_empty() => decode(h.trim_start_matches('[').trim_end_matches(']'))?,
        _ => String::new(),
    };
    let port = parsed.port().unwrap_or(5432);
    let user = match parsed.username() {
        "" => "postgres".to_owned(),
        name => decode(name)?,
    };
    let password = parsed.password().map(decode).transpose()?;
    let mut dbname = decode(parsed.path().trim_start_matches('/'))?;
    let mut application_name = None;
    let mut options = None;
    let mut port_override = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "host" => host = value.into_owned(),
            "port" => {
                port_override = Some(value.parse::<u16>().map_err(|_| {
                    EngineError::config(format!("port {value:?} in the URL is not a port number"))
                })?)
            }
            "dbname" => dbname = value.into_owned(),
            "application_name" => application_name = Some(value.into_owned()),
            "options" => options = Some(value.into_owned()),
            "sslmode" => match value.as_ref() {
                "disable" | "allow" | "prefer" => {}
                other => {
                    return Err(EngineError::config(format!(
                        "sslmode={other} needs TLS, which this build does not include; \
                         use sslmode=disable or prefer"
                    )))
                }
            },
            "connect_timeout" => {}
            other => {
                return Err(EngineError::config(format!(
                    "unknown PostgreSQL URL parameter {other:?}; known: host, port, dbname, \
                     application_name, options, sslmode, connect_timeout"
                )))
            }
        }
    }
    if host.is_empty() {
        host = "localhost".to_owned();
    }
    if dbname.is_empty() {
        dbname = user.clone();
    }
    Ok(PgTarget {
        host,
        port: port_override.unwrap_or(port),
        user,
        password,
        dbname,
        application_name,
        options,
    })
}

fn parse_sqlite(url: &str) -> EngineResult<SqliteTarget> {
    let rest = &url["sqlite://".len()..];
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    if rest.contains('?') {
        return Err(EngineError::config(format!(
            "SQLite URL {url} has query parameters, which are not supported; pass options to connect()"
        )));
    }
    match path {
        ":memory:" | "/:memory:" => Ok(SqliteTarget::Memory),
        "" | "/" => Err(EngineError::config(format!(
            "SQLite URL {url} names no file; use sqlite:///path/to.db or sqlite://:memory:"
        ))),
        _ => Ok(SqliteTarget::File(PathBuf::from(decode(path)?))),
    }
}

/// The URL with its password replaced, for messages and `Engine.url`. Works on malformed
/// URLs too, since those are exactly the ones that end up in error messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@') {
        if let Some(colon) = authority[..at].find(':') {
            return format!("{scheme}://{}:***{}", &authority[..colon], &rest[at..]);
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> PgTarget {
        match parse_url(url).expect("parses") {
            Target::Postgres(target) => target,
            other => panic!("not postgres: {other:?}"),
        }
    }

    #[test]
    fn full_postgres_url() {
        let target = pg("postgresql://ann:p%40ss@db.example:6543/shop?application_name=app");
        assert_eq!(target.host, "db.example");
        assert_eq!(target.port, 6543);
        assert_eq!(target.user, "ann");
        assert_eq!(target.password.as_deref(), Some("p@ss"));
        assert_eq!(target.dbname, "shop");
        assert_eq!(target.application_name.as_deref(), Some("app"));
    }

    #[test]
    fn defaults_and_unix_socket() {
        let target = pg("postgres:///app?host=/var/run/postgresql");
        assert_eq!(target.host, "/var/run/postgresql");
        assert_eq!(target.port, 5432);
        assert_eq!(target.user, "postgres");
        assert_eq!(target.dbname, "app");
        let with_user = pg("postgres://ann@/app?host=/run/pg");
        assert_eq!(
            (with_user.user.as_str(), with_user.host.as_str()),
            ("ann", "/run/pg")
        );
        let encoded = pg("postgres://%2Ftmp%2Fsock/app");
        assert_eq!(encoded.host, "/tmp/sock");
    }

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            parse_url("sqlite://:memory:").ok(),
            Some(Target::Sqlite(SqliteTarget::Memory))
        );
        assert_eq!(
            parse_url("sqlite:///tmp/app.db").ok(),
            Some(Target::Sqlite(SqliteTarget::File("/tmp/app.db".into())))
        );
        assert_eq!(
            parse_url("sqlite://./app.db").ok(),
            Some(Target::Sqlite(SqliteTarget::File("./app.db".into())))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let text = |url: &str| parse_url(url).unwrap_err().to_string();
        assert!(text("mysql://x").contains("unsupported database scheme \"mysql\""));
        assert!(text("localhost:5432").contains("not a database URL"));
        assert!(text("sqlite://").contains("names no file"));
        assert!(text("postgres://h/db?sslmode=require").contains("TLS"));
        assert!(text("postgres://h/db?colour=red").contains("\"colour\""));
        let bad_port = text("postgres://u:secret@h:99999/db");
        assert!(
            bad_port.contains("u:***@h:99999") && !bad_port.contains("secret"),
            "{bad_port}"
        );
    }

    #[test]
    fn pool_options_are_checked() {
        assert!(PoolOptions::new(Some(0), 0, 1.0, 1.0, true, 10).is_err());
        assert!(PoolOptions::new(Some(2), 3, 1.0, 1.0, true, 10).is_err());
        assert!(PoolOptions::new(None, 1, -1.0, 1.0, true, 10).is_err());
        assert_eq!(
            PoolOptions::new(None, 1, 1.0, 1.0, true, 10)
                .unwrap()
                .max_size,
            10
        );
    }
}
