//! One `scrape_configs` entry: what to scrape, how often, and how to relabel it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use super::byte_size::ByteSize;
use super::discovery::{FileSdConfig, KubernetesSdConfig, StaticConfig};
use super::http::{Authorization, BasicAuth, HttpClientConfig, HttpFields, Secret, TlsConfig};
use super::{claim_job_name, deserialize_checked, with_global, Unsupported};
use crate::scrape::duration::PromDuration;
use crate::scrape::parse::ScrapeProtocol;
use crate::scrape::relabel_config::RelabelConfig;

/// A scrape config, validated and with the global defaults applied.
///
/// Invariants: `job_name` is non-empty and unique in its file; `scrape_timeout` is
/// non-zero and at most `scrape_interval`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    /// Keep the target's own labels on conflict instead of renaming them `exported_*`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// URL query parameters, each possibly repeated.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    /// Protocols asked for, best first (the global list unless set); non-empty, no
    /// repeats, never `PrometheusProto`.
    #[serde(
        serialize_with = "super::protocols::serialize",
        skip_serializing_if = "super::protocols::is_default"
    )]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    pub metrics_path: String,
    pub scheme: String,
    /// Uncompressed bodies of this many bytes or more fail the scrape; 0 or less: none.
    #[serde(skip_serializing_if = "is_no_size")]
    pub body_size_limit: ByteSize,
    /// Limits per scrape; 0 means none.
    #[serde(skip_serializing_if = "is_zero")]
    pub sample_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub target_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_name_length_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_value_length_limit: u64,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_no_size(v: &ByteSize) -> bool {
    v.0 == 0
}

/// Prometheus's default `metrics_path` and `scheme`.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";
pub const DEFAULT_SCHEME: &str = "http";

// The `Unsupported` fields are read only to refuse them.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrapeConfig {
    #[serde(default)]
    job_name: Option<String>,
    #[serde(default)]
    honor_labels: Option<bool>,
    #[serde(default)]
    honor_timestamps: Option<bool>,
    #[serde(default)]
    params: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    scrape_interval: Option<PromDuration>,
    #[serde(default)]
    scrape_timeout: Option<PromDuration>,
    #[serde(default)]
    scrape_protocols: Option<Vec<String>>,
    #[serde(default)]
    metrics_path: Option<String>,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    sample_limit: Option<u64>,
    #[serde(default)]
    target_limit: Option<u64>,
    #[serde(default)]
    label_limit: Option<u64>,
    #[serde(default)]
    label_name_length_limit: Option<u64>,
    #[serde(default)]
    label_value_length_limit: Option<u64>,
    #[serde(default)]
    relabel_configs: Option<Vec<RelabelConfig>>,
    #[serde(default)]
    metric_relabel_configs: Option<Vec<RelabelConfig>>,
    #[serde(default)]
    static_configs: Option<Vec<StaticConfig>>,
    #[serde(default)]
    file_sd_configs: Option<Vec<FileSdConfig>>,
    #[serde(default)]
    kubernetes_sd_configs: Option<Vec<KubernetesSdConfig>>,
    #[serde(default)]
    basic_auth: Option<BasicAuth>,
    #[serde(default)]
    authorization: Option<Authorization>,
    #[serde(default)]
    bearer_token: Option<Secret>,
    #[serde(default)]
    bearer_token_file: Option<String>,
    #[serde(default)]
    tls_config: Option<TlsConfig>,
    #[serde(default)]
    follow_redirects: Option<bool>,
    #[serde(default)]
    enable_http2: Option<bool>,
    #[serde(default)]
    body_size_limit: Option<ByteSize>,
    // Prometheus settings Tianshu does not implement yet.
    #[serde(default)]
    oauth2: Option<Unsupported>,
    #[serde(default)]
    proxy_url: Option<Unsupported>,
    #[serde(default)]
    no_proxy: Option<Unsupported>,
    #[serde(default)]
    proxy_from_environment: Option<Unsupported>,
    #[serde(default)]
    proxy_connect_header: Option<Unsupported>,
    #[serde(default)]
    scrape_classic_histograms: Option<Unsupported>,
    #[serde(default)]
    native_histogram_bucket_limit: Option<Unsupported>,
    #[serde(default)]
    azure_sd_configs: Option<Unsupported>,
    #[serde(default)]
    consul_sd_configs: Option<Unsupported>,
    #[serde(default)]
    digitalocean_sd_configs: Option<Unsupported>,
    #[serde(default)]
    docker_sd_configs: Option<Unsupported>,
    #[serde(default)]
    dockerswarm_sd_configs: Option<Unsupported>,
    #[serde(default)]
    dns_sd_configs: Option<Unsupported>,
    #[serde(default)]
    ec2_sd_configs: Option<Unsupported>,
    #[serde(default)]
    eureka_sd_configs: Option<Unsupported>,
    #[serde(default)]
    gce_sd_configs: Option<Unsupported>,
    #[serde(default)]
    hetzner_sd_configs: Option<Unsupported>,
    #[serde(default)]
    http_sd_configs: Option<Unsupported>,
    #[serde(default)]
    ionos_sd_configs: Option<Unsupported>,
    #[serde(default)]
    kuma_sd_configs: Option<Unsupported>,
    #[serde(default)]
    lightsail_sd_configs: Option<Unsupported>,
    #[serde(default)]
    linode_sd_configs: Option<Unsupported>,
    #[serde(default)]
    marathon_sd_configs: Option<Unsupported>,
    #[serde(default)]
    nerve_sd_configs: Option<Unsupported>,
    #[serde(default)]
    nomad_sd_configs: Option<Unsupported>,
    #[serde(default)]
    openstack_sd_configs: Option<Unsupported>,
    #[serde(default)]
    ovhcloud_sd_configs: Option<Unsupported>,
    #[serde(default)]
    puppetdb_sd_configs: Option<Unsupported>,
    #[serde(default)]
    scaleway_sd_configs: Option<Unsupported>,
    #[serde(default)]
    serverset_sd_configs: Option<Unsupported>,
    #[serde(default)]
    triton_sd_configs: Option<Unsupported>,
    #[serde(default)]
    uyuni_sd_configs: Option<Unsupported>,
    #[serde(default)]
    vultr_sd_configs: Option<Unsupported>,
}

impl ScrapeConfig {
    /// Makes relative file paths relative to `dir`, the configuration file's directory,
    /// as Prometheus does when it loads a file.
    pub fn set_directory(&mut self, dir: &Path) {
        self.http.set_directory(dir);
        for f in &mut self.file_sd_configs {
            f.set_directory(dir);
        }
        for k in &mut self.kubernetes_sd_configs {
            k.set_directory(dir);
        }
    }

    /// Prometheus's `ScrapeConfig.UnmarshalYAML` and `Validate`, then the job name
    /// uniqueness check of `Config.UnmarshalYAML`, in that order and with their texts.
    fn from_raw(raw: RawScrapeConfig) -> Result<Self, String> {
        let job_name = raw.job_name.unwrap_or_default();
        if job_name.is_empty() {
            return Err("job_name is empty".into());
        }
        let http = HttpClientConfig::from_fields(HttpFields {
            basic_auth: raw.basic_auth,
            authorization: raw.authorization,
            bearer_token: raw.bearer_token,
            bearer_token_file: raw.bearer_token_file,
            tls_config: raw.tls_config,
            follow_redirects: raw.follow_redirects,
            enable_http2: raw.enable_http2,
        })?;
        let relabel_configs = raw.relabel_configs.unwrap_or_default();
        let static_configs = raw.static_configs.unwrap_or_default();
        // A URL in `targets` is a common mistake; relabelling may still make it valid.
        if relabel_configs.is_empty() {
            for t in static_configs.iter().flat_map(|s| &s.targets) {
                if t.contains('/') {
                    return Err(format!("{t:?} is not a valid hostname"));
                }
            }
        }
        let (scrape_interval, scrape_timeout, scrape_protocols) = with_global(|g| {
            let interval = match raw.scrape_interval {
                Some(d) if !d.is_zero() => d,
                _ => g.scrape_interval,
            };
            let timeout = raw.scrape_timeout.unwrap_or_default();
            if timeout > interval {
                return Err(format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {job_name:?}"
                ));
            }
            let timeout = if timeout.is_zero() {
                g.scrape_timeout.min(interval)
            } else {
                timeout
            };
            let protocols =
                super::protocols::job(raw.scrape_protocols, &g.scrape_protocols, &job_name)?;
            Ok((interval, timeout, protocols))
        })?;
        if !claim_job_name(&job_name) {
            return Err(format!(
                "found multiple scrape configs with job name {job_name:?}"
            ));
        }
        Ok(ScrapeConfig {
            job_name,
            honor_labels: raw.honor_labels.unwrap_or(false),
            honor_timestamps: raw.honor_timestamps.unwrap_or(true),
            params: raw.params.unwrap_or_default(),
            scrape_interval,
            scrape_timeout,
            scrape_protocols,
            metrics_path: raw
                .metrics_path
                .unwrap_or_else(|| DEFAULT_METRICS_PATH.to_string()),
            scheme: raw.scheme.unwrap_or_else(|| DEFAULT_SCHEME.to_string()),
            sample_limit: raw.sample_limit.unwrap_or(0),
            target_limit: raw.target_limit.unwrap_or(0),
            label_limit: raw.label_limit.unwrap_or(0),
            label_name_length_limit: raw.label_name_length_limit.unwrap_or(0),
            label_value_length_limit: raw.label_value_length_limit.unwrap_or(0),
            body_size_limit: raw.body_size_limit.unwrap_or_default(),
            http,
            relabel_configs,
            metric_relabel_configs: raw.metric_relabel_configs.unwrap_or_default(),
            file_sd_configs: raw.file_sd_configs.unwrap_or_default(),
            kubernetes_sd_configs: raw.kubernetes_sd_configs.unwrap_or_default(),
            static_configs,
        })
    }
}

impl<'de> Deserialize<'de> for ScrapeConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_checked(
            d,
            "a scrape config",
            Some("empty or null scrape config section"),
            ScrapeConfig::from_raw,
        )
    }
}
