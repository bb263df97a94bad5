//! Kubernetes discovery end to end, differentially: the `tianshu` binary and a real peer
//! run the same `kubernetes_sd_configs` (one job per role) against one emulated API
//! server (`ingest/tests/k8s_api`) serving the fixture objects of
//! `ingest/tests/fixtures/k8s/`, and what both list at `/api/v1/targets` must be equal:
//! the discovered labels of active and dropped targets, per job, before and after the
//! objects change. A discovered pod is then scraped through relabelling and its series
//! checked through the query API.
//!
//! The peer is vmagent (Debian's victoria-metrics 1.79, installed by
//! `benches/install-deps`): Debian builds its Prometheus without Kubernetes discovery
//! (its `kubernetes_sd_configs` is refused as an unknown field), and vmagent is the one
//! independent implementation of Prometheus's Kubernetes discovery that runs here.
//! Where vmagent differs from Prometheus, the difference is listed in [`ALLOWED`] with
//! the Prometheus code or change it departs from; everything else is compared exactly.

mod common;
#[path = "../ingest/tests/k8s_api/mod.rs"]
mod k8s_api;
mod scrape_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{api_get, free_port, now_ms, parse_sample_value, query_instant, Proc, Tianshu};
use k8s_api::ApiServer;
use scrape_support::{wait_for, Exposition, ExpositionServer};
use serde_json::{json, Value};

const VMAGENT: &str = "/usr/bin/vmagent";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.sa-token";
/// Bounds a failing wait only; a passing run never waits for it.
const LIMIT: Duration = Duration::from_secs(120);

type Labels = BTreeMap<String, String>;

/// The comparison jobs: job name, role, and a drop rule (label, regex) so that every
/// role also has dropped targets to compare.
const JOBS: &[(&str, &str, &str, &str)] = &[
    (
        "k8s-node",
        "node",
        "__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane",
        "true",
    ),
    (
        "k8s-pod",
        "pod",
        "__meta_kubernetes_namespace",
        "monitoring",
    ),
    (
        "k8s-service",
        "service",
        "__meta_kubernetes_service_type",
        "ExternalName",
    ),
    (
        "k8s-endpoints",
        "endpoints",
        "__meta_kubernetes_endpoint_ready",
        "false",
    ),
    (
        "k8s-endpointslice",
        "endpointslice",
        "__meta_kubernetes_endpointslice_port_name",
        "https",
    ),
];
/// A pod role job whose one kept target is scraped from the test's exposition server.
const SCRAPED: &str = "k8s-scraped";

/// Which system's discovered labels an allowance edits.
#[derive(Clone, Copy, Debug)]
enum Side {
    Tianshu,
    Vmagent,
}

#[derive(Debug)]
enum Rule {
    /// Targets with this label value are removed.
    Targets(Side, &'static str, &'static str),
    /// The label is removed.
    Label(Side, &'static str),
    /// Labels with this prefix are removed from the targets that lack the second label.
    PrefixWithout(Side, &'static str, &'static str),
    /// Once objects have changed, dropped targets the other side no longer lists are
    /// removed.
    GoneDropped(Side),
    /// Once objects have changed, this side may still show the label's value from
    /// before: the label is removed from both sides' active targets.
    StaleLabel(Side, &'static str),
}

struct Allowed {
    jobs: &'static [&'static str],
    rule: Rule,
    why: &'static str,
}

const POD_JOBS: &[&str] = &["k8s-pod", SCRAPED];
const ENDPOINT_JOBS: &[&str] = &["k8s-endpoints", "k8s-endpointslice"];
const CONTAINER_JOBS: &[&str] = &["k8s-pod", SCRAPED, "k8s-endpoints", "k8s-endpointslice"];
const ALL_JOBS: &[&str] = &[
    "k8s-node",
    "k8s-pod",
    "k8s-service",
    "k8s-endpoints",
    "k8s-endpointslice",
    SCRAPED,
];

/// Every difference between Tianshu and vmagent 1.79.5 the comparison lets through, in
/// the order they are applied. Tianshu follows Prometheus in each; each must be seen
/// during the test, so that one that no longer happens is removed here.
const ALLOWED: &[Allowed] = &[
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Targets(
            Side::Tianshu,
            "__meta_kubernetes_pod_container_init",
            "true",
        ),
        why: "Prometheus 3.0 (#14929) adds the ports of init (sidecar) containers to the \
              endpointslice role; vmagent 1.79 does not",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Label(Side::Tianshu, "__meta_kubernetes_pod_container_init"),
        why: "Prometheus 3.0 (#14929) labels the endpointslice role's container targets \
              with pod_container_init; vmagent 1.79 does not",
    },
    Allowed {
        jobs: POD_JOBS,
        rule: Rule::Label(Side::Tianshu, "__meta_kubernetes_pod_container_id"),
        why: "added in Prometheus 2.42 (#11844), after vmagent 1.79",
    },
    Allowed {
        jobs: CONTAINER_JOBS,
        rule: Rule::Label(Side::Tianshu, "__meta_kubernetes_pod_container_image"),
        why: "added in Prometheus 2.38 (#11034, #11146); vmagent 1.79 does not set it",
    },
    Allowed {
        jobs: &["k8s-service"],
        rule: Rule::Label(Side::Tianshu, "__meta_kubernetes_service_port_number"),
        why: "added in Prometheus 2.38 (#11002, #11053); vmagent 1.79 does not set it",
    },
    Allowed {
        jobs: &["k8s-service"],
        rule: Rule::Label(Side::Tianshu, "__meta_kubernetes_service_loadbalancer_ip"),
        why: "added to Prometheus by #11140 (2022-08), after vmagent 1.79",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Label(
            Side::Tianshu,
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
        ),
        why: "added to Prometheus by #11870 (2023-01), after vmagent 1.79",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Label(
            Side::Tianshu,
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
        ),
        why: "added to Prometheus by #11870 (2023-01), after vmagent 1.79",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Label(
            Side::Tianshu,
            "__meta_kubernetes_endpointslice_endpoint_node_name",
        ),
        why: "added to Prometheus by #13935 (2024), after vmagent 1.79",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::Label(
            Side::Tianshu,
            "__meta_kubernetes_endpointslice_endpoint_zone",
        ),
        why: "added to Prometheus by #13935 (2024), after vmagent 1.79",
    },
    Allowed {
        jobs: ENDPOINT_JOBS,
        rule: Rule::Label(Side::Vmagent, "__meta_kubernetes_service_cluster_ip"),
        why: "vmagent adds the service role's per-port labels to endpoints targets; \
              Prometheus merges only serviceLabels() (namespace, name, labels, \
              annotations) into the group (addServiceLabels in endpoints.go and \
              endpointslice.go)",
    },
    Allowed {
        jobs: ENDPOINT_JOBS,
        rule: Rule::Label(Side::Vmagent, "__meta_kubernetes_service_type"),
        why: "as service_cluster_ip: a service role label Prometheus does not put on \
              endpoints targets",
    },
    Allowed {
        jobs: &["k8s-endpoints"],
        rule: Rule::PrefixWithout(
            Side::Tianshu,
            "__meta_kubernetes_endpoints_",
            "__meta_kubernetes_endpoint_ready",
        ),
        why: "Prometheus puts the Endpoints object's name, labels and annotations in the \
              group's labels (buildEndpoints), so they reach the targets of container \
              ports no endpoint covers too; vmagent 1.79 sets them on endpoint targets \
              only",
    },
    Allowed {
        jobs: &["k8s-endpointslice"],
        rule: Rule::PrefixWithout(
            Side::Tianshu,
            "__meta_kubernetes_endpointslice_",
            "__meta_kubernetes_endpointslice_port",
        ),
        why: "Prometheus puts the EndpointSlice's address type, name, labels and \
              annotations in the group's labels (buildEndpointSlice), so they reach the \
              targets of container ports no endpoint covers too; vmagent 1.79 sets them \
              on endpoint targets only",
    },
    Allowed {
        jobs: ALL_JOBS,
        rule: Rule::GoneDropped(Side::Vmagent),
        why: "vmagent keeps listing a dropped target for minutes after its object changed \
              or went; Prometheus lists the dropped targets of the current discovery only \
              (scrapePool.Sync rebuilds droppedTargets), and so does Tianshu: its dropped \
              lists after the changes are checked on their own",
    },
    Allowed {
        jobs: &["k8s-pod", "k8s-endpoints", "k8s-endpointslice"],
        rule: Rule::StaleLabel(
            Side::Vmagent,
            "__meta_kubernetes_pod_label_app_kubernetes_io_part_of",
        ),
        why: "vmagent 1.79 keeps the discovered labels a running target started with when \
              its object changes but its labels after relabelling do not; Prometheus \
              hands the target the new ones (scrapePool.sync calls SetDiscoveredLabels), \
              and so does Tianshu, which the test checks on its own",
    },
];

/// Discovered labels per job, active and dropped, each list sorted (a multiset).
#[derive(Clone, Debug, Default, PartialEq)]
struct Targets {
    active: BTreeMap<String, Vec<Labels>>,
    dropped: BTreeMap<String, Vec<Labels>>,
}

impl Targets {
    fn fetch(base: &str) -> Targets {
        let data = api_get(base, "/api/v1/targets", &[]);
        let mut out = Targets::default();
        for (key, into) in [
            ("activeTargets", &mut out.active),
            ("droppedTargets", &mut out.dropped),
        ] {
            for t in data[key].as_array().into_iter().flatten() {
                let labels: Labels = serde_json::from_value(t["discoveredLabels"].clone())
                    .unwrap_or_else(|e| panic!("{base}: discoveredLabels of {t}: {e}"));
                let job = labels.get("job").cloned().unwrap_or_default();
                into.entry(job).or_default().push(labels);
            }
        }
        for list in out.active.values_mut().chain(out.dropped.values_mut()) {
            list.sort();
        }
        out
    }

    /// Whether an active target of `job` has `label="value"`.
    fn active_has(&self, job: &str, label: &str, value: &str) -> bool {
        self.active
            .get(job)
            .into_iter()
            .flatten()
            .any(|t| t.get(label).map(String::as_str) == Some(value))
    }
}

/// Both systems' targets with [`ALLOWED`] applied; `used[i]` is set when allowance `i`
/// changed something.
fn normalize(
    tianshu: &Targets,
    vmagent: &Targets,
    changed: bool,
    used: &mut [bool],
) -> (Targets, Targets) {
    let (mut t, mut v) = (tianshu.clone(), vmagent.clone());
    for (i, a) in ALLOWED.iter().enumerate() {
        let side = match a.rule {
            Rule::Targets(s, ..)
            | Rule::Label(s, _)
            | Rule::PrefixWithout(s, ..)
            | Rule::GoneDropped(s)
            | Rule::StaleLabel(s, _) => s,
        };
        if let Rule::StaleLabel(_, label) = a.rule {
            if !changed {
                continue;
            }
            for job in a.jobs {
                let values = |x: &Targets| -> Vec<Option<String>> {
                    let mut v: Vec<Option<String>> = x
                        .active
                        .get(*job)
                        .into_iter()
                        .flatten()
                        .map(|l| l.get(label).cloned())
                        .collect();
                    v.sort();
                    v
                };
                used[i] |= values(&t) != values(&v);
                for x in [&mut t, &mut v] {
                    for l in x.active.get_mut(*job).into_iter().flatten() {
                        l.remove(label);
                    }
                    if let Some(list) = x.active.get_mut(*job) {
                        list.sort();
                    }
                }
            }
            continue;
        }
        let (targets, other) = match side {
            Side::Tianshu => (&mut t, &v),
            Side::Vmagent => (&mut v, &t),
        };
        if let Rule::GoneDropped(_) = a.rule {
            if !changed {
                continue;
            }
            for job in a.jobs {
                let Some(list) = targets.dropped.get_mut(*job) else {
                    continue;
                };
                let before = list.len();
                let keep = other.dropped.get(*job).cloned().unwrap_or_default();
                list.retain(|l| keep.contains(l));
                used[i] |= list.len() != before;
            }
            continue;
        }
        for job in a.jobs {
            for list in [targets.active.get_mut(*job), targets.dropped.get_mut(*job)]
                .into_iter()
                .flatten()
            {
                let before = list.clone();
                match a.rule {
                    Rule::Targets(_, label, value) => {
                        list.retain(|l| l.get(label).map(String::as_str) != Some(value));
                    }
                    Rule::Label(_, label) => {
                        for l in list.iter_mut() {
                            l.remove(label);
                        }
                    }
                    Rule::PrefixWithout(_, prefix, unless) => {
                        for l in list.iter_mut().filter(|l| !l.contains_key(unless)) {
                            l.retain(|k, _| !k.starts_with(prefix));
                        }
                    }
                    Rule::GoneDropped(_) | Rule::StaleLabel(..) => {}
                }
                list.sort();
                used[i] |= *list != before;
            }
        }
    }
    // A job whose targets all went is no job at all, on both sides alike.
    for m in [&mut t.active, &mut t.dropped, &mut v.active, &mut v.dropped] {
        m.retain(|_, list| !list.is_empty());
    }
    (t, v)
}

/// The differences of two normalized target lists, for a failure message: targets only
/// one side has, each paired with the other side's closest one, label by label.
fn diff(tianshu: &Targets, vmagent: &Targets) -> String {
    let mut out = String::new();
    for (state, t, v) in [
        ("active", &tianshu.active, &vmagent.active),
        ("dropped", &tianshu.dropped, &vmagent.dropped),
    ] {
        let jobs: std::collections::BTreeSet<&String> = t.keys().chain(v.keys()).collect();
        for job in jobs {
            let empty = Vec::new();
            let (tl, vl) = (t.get(job).unwrap_or(&empty), v.get(job).unwrap_or(&empty));
            let only_t: Vec<&Labels> = tl.iter().filter(|x| !vl.contains(x)).collect();
            let only_v: Vec<&Labels> = vl.iter().filter(|x| !tl.contains(x)).collect();
            if only_t.is_empty() && only_v.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "{state} {job}: tianshu {} targets, vmagent {}\n",
                tl.len(),
                vl.len()
            ));
            let distance = |a: &Labels, b: &Labels| {
                a.iter().filter(|(k, v)| b.get(*k) != Some(v)).count()
                    + b.keys().filter(|k| !a.contains_key(*k)).count()
            };
            for x in &only_t {
                let Some(y) = only_v.iter().min_by_key(|y| distance(x, y)) else {
                    out.push_str(&format!("  only tianshu: {x:?}\n"));
                    continue;
                };
                out.push_str(&format!("  {}:\n", x["__address__"]));
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    if x.get(k) != y.get(k) {
                        out.push_str(&format!(
                            "    {k}: tianshu {:?}, vmagent {:?}\n",
                            x.get(k),
                            y.get(k)
                        ));
                    }
                }
            }
            if only_t.is_empty() {
                for y in only_v {
                    out.push_str(&format!("  only vmagent: {y:?}\n"));
                }
            }
        }
    }
    out
}

/// Polls both systems until `ready` holds for each and their normalized targets are
/// equal (`changed`: after objects changed); returns Tianshu's raw targets.
fn converge(
    what: &str,
    tianshu: &str,
    vmagent: &str,
    changed: bool,
    ready: impl Fn(&Targets) -> bool,
    used: &mut [bool],
) -> Targets {
    let start = Instant::now();
    loop {
        let t = Targets::fetch(tianshu);
        let v = Targets::fetch(vmagent);
        let mut seen = vec![false; ALLOWED.len()];
        let (nt, nv) = normalize(&t, &v, changed, &mut seen);
        if ready(&t) && ready(&v) && nt == nv {
            for (u, s) in used.iter_mut().zip(seen) {
                *u |= s;
            }
            return t;
        }
        assert!(
            start.elapsed() < LIMIT,
            "{what}: Tianshu and vmagent still differ (ready: tianshu {}, vmagent {}):\n{}",
            ready(&t),
            ready(&v),
            diff(&nt, &nv)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `ApiServer::load`, from the fixtures' place seen from this crate: the emulator's own
/// finds them under its crate's manifest directory, which here is the workspace root.
fn load(api: &ApiServer, resource: &str, file: &str) {
    let path = format!(
        "{}/ingest/tests/fixtures/k8s/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let list: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    for item in list["items"].as_array().expect("a list of items") {
        api.apply(resource, item.clone());
    }
}

fn config(api: &str, exposition: &str) -> String {
    let sd = |role: &str| {
        format!(
            "    kubernetes_sd_configs:\n      - role: {role}\n        api_server: {api}\n        authorization:\n          credentials: {TOKEN}\n"
        )
    };
    // Intervals whose Go and Prometheus spellings agree ("30s", not "1h0m0s" against
    // "1h"): vmagent writes `__scrape_interval__` as a Go duration.
    let mut y =
        String::from("global:\n  scrape_interval: 30s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for (job, role, label, regex) in JOBS {
        y.push_str(&format!("  - job_name: {job}\n{}", sd(role)));
        // The discovered addresses are the fixtures' cluster addresses, never to be
        // contacted: targets are pointed at a path of the local server that answers 404,
        // each kept apart by its discovered address and container in `instance`.
        y.push_str(&format!(
            "    relabel_configs:
      - source_labels: [{label}]
        regex: {regex}
        action: drop
      - source_labels: [__address__, __meta_kubernetes_pod_container_name]
        separator: /
        target_label: instance
      - target_label: __address__
        replacement: {exposition}
      - target_label: __metrics_path__
        replacement: /not-scraped
"
        ));
        if *job == "k8s-pod" {
            // One target of the web pod carries a pod label in its own labels, so that a
            // change of that label makes a new target of it while the pod's others keep
            // their loops (and must still show the new label).
            y.push_str(
                "      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_part_of, __meta_kubernetes_pod_container_port_name]
        regex: (.+);http
        target_label: part_of
",
            );
        }
    }
    y.push_str(&format!(
        "  - job_name: {SCRAPED}
    scrape_interval: 1s
{}    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_name, __meta_kubernetes_pod_container_port_name]
        regex: web-.*;metrics
        action: keep
      - target_label: __address__
        replacement: {exposition}
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_part_of]
        target_label: part_of
",
        sd("pod")
    ));
    y
}

/// Series of `query` now, by who scraped them: Tianshu itself, or vmagent (remote-written
/// with `peer="vmagent"`, which is removed).
fn series_by_scraper(base: &str, query: &str) -> (Vec<Labels>, Vec<Labels>) {
    let data = query_instant(base, query, now_ms());
    let (mut own, mut peer) = (Vec::new(), Vec::new());
    for s in data["result"].as_array().into_iter().flatten() {
        let mut labels: Labels = serde_json::from_value(s["metric"].clone())
            .unwrap_or_else(|e| panic!("metric of {s}: {e}"));
        match labels.remove("peer") {
            Some(_) => peer.push(labels),
            None => own.push(labels),
        }
    }
    own.sort();
    peer.sort();
    (own, peer)
}

#[test]
fn kubernetes_discovery_matches_vmagent() {
    assert!(
        Path::new(VMAGENT).is_file(),
        "{VMAGENT} is missing: it is Debian's victoria-metrics package; run benches/install-deps"
    );
    // The emulator serves from this runtime's threads while the test blocks on HTTP.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let api = rt.block_on(ApiServer::start(TOKEN));
    for (resource, file) in [
        ("nodes", "nodes.json"),
        ("pods", "pods.json"),
        ("services", "services.json"),
        ("endpoints", "endpoints.json"),
        ("endpointslices", "endpointslices.json"),
    ] {
        load(&api, resource, file);
    }
    let srv = ExpositionServer::start();
    srv.set(
        "/metrics",
        Exposition::text("# TYPE k8s_demo gauge\nk8s_demo 42\n"),
    );
    let exposition = srv.addr.to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = dir.path().join("scrape.yml");
    std::fs::write(&cfg_path, config(&api.url, &exposition)).expect("write config");
    let ts = Tianshu::start(&["--config", cfg_path.to_str().expect("utf-8 path")]);
    let base = ts.url("");
    let vm_url = format!("http://127.0.0.1:{}", free_port());
    let mut vm = Proc::spawn(
        "vmagent",
        VMAGENT,
        &[
            format!("-promscrape.config={}", cfg_path.display()),
            format!("-httpListenAddr={}", vm_url.trim_start_matches("http://")),
            format!("-remoteWrite.url={base}/api/v1/write"),
            "-remoteWrite.label=peer=vmagent".to_string(),
            format!(
                "-remoteWrite.tmpDataPath={}",
                dir.path().join("vmagent-queue").display()
            ),
            // vmagent re-reads its watch caches into targets every 30 s by default.
            "-promscrape.kubernetesSDCheckInterval=1s".to_string(),
        ],
        &dir.path().join("vmagent.log"),
    );
    vm.wait_http_ok(&format!("{vm_url}/health"));

    // The initial objects.
    let mut used = vec![false; ALLOWED.len()];
    let every_job = |t: &Targets| {
        JOBS.iter()
            .map(|j| j.0)
            .chain([SCRAPED])
            .all(|j| t.active.get(j).is_some_and(|l| !l.is_empty()))
    };
    let t = converge(
        "initial objects",
        &base,
        &vm_url,
        false,
        every_job,
        &mut used,
    );
    // The comparison saw what the fixtures hold, not two empty or partial lists.
    let counts = |m: &BTreeMap<String, Vec<Labels>>| -> BTreeMap<String, usize> {
        m.iter().map(|(k, v)| (k.clone(), v.len())).collect()
    };
    assert_eq!(
        json!({"active": counts(&t.active), "dropped": counts(&t.dropped)}),
        json!({
            "active": {"k8s-endpoints": 4, "k8s-endpointslice": 4, "k8s-node": 1,
                       "k8s-pod": 6, SCRAPED: 1, "k8s-service": 3},
            "dropped": {"k8s-endpoints": 2, "k8s-endpointslice": 1, "k8s-node": 1,
                        "k8s-pod": 1, SCRAPED: 6, "k8s-service": 1},
        }),
        "{t:#?}"
    );

    // The discovered pod, scraped: up, and the served sample under the relabelled labels,
    // the same as vmagent's scrape of it.
    wait_for(LIMIT, "the scraped pod up in Tianshu", || {
        let up = query_instant(&base, "up{job=\"k8s-scraped\",peer=\"\"}", now_ms());
        let r = up["result"].as_array().cloned().unwrap_or_default();
        (r.len() == 1 && parse_sample_value(&r[0]["value"][1]) == 1.0).then_some(())
    });
    let demo = |part_of: &str| -> Labels {
        [
            ("__name__", "k8s_demo"),
            ("instance", exposition.as_str()),
            ("job", SCRAPED),
            ("namespace", "default"),
            ("part_of", part_of),
            ("pod", "web-6d4cf56db6-k8t2x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let want = vec![demo("shop")];
    wait_for(LIMIT, "k8s_demo scraped by Tianshu and vmagent", || {
        (series_by_scraper(&base, "k8s_demo") == (want.clone(), want.clone())).then_some(())
    });
    let value = query_instant(&base, "k8s_demo{peer=\"\"}", now_ms());
    assert_eq!(parse_sample_value(&value["result"][0]["value"][1]), 42.0);

    // A pod changes: both follow. The change comes first and alone, and is seen through
    // before the others: the roles built from several resources read the pod from their
    // own watch, whose events have no order against the other resources' watches.
    let part_of = "__meta_kubernetes_pod_label_app_kubernetes_io_part_of";
    let mut web = api.get("pods", "default", "web-6d4cf56db6-k8t2x");
    web["metadata"]["labels"]["app.kubernetes.io/part-of"] = json!("store");
    api.apply("pods", web);
    let pod_changed = |t: &Targets| {
        t.active_has("k8s-pod", part_of, "store") && t.active_has(SCRAPED, part_of, "store")
    };
    let t = converge(
        "after the pod changed",
        &base,
        &vm_url,
        true,
        pod_changed,
        &mut used,
    );
    // When an object changes but a target's labels after relabelling do not, Prometheus
    // hands the running target the new discovered labels (`scrapePool.sync` calls
    // `SetDiscoveredLabels` on a target it already has), so `/api/v1/targets` shows the
    // object as it is now. vmagent 1.79 keeps the old ones, so this is checked on its own:
    // every target of the web pod shows the new label, not only the one whose labels
    // after relabelling changed.
    let web_targets: Vec<&Labels> = t.active["k8s-pod"]
        .iter()
        .filter(|l| l["__meta_kubernetes_pod_name"] == "web-6d4cf56db6-k8t2x")
        .collect();
    assert_eq!(web_targets.len(), 6, "{web_targets:#?}");
    assert!(
        web_targets.iter().all(|l| l[part_of] == "store"),
        "discovered labels of the web pod's targets whose labels after relabelling did \
         not change: {web_targets:#?}"
    );
    // The scraped series follows the pod's new label; the old one is marked stale.
    let want = vec![demo("store")];
    wait_for(LIMIT, "k8s_demo relabelled after the pod changed", || {
        (series_by_scraper(&base, "k8s_demo") == (want.clone(), want.clone())).then_some(())
    });

    // Objects of every kind change and go. Each change reaches some target's labels
    // after relabelling, where Tianshu's discovered labels follow.
    api.delete("pods", "monitoring", "node-exporter-x2j9q");
    api.delete("services", "default", "db");
    let mut worker = api.get("nodes", "", "kind-worker");
    worker["status"]["addresses"][2]["address"] = json!("172.18.0.30");
    api.apply("nodes", worker);
    api.delete("endpoints", "default", "kubernetes");
    let mut slice = api.get("endpointslices", "default", "web-x7k2m");
    slice["endpoints"][0]["addresses"] = json!(["10.244.1.24"]);
    api.apply("endpointslices", slice);
    let changed = |t: &Targets| {
        t.active_has("k8s-node", "__address__", "172.18.0.30:10250")
            && !t.active_has(
                "k8s-endpoints",
                "__meta_kubernetes_endpoints_name",
                "kubernetes",
            )
            && t.active_has("k8s-endpointslice", "__address__", "10.244.1.24:80")
    };
    let t = converge(
        "after the changes",
        &base,
        &vm_url,
        true,
        changed,
        &mut used,
    );
    // The new slice address's target was built from the changed pod.
    assert!(
        t.active["k8s-endpointslice"]
            .iter()
            .any(|l| l["__address__"] == "10.244.1.24:80" && l[part_of] == "store"),
        "{:#?}",
        t.active["k8s-endpointslice"]
    );
    // vmagent's dropped lists still hold what went (GoneDropped): Tianshu's are checked
    // here, against what the changes leave: the deleted pod's and service's are gone,
    // and the scraped job's dropped web targets carry the pod's new label.
    assert_eq!(
        json!({"active": counts(&t.active), "dropped": counts(&t.dropped)}),
        json!({
            "active": {"k8s-endpoints": 3, "k8s-endpointslice": 4, "k8s-node": 1,
                       "k8s-pod": 6, SCRAPED: 1, "k8s-service": 3},
            "dropped": {"k8s-endpoints": 2, "k8s-endpointslice": 1, "k8s-node": 1,
                        SCRAPED: 5},
        }),
        "{t:#?}"
    );
    assert!(
        t.dropped[SCRAPED]
            .iter()
            .all(|l| l.get(part_of).map(String::as_str) == Some("store")),
        "{:#?}",
        t.dropped[SCRAPED]
    );
    for (a, used) in ALLOWED.iter().zip(&used) {
        assert!(
            used,
            "allowed difference {:?} on {:?} ({}) no longer happens: remove it",
            a.rule, a.jobs, a.why
        );
    }
}
