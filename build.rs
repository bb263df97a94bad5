//! Records what `/api/v1/status/buildinfo` reports: git revision and branch, build date,
//! and the compiler. Each falls back to "unknown" when the tool is not there (a source
//! tarball, a sandbox without git).

use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let vars = [
        ("TIANSHU_GIT_REVISION", run("git", &["rev-parse", "HEAD"])),
        (
            "TIANSHU_GIT_BRANCH",
            run("git", &["rev-parse", "--abbrev-ref", "HEAD"]),
        ),
        // Prometheus's format: 20060102-15:04:05.
        (
            "TIANSHU_BUILD_DATE",
            run("date", &["-u", "+%Y%m%d-%H:%M:%S"]),
        ),
        ("TIANSHU_RUSTC_VERSION", run(&rustc, &["--version"])),
    ];
    for (k, v) in vars {
        println!(
            "cargo:rustc-env={k}={}",
            v.unwrap_or_else(|| "unknown".into())
        );
    }
    // Rebuild when HEAD moves, not on every source change.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
