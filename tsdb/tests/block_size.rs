//! Bytes per sample of persisted blocks on a realistic 1 s workload, per chunk encoding
//! and chunk layout. Prints a table (run with `--nocapture`); asserts only that the packed
//! encoding beats XOR and that what is read back is what was written.
//!
//! Workload, generated deterministically: per target (host), one scrape per second with
//! a jitter of ±3 ms shared by all of the target's series, and
//! - 8 counters: busy and idle request counters, network byte counters, CPU seconds with
//!   two decimals, context switches;
//! - 6 gauges: available memory in pages, load average with two decimals, a temperature
//!   with one decimal, `up`, goroutines, resident memory;
//! - a request-duration histogram: 11 cumulative buckets, `_count` and `_sum` (the sum of
//!   float durations, which is no short decimal);
//! - 12 static or slow series: sizes, info metrics, pod phases, free space changing once a
//!   minute, allocated file descriptors changing every 20 s or so.
//!
//! `BLOCK_SIZE_TARGETS` (default 1) and `BLOCK_SIZE_HOURS` (default 1) scale it; the
//! figures worth quoting come from e.g. `BLOCK_SIZE_TARGETS=8 BLOCK_SIZE_HOURS=2`.

use std::path::Path;

use tianshu_tsdb::block::{
    write_block, Block, BlockWriterOptions, ChunkEncoding, InputChunk, Rechunk, SeriesChunks,
};
use tianshu_tsdb::chunk::XorChunk;
use tianshu_tsdb::{Labels, MatchOp, Matcher, Sample};

/// xorshift64*: deterministic and good enough for synthetic metrics.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Static,
}

struct Gen {
    kind: Kind,
    labels: Labels,
    samples: Vec<Sample>,
}

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

fn workload(targets: usize, seconds: usize) -> Vec<Gen> {
    let start = 1_732_233_600_000i64;
    let mut out = Vec::new();
    for t in 0..targets {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
        let inst = format!("host-{t:03}:9100");
        let ts: Vec<i64> = (0..seconds)
            .map(|i| start + i as i64 * 1000 + rng.range(-3, 3))
            .collect();
        let mut add = |kind: Kind, name: &str, extra: &[(&str, String)], vals: Vec<f64>| {
            let mut pairs = vec![
                ("__name__".to_string(), name.to_string()),
                ("instance".to_string(), inst.clone()),
                ("job".to_string(), "node".to_string()),
            ];
            pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
            out.push(Gen {
                kind,
                labels: Labels::from_pairs(pairs),
                samples: ts
                    .iter()
                    .zip(vals)
                    .map(|(&t, v)| Sample::new(t, v))
                    .collect(),
            });
        };
        let counter = |rng: &mut Rng, step: &mut dyn FnMut(&mut Rng) -> i64, scale: f64| {
            let mut acc = rng.below(1_000_000) as i64;
            (0..seconds)
                .map(|_| {
                    acc += step(rng);
                    acc as f64 / scale
                })
                .collect::<Vec<f64>>()
        };
        // Requests per second drive both the request counter and the histogram.
        let reqs: Vec<i64> = (0..seconds).map(|_| rng.range(50, 150)).collect();
        let mut total = 0i64;
        let ok: Vec<f64> = reqs
            .iter()
            .map(|r| {
                total += r;
                total as f64
            })
            .collect();
        add(
            Kind::Counter,
            "http_requests_total",
            &[("code", "200".into())],
            ok,
        );
        let v = counter(&mut rng, &mut |r| i64::from(r.below(50) == 0), 1.0);
        add(
            Kind::Counter,
            "http_requests_total",
            &[("code", "500".into())],
            v,
        );
        let v = counter(&mut rng, &mut |r| r.range(100_000, 200_000), 1.0);
        add(Kind::Counter, "node_network_receive_bytes_total", &[], v);
        let v = counter(&mut rng, &mut |r| r.range(20_000, 90_000), 1.0);
        add(Kind::Counter, "node_network_transmit_bytes_total", &[], v);
        let v = counter(&mut rng, &mut |r| r.range(90, 100), 100.0);
        add(
            Kind::Counter,
            "node_cpu_seconds_total",
            &[("mode", "idle".into())],
            v,
        );
        let v = counter(&mut rng, &mut |r| r.range(0, 10), 100.0);
        add(
            Kind::Counter,
            "node_cpu_seconds_total",
            &[("mode", "user".into())],
            v,
        );
        let v = counter(&mut rng, &mut |r| r.range(2_000, 3_000), 1.0);
        add(Kind::Counter, "node_context_switches_total", &[], v);
        let v = counter(&mut rng, &mut |r| i64::from(r.below(4) == 0), 100.0);
        add(Kind::Counter, "process_cpu_seconds_total", &[], v);

        let mut pages = 2_000_000i64;
        let v = (0..seconds)
            .map(|_| {
                pages += rng.range(-50, 50);
                (pages * 4096) as f64
            })
            .collect();
        add(Kind::Gauge, "node_memory_MemAvailable_bytes", &[], v);
        let mut load = 150i64;
        let v = (0..seconds)
            .map(|_| {
                load = (load + rng.range(-3, 3)).max(0);
                load as f64 / 100.0
            })
            .collect();
        add(Kind::Gauge, "node_load1", &[], v);
        let mut temp = 480i64;
        let v = (0..seconds)
            .map(|_| {
                if rng.below(10) == 0 {
                    temp += rng.range(-1, 1);
                }
                temp as f64 / 10.0
            })
            .collect();
        add(Kind::Gauge, "node_hwmon_temp_celsius", &[], v);
        add(Kind::Gauge, "up", &[], vec![1.0; seconds]);
        let mut g = 40i64;
        let v = (0..seconds)
            .map(|_| {
                g = (g + rng.range(-3, 3)).max(1);
                g as f64
            })
            .collect();
        add(Kind::Gauge, "go_goroutines", &[], v);
        let mut rss = 30_000i64;
        let v = (0..seconds)
            .map(|_| {
                if rng.below(30) == 0 {
                    rss += rng.range(-20, 40);
                }
                (rss * 4096) as f64
            })
            .collect();
        add(Kind::Gauge, "process_resident_memory_bytes", &[], v);

        // Series that rarely or never change, as most of an exporter's are.
        let constant = |v: f64| vec![v; seconds];
        add(
            Kind::Static,
            "node_filesystem_size_bytes",
            &[("mountpoint", "/".into())],
            constant(250_000_000_000.0),
        );
        let mut avail = 40_000_000i64;
        let v = (0..seconds)
            .map(|i| {
                if i % 60 == 0 {
                    avail -= rng.range(0, 200);
                }
                (avail * 4096) as f64
            })
            .collect();
        add(
            Kind::Static,
            "node_filesystem_avail_bytes",
            &[("mountpoint", "/".into())],
            v,
        );
        add(
            Kind::Static,
            "node_uname_info",
            &[("release", "6.1.0".into())],
            constant(1.0),
        );
        add(
            Kind::Static,
            "node_cpu_frequency_max_hertz",
            &[],
            constant(3.6e9),
        );
        add(Kind::Static, "node_boot_time_seconds", &[], constant(1.7e9));
        add(Kind::Static, "node_network_up", &[], constant(1.0));
        add(Kind::Static, "process_max_fds", &[], constant(1_048_576.0));
        for (phase, v) in [("Running", 1.0), ("Pending", 0.0), ("Failed", 0.0)] {
            add(
                Kind::Static,
                "kube_pod_status_phase",
                &[("phase", phase.into())],
                constant(v),
            );
        }
        let mut fds = 2_000i64;
        let v = (0..seconds)
            .map(|_| {
                if rng.below(20) == 0 {
                    fds += rng.range(-5, 5);
                }
                fds as f64
            })
            .collect();
        add(Kind::Static, "node_filefd_allocated", &[], v);

        let mut cum = [0i64; BUCKETS.len() + 1];
        let mut sum = 0.0f64;
        let mut buckets: Vec<Vec<f64>> = vec![Vec::with_capacity(seconds); BUCKETS.len() + 1];
        let mut sums = Vec::with_capacity(seconds);
        let mut counts = Vec::with_capacity(seconds);
        for &n in &reqs {
            for _ in 0..n {
                // Roughly log-normal latencies around 40 ms.
                let d = 0.04 * (4.0 * (rng.unit() - 0.5) + 2.0 * (rng.unit() - 0.5)).exp();
                sum += d;
                for (i, &le) in BUCKETS.iter().enumerate() {
                    if d <= le {
                        cum[i] += 1;
                    }
                }
                cum[BUCKETS.len()] += 1;
            }
            for (b, c) in buckets.iter_mut().zip(cum) {
                b.push(c as f64);
            }
            sums.push(sum);
            counts.push(cum[BUCKETS.len()] as f64);
        }
        for (i, b) in buckets.into_iter().enumerate() {
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |l| l.to_string());
            add(
                Kind::Histogram,
                "http_request_duration_seconds_bucket",
                &[("le", le)],
                b,
            );
        }
        add(
            Kind::Histogram,
            "http_request_duration_seconds_count",
            &[],
            counts,
        );
        add(
            Kind::Histogram,
            "http_request_duration_seconds_sum",
            &[],
            sums,
        );
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// The head's chunks: closed at 240 samples or a 2 h span.
fn head_chunks(samples: &[Sample]) -> Vec<InputChunk> {
    samples
        .chunks(240)
        .map(|p| {
            let mut c = XorChunk::new();
            for s in p {
                c.append(s.t, s.v);
            }
            InputChunk {
                min_t: p[0].t,
                max_t: p[p.len() - 1].t,
                data: c.into_bytes(),
            }
        })
        .collect()
}

struct Measured {
    block_bytes: u64,
    chunk_bytes: u64,
    samples: u64,
    dir: std::path::PathBuf,
}

fn measure(parent: &Path, gens: &[&Gen], o: &BlockWriterOptions) -> Measured {
    let series: Vec<SeriesChunks> = gens
        .iter()
        .map(|g| SeriesChunks {
            labels: g.labels.clone(),
            chunks: head_chunks(&g.samples),
        })
        .collect();
    let meta = write_block(parent, i64::MIN, i64::MAX, series, o);
    let meta = meta.unwrap_or_else(|e| panic!("write: {e}"));
    let dir = parent.join(&meta.ulid);
    let b = Block::open(&dir).unwrap_or_else(|e| panic!("open: {e}"));
    let chunk_bytes = std::fs::read_dir(dir.join("chunks"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Measured {
        block_bytes: b.size_bytes(),
        chunk_bytes,
        samples: meta.stats.num_samples,
        dir,
    }
}

/// Size of `file` compressed by the `zstd` command at `level`, if the tool is installed.
fn zstd_size(file: &Path, level: u32) -> Option<u64> {
    let out = std::process::Command::new("zstd")
        .arg(format!("-{level}"))
        .arg("-c")
        .arg("-q")
        .arg(file)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn block_bytes_per_sample_on_a_1s_workload() {
    let targets = env_usize("BLOCK_SIZE_TARGETS", 1);
    let seconds = env_usize("BLOCK_SIZE_HOURS", 1) * 3600;
    let gens = workload(targets, seconds);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let xor_head = BlockWriterOptions {
        encoding: ChunkEncoding::Xor,
        rechunk: None,
        ..BlockWriterOptions::default()
    };
    let packed_head = BlockWriterOptions {
        encoding: ChunkEncoding::Auto,
        rechunk: None,
        ..BlockWriterOptions::default()
    };
    let aligned = |encoding, minutes: i64| BlockWriterOptions {
        encoding,
        rechunk: Some(Rechunk {
            span_ms: minutes * 60_000,
            max_samples: XorChunk::MAX_SAMPLES,
        }),
        ..BlockWriterOptions::default()
    };
    let variants: Vec<(&str, BlockWriterOptions)> = vec![
        ("xor, head chunks (240)", xor_head),
        ("packed, head chunks (240)", packed_head),
        ("xor, 30 min aligned", aligned(ChunkEncoding::Xor, 30)),
        (
            "packed, 30 min aligned (default)",
            BlockWriterOptions::default(),
        ),
        ("packed, 2 h aligned", aligned(ChunkEncoding::Auto, 120)),
    ];
    let kinds: [(&str, &[Kind]); 6] = [
        (
            "all",
            &[Kind::Counter, Kind::Gauge, Kind::Histogram, Kind::Static],
        ),
        (
            "busy (no static)",
            &[Kind::Counter, Kind::Gauge, Kind::Histogram],
        ),
        ("counters", &[Kind::Counter]),
        ("gauges", &[Kind::Gauge]),
        ("histograms", &[Kind::Histogram]),
        ("static", &[Kind::Static]),
    ];
    println!(
        "\n{targets} targets, {} series, {seconds} s at 1 s: bytes/sample, whole block (chunks only)",
        gens.len()
    );
    print!("{:<34}", "layout");
    for (k, _) in &kinds {
        print!("{k:>20}");
    }
    println!();
    let mut totals = Vec::new();
    let mut dirs = Vec::new();
    for (name, o) in &variants {
        print!("{name:<34}");
        for (_, kind) in &kinds {
            let subset: Vec<&Gen> = gens.iter().filter(|g| kind.contains(&g.kind)).collect();
            let m = measure(tmp.path(), &subset, o);
            let per = m.block_bytes as f64 / m.samples as f64;
            let chunk_per = m.chunk_bytes as f64 / m.samples as f64;
            print!("{:>20}", format!("{per:.3} ({chunk_per:.3})"));
            if kind.len() == 4 {
                totals.push(per);
                dirs.push(m.dir);
            } else {
                let _ = std::fs::remove_dir_all(&m.dir);
            }
        }
        println!();
    }
    // Per-series breakdown of the first target, in its own block each (so without
    // timestamps shared across series), when asked for.
    if std::env::var("BLOCK_SIZE_PER_SERIES").is_ok() {
        let inst = gens[0].labels.get("instance").unwrap_or("").to_string();
        for g in gens
            .iter()
            .filter(|g| g.labels.get("instance") == Some(inst.as_str()))
        {
            let x = measure(tmp.path(), &[g], &variants[0].1);
            let p = measure(tmp.path(), &[g], &variants[3].1);
            println!(
                "{:<90} xor {:.3}  packed {:.3}",
                g.labels.to_string(),
                x.chunk_bytes as f64 / x.samples as f64,
                p.chunk_bytes as f64 / p.samples as f64
            );
        }
    }
    // A general-purpose compressor over whole segments, for comparison.
    for (i, (name, _)) in variants.iter().enumerate() {
        let seg = dirs[i].join("chunks").join("000001");
        let samples = gens.iter().map(|g| g.samples.len()).sum::<usize>() as f64;
        if let (Some(z3), Some(z19)) = (zstd_size(&seg, 3), zstd_size(&seg, 19)) {
            println!(
                "zstd over the segment of {name:<34} -3: {:.3}  -19: {:.3} bytes/sample (chunks only)",
                z3 as f64 / samples,
                z19 as f64 / samples
            );
        }
    }

    // Decoding speed of a full select (meaningful in a release build).
    for i in [0, 1, 3] {
        let b = Block::open(&dirs[i]).unwrap_or_else(|e| panic!("{e}"));
        let sel = [
            Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap_or_else(|e| panic!("{e}"))
        ];
        // The best of three runs: the first one also faults the mapped pages in.
        let mut ns = f64::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let n: usize = b
                .select(&sel, i64::MIN, i64::MAX)
                .map(|v| v.iter().map(|s| s.samples.len()).sum())
                .unwrap_or(0);
            ns = ns.min(started.elapsed().as_nanos() as f64 / n.max(1) as f64);
        }
        println!(
            "select of every sample, {:<34} {ns:.1} ns/sample",
            variants[i].0
        );
    }

    // Reading back the default layout gives what was written.
    let b = Block::open(&dirs[3]).unwrap_or_else(|e| panic!("{e}"));
    let sel = [Matcher::new(MatchOp::Equal, "job", "node").unwrap_or_else(|e| panic!("{e}"))];
    let got = b
        .select(&sel, i64::MIN, i64::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), gens.len());
    for (g, s) in gens.iter().zip(&got) {
        assert_eq!(g.labels, s.labels);
        let want: Vec<(i64, u64)> = g.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
        let have: Vec<(i64, u64)> = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
        assert!(want == have, "{} differs", g.labels);
    }
    // The packed layouts must beat XOR in the same layout.
    assert!(totals[1] < totals[0], "{totals:?}");
    assert!(totals[3] < totals[2], "{totals:?}");
}
