//! `/api/v1/query` and `/api/v1/query_range` through the router against a real `Db`: result
//! JSON for each value type, float formatting, GET/POST equivalence and every parameter
//! error Prometheus reports.

#[path = "http_support.rs"]
mod support;

use serde_json::json;
use support::{api, enc, form, get, post_form, T0};

/// `T0 + offset_ms` as the float seconds clients send.
fn secs(offset_ms: i64) -> String {
    format!("{}", (T0 + offset_ms) as f64 / 1000.0)
}

#[tokio::test]
async fn grafana_health_check_sequence() {
    let api = api();
    let r = get(&api, "/api/v1/query?query=1%2B1&time=1700000000.123").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"2"]}}"#
    );
    let j = get(&api, "/api/v1/status/buildinfo").await.json();
    assert_eq!(j["status"], "success");
    assert_eq!(j["data"]["version"], "0.1.0");
}

#[tokio::test]
async fn instant_vector_golden() {
    let api = api();
    let uri = format!(
        "/api/v1/query?query={}&time={}",
        enc("up{job=\"db\"}"),
        secs(60_000)
    );
    let r = get(&api, &uri).await;
    assert_eq!(
        r.body,
        concat!(
            r#"{"status":"success","data":{"resultType":"vector","result":["#,
            r#"{"metric":{"__name__":"up","instance":"c:9090","job":"db"},"value":[1700000060,"1"]}"#,
            r#"]}}"#
        )
    );
}

#[tokio::test]
async fn instant_time_accepts_rfc3339() {
    let api = api();
    let uri = format!(
        "/api/v1/query?query={}&time={}",
        enc("up{job=\"db\"}"),
        enc("2023-11-14T22:14:20.5Z")
    );
    let j = get(&api, &uri).await.json();
    assert_eq!(j["data"]["result"][0]["value"], json!([1700000060.5, "1"]));
}

#[tokio::test]
async fn range_matrix_golden() {
    let api = api();
    let uri = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=15s",
        enc("http_requests_total"),
        secs(0),
        secs(30_000)
    );
    let r = get(&api, &uri).await;
    assert_eq!(
        r.body,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"__name__":"http_requests_total","code":"200","job":"api"},"#,
            r#""values":[[1700000000,"0"],[1700000015,"10"],[1700000030,"20"]]}"#,
            r#"]}}"#
        )
    );
}

#[tokio::test]
async fn range_step_as_float_seconds_and_fractional_times() {
    let api = api();
    let uri = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=7.5",
        enc("up{job=\"db\"}"),
        "1700000000.25",
        "1700000015.25"
    );
    let j = get(&api, &uri).await.json();
    assert_eq!(
        j["data"]["result"][0]["values"],
        json!([
            [1700000000.25, "1"],
            [1700000007.75, "1"],
            [1700000015.25, "1"]
        ])
    );
}

#[tokio::test]
async fn string_and_scalar_results() {
    let api = api();
    let r = get(
        &api,
        &format!(
            "/api/v1/query?query={}&time=1435781451.781",
            enc("\"hello\"")
        ),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"string","result":[1435781451.781,"hello"]}}"#
    );
    // Scalars' and strings' timestamps are plain floats: no padding to three digits.
    let r = get(&api, "/api/v1/query?query=time()&time=1435781451.78").await;
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.78,"1435781451.78"]}}"#
    );
}

#[tokio::test]
async fn float_values_format_as_prometheus() {
    let api = api();
    // Sample values switch to exponent notation below 1e-6 and from 1e21 up; scalar
    // results never do (Prometheus marshals them through `strconv.FormatFloat(v, 'f')`).
    let max_f = format!("179769313486231570{}", "0".repeat(291));
    for (query, sample, scalar) in [
        ("0.1", "0.1", "0.1"),
        ("1e21", "1e+21", "1000000000000000000000"),
        ("1e20", "100000000000000000000", "100000000000000000000"),
        (
            "1.7976931348623157e308",
            "1.7976931348623157e+308",
            max_f.as_str(),
        ),
        ("-0", "-0", "-0"),
        ("NaN", "NaN", "NaN"),
        ("Inf", "+Inf", "+Inf"),
        ("-Inf", "-Inf", "-Inf"),
        ("0.0000001", "1e-07", "0.0000001"),
    ] {
        let r = get(
            &api,
            &format!("/api/v1/query?query={}&time=100", enc(query)),
        )
        .await;
        assert_eq!(
            r.body,
            format!(
                r#"{{"status":"success","data":{{"resultType":"scalar","result":[100,"{scalar}"]}}}}"#
            ),
            "scalar {query}"
        );
        let vq = format!("vector({query})");
        let r = get(&api, &format!("/api/v1/query?query={}&time=100", enc(&vq))).await;
        assert_eq!(
            r.body,
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[100,"{sample}"]}}]}}}}"#
            ),
            "{vq}"
        );
    }
}

#[tokio::test]
async fn get_and_form_post_agree() {
    let api = api();
    let t = secs(60_000);
    let params = [("query", "sum by (job) (up)"), ("time", t.as_str())];
    let g = get(&api, &format!("/api/v1/query?{}", form(&params))).await;
    let p = post_form(&api, "/api/v1/query", &form(&params)).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.body, p.body);

    let (s, e) = (secs(0), secs(60_000));
    let params = [
        ("query", "up"),
        ("start", s.as_str()),
        ("end", e.as_str()),
        ("step", "30s"),
    ];
    let g = get(&api, &format!("/api/v1/query_range?{}", form(&params))).await;
    let p = post_form(&api, "/api/v1/query_range", &form(&params)).await;
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.body, p.body);
    assert_eq!(g.json()["data"]["result"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn query_limit_truncates_with_warning() {
    let api = api();
    let r = get(
        &api,
        &format!("/api/v1/query?query=up&limit=1&time={}", secs(0)),
    )
    .await;
    let j = r.json();
    assert_eq!(j["data"]["result"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["warnings"], json!(["results truncated due to limit"]));
}

#[tokio::test]
async fn range_parameter_errors() {
    let api = api();
    let err = |uri: String| {
        let api = &api;
        async move { get(api, &uri).await.error(400, "bad_data") }
    };
    assert_eq!(
        err("/api/v1/query_range?query=up&end=10&step=1".into()).await,
        "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=10&step=1".into()).await,
        "invalid parameter \"end\": cannot parse \"\" to a valid timestamp"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=10&end=5&step=1".into()).await,
        "invalid parameter \"end\": end timestamp must not be before start time"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=1&end=5".into()).await,
        "invalid parameter \"step\": cannot parse \"\" to a valid duration"
    );
    for step in ["0", "-15", "0s", "NaN"] {
        assert_eq!(
            err(format!("/api/v1/query_range?query=up&start=1&end=5&step={step}")).await,
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
        );
    }
    assert_eq!(
        err("/api/v1/query_range?query=up&start=0&end=11001&step=1".into()).await,
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=0&end=11.001&step=1ms".into()).await,
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=1&end=5&step=1&timeout=soon".into()).await,
        "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration"
    );
    assert_eq!(
        err("/api/v1/query_range?query=up&start=1&end=5&step=1&lookback_delta=x".into()).await,
        "error parsing lookback delta duration: cannot parse \"x\" to a valid duration"
    );
}

#[tokio::test]
async fn eleven_thousand_points_are_allowed() {
    let api = api();
    let r = get(&api, "/api/v1/query_range?query=1&start=0&end=11000&step=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["data"]["result"][0]["values"]
            .as_array()
            .map(Vec::len),
        Some(11_001)
    );
}

#[tokio::test]
async fn instant_parameter_errors() {
    let api = api();
    let msg = get(&api, "/api/v1/query?query=up&time=abc")
        .await
        .error(400, "bad_data");
    assert_eq!(
        msg,
        "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"abc\" to a valid timestamp"
    );
    let msg = get(&api, "/api/v1/query?query=up&timeout=1x")
        .await
        .error(400, "bad_data");
    assert_eq!(
        msg,
        "invalid parameter \"timeout\": cannot parse \"1x\" to a valid duration"
    );
    let msg = get(&api, "/api/v1/query?query=up&limit=x")
        .await
        .error(400, "bad_data");
    assert_eq!(
        msg,
        "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"
    );
}

#[tokio::test]
async fn parse_errors_are_bad_data_on_the_query_parameter() {
    let api = api();
    for q in ["sum(", "up +", "", "rate(up)"] {
        let msg = get(&api, &format!("/api/v1/query?query={}&time=1", enc(q)))
            .await
            .error(400, "bad_data");
        assert!(
            msg.starts_with("invalid parameter \"query\": "),
            "{q}: {msg}"
        );
        let msg = get(
            &api,
            &format!("/api/v1/query_range?query={}&start=1&end=2&step=1", enc(q)),
        )
        .await
        .error(400, "bad_data");
        assert!(
            msg.starts_with("invalid parameter \"query\": "),
            "{q}: {msg}"
        );
    }
}

#[tokio::test]
async fn accepted_but_ignored_parameters() {
    let api = api();
    let r = get(
        &api,
        "/api/v1/query?query=1&time=5&stats=all&timeout=30s&lookback_delta=1m",
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[5,"1"]}}"#
    );
}

#[tokio::test]
async fn time_defaults_to_now() {
    let api = api();
    let j = get(&api, "/api/v1/query?query=time()").await.json();
    let t = j["data"]["result"][0].as_f64().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    assert!((now - t).abs() < 60.0, "time {t} vs now {now}");
}

#[tokio::test]
async fn evaluation_errors_keep_their_type() {
    let api = api();
    // Two `up` series share job="api": many-to-many matching fails while evaluating.
    let msg = get(
        &api,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("up + on(job) up"),
            secs(0)
        ),
    )
    .await
    .error(422, "execution");
    assert!(!msg.starts_with("invalid parameter"), "{msg}");

    let (s, e) = (secs(0), secs(300_000));
    let r = get(
        &api,
        &format!(
            "/api/v1/query_range?query={}&start={s}&end={e}&step=1&timeout=0",
            enc("up")
        ),
    )
    .await;
    r.error(503, "timeout");
}

#[tokio::test]
async fn queries_wait_for_a_free_evaluation_slot() {
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::Semaphore;

    let slots = Arc::new(Semaphore::new(0));
    let api = support::api_with(|s| s.query_slots = slots.clone());
    let waiting = tokio::time::timeout(
        Duration::from_millis(200),
        get(&api, "/api/v1/query?query=1&time=1"),
    )
    .await;
    assert!(waiting.is_err(), "query ran without a free slot");
    // Time spent queued counts against the query's timeout.
    let r = get(&api, "/api/v1/query?query=1&time=1&timeout=0.1").await;
    assert_eq!(r.error(503, "timeout"), "query timed out in query queue");
    // Metadata endpoints do not evaluate PromQL and are not held back.
    let r = get(&api, "/api/v1/labels").await;
    assert_eq!(r.status, 200);

    slots.add_permits(1);
    let done = tokio::time::timeout(
        Duration::from_secs(10),
        get(&api, "/api/v1/query?query=1&time=1"),
    )
    .await;
    assert!(done.is_ok(), "query did not run once a slot was free");
    // The slot is given back when evaluation ends.
    assert_eq!(slots.available_permits(), 1);
}

#[tokio::test]
async fn engine_annotations_are_passed_on() {
    let api = api();
    let r = get(
        &api,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("rate(up[5m])"),
            secs(100_000)
        ),
    )
    .await;
    let j = r.json();
    assert_eq!(j["status"], "success", "{}", r.body);
    let infos = j["infos"].as_array().cloned().unwrap_or_default();
    assert_eq!(infos.len(), 1, "{}", r.body);
    assert!(
        infos[0]
            .as_str()
            .is_some_and(|s| s.contains("metric might not be a counter")),
        "{}",
        r.body
    );
    assert!(j.get("warnings").is_none(), "{}", r.body);
}
