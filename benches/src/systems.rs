//! Starting and stopping the three databases: fresh data directory, free loopback port,
//! logs to a file, readiness by HTTP, SIGTERM to stop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http;

pub const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";
pub const VICTORIA_METRICS_BIN: &str = "/usr/bin/victoria-metrics";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum System {
    Tianshu,
    Prometheus,
    VictoriaMetrics,
}

impl System {
    /// Prometheus runs first: its answers are the reference the others are checked against
    /// before their queries are timed.
    pub const ALL: [System; 3] = [System::Prometheus, System::Tianshu, System::VictoriaMetrics];

    pub fn name(self) -> &'static str {
        match self {
            System::Tianshu => "Tianshu",
            System::Prometheus => "Prometheus",
            System::VictoriaMetrics => "VictoriaMetrics",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            System::Tianshu => "tianshu",
            System::Prometheus => "prometheus",
            System::VictoriaMetrics => "victoria-metrics",
        }
    }
}

/// A running server. Dropping it kills the process if `stop` was not called.
pub struct Server {
    pub system: System,
    pub base: String,
    pub data_dir: PathBuf,
    child: Option<Child>,
    pid: u32,
}

/// Checks that the peers' binaries exist, with the remedy when they do not.
pub fn check_peers() -> Result<(), String> {
    let missing: Vec<&str> = [PROMETHEUS_BIN, VICTORIA_METRICS_BIN]
        .into_iter()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} missing: the side-by-side benchmark needs the Debian packages prometheus and \
             victoria-metrics; run benches/install-deps",
            missing.join(" and ")
        ))
    }
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh (emptied) data directory for `system` under `work`, and a free local address.
pub fn fresh_data_dir_and_addr(work: &Path, system: System) -> Result<(PathBuf, String), String> {
    let data_dir = work.join(format!("{}-data", system.slug()));
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| format!("{data_dir:?}: {e}"))?;
    }
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{data_dir:?}: {e}"))?;
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    Ok((data_dir, format!("127.0.0.1:{port}")))
}

/// Starts `cmd` with stdout and stderr in `<logs>/<system>.log`; returns the child and
/// the log's path.
pub fn spawn_logged(
    cmd: &mut Command,
    system: System,
    logs: &Path,
) -> Result<(Child, PathBuf), String> {
    std::fs::create_dir_all(logs).map_err(|e| format!("{logs:?}: {e}"))?;
    let log_path = logs.join(format!("{}.log", system.slug()));
    let log = File::create(&log_path).map_err(|e| format!("{log_path:?}: {e}"))?;
    let log2 = log.try_clone().map_err(|e| format!("{log_path:?}: {e}"))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .map_err(|e| format!("starting {}: {e}", system.name()))?;
    Ok((child, log_path))
}

/// Polls `system`'s readiness endpoint at `base` until it answers 200, failing early if
/// `child` exits and after `timeout`; errors point at the `log`.
pub fn wait_ready(
    system: System,
    base: &str,
    mut child: Option<&mut Child>,
    timeout: Duration,
    log: &Path,
) -> Result<(), String> {
    let path = match system {
        System::VictoriaMetrics => "/health",
        _ => "/-/ready",
    };
    let agent = http::agent(Duration::from_secs(2));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(child) = child.as_deref_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{} exited during start-up ({status}); see {log:?}",
                    system.name()
                ));
            }
        }
        if let Ok((200, _)) = http::get(&agent, &format!("{base}{path}"), &[]) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{} not ready after {timeout:?}; see {log:?}",
        system.name()
    ))
}

impl Server {
    /// Starts `system` with a fresh data directory under `work` and waits until it is ready.
    pub fn start(
        system: System,
        tianshu_bin: &Path,
        tianshu_fsync: &str,
        work: &Path,
        logs: &Path,
    ) -> Result<Server, String> {
        let (data_dir, addr) = fresh_data_dir_and_addr(work, system)?;
        let mut cmd = match system {
            System::Tianshu => {
                let mut c = Command::new(tianshu_bin);
                c.arg("--listen")
                    .arg(&addr)
                    .arg("--data-dir")
                    .arg(&data_dir)
                    .arg("--wal.fsync")
                    .arg(tianshu_fsync)
                    // For the disk figure: the same admin snapshot as Prometheus's.
                    .arg("--web.enable-admin-api")
                    .env("RUST_LOG", "warn");
                c
            }
            System::Prometheus => {
                // No scrape jobs: everything it stores comes from the benchmark's writes.
                let config = work.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 1m\n")
                    .map_err(|e| format!("{config:?}: {e}"))?;
                let mut c = Command::new(PROMETHEUS_BIN);
                c.arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data_dir.display()))
                    .arg(format!("--web.listen-address={addr}"))
                    .arg("--web.enable-remote-write-receiver")
                    .arg("--web.enable-admin-api")
                    .arg("--log.level=warn");
                c
            }
            System::VictoriaMetrics => {
                let mut c = Command::new(VICTORIA_METRICS_BIN);
                c.arg(format!("-storageDataPath={}", data_dir.display()))
                    .arg(format!("-httpListenAddr={addr}"))
                    // By default the newest 30 s are hidden from queries and responses are
                    // cached; both would hide the freshly written data being measured.
                    .arg("-search.latencyOffset=0s")
                    .arg("-search.disableCache")
                    .arg("-retentionPeriod=100y")
                    .arg("-loggerLevel=WARN");
                c
            }
        };
        let (child, log_path) = spawn_logged(&mut cmd, system, logs)?;
        let pid = child.id();
        let mut server = Server {
            system,
            base: format!("http://{addr}"),
            data_dir,
            child: Some(child),
            pid,
        };
        server.wait_ready(Duration::from_secs(60), &log_path)?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn wait_ready(&mut self, timeout: Duration, log: &Path) -> Result<(), String> {
        let child = self.child.as_mut();
        wait_ready(self.system, &self.base, child, timeout, log)
    }

    /// Sends SIGTERM and waits for a clean exit (killing after `grace`).
    pub fn stop(&mut self, grace: Duration) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{} did not exit within {grace:?} of SIGTERM; killed",
                        self.system.name()
                    ));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Builds the `tianshu` binary (release for measured runs, debug for smoke runs, which
/// assert no timing and reuse the test build) and returns its path. Cargo is always
/// asked, so a stale binary is never measured; when it is fresh that costs a second.
pub fn tianshu_binary(workspace: &Path, release: bool) -> Result<PathBuf, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let profile = if release { "release" } else { "debug" };
    let bin = target.join(profile).join("tianshu");
    let mut args = vec!["build", "--bin", "tianshu"];
    if release {
        args.push("--release");
    }
    eprintln!("building {bin:?} (cargo {})", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(&args)
        .current_dir(workspace)
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() && bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

/// The version a peer reports, for the report.
pub fn version(system: System, tianshu_bin: &Path) -> String {
    let (bin, arg) = match system {
        System::Tianshu => (tianshu_bin.to_path_buf(), "--version"),
        System::Prometheus => (PathBuf::from(PROMETHEUS_BIN), "--version"),
        System::VictoriaMetrics => (PathBuf::from(VICTORIA_METRICS_BIN), "-version"),
    };
    Command::new(bin)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}
