//! `/api/v1/admin/tsdb/delete_series` and `clean_tombstones` side by side with a real
//! Prometheus 2.42: the same requests must get the same status codes and bodies, and the
//! same series must be left afterwards.

mod common;

use common::*;

/// `admin_del{job="a"|"b"|"c"}`, one sample a second for 60 s before `t0_ms`.
fn fixture(t0_ms: i64) -> WriteRequest {
    let first = t0_ms - 60_000;
    let samples: Vec<(i64, f64)> = (0..60).map(|i| (first + i * 1000, i as f64)).collect();
    WriteRequest {
        timeseries: ["a", "b", "c"]
            .iter()
            .map(|job| series(&[("__name__", "admin_del"), ("job", job)], &samples))
            .collect(),
        metadata: vec![],
    }
}

/// Sends a form without accepting compressed answers: Prometheus answers a 204 with
/// `Content-Encoding: gzip` and no body, which an HTTP client cannot decompress.
fn send(method: &str, url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let form = params.iter().copied();
    let resp = match method {
        "POST" => agent()
            .post(url)
            .header("Accept-Encoding", "identity")
            .send_form(form),
        "PUT" => agent()
            .put(url)
            .header("Accept-Encoding", "identity")
            .send_form(form),
        _ => panic!("unsupported method {method}"),
    };
    read_response(resp.unwrap_or_else(|e| panic!("{method} {url}: {e}")))
}

fn series_of(base: &str) -> serde_json::Value {
    api_get(base, "/api/v1/series", &[("match[]", "admin_del")])
}

/// Method, endpoint under `/api/v1/admin/tsdb/`, form parameters.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[test]
fn delete_series_and_clean_tombstones_answer_as_prometheus_does() {
    require_binary(PROMETHEUS);
    let dir = tempfile::Builder::new()
        .prefix("tianshu-admin-compat-")
        .tempdir()
        .unwrap();
    let (_prom, prom_url) = start_prometheus(
        dir.path(),
        free_port(),
        "global:\n  scrape_interval: 15s\n",
        &[
            "--web.enable-admin-api",
            "--web.enable-remote-write-receiver",
        ],
    );
    let mut ts = Tianshu::start(&["--web.enable-admin-api"]);
    let ts_url = ts.url("");

    let t0 = now_ms();
    for base in [&prom_url, &ts_url] {
        let (status, body) = remote_write(base, &fixture(t0));
        assert_eq!(status, 204, "{base}: {body}");
    }
    let start = format!("{}", (t0 - 30_000) / 1000);
    let cases: Vec<Case> = vec![
        ("POST", "delete_series", vec![]),
        (
            "POST",
            "delete_series",
            vec![("match[]", "admin_del"), ("start", "x")],
        ),
        (
            "POST",
            "delete_series",
            vec![("match[]", "admin_del"), ("end", "y")],
        ),
        (
            "POST",
            "delete_series",
            vec![("match[]", "admin_del offset 5m")],
        ),
        // All of job a; the second half of job b; nothing (an inverted range) of job c.
        (
            "POST",
            "delete_series",
            vec![("match[]", "admin_del{job=\"a\"}")],
        ),
        (
            "PUT",
            "delete_series",
            vec![("match[]", "admin_del{job=\"b\"}"), ("start", &start)],
        ),
        (
            "POST",
            "delete_series",
            vec![
                ("match[]", "admin_del{job=\"c\"}"),
                ("start", "10"),
                ("end", "5"),
            ],
        ),
        // Matchers that all match the empty string are refused by `/api/v1/series` but
        // accepted here (every series without `nope`); an old range keeps the data.
        (
            "POST",
            "delete_series",
            vec![("match[]", "{nope=\"\"}"), ("start", "10"), ("end", "20")],
        ),
        ("POST", "clean_tombstones", vec![]),
        ("PUT", "clean_tombstones", vec![]),
    ];
    for (method, endpoint, params) in &cases {
        let path = format!("/api/v1/admin/tsdb/{endpoint}");
        let want = send(method, &format!("{prom_url}{path}"), params);
        let got = send(method, &format!("{ts_url}{path}"), params);
        assert_eq!(got, want, "{method} {path} {params:?}");
    }
    // A selector with a syntax error: both answer 400 with the parameter named; the
    // parser's message (Prometheus adds `line:col: parse error:`) is the shared selector
    // parser's business, checked for `/api/v1/series` elsewhere.
    let bad = [("match[]", "admin_del{")];
    for base in [&prom_url, &ts_url] {
        let (status, body) = send(
            "POST",
            &format!("{base}/api/v1/admin/tsdb/delete_series"),
            &bad,
        );
        assert_eq!(status, 400, "{base}: {body}");
        assert!(
            body.contains(r#""errorType":"bad_data","error":"invalid parameter \"match[]\": "#),
            "{base}: {body}"
        );
    }
    // Prometheus 2.42 keeps listing a head series whose samples are all deleted under
    // `/api/v1/series` (its series-only lookups skip the tombstone check) until the head
    // is compacted; Tianshu drops it at once, as every select does.
    let prom_series = series_of(&prom_url);
    let live: Vec<serde_json::Value> = prom_series
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["job"] != "a")
        .cloned()
        .collect();
    assert_eq!(
        prom_series.as_array().map(Vec::len),
        Some(3),
        "{prom_series}"
    );
    assert_eq!(series_of(&ts_url), serde_json::Value::Array(live));
    let q = "count_over_time(admin_del[5m])";
    let at = t0 + 1_000;
    let want = query_instant(&prom_url, q, at)["result"].clone();
    let got = query_instant(&ts_url, q, at)["result"].clone();
    assert_eq!(got, want);
    assert_eq!(want.as_array().map(Vec::len), Some(2), "{want}");

    // An answered delete survives kill -9: the WAL replay deletes the samples again.
    let before = series_of(&ts_url);
    ts.kill9();
    ts.restart();
    assert_eq!(series_of(&ts_url), before);
    assert_eq!(query_instant(&ts_url, q, at)["result"], want);
}
