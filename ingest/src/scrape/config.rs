//! Prometheus-compatible configuration file (`--config FILE`): `global` and
//! `scrape_configs`.
//!
//! Parsing is strict like Prometheus's: unknown fields are errors, defaults and validation
//! rules are Prometheus's, and so are the error texts. Every error carries the file, the
//! line and column and the field path: `prometheus.yml:12:7: scrape_configs[1]: ...`.
//! Checks that span a whole block (a relabel rule, a scrape config) are made while that
//! block is read, so their error points at the block. Prometheus features Tianshu does not
//! have yet (other discovery mechanisms, rule files, remote write, ...) are refused with
//! "not supported by Tianshu" rather than ignored.
//!
//! [`Config::to_yaml`] writes the configuration back in Prometheus's shape, secrets shown
//! as `<secret>`, for `/api/v1/status/config`.
//!
//! Submodules: `scrape` (one scrape config), `http` (client authentication and TLS),
//! `discovery` (static, file and Kubernetes discovery).

mod byte_size;
mod discovery;
mod http;
mod protocols;
mod scrape;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use byte_size::ByteSize;
pub use discovery::{
    FileSdConfig, KubernetesRole, KubernetesSdConfig, NamespaceDiscovery, SelectorConfig,
    StaticConfig,
};
pub use http::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig};
pub use scrape::ScrapeConfig;

use super::duration::PromDuration;
use super::parse::{ScrapeProtocol, DEFAULT_SCRAPE_PROTOCOLS};
use super::relabel_config::is_valid_label_name;

/// Prometheus's global defaults.
pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration::from_secs(60);
pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration::from_secs(10);
pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration::from_secs(60);

/// A configuration file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `message` starts with the field path when the error is inside a field.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// An error the YAML layer could not place (e.g. the file ends too early).
    #[error("{file}: {message}")]
    Unplaced { file: String, message: String },
}

impl ConfigError {
    fn from_yaml(file: &str, e: serde_yaml_ng::Error) -> Self {
        let text = e.to_string();
        match e.location() {
            Some(loc) => {
                let suffix = format!(" at line {} column {}", loc.line(), loc.column());
                let message = text.strip_suffix(&suffix).unwrap_or(&text);
                // serde lists every accepted field after an unknown one; Prometheus names
                // only the unknown field, which is the useful part.
                let message = match message.find("unknown field `") {
                    Some(at) => match message[at..].find("`, expected") {
                        Some(end) => message[..at + end + 1].to_string(),
                        None => message.to_string(),
                    },
                    None => message.to_string(),
                };
                ConfigError::Invalid {
                    file: file.to_string(),
                    line: loc.line(),
                    column: loc.column(),
                    message,
                }
            }
            None => ConfigError::Unplaced {
                file: file.to_string(),
                message: text,
            },
        }
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Config {
    pub global: GlobalConfig,
    /// Job names are unique; each config's interval and timeout are resolved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
}

/// The `global` block.
///
/// Invariant: `scrape_timeout <= scrape_interval`, both non-zero.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    /// Protocols asked for, best first; non-empty, no repeats, never `PrometheusProto`.
    #[serde(
        serialize_with = "protocols::serialize",
        skip_serializing_if = "protocols::is_default"
    )]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    pub evaluation_interval: PromDuration,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    /// Sorted by name; names are valid label names and values non-empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            scrape_protocols: DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            query_log_file: String::new(),
            external_labels: BTreeMap::new(),
        }
    }
}

// The `Unsupported` fields are read only to refuse them.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobalConfig {
    #[serde(default)]
    scrape_interval: Option<PromDuration>,
    #[serde(default)]
    scrape_timeout: Option<PromDuration>,
    #[serde(default)]
    scrape_protocols: Option<Vec<String>>,
    #[serde(default)]
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    query_log_file: Option<String>,
    #[serde(default)]
    external_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    body_size_limit: Option<Unsupported>,
    #[serde(default)]
    sample_limit: Option<Unsupported>,
    #[serde(default)]
    label_limit: Option<Unsupported>,
    #[serde(default)]
    label_name_length_limit: Option<Unsupported>,
    #[serde(default)]
    label_value_length_limit: Option<Unsupported>,
    #[serde(default)]
    target_limit: Option<Unsupported>,
}

impl GlobalConfig {
    /// Prometheus's `GlobalConfig.UnmarshalYAML` checks and defaults.
    fn from_raw(raw: RawGlobalConfig) -> Result<Self, String> {
        let external_labels = raw.external_labels.unwrap_or_default();
        for name in external_labels.keys() {
            if !is_valid_label_name(name) {
                return Err(format!("{name:?} is not a valid label name"));
            }
        }
        let scrape_interval = match raw.scrape_interval {
            Some(d) if !d.is_zero() => d,
            _ => DEFAULT_SCRAPE_INTERVAL,
        };
        let scrape_timeout = raw.scrape_timeout.unwrap_or_default();
        if scrape_timeout > scrape_interval {
            return Err("global scrape timeout greater than scrape interval".into());
        }
        let scrape_timeout = if !scrape_timeout.is_zero() {
            scrape_timeout
        } else {
            DEFAULT_SCRAPE_TIMEOUT.min(scrape_interval)
        };
        let scrape_protocols = protocols::global(raw.scrape_protocols)?;
        let evaluation_interval = match raw.evaluation_interval {
            Some(d) if !d.is_zero() => d,
            _ => DEFAULT_EVALUATION_INTERVAL,
        };
        Ok(GlobalConfig {
            scrape_interval,
            scrape_timeout,
            scrape_protocols,
            evaluation_interval,
            query_log_file: raw.query_log_file.unwrap_or_default(),
            // Prometheus drops external labels with empty values.
            external_labels: external_labels
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        })
    }
}

impl<'de> Deserialize<'de> for GlobalConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_checked(d, "the global config", None, GlobalConfig::from_raw)
    }
}

// The `Unsupported` fields are read only to refuse them.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    scrape_configs: Option<Vec<ScrapeConfig>>,
    #[serde(default)]
    scrape_config_files: Option<Unsupported>,
    #[serde(default)]
    rule_files: Option<Unsupported>,
    #[serde(default)]
    alerting: Option<Unsupported>,
    #[serde(default)]
    remote_write: Option<Unsupported>,
    #[serde(default)]
    remote_read: Option<Unsupported>,
    #[serde(default)]
    storage: Option<Unsupported>,
    #[serde(default)]
    tracing: Option<Unsupported>,
    #[serde(default)]
    otlp: Option<Unsupported>,
}

/// Only `global`, read first: scrape configs inherit from it wherever it is in the file.
#[derive(Deserialize)]
struct GlobalOnly {
    #[serde(default)]
    global: Option<GlobalConfig>,
}

thread_local! {
    /// What a scrape config being read needs from the rest of the file: the global
    /// config and the job names seen so far. Set by [`Config::parse`] for its duration.
    static PARSE_CONTEXT: RefCell<Option<ParseContext>> = const { RefCell::new(None) };
}

struct ParseContext {
    global: GlobalConfig,
    job_names: HashSet<String>,
}

/// Clears the parse context even when parsing panics.
struct ContextGuard;

impl Drop for ContextGuard {
    fn drop(&mut self) {
        PARSE_CONTEXT.with(|c| c.borrow_mut().take());
    }
}

/// Runs `f` with the global config of the file being parsed (the default outside one).
pub(crate) fn with_global<T>(f: impl FnOnce(&GlobalConfig) -> T) -> T {
    PARSE_CONTEXT.with(|c| match c.borrow().as_ref() {
        Some(ctx) => f(&ctx.global),
        None => f(&GlobalConfig::default()),
    })
}

/// Records a job name; `false` when a previous scrape config of the file already has it.
pub(crate) fn claim_job_name(name: &str) -> bool {
    PARSE_CONTEXT.with(|c| match c.borrow_mut().as_mut() {
        Some(ctx) => ctx.job_names.insert(name.to_string()),
        None => true,
    })
}

impl Config {
    /// Reads and parses `path`. On error the caller keeps its running configuration.
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut config = Config::parse(&src, &file)?;
        // Relative paths in the file are relative to the file, as in Prometheus.
        let dir = path.parent().unwrap_or(Path::new(""));
        for job in &mut config.scrape_configs {
            job.set_directory(dir);
        }
        Ok(config)
    }

    /// Parses a configuration file's text; `file` names it in errors. Relative paths are
    /// kept as written ([`Config::load_file`] resolves them).
    pub fn parse(src: &str, file: &str) -> Result<Config, ConfigError> {
        // An empty file (or one of comments only) is the default configuration.
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(src).map_err(|e| ConfigError::from_yaml(file, e))?;
        if value.is_null() {
            return Ok(Config::default());
        }
        let global = serde_yaml_ng::from_str::<GlobalOnly>(src)
            .map_err(|e| ConfigError::from_yaml(file, e))?
            .global
            .unwrap_or_default();
        PARSE_CONTEXT.with(|c| {
            *c.borrow_mut() = Some(ParseContext {
                global,
                job_names: HashSet::new(),
            })
        });
        let _guard = ContextGuard;
        let raw: RawConfig =
            serde_yaml_ng::from_str(src).map_err(|e| ConfigError::from_yaml(file, e))?;
        Ok(Config {
            global: raw.global.unwrap_or_default(),
            scrape_configs: raw.scrape_configs.unwrap_or_default(),
        })
    }

    /// The configuration in Prometheus's shape with secrets hidden, as
    /// `/api/v1/status/config` shows it.
    pub fn to_yaml(&self) -> String {
        // Serialising plain maps, lists and strings into a String cannot fail.
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

/// A label name, checked when read: `"a-b" is not a valid label name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelName(String);

impl LabelName {
    pub fn new(s: &str) -> Result<Self, String> {
        if is_valid_label_name(s) {
            Ok(LabelName(s.to_string()))
        } else {
            Err(format!("{s:?} is not a valid label name"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LabelName::new(&s).map_err(de::Error::custom)
    }
}

impl Serialize for LabelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A Prometheus field Tianshu does not implement yet: reading one is an error, so that a
/// configuration is never half applied. The path in the error names the field.
pub(crate) struct Unsupported;

impl<'de> Deserialize<'de> for Unsupported {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Refusing inside the visitor makes the error carry the field's path and line.
        struct Refuse;
        impl<'de> Visitor<'de> for Refuse {
            type Value = Unsupported;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("nothing: the field is not supported by Tianshu")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Unsupported, E> {
                Err(E::custom(NOT_SUPPORTED))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Unsupported, A::Error> {
                Err(de::Error::custom(NOT_SUPPORTED))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Unsupported, A::Error> {
                Err(de::Error::custom(NOT_SUPPORTED))
            }
        }
        d.deserialize_any(Refuse)
    }
}

const NOT_SUPPORTED: &str = "not supported by Tianshu";

/// Reads a block as `R` and converts it with `check`, inside the block's own visitor so
/// that a failed check is reported at the block's line and path (a conversion after
/// reading would be reported at the enclosing list). An empty (null) block is refused
/// with `on_null` when given, Prometheus's text for it.
pub(crate) fn deserialize_checked<'de, D, R, T>(
    d: D,
    expecting: &'static str,
    on_null: Option<&'static str>,
    check: fn(R) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    struct CheckedVisitor<R, T> {
        expecting: &'static str,
        on_null: Option<&'static str>,
        check: fn(R) -> Result<T, String>,
        _raw: PhantomData<R>,
    }

    impl<'de, R: Deserialize<'de>, T> Visitor<'de> for CheckedVisitor<R, T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            match self.on_null {
                Some(text) => Err(E::custom(text)),
                None => Err(E::invalid_type(de::Unexpected::Unit, &self)),
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let raw = R::deserialize(de::value::MapAccessDeserializer::new(map))?;
            (self.check)(raw).map_err(de::Error::custom)
        }
    }

    // `deserialize_any` so that a null block reaches `visit_unit`: asked for a map, the
    // YAML layer would present null as an empty map.
    d.deserialize_any(CheckedVisitor {
        expecting,
        on_null,
        check,
        _raw: PhantomData,
    })
}
