//! The fuzz targets of `fuzz/` (every parser of outside data): the committed corpus replayed through
//! the same entry points on every test run, and, where cargo-fuzz is installed (CI requires it), a
//! short coverage-guided run of each target.

use std::path::PathBuf;
use std::process::Command;

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 4] = [
    ("service_json", gameclips::fuzzing::service_json),
    ("retry_after", gameclips::fuzzing::retry_after),
    ("upload_uri", gameclips::fuzzing::upload_uri),
    ("journal_file", gameclips::fuzzing::journal_file),
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn the_committed_corpus_replays_through_every_target() {
    for (target, run) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            run(&std::fs::read(&path).unwrap());
            inputs += 1;
        }
        println!("{target}: {inputs} corpus inputs replayed");
        assert!(inputs >= 3, "{target} has a seed corpus");
    }
}

#[test]
fn every_fuzz_target_runs_briefly() {
    let installed = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        assert!(std::env::var_os("GAMECLIPS_REQUIRE_TOOLS").is_none(), "cargo-fuzz is required but not installed");
        eprintln!("skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)");
        return;
    }
    let seconds = std::env::var("GAMECLIPS_FUZZ_SECONDS").unwrap_or_else(|_| "15".into());
    for (target, _) in TARGETS {
        // New inputs go to a scratch dir; the committed corpus is read, never written.
        let scratch = tempfile::tempdir().unwrap();
        let run = Command::new("cargo")
            .current_dir(fuzz_dir())
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(scratch.path())
            .arg(fuzz_dir().join("corpus").join(target))
            .args(["--", &format!("-max_total_time={seconds}"), "-rss_limit_mb=2048", "-print_final_stats=1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let runs = stderr.lines().find(|l| l.starts_with("stat::number_of_executed_units")).unwrap_or_default();
        println!("{target}: {runs}");
        assert!(run.status.success(), "fuzzing {target} failed:\n{stderr}");
    }
}
