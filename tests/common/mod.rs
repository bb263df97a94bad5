//! Helpers shared by the end-to-end tests: running the `tianshu` binary and real
//! peers as child processes, talking HTTP to them, and encoding remote-write
//! requests.

// Every test binary compiles this module but uses only part of it.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const TIANSHU: &str = env!("CARGO_BIN_EXE_tianshu");

/// Debian's Prometheus 2.42, the reference peer.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// How long a process may take to become ready. Generous because CI has two
/// cores that may be busy compiling or running other tests.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// Remote-write 1.0 wire format, written from the protocol's .proto definition
// so that the tests do not depend on the code they test.

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// A series from `(name, value)` pairs, kept in the given order (tests of
/// label validation need unsorted and duplicate names).
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
    }
}

pub fn encode_write(req: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(req);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compression of a write request")
}

// ---------------------------------------------------------------------------
// Time and ports.

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Prometheus API time parameter (float seconds) for a millisecond timestamp.
pub fn api_time(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A loopback port that was free a moment ago. Chosen below Linux's ephemeral
/// range (32768+) so that outgoing connections of other tests running in
/// parallel cannot take it while a server restarts on it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() as u64 * 7919 + now_ms() as u64) % 10_000;
    let _ = NEXT.compare_exchange(0, seed as u16, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..10_000 {
        let port = 21_000 + NEXT.fetch_add(1, Ordering::SeqCst) % 11_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port found in 21000..32000");
}

// ---------------------------------------------------------------------------
// Child processes.

/// A child process whose stdout and stderr go to a log file that is printed
/// when a test fails. Killed on drop.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, program: &str, args: &[String], log_path: &Path) -> Proc {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .unwrap_or_else(|e| panic!("open log {}: {e}", log_path.display()));
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program} {args:?}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log_path: log_path.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("process is running").id()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Exit status if the process has exited on its own.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait up to `timeout` for a clean exit.
    pub fn sigterm(&mut self, timeout: Duration) -> ExitStatus {
        let mut c = self.child.take().expect("process is running");
        let status = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", c.id());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = c.try_wait().expect("wait for child") {
                return st;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "{} did not exit within {timeout:?} of SIGTERM\n{}",
                    self.name,
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail_file(&self.log_path, lines, &self.name)
    }

    /// Polls `url` until it answers 200; panics with the log if the process
    /// exits or the timeout passes first.
    pub fn wait_http_ok(&mut self, url: &str) {
        let agent = agent_with_timeout(Duration::from_secs(2));
        let start = Instant::now();
        loop {
            if let Some(st) = self.exited() {
                panic!(
                    "{} exited with {st} before {url} answered 200\n{}",
                    self.name,
                    self.log_tail(60)
                );
            }
            if let Ok(resp) = agent.get(url).call() {
                if resp.status().as_u16() == 200 {
                    return;
                }
            }
            if start.elapsed() > READY_TIMEOUT {
                panic!(
                    "{} did not answer 200 on {url} within {READY_TIMEOUT:?}\n{}",
                    self.name,
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(80));
        }
        self.kill9();
    }
}

pub fn tail_file(path: &Path, lines: usize, name: &str) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        // Logs can be large after a long run; the end is what matters.
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        text = String::from_utf8_lossy(&buf).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    format!(
        "----- last {} lines of {name} log ({}) -----\n{}\n----- end of {name} log -----",
        all.len() - from,
        path.display(),
        all[from..].join("\n")
    )
}

/// A running `tianshu` with its own data directory, restartable on the same
/// directory and port.
pub struct Tianshu {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    args: Vec<String>,
    // Owns the data directory and the log file; removed on drop.
    _tmp: tempfile::TempDir,
}

impl Tianshu {
    /// Starts on a free port with a fresh data directory; `extra` are more
    /// command-line flags. Returns once `/-/ready` answers 200.
    pub fn start(extra: &[&str]) -> Tianshu {
        let tmp = tempfile::Builder::new()
            .prefix("tianshu-test-")
            .tempdir()
            .expect("create temp dir");
        let data_dir = tmp.path().join("data");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut args = vec![
            "--listen".to_string(),
            addr.to_string(),
            "--data-dir".to_string(),
            data_dir.display().to_string(),
        ];
        // Tianshu's own metrics, appended every second at the present, would show up
        // beside the data a test compares with Prometheus, and move the head past the
        // historical samples a test writes. Tests that want them ask.
        if !extra
            .iter()
            .any(|a| a.starts_with("--self-scrape.interval"))
        {
            args.extend(["--self-scrape.interval".to_string(), "0s".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let log_path = tmp.path().join("tianshu.log");
        let mut proc = Proc::spawn("tianshu", TIANSHU, &args, &log_path);
        proc.wait_http_ok(&format!("http://{addr}/-/ready"));
        Tianshu {
            proc,
            addr,
            data_dir,
            args,
            _tmp: tmp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// Starts the binary again on the same port and data directory (after
    /// `kill9` or `sigterm`) and waits until it is ready.
    pub fn restart(&mut self) {
        assert!(!self.proc.is_running(), "restart of a running tianshu");
        let log_path = self.proc.log_path.clone();
        {
            use std::io::Write;
            let mut log = OpenOptions::new().append(true).open(&log_path).unwrap();
            let _ = writeln!(log, "===== test harness: restarting tianshu =====");
        }
        self.proc = Proc::spawn("tianshu", TIANSHU, &self.args, &log_path);
        self.proc
            .wait_http_ok(&format!("http://{}/-/ready", self.addr));
    }

    pub fn sigterm(&mut self) -> ExitStatus {
        self.proc.sigterm(Duration::from_secs(30))
    }
}

/// Starts Prometheus on `port` with `config` (YAML) as its configuration file and its data
/// in `dir`, plus the flags in `extra`. Returns once `/-/ready` answers 200, with its base
/// URL. The port is the caller's so that a configuration can name it (a self-scrape).
pub fn start_prometheus(dir: &Path, port: u16, config: &str, extra: &[&str]) -> (Proc, String) {
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config)
        .unwrap_or_else(|e| panic!("write {}: {e}", config_path.display()));
    let mut args = vec![
        format!("--config.file={}", config_path.display()),
        format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut prom = Proc::spawn("prometheus", PROMETHEUS, &args, &dir.join("prometheus.log"));
    let url = format!("http://127.0.0.1:{port}");
    prom.wait_http_ok(&format!("{url}/-/ready"));
    (prom, url)
}

pub fn require_binary(path: &str) {
    assert!(
        Path::new(path).is_file(),
        "{path} is missing: the end-to-end tests need the Debian packages prometheus and \
         prometheus-node-exporter; run scripts/install-test-deps"
    );
}

// ---------------------------------------------------------------------------
// HTTP.

pub fn agent_with_timeout(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

pub fn agent() -> ureq::Agent {
    agent_with_timeout(Duration::from_secs(60))
}

/// Status and body text of a response; bodies up to 1 GiB are read.
pub fn read_response(mut resp: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("reading body of a {status} response: {e}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub fn http_get(url: &str) -> (u16, String) {
    let resp = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    read_response(resp)
}

pub fn http_get_query(url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut req = agent().get(url);
    for (k, v) in params {
        req = req.query(*k, *v);
    }
    let resp = req
        .call()
        .unwrap_or_else(|e| panic!("GET {url} {params:?}: {e}"));
    read_response(resp)
}

pub fn http_post_form(url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let resp = agent()
        .post(url)
        .send_form(params.iter().copied())
        .unwrap_or_else(|e| panic!("POST {url} {params:?}: {e}"));
    read_response(resp)
}

/// Sends an already encoded body to `/api/v1/write` with the headers
/// Prometheus sends, `content_encoding` replacing `snappy` when given.
pub fn post_write_raw(
    agent: &ureq::Agent,
    base: &str,
    body: &[u8],
    content_encoding: &str,
) -> Result<(u16, String), ureq::Error> {
    let resp = agent
        .post(format!("{base}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", content_encoding)
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(body)?;
    Ok(read_response(resp))
}

pub fn remote_write(base: &str, req: &WriteRequest) -> (u16, String) {
    post_write_raw(&agent(), base, &encode_write(req), "snappy")
        .unwrap_or_else(|e| panic!("remote write to {base}: {e}"))
}

/// Parses a JSON body, panicking with the body when it is not JSON.
pub fn parse_json(what: &str, status: u16, body: &str) -> Value {
    serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: answer ({status}) is not JSON ({e}): {body}"))
}

/// GET an API endpoint; asserts 200 and `"status":"success"` and returns `data`.
pub fn api_get(base: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let (status, body) = http_get_query(&format!("{base}{path}"), params);
    let v = parse_json(&format!("GET {base}{path} {params:?}"), status, &body);
    assert!(
        status == 200 && v["status"] == "success",
        "GET {base}{path} {params:?}: expected 200 with status success, got {status}: {body}"
    );
    v["data"].clone()
}

pub fn query_instant(base: &str, query: &str, time_ms: i64) -> Value {
    api_get(
        base,
        "/api/v1/query",
        &[("query", query), ("time", &api_time(time_ms))],
    )
}

pub fn query_range(base: &str, query: &str, start_ms: i64, end_ms: i64, step_ms: i64) -> Value {
    api_get(
        base,
        "/api/v1/query_range",
        &[
            ("query", query),
            ("start", &api_time(start_ms)),
            ("end", &api_time(end_ms)),
            ("step", &api_time(step_ms)),
        ],
    )
}

/// A value of a Prometheus JSON sample: the API encodes floats as strings.
pub fn parse_sample_value(v: &Value) -> f64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("sample value {v} is not a string"));
    match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s
            .parse()
            .unwrap_or_else(|e| panic!("sample value {s:?} is not a float: {e}")),
    }
}

/// A sample timestamp (float seconds in JSON) in milliseconds.
pub fn parse_sample_time(v: &Value) -> i64 {
    let secs = v
        .as_f64()
        .unwrap_or_else(|| panic!("sample time {v} is not a number"));
    (secs * 1000.0).round() as i64
}

/// Raw `[ts, "value"]` pairs of the single series of a matrix result.
pub fn matrix_points(data: &Value) -> Vec<(i64, f64)> {
    data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .map(|p| (parse_sample_time(&p[0]), parse_sample_value(&p[1])))
        .collect()
}

/// Connects to `addr` with a read timeout, for hand-written HTTP requests.
pub fn raw_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}
