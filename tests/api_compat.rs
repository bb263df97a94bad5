//! The calls Grafana's Prometheus data source makes, against a running
//! binary: shapes, status codes and error format as Prometheus answers them.

mod common;

use common::*;
use serde_json::{json, Value};

/// Writes `api_compat_test{job="a",instance="x"}` and `{job="b",instance="y"}`
/// with one sample a second for 60 s before `t0_ms`; sample `i` of job a has
/// value `i`, of job b `10 * i`. Returns the first sample's timestamp.
fn write_fixture(base: &str, t0_ms: i64) -> i64 {
    let first = t0_ms - 60_000;
    let a: Vec<(i64, f64)> = (0..60).map(|i| (first + i * 1000, i as f64)).collect();
    let b: Vec<(i64, f64)> = (0..60)
        .map(|i| (first + i * 1000, 10.0 * i as f64))
        .collect();
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[
                    ("__name__", "api_compat_test"),
                    ("instance", "x"),
                    ("job", "a"),
                ],
                &a,
            ),
            series(
                &[
                    ("__name__", "api_compat_test"),
                    ("instance", "y"),
                    ("job", "b"),
                ],
                &b,
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = remote_write(base, &req);
    assert_eq!(
        status, 204,
        "fixture write: expected 204, got {status}: {body}"
    );
    first
}

fn assert_bad_data(what: &str, status: u16, body: &str) {
    let v = parse_json(what, status, body);
    assert_eq!(
        status, 400,
        "{what}: expected 400 bad_data, got {status}: {body}"
    );
    assert_eq!(v["status"], "error", "{what}: {body}");
    assert_eq!(v["errorType"], "bad_data", "{what}: {body}");
    assert!(
        v["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: expected a non-empty \"error\" message: {body}"
    );
}

#[test]
fn grafana_health_check_then_buildinfo() {
    let ts = Tianshu::start(&[]);
    let now = now_ms();
    let t = api_time(now);

    // Exactly the request Grafana's "Save & test" sends (`+` percent-encoded).
    let url = ts.url(&format!("/api/v1/query?query=1%2B1&time={t}"));
    let resp = agent()
        .get(&url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (status, body) = read_response(resp);
    assert_eq!(status, 200, "GET {url}: expected 200, got {status}: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "GET {url}: expected Content-Type application/json, got {content_type:?}"
    );
    let v = parse_json(&url, status, &body);
    let got_t = v["data"]["result"][0].as_f64();
    let expected = json!({
        "status": "success",
        "data": {"resultType": "scalar", "result": [got_t, "2"]}
    });
    assert!(
        got_t.is_some_and(|g| (g - now as f64 / 1000.0).abs() < 1e-6),
        "GET {url}: scalar timestamp should be the `time` parameter {t}, got {body}"
    );
    let mut trimmed = v.clone();
    // Prometheus adds "warnings"/"infos" only when it has some; neither applies.
    if let Some(o) = trimmed.as_object_mut() {
        o.remove("warnings");
        o.remove("infos");
    }
    assert_eq!(trimmed, expected, "GET {url}: unexpected answer {body}");

    let data = api_get(&ts.url(""), "/api/v1/status/buildinfo", &[]);
    let version = data["version"].as_str().unwrap_or("");
    assert!(
        version.split('.').count() >= 2
            && version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "buildinfo: expected data.version like \"0.1.0\", got {data}"
    );
    for key in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(
            data[key].is_string(),
            "buildinfo: Prometheus's answer has string field {key:?}; got {data}"
        );
    }

    for path in ["/-/healthy", "/-/ready"] {
        let (status, body) = http_get(&ts.url(path));
        assert_eq!(
            status, 200,
            "GET {path}: expected 200, got {status}: {body}"
        );
    }
}

#[test]
fn query_range_post_form_equals_get_and_values_follow_lookback() {
    let ts = Tianshu::start(&[]);
    let base = ts.url("");
    let now = now_ms() / 1000 * 1000;
    let first = write_fixture(&base, now);

    // Step times fall half a second after a sample so each takes the sample
    // before it: at first + 10.5 s + 5 s * k the value of job a is 10 + 5 k.
    let start = first + 10_500;
    let end = first + 50_500;
    let params = [
        ("query", "api_compat_test"),
        ("start", &api_time(start)),
        ("end", &api_time(end)),
        ("step", "5"),
    ];
    let url = ts.url("/api/v1/query_range");
    let (gs, gbody) = http_get_query(&url, &params);
    let (ps, pbody) = http_post_form(&url, &params);
    assert_eq!(gs, 200, "GET query_range: {gbody}");
    assert_eq!(ps, 200, "POST query_range: {pbody}");
    let g = parse_json("GET query_range", gs, &gbody);
    let p = parse_json("POST query_range", ps, &pbody);
    assert_eq!(
        g, p,
        "form-encoded POST and GET of the same query_range differ\nGET:  {gbody}\nPOST: {pbody}"
    );
    assert_eq!(g["status"], "success", "{gbody}");
    assert_eq!(g["data"]["resultType"], "matrix", "{gbody}");
    let result = g["data"]["result"].as_array().expect("result array");
    assert_eq!(result.len(), 2, "expected 2 series, got {gbody}");
    for s in result {
        let job = s["metric"]["job"].as_str().unwrap_or("?");
        let factor = match job {
            "a" => 1.0,
            "b" => 10.0,
            _ => panic!("unexpected series {s}"),
        };
        assert_eq!(s["metric"]["__name__"], "api_compat_test", "{s}");
        let points: Vec<(i64, f64)> = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|p| (parse_sample_time(&p[0]), parse_sample_value(&p[1])))
            .collect();
        let expected: Vec<(i64, f64)> = (0..9)
            .map(|k| (start + k * 5000, factor * (10 + 5 * k) as f64))
            .collect();
        assert_eq!(points, expected, "job {job}: points of {s}");
    }

    // Instant queries through POST as well.
    let qparams = [
        ("query", "sum(api_compat_test)"),
        ("time", &api_time(first + 20_500)),
    ];
    let (qs, qbody) = http_post_form(&ts.url("/api/v1/query"), &qparams);
    let q = parse_json("POST query", qs, &qbody);
    assert_eq!(qs, 200, "POST query: {qbody}");
    assert_eq!(q["data"]["resultType"], "vector", "{qbody}");
    assert_eq!(
        q["data"]["result"][0]["value"][1], "220",
        "sum at sample 20 should be 20 + 200: {qbody}"
    );
    let (gqs, gqbody) = http_get_query(&ts.url("/api/v1/query"), &qparams);
    assert_eq!(gqs, 200, "GET query: {gqbody}");
    assert_eq!(parse_json("GET query", gqs, &gqbody), q);
}

#[test]
fn series_labels_and_label_values() {
    let ts = Tianshu::start(&[]);
    let base = ts.url("");
    let now = now_ms();
    write_fixture(&base, now);
    let start = api_time(now - 120_000);
    let end = api_time(now + 1000);

    let range = [("start", start.as_str()), ("end", end.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = extra.to_vec();
        v.extend(range.iter().copied());
        v
    };

    let series = api_get(
        &base,
        "/api/v1/series",
        &with(&[("match[]", "api_compat_test")]),
    );
    let mut got: Vec<Value> = series.as_array().cloned().unwrap_or_default();
    got.sort_by_key(|v| v.to_string());
    assert_eq!(
        got,
        vec![
            json!({"__name__": "api_compat_test", "instance": "x", "job": "a"}),
            json!({"__name__": "api_compat_test", "instance": "y", "job": "b"}),
        ],
        "/api/v1/series?match[]=api_compat_test"
    );
    let (ps, pbody) = http_post_form(
        &ts.url("/api/v1/series"),
        &with(&[("match[]", "{job=\"b\"}")]),
    );
    let p = parse_json("POST series", ps, &pbody);
    assert_eq!(
        p["data"],
        json!([{"__name__": "api_compat_test", "instance": "y", "job": "b"}]),
        "POST /api/v1/series match[]={{job=\"b\"}}: {pbody}"
    );

    let labels = api_get(&base, "/api/v1/labels", &with(&[]));
    assert_eq!(
        labels,
        json!(["__name__", "instance", "job"]),
        "/api/v1/labels should list the label names, sorted"
    );
    let labels_b = api_get(
        &base,
        "/api/v1/labels",
        &with(&[("match[]", "{job=\"b\"}")]),
    );
    assert_eq!(labels_b, json!(["__name__", "instance", "job"]));

    let jobs = api_get(&base, "/api/v1/label/job/values", &with(&[]));
    assert_eq!(jobs, json!(["a", "b"]), "/api/v1/label/job/values");
    let names = api_get(&base, "/api/v1/label/__name__/values", &with(&[]));
    assert_eq!(names, json!(["api_compat_test"]));
    let none = api_get(&base, "/api/v1/label/nonexistent/values", &with(&[]));
    assert_eq!(
        none,
        json!([]),
        "values of an unknown label are an empty list"
    );
}

/// (what, endpoint URL, parameters)
type BadQuery = (&'static str, String, Vec<(&'static str, String)>);

#[test]
fn bad_queries_answer_400_bad_data() {
    let ts = Tianshu::start(&[]);
    let now = api_time(now_ms());
    let url_q = ts.url("/api/v1/query");
    let url_r = ts.url("/api/v1/query_range");

    let cases: Vec<BadQuery> = vec![
        (
            "syntax error",
            url_q.clone(),
            vec![("query", "sum(".into()), ("time", now.clone())],
        ),
        ("missing query", url_q.clone(), vec![("time", now.clone())]),
        (
            "unparsable time",
            url_q.clone(),
            vec![("query", "1".into()), ("time", "yesterday".into())],
        ),
        (
            "range end before start",
            url_r.clone(),
            vec![
                ("query", "1".into()),
                ("start", "2000".into()),
                ("end", "1000".into()),
                ("step", "10".into()),
            ],
        ),
        (
            "zero step",
            url_r.clone(),
            vec![
                ("query", "1".into()),
                ("start", "1000".into()),
                ("end", "2000".into()),
                ("step", "0".into()),
            ],
        ),
        (
            "more than 11000 points",
            url_r.clone(),
            vec![
                ("query", "1".into()),
                ("start", "0".into()),
                ("end", "100000".into()),
                ("step", "1".into()),
            ],
        ),
        (
            "range vector where an instant vector is needed",
            url_q.clone(),
            vec![("query", "sum(up[5m])".into()), ("time", now.clone())],
        ),
    ];
    for (what, url, params) in &cases {
        let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = http_get_query(url, &p);
        assert_bad_data(&format!("GET {what} {p:?}"), status, &body);
        let (status, body) = http_post_form(url, &p);
        assert_bad_data(&format!("POST {what} {p:?}"), status, &body);
    }
    // The server is still fine after the errors.
    let data = query_instant(&ts.url(""), "1+1", now_ms());
    assert_eq!(data["result"][1], "2", "{data}");
}

#[test]
fn own_metrics_are_exposed() {
    let ts = Tianshu::start(&[]);
    let base = ts.url("");
    write_fixture(&base, now_ms());
    query_instant(&base, "api_compat_test", now_ms());

    let (status, body) = http_get(&ts.url("/metrics"));
    assert_eq!(status, 200, "/metrics: {body}");
    let samples: Vec<&str> = body.lines().filter(|l| l.starts_with("tianshu_")).collect();
    assert!(
        !samples.is_empty(),
        "/metrics exposes no tianshu_* metric:\n{body}"
    );
    // The issue lists what must be there (ingested samples, active series, WAL
    // size, HTTP requests by handler and code, query durations); the names are
    // Tianshu's own, so look for the subject of each in names and labels.
    let mut names: Vec<&str> = samples
        .iter()
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    names.dedup();
    for subject in ["samples", "series", "wal", "http_request", "query"] {
        assert!(
            samples.iter().any(|l| l.contains(subject)),
            "/metrics has no tianshu_* series about {subject:?}; has {names:?}"
        );
    }
    // The 120 samples written above are counted somewhere.
    let counted = samples.iter().any(|l| {
        l.contains("samples")
            && l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v >= 120.0)
    });
    assert!(
        counted,
        "no tianshu_*samples* series counts the 120 samples written: {:?}",
        samples
            .iter()
            .filter(|l| l.contains("samples"))
            .collect::<Vec<_>>()
    );
    // The storage engine's background work, under Prometheus's names with Tianshu's
    // prefix; a fresh server has done none of it yet.
    for name in [
        "tianshu_tsdb_compactions_total 0",
        "tianshu_tsdb_compactions_failed_total 0",
        "tianshu_tsdb_compaction_duration_seconds_count 0",
        "tianshu_tsdb_wal_corruptions_total 0",
        "tianshu_tsdb_blocks_corrupted_total 0",
        "tianshu_tsdb_time_retentions_total 0",
    ] {
        assert!(
            body.lines().any(|l| l == name),
            "/metrics lacks {name:?}:\n{body}"
        );
    }
}
