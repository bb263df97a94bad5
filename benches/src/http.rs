//! Thin blocking HTTP helpers over ureq: status codes are answers, not errors.

use std::time::Duration;

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> Result<(u16, String), String> {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .map_err(|e| format!("reading a {status} response: {e}"))?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

pub fn get(
    agent: &ureq::Agent,
    url: &str,
    params: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let mut req = agent.get(url);
    for (k, v) in params {
        req = req.query(*k, *v);
    }
    read(req.call().map_err(|e| format!("GET {url}: {e}"))?)
}

pub fn post_empty(agent: &ureq::Agent, url: &str) -> Result<(u16, String), String> {
    read(
        agent
            .post(url)
            .send_empty()
            .map_err(|e| format!("POST {url}: {e}"))?,
    )
}

/// One remote-write request with the headers Prometheus sends.
pub fn remote_write(agent: &ureq::Agent, base: &str, body: &[u8]) -> Result<(u16, String), String> {
    let resp = agent
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(body)
        .map_err(|e| format!("remote write to {base}: {e}"))?;
    read(resp)
}
