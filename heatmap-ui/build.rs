//! Builds the front end (`web/`) with npm into `OUT_DIR/dist`, which `src/assets.rs`
//! embeds. Runs only when a file under `web/` that the build reads has changed, so that
//! incremental Rust builds do not pay for npm. The install runs only when `node_modules`
//! is missing or older than `package-lock.json`, as `npm install --no-save`: it installs
//! the locked versions like `npm ci`, but accepts a lock file that records only the
//! platform packages (rollup's, esbuild's) of the machine that wrote it, which `npm ci`
//! refuses, and it leaves `package-lock.json` untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Inputs of the front-end build; a change to any of them reruns this script.
const INPUTS: &[&str] = &[
    "web/package.json",
    "web/package-lock.json",
    "web/index.html",
    "web/vite.config.ts",
    "web/tsconfig.json",
    "web/src",
];

fn main() {
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("dist");

    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".to_string());
    if Command::new(&npm).arg("--version").output().is_err() {
        fail(&format!(
            "`{npm}` was not found. The dashboards' front end is built with Node.js 20+ and npm: \
             install them (e.g. `apt-get install nodejs npm`) or point NPM at an npm binary."
        ));
    }
    if needs_install(&web) {
        run(
            &npm,
            &["install", "--no-save", "--no-audit", "--no-fund"],
            &web,
        );
    }
    let out_arg = out.display().to_string();
    run(
        &npm,
        &[
            "run",
            "build",
            "--",
            "--outDir",
            &out_arg,
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
        &web,
    );
}

/// `node_modules` is missing, or `package-lock.json` changed after the last install (npm
/// writes `node_modules/.package-lock.json` on every install).
fn needs_install(web: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(web.join("node_modules/.package-lock.json")),
        modified(web.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    }
}

fn run(npm: &str, args: &[&str], dir: &Path) {
    let status = Command::new(npm).args(args).current_dir(dir).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "`npm {}` in {} failed: {s}",
            args.join(" "),
            dir.display()
        )),
        Err(e) => fail(&format!("cannot run `npm {}`: {e}", args.join(" "))),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: heatmap-ui front end: {msg}");
    std::process::exit(1);
}
