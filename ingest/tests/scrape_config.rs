//! The configuration file: valid files, defaults, invalid files with their exact errors
//! (file, line, column, field path, Prometheus's text), serialisation with secrets hidden,
//! and agreement with the real Prometheus 2.42: `promtool check config` accepts and refuses
//! the same fixtures, and `/api/v1/status/config` shows the same configuration.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_yaml_ng::Value;
use tianshu_ingest::scrape::config::{Config, KubernetesRole};
use tianshu_ingest::scrape::duration::PromDuration;
use tianshu_ingest::scrape::relabel_config::Action;

const PROMTOOL: &str = "/usr/bin/promtool";
const PROMETHEUS: &str = "/usr/bin/prometheus";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

fn fixture_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("fixture dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    v
}

fn load(rel: &str) -> Config {
    let path = fixtures().join(rel);
    Config::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The error for a fixture, with the file shown relative to the fixture directory.
fn error_of(rel: &str) -> String {
    let path = fixtures().join(rel);
    let src = std::fs::read_to_string(&path).expect("fixture");
    match Config::parse(&src, rel) {
        Ok(_) => panic!("{rel} was accepted"),
        Err(e) => e.to_string(),
    }
}

fn secs(s: u64) -> PromDuration {
    PromDuration::from_secs(s)
}

#[test]
fn every_valid_fixture_parses() {
    for p in fixture_files("valid") {
        if let Err(e) = Config::load_file(&p) {
            panic!("{e}");
        }
    }
}

#[test]
fn defaults_are_prometheus_defaults() {
    let c = load("valid/empty.yml");
    assert_eq!(c.global.scrape_interval, secs(60));
    assert_eq!(c.global.scrape_timeout, secs(10));
    assert_eq!(c.global.evaluation_interval, secs(60));
    assert!(c.scrape_configs.is_empty());

    let c = load("valid/minimal.yml");
    let job = &c.scrape_configs[0];
    assert_eq!(job.job_name, "prometheus");
    assert_eq!(job.scrape_interval, secs(60));
    assert_eq!(job.scrape_timeout, secs(10));
    assert_eq!(job.metrics_path, "/metrics");
    assert_eq!(job.scheme, "http");
    assert!(job.honor_timestamps);
    assert!(!job.honor_labels);
    assert!(job.http.follow_redirects && job.http.enable_http2);
    assert_eq!(job.sample_limit, 0);
    assert_eq!(job.static_configs[0].targets, ["localhost:9090"]);
}

#[test]
fn timeouts_are_resolved_against_the_global_config() {
    let c = load("valid/timeouts.yml");
    let got: Vec<_> = c
        .scrape_configs
        .iter()
        .map(|j| (j.job_name.as_str(), j.scrape_interval, j.scrape_timeout))
        .collect();
    assert_eq!(
        got,
        [
            ("short", secs(2), secs(2)),
            ("inherit", secs(5), secs(5)),
            ("own", secs(60), secs(60)),
        ]
    );
    // Without a global timeout, a short interval caps the default 10s timeout.
    let c = Config::parse("global: {scrape_interval: 3s}\n", "x.yml").expect("valid");
    assert_eq!(c.global.scrape_timeout, secs(3));
}

#[test]
fn full_file_fields() {
    let c = load("valid/full.yml");
    assert_eq!(c.global.external_labels["dc"], "eu1");
    let node = &c.scrape_configs[0];
    assert!(node.honor_labels && !node.honor_timestamps);
    assert_eq!(node.params["target"], ["a", "b"]);
    assert_eq!(
        (node.sample_limit, node.target_limit, node.label_limit),
        (100, 10, 30)
    );
    assert_eq!(
        (node.label_name_length_limit, node.label_value_length_limit),
        (200, 2048)
    );
    let auth = node.http.basic_auth.as_ref().expect("basic_auth");
    assert_eq!(auth.password.expose(), "hunter2");
    assert!(!node.http.follow_redirects);
    assert_eq!(
        node.file_sd_configs[0].refresh_interval,
        PromDuration::from_secs(60)
    );
    let actions: Vec<_> = node
        .metric_relabel_configs
        .iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            Action::Drop,
            Action::KeepEqual,
            Action::DropEqual,
            Action::Lowercase,
            Action::Uppercase,
            Action::LabelKeep
        ]
    );
    // A deprecated bearer_token becomes an authorization of type Bearer.
    let fast = &c.scrape_configs[1];
    assert_eq!(fast.scrape_interval, secs(1));
    assert_eq!(fast.scrape_timeout, PromDuration::from_millis(500));
    let a = fast.http.authorization.as_ref().expect("authorization");
    assert_eq!(
        (a.kind.as_str(), a.credentials.expose()),
        ("Bearer", "sekret")
    );
}

#[test]
fn kubernetes_file() {
    let c = load("valid/kubernetes.yml");
    let roles: Vec<_> = c
        .scrape_configs
        .iter()
        .flat_map(|j| j.kubernetes_sd_configs.iter().map(|k| k.role))
        .collect();
    use KubernetesRole::*;
    assert_eq!(
        roles,
        [Endpoints, Node, Node, EndpointSlice, Service, Pod, Pod]
    );
    let pods = c
        .scrape_configs
        .iter()
        .find(|j| j.job_name == "kubernetes-pods")
        .expect("pods job");
    assert_eq!(pods.scrape_interval, secs(1));
    assert_eq!(pods.scrape_timeout, secs(1));
    let sd = &pods.kubernetes_sd_configs[0];
    assert!(sd.namespaces.as_ref().is_some_and(|n| n.own_namespace));
    assert_eq!(sd.selectors[0].field, "spec.nodeName=node-1");
    let shard = &pods.relabel_configs[3];
    assert_eq!((shard.action, shard.modulus), (Action::HashMod, 3));
    let remote = c.scrape_configs.last().expect("remote job");
    let sd = &remote.kubernetes_sd_configs[0];
    assert_eq!(sd.api_server, "https://k8s.example.com:6443");
    assert!(sd
        .http
        .tls_config
        .as_ref()
        .is_some_and(|t| t.insecure_skip_verify));
}

/// Each invalid fixture with its exact error: `file:line:column: field path: text`, the
/// text being Prometheus's where Prometheus has one.
const INVALID: &[(&str, &str)] = &[
    ("action_empty.yml", "4:9: scrape_configs[0].relabel_configs[0]: unknown relabel action \"\""),
    ("authorization_basic.yml", "2:5: scrape_configs[0]: authorization type cannot be set to \"basic\", use \"basic_auth\" instead"),
    ("backref.yml", "4:9: scrape_configs[0].relabel_configs[0]: error parsing regexp: invalid escape sequence: `\\1`"),
    ("bad_static_label.yml", "6:11: scrape_configs[0].static_configs[0].labels: \"a-b\" is not a valid label name"),
    ("body_size_limit_unit.yml", "2:5: scrape_configs[0]: units: unknown unit mb in 10mb"),
    ("basic_auth_and_bearer.yml", "2:5: scrape_configs[0]: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
    ("dup_key.yml", "2:5: scrape_configs[0]: duplicate entry with key \"job_name\""),
    ("duplicate_job_name.yml", "4:5: scrape_configs[2]: found multiple scrape configs with job name \"node\""),
    ("empty_job_name.yml", "2:5: scrape_configs[0]: job_name is empty"),
    ("external_label_name.yml", "2:3: global: \"data-center\" is not a valid label name"),
    ("file_sd_extension.yml", "4:9: scrape_configs[0].file_sd_configs[0]: path name \"targets.txt\" is not valid for file discovery"),
    ("global_timeout.yml", "2:3: global: global scrape timeout greater than scrape interval"),
    ("hashmod_without_modulus.yml", "4:9: scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus"),
    ("invalid_duration.yml", "2:3: global: not a valid duration string: \"1min\""),
    ("invalid_regex.yml", "4:9: scrape_configs[0].metric_relabel_configs[0]: error parsing regexp: missing closing ): `^(?s:abc(def)$`"),
    ("invalid_source_label.yml", "4:24: scrape_configs[0].relabel_configs[0].source_labels: \"pod-name\" is not a valid label name"),
    ("invalid_target_label.yml", "4:9: scrape_configs[0].relabel_configs[0]: \"1abc\" is invalid 'target_label' for replace action"),
    ("keepequal_with_regex.yml", "4:9: scrape_configs[0].metric_relabel_configs[0]: keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
    ("kubernetes_api_server_and_kubeconfig.yml", "4:9: scrape_configs[0].kubernetes_sd_configs[0]: cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
    ("kubernetes_http_without_api_server.yml", "4:9: scrape_configs[0].kubernetes_sd_configs[0]: to use custom HTTP client configuration please provide the 'api_server' URL explicitly"),
    ("kubernetes_missing_role.yml", "4:9: scrape_configs[0].kubernetes_sd_configs[0]: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"),
    ("kubernetes_selector_role.yml", "4:9: scrape_configs[0].kubernetes_sd_configs[0]: pod role supports only pod selectors"),
    ("kubernetes_unknown_role.yml", "4:9: scrape_configs[0].kubernetes_sd_configs[0]: unknown Kubernetes SD role \"pods\""),
    ("labeldrop_with_source_labels.yml", "4:9: scrape_configs[0].metric_relabel_configs[0]: labeldrop action requires only 'regex', and no other fields"),
    ("labelmap_bad_replacement.yml", "4:9: scrape_configs[0].relabel_configs[0]: \"a-$1\" is invalid 'replacement' for labelmap action"),
    ("lookahead.yml", "4:9: scrape_configs[0].relabel_configs[0]: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
    ("lowercase_with_replacement.yml", "4:9: scrape_configs[0].relabel_configs[0]: 'replacement' can not be set for lowercase action"),
    ("negative_limit.yml", "3:19: scrape_configs[0].sample_limit: invalid type: integer `-1`, expected u64"),
    ("null_job.yml", "2:4: scrape_configs[0]: empty or null scrape config section"),
    ("null_rule.yml", "4:8: scrape_configs[0].relabel_configs[0]: empty or null relabeling rule in scrape config"),
    ("regex_go_invalid.yml", "4:9: scrape_configs[0].relabel_configs[0]: error parsing regexp: invalid repeat count: `{1001}`"),
    ("replace_without_target.yml", "6:9: scrape_configs[0].relabel_configs[1]: relabel configuration for replace action requires 'target_label' value"),
    ("timeout_greater_than_global_interval.yml", "4:5: scrape_configs[0]: scrape timeout greater than scrape interval for scrape config with job name \"slow\""),
    ("timeout_greater_than_interval.yml", "3:5: scrape_configs[1]: scrape timeout greater than scrape interval for scrape config with job name \"slow\""),
    ("tls_version.yml", "2:5: scrape_configs[0]: unknown TLS version: TLS9"),
    ("unknown_action.yml", "4:9: scrape_configs[0].relabel_configs[0]: unknown relabel action \"rename\""),
    ("unknown_field.yml", "3:5: scrape_configs[0]: unknown field `scrape_intervall`"),
    ("unknown_top_level_field.yml", "1:1: unknown field `scrape_config`"),
    ("url_target.yml", "2:5: scrape_configs[0]: \"http://localhost:9100/metrics\" is not a valid hostname"),
    ("wrong_type.yml", "3:19: scrape_configs[0].sample_limit: invalid type: string \"lots\", expected u64"),
];

#[test]
fn invalid_files_are_refused_with_file_line_field_and_text() {
    let listed: Vec<String> = INVALID.iter().map(|(f, _)| f.to_string()).collect();
    for p in fixture_files("invalid") {
        let name = p.file_name().and_then(|n| n.to_str()).expect("name");
        if name == "bad_yaml.yml" {
            continue;
        }
        assert!(
            listed.iter().any(|l| l == name),
            "{name} has no expected error"
        );
    }
    for (file, expected) in INVALID {
        let rel = format!("invalid/{file}");
        assert_eq!(error_of(&rel), format!("{rel}:{expected}"));
    }
}

#[test]
fn malformed_yaml_is_refused_with_its_position() {
    let e = error_of("invalid/bad_yaml.yml");
    assert!(
        e.starts_with("invalid/bad_yaml.yml:3:4: did not find expected '-' indicator"),
        "{e}"
    );
}

#[test]
fn unsupported_prometheus_features_are_refused_not_ignored() {
    let cases = [
        (
            "consul.yml",
            "4:7: scrape_configs[0].consul_sd_configs: not supported by Tianshu",
        ),
        (
            "proxy_url.yml",
            "3:16: scrape_configs[0].proxy_url: not supported by Tianshu",
        ),
        (
            "rule_files.yml",
            "2:3: rule_files: not supported by Tianshu",
        ),
    ];
    assert_eq!(fixture_files("unsupported").len(), cases.len());
    for (file, expected) in cases {
        let rel = format!("unsupported/{file}");
        assert_eq!(error_of(&rel), format!("{rel}:{expected}"));
    }
}

#[test]
fn a_missing_file_names_the_file() {
    let e = Config::load_file(Path::new("/nonexistent/tianshu.yml")).expect_err("missing");
    assert!(
        e.to_string().starts_with("/nonexistent/tianshu.yml: "),
        "{e}"
    );
}

#[test]
fn serialisation_hides_secrets_and_round_trips() {
    let c = load("valid/full.yml");
    let yaml = c.to_yaml();
    for secret in ["hunter2", "sekret", "abc"] {
        assert!(!yaml.contains(secret), "{secret} leaked:\n{yaml}");
    }
    assert_eq!(yaml.matches("<secret>").count(), 3, "{yaml}");
    // Not re-read: like Prometheus's own output, it shows the default regex of
    // `keepequal` rules, which a file may not set.

    // Written back, the configuration reads the same (secrets excepted) and writes the
    // same text again.
    let k = load("valid/kubernetes.yml");
    let yaml = k.to_yaml();
    assert!(!yaml.contains("p4ss"), "{yaml}");
    assert_eq!(yaml.matches("<secret>").count(), 1, "{yaml}");
    let again = Config::parse(&yaml, "status.yml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(again.to_yaml(), yaml);

    // Without secrets the round trip is exact.
    for f in [
        "valid/minimal.yml",
        "valid/timeouts.yml",
        "valid/url_target_relabelled.yml",
    ] {
        let c = load(f);
        assert_eq!(Config::parse(&c.to_yaml(), f).ok(), Some(c), "{f}");
    }
}

// ---- agreement with the real Prometheus ----

/// `promtool check config`: `true` when it accepts the file.
fn promtool_accepts(path: &Path) -> bool {
    let out = Command::new(PROMTOOL)
        .args(["check", "config"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{PROMTOOL}: {e}"));
    out.status.success()
}

/// Files promtool cannot judge like Tianshu on purpose: Debian's Prometheus is built
/// without Kubernetes discovery, so it refuses every `kubernetes_sd_configs`.
fn prometheus_build_lacks_feature(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).expect("fixture");
    text.contains("kubernetes_sd_configs")
}

#[test]
fn promtool_agrees_on_accepting_and_refusing() {
    let mut compared = 0;
    for (dir, expect_ok) in [("valid", true), ("invalid", false)] {
        for p in fixture_files(dir) {
            let ours = Config::load_file(&p).is_ok();
            assert_eq!(ours, expect_ok, "{}", p.display());
            if prometheus_build_lacks_feature(&p) {
                continue;
            }
            assert_eq!(
                promtool_accepts(&p),
                ours,
                "promtool disagrees on {}",
                p.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} fixtures compared");
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// The `data.yaml` of Prometheus's `/api/v1/status/config` for `config`.
fn prometheus_status_config(config: &Path) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{PROMETHEUS}: {e}"));
    let _guard = Prometheus(child);
    // Polled until Prometheus answers; the bound is generous for a loaded machine.
    for _ in 0..600 {
        if let Ok(resp) = http_get(port, "/api/v1/status/config") {
            if let Some((head, body)) = resp.split_once("\r\n\r\n") {
                if head.starts_with("HTTP/1.1 200") {
                    let body = dechunk(head, body);
                    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                    return v["data"]["yaml"].as_str().expect("data.yaml").to_string();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("Prometheus did not serve /api/v1/status/config");
}

fn dechunk(head: &str, body: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// A YAML document as (path, scalar) pairs in document order: equal lists mean the same
/// values with the keys in the same order, whatever the flow or block style.
fn flatten(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                flatten(v, format!("{path}.{k}"), out);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) => out.push((path, s.clone())),
        Value::Bool(b) => out.push((path, b.to_string())),
        Value::Number(n) => out.push((path, n.to_string())),
        Value::Null => out.push((path, "null".into())),
        Value::Tagged(t) => flatten(&t.value, path, out),
    }
}

fn flat(yaml: &str) -> Vec<(String, String)> {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let mut out = Vec::new();
    flatten(&v, String::new(), &mut out);
    out
}

#[test]
fn status_config_matches_prometheus() {
    for f in [
        "valid/full.yml",
        "valid/minimal.yml",
        "valid/timeouts.yml",
        "valid/url_target_relabelled.yml",
    ] {
        let path = fixtures().join(f);
        let ours = Config::load_file(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_yaml();
        let theirs = prometheus_status_config(&path);
        assert_eq!(
            flat(&ours),
            flat(&theirs),
            "{f}\nours:\n{ours}\nPrometheus:\n{theirs}"
        );
    }
}
