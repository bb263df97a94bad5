//! Command-line flags. Names follow Prometheus's (`--storage.*` → ours, dotted groups) so
//! that operators recognise them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tianshu_ingest::scrape::shard::Shard;
use tianshu_tsdb::FsyncPolicy;

/// Tianshu: a Prometheus-compatible time-series database for second-level monitoring.
///
/// With no subcommand, runs every role in one process on local disk: the remote-write
/// receiver, the storage engine and the PromQL engine with Prometheus's HTTP API.
#[derive(Parser, Debug, Clone)]
#[command(name = "tianshu", version, about, long_about)]
pub struct Args {
    /// Address to listen on for HTTP (remote write, queries, UI, /metrics).
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Directory holding the write-ahead log and data.
    #[arg(long = "data-dir", default_value = "./data", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// When the WAL is fsynced: `always` (before each write is acknowledged; concurrent
    /// writes share one fsync), `never` (left to the OS), or a duration such as `1s`
    /// (in the background at that interval). Every policy survives `kill -9`: a write is
    /// acknowledged only after it reached the OS. Only power loss needs `always`.
    #[arg(long = "wal.fsync", default_value = "1s", value_parser = parse_fsync, value_name = "POLICY")]
    pub wal_fsync: FsyncPolicy,

    /// Size at which a WAL segment file is closed and a new one started.
    #[arg(long = "wal.segment-size", default_value_t = 128 << 20, value_name = "BYTES")]
    pub wal_segment_size: u64,

    /// Samples up to this far behind their series' newest sample are accepted out of order
    /// (retries, replays, late agents); older ones get a 400. `0s` refuses every late sample.
    #[arg(long = "ooo-window", default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub ooo_window: Duration,

    /// Time range of the blocks the head is cut into (compacted blocks are multiples:
    /// 3× and 12× this).
    #[arg(long = "tsdb.block-duration", default_value = "2h", value_parser = parse_duration, value_name = "DURATION")]
    pub block_duration: Duration,

    /// Blocks older than this (behind the newest data) are deleted. `0s` keeps them by time.
    #[arg(long = "retention.time", default_value = "15d", value_parser = parse_duration, value_name = "DURATION")]
    pub retention_time: Duration,

    /// Oldest blocks are deleted while blocks and WAL take more than this, e.g. `512MB`,
    /// `20GB` (units are powers of 1024, as Prometheus's). Unlimited when not given.
    #[arg(long = "retention.size", value_parser = parse_size, value_name = "SIZE")]
    pub retention_size: Option<u64>,

    /// Largest remote-write request body accepted (compressed); larger ones get 413.
    #[arg(long = "ingest.max-request-bytes", default_value_t = 32 << 20, value_name = "BYTES")]
    pub ingest_max_request_bytes: usize,

    /// Accept UTF-8 metric and label names (Prometheus 3's scheme) instead of only the
    /// legacy `[a-zA-Z_:][a-zA-Z0-9_:]*` names.
    #[arg(long = "ingest.utf8-names")]
    pub ingest_utf8_names: bool,

    /// How far back an instant selector looks for the newest sample.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub query_lookback_delta: Duration,

    /// Longest a query may run before it is cancelled.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub query_timeout: Duration,

    /// Most samples a single query may hold in memory.
    #[arg(
        long = "query.max-samples",
        default_value_t = 50_000_000,
        value_name = "N"
    )]
    pub query_max_samples: usize,

    /// Most queries evaluated at once; further ones wait for a free slot, and the wait
    /// counts against their timeout. Also the number of entries of
    /// `<data-dir>/queries.active`.
    #[arg(
        long = "query.max-concurrency",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    pub query_max_concurrency: u32,

    /// Most series the selectors of one query may match together, counted from the index
    /// before any sample is read; a query over more fails at once with a 422. `0` means no
    /// limit, as in Prometheus, which has no such flag (VictoriaMetrics's
    /// `-search.maxUniqueTimeseries` is the model). `--query.max-samples` still bounds
    /// memory without it.
    #[arg(long = "query.max-series", default_value_t = 0, value_name = "N")]
    pub query_max_series: usize,

    /// Prometheus configuration file (`global`, `scrape_configs`): the targets Tianshu
    /// scrapes itself. Re-read on SIGHUP and, with `--web.enable-lifecycle`, on
    /// `POST /-/reload`; an invalid file is refused and the running one stays.
    #[arg(long = "config", visible_alias = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Serve `POST /-/reload` (and `PUT`), as Prometheus's flag of the same name.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Directory of dashboard files (`<id>.json`, schema in `heatmap-ui/README.md`);
    /// dashboards edited in the UI are saved there. Without it the UI shows the built-in
    /// dashboards read-only.
    #[arg(long = "dashboards-dir", value_name = "DIR")]
    pub dashboards_dir: Option<PathBuf>,

    /// How often Tianshu appends its own `/metrics` to its database (as
    /// `job="tianshu", instance="self"`), which the built-in overview dashboard shows.
    /// `0s` turns it off.
    #[arg(long = "self-scrape.interval", default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub self_scrape_interval: Duration,

    /// `job` label of the self-scraped series (VictoriaMetrics's `-selfScrapeJob`).
    #[arg(
        long = "self-scrape.job",
        default_value = "tianshu",
        value_name = "JOB"
    )]
    pub self_scrape_job: String,

    /// `instance` label of the self-scraped series (VictoriaMetrics's
    /// `-selfScrapeInstance`). Not the listen address, so that they stay apart from a
    /// Prometheus's scrapes of this server remote-written into it.
    #[arg(
        long = "self-scrape.instance",
        default_value = "self",
        value_name = "INSTANCE"
    )]
    pub self_scrape_instance: String,

    /// Serve `/api/v1/admin/tsdb/*` (snapshot), as Prometheus's flag of the same name.
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,

    /// Log filter, e.g. `info`, `debug`, or `tianshu_tsdb=debug,info`.
    #[arg(
        long = "log.level",
        default_value = "info",
        env = "TIANSHU_LOG",
        value_name = "FILTER",
        global = true
    )]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Roles run on their own, for scaling out.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// A stateless scraper: runs the configuration's scrape jobs (or its shard of their
    /// targets) and remote-writes the samples through a disk-backed queue. Holds no data
    /// beyond that queue; replicas can be added, killed and replaced freely.
    Scrape(ScrapeArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ScrapeArgs {
    /// Prometheus configuration file (`global`, `scrape_configs`). Re-read on SIGHUP and,
    /// with `--web.enable-lifecycle`, on `POST /-/reload`.
    #[arg(long = "config", visible_alias = "config.file", value_name = "FILE")]
    pub config_file: PathBuf,

    /// This replica's share of the targets, `INDEX/COUNT`: N replicas started with `0/N`
    /// … `N-1/N` split every job's targets by a hash of the target, with no coordination.
    #[arg(long, default_value = "0/1", value_name = "I/N")]
    pub shard: Shard,

    /// Where samples go: a remote-write endpoint (Tianshu's, Prometheus's, …).
    #[arg(long = "remote-write.url", value_name = "URL")]
    pub remote_write_url: String,

    /// Directory of the queue of samples not yet acknowledged by the receiver. Reusing it
    /// after a crash sends what was queued.
    #[arg(
        long = "queue-dir",
        default_value = "./scrape-queue",
        value_name = "DIR"
    )]
    pub queue_dir: PathBuf,

    /// Fsync the queue after each scrape: only power loss, not a crash, needs it.
    #[arg(long = "queue.fsync")]
    pub queue_fsync: bool,

    /// Address for `/metrics`, `/api/v1/targets`, `/-/reload`, `/-/healthy`.
    #[arg(long, default_value = "127.0.0.1:9091", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Serve `POST /-/reload` (and `PUT`), as Prometheus's flag of the same name.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
}

impl Args {
    /// The flags as Prometheus's `/api/v1/status/flags` lists them: name → value text.
    pub fn as_flag_map(&self) -> std::collections::BTreeMap<String, String> {
        let fsync = match self.wal_fsync {
            FsyncPolicy::Always => "always".to_string(),
            FsyncPolicy::Never => "never".to_string(),
            FsyncPolicy::Interval(d) => format_duration(d),
        };
        [
            ("listen", self.listen.to_string()),
            ("data-dir", self.data_dir.display().to_string()),
            ("wal.fsync", fsync),
            ("wal.segment-size", self.wal_segment_size.to_string()),
            (
                "ingest.max-request-bytes",
                self.ingest_max_request_bytes.to_string(),
            ),
            ("ingest.utf8-names", self.ingest_utf8_names.to_string()),
            ("ooo-window", format_duration(self.ooo_window)),
            ("tsdb.block-duration", format_duration(self.block_duration)),
            ("retention.time", format_duration(self.retention_time)),
            (
                "retention.size",
                self.retention_size
                    .map_or("0B".to_string(), |b| format!("{b}B")),
            ),
            (
                "query.lookback-delta",
                format_duration(self.query_lookback_delta),
            ),
            ("query.timeout", format_duration(self.query_timeout)),
            ("query.max-samples", self.query_max_samples.to_string()),
            (
                "query.max-concurrency",
                self.query_max_concurrency.to_string(),
            ),
            ("query.max-series", self.query_max_series.to_string()),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            (
                "config",
                self.config_file
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
            ),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            (
                "dashboards-dir",
                self.dashboards_dir
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
            ),
            (
                "self-scrape.interval",
                format_duration(self.self_scrape_interval),
            ),
            ("self-scrape.job", self.self_scrape_job.clone()),
            ("self-scrape.instance", self.self_scrape_instance.clone()),
            ("log.level", self.log_level.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    match s {
        "always" => Ok(FsyncPolicy::Always),
        "never" => Ok(FsyncPolicy::Never),
        other => match parse_duration(other)? {
            d if d.is_zero() => Err("fsync interval must be positive".into()),
            d => Ok(FsyncPolicy::Interval(d)),
        },
    }
}

/// Parses Prometheus's duration syntax (`1h30m`, `500ms`, `15s`), as its flags do.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    tianshu_query::http::params::parse_prometheus_duration(s)
        .and_then(|ns| u64::try_from(ns).ok())
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

/// Parses a byte size with Prometheus's units (`B`, `KB`, `MB`, `GB`, `TB`, `PB`, `EB`,
/// each 1024 times the one before), e.g. `512MB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    const UNITS: [(&str, u32); 7] = [
        ("EB", 6),
        ("PB", 5),
        ("TB", 4),
        ("GB", 3),
        ("MB", 2),
        ("KB", 1),
        ("B", 0),
    ];
    let bad = || format!("not a valid size: {s:?} (e.g. 512MB, 20GB)");
    let (num, pow) = UNITS
        .iter()
        .find_map(|(u, p)| s.strip_suffix(u).map(|n| (n, *p)))
        .ok_or_else(bad)?;
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(1024u64.pow(pow)).ok_or_else(bad)
}

/// Formats a duration as Prometheus does (`1h30m`, `5m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 31_536_000_000u64),
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_subcommand_takes_its_own_flags_and_the_global_log_level() {
        let a = Args::try_parse_from([
            "tianshu",
            "scrape",
            "--config",
            "p.yml",
            "--shard",
            "1/3",
            "--remote-write.url",
            "http://ingest:9090/api/v1/write",
            "--log.level",
            "debug",
        ])
        .unwrap();
        assert_eq!(a.log_level, "debug");
        let Some(Command::Scrape(s)) = a.command else {
            panic!("no scrape subcommand parsed");
        };
        assert_eq!(s.shard, Shard::new(1, 3).unwrap());
        assert_eq!(s.config_file, PathBuf::from("p.yml"));
        assert_eq!(s.listen.to_string(), "127.0.0.1:9091");
        assert!(!s.queue_fsync);
        // The receiver and the configuration are required; a bad shard is refused.
        assert!(Args::try_parse_from(["tianshu", "scrape", "--config", "p.yml"]).is_err());
        assert!(Args::try_parse_from([
            "tianshu",
            "scrape",
            "--config",
            "p.yml",
            "--remote-write.url",
            "http://x/api/v1/write",
            "--shard",
            "3/3"
        ])
        .is_err());
        // Without a subcommand, the single-node server.
        assert!(Args::try_parse_from(["tianshu"]).unwrap().command.is_none());
    }

    #[test]
    fn durations_parse_like_prometheus() {
        let ok = [
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("1s500ms", 1_500),
            ("2d", 172_800_000),
        ];
        for (s, ms) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
            assert_eq!(format_duration(Duration::from_millis(ms)), s);
        }
        for bad in ["", "5", "m", "1m1h", "1.5s", "-1s", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn sizes_use_powers_of_1024() {
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("1GB"), Ok(1 << 30));
        assert_eq!(parse_size("100B"), Ok(100));
        for bad in ["", "MB", "1.5GB", "10", "-1GB", "99999999999EB"] {
            assert!(parse_size(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn query_limits_have_their_defaults_and_refuse_zero_slots() {
        let a = Args::try_parse_from(["tianshu"]).expect("defaults parse");
        assert_eq!(a.query_max_concurrency, 20, "Prometheus's default");
        assert_eq!(a.query_max_series, 0, "no limit unless asked");
        let flags = a.as_flag_map();
        assert_eq!(flags["query.max-concurrency"], "20");
        assert_eq!(flags["query.max-series"], "0");
        let a = Args::try_parse_from([
            "tianshu",
            "--query.max-concurrency",
            "3",
            "--query.max-series",
            "1000",
        ])
        .expect("parse");
        assert_eq!((a.query_max_concurrency, a.query_max_series), (3, 1000));
        // No slot at all would queue every query until its timeout.
        assert!(Args::try_parse_from(["tianshu", "--query.max-concurrency", "0"]).is_err());
    }

    #[test]
    fn self_scrape_labels_default_to_job_tianshu_instance_self() {
        let a = Args::try_parse_from(["tianshu"]).expect("defaults parse");
        assert_eq!(
            (a.self_scrape_job.as_str(), a.self_scrape_instance.as_str()),
            ("tianshu", "self")
        );
        let a = Args::try_parse_from([
            "tianshu",
            "--self-scrape.job",
            "tsdb",
            "--self-scrape.instance",
            "replica-2",
        ])
        .expect("parse");
        assert_eq!(a.as_flag_map()["self-scrape.instance"], "replica-2");
        assert_eq!(a.self_scrape_job, "tsdb");
    }

    #[test]
    fn fsync_policies() {
        assert_eq!(parse_fsync("always"), Ok(FsyncPolicy::Always));
        assert_eq!(parse_fsync("never"), Ok(FsyncPolicy::Never));
        assert_eq!(
            parse_fsync("250ms"),
            Ok(FsyncPolicy::Interval(Duration::from_millis(250)))
        );
        assert!(parse_fsync("0s").is_err());
        assert!(parse_fsync("sometimes").is_err());
    }
}
