//! The side-by-side harness in smoke mode (50 series × 60 s against real Prometheus and
//! VictoriaMetrics): every step runs and the answers agree. No timing is asserted.
//!
//! Needs the Debian packages prometheus and victoria-metrics (`benches/install-deps`);
//! without them this test fails rather than skips, so CI cannot pass without the peers.

use std::path::PathBuf;

use tianshu_bench::run::{run, write_outputs, Config};
use tianshu_bench::systems::{check_peers, System};

#[test]
fn smoke_side_by_side() {
    if let Err(e) = check_peers() {
        panic!("{e}");
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ lies in the workspace")
        .to_path_buf();
    let out = tempfile::tempdir().expect("a temporary directory");
    let cfg = Config::smoke(out.path().to_path_buf(), workspace);
    let report = run(&cfg).unwrap_or_else(|e| panic!("smoke run failed: {e}"));
    write_outputs(&report, out.path()).expect("writing the report");
    let md = report.markdown();
    println!("{md}");

    assert!(
        report.problems.is_empty(),
        "problems:\n{}",
        report.problems.join("\n")
    );
    assert_eq!(report.systems.len(), 3);
    for system in System::ALL {
        let r = report.get(system).expect("every system ran");
        assert_eq!(r.ingest.failed_requests, 0, "{system:?}");
        assert_eq!(r.ingest.samples, report.params.samples, "{system:?}");
        assert!(
            r.queries.iter().all(|q| q.series > 0),
            "{system:?} returned an empty answer"
        );
        assert_eq!(r.freshness_ms.len(), cfg.freshness_probes, "{system:?}");
        assert!(r.bytes_per_sample > 0.0, "{system:?}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("report.json")).expect("report.json written"),
    )
    .expect("report.json is JSON");
    assert_eq!(json["systems"].as_array().map(Vec::len), Some(3));
    assert!(md.contains("Tianshu / VictoriaMetrics"));
}
