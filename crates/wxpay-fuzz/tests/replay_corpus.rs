//! Replays the kept fuzz corpus (`fuzz/regressions/<target>/`) through the same entry points
//! the libFuzzer targets call, on the stable toolchain: every input the fuzzer ever found
//! interesting, crashes included once fixed, stays a test.

use std::path::{Path, PathBuf};

use wxpay_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_kept_input_runs_without_a_panic() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let inputs = files_in(&fuzz_dir().join("regressions").join(name));
        assert!(!inputs.is_empty(), "{name}: no seed inputs kept");
        for path in inputs {
            let data = std::fs::read(&path).expect("readable input");
            target(&data);
            total += 1;
        }
    }
    println!("replayed {total} inputs over {} targets", TARGETS.len());
}

#[test]
fn every_target_has_a_libfuzzer_binary_and_every_corpus_a_target() {
    for (name, _) in TARGETS {
        let binary = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(binary.is_file(), "missing {}", binary.display());
        let text = std::fs::read_to_string(&binary).expect("target source");
        assert!(
            text.contains(&format!("wxpay_fuzz::{name}(")),
            "{} must call wxpay_fuzz::{name}",
            binary.display()
        );
    }
    for dir in std::fs::read_dir(fuzz_dir().join("regressions")).expect("regressions") {
        let dir = dir.expect("entry").file_name();
        let name = dir.to_string_lossy();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} belongs to no target"
        );
    }
}

#[test]
fn the_targets_reject_what_they_must() {
    // A DOCTYPE never parses, whatever follows it.
    wxpay_fuzz::v2_xml(b"<!DOCTYPE xml [<!ENTITY e \"x\">]><xml><a>&e;</a></xml>");
    // Arbitrary bytes, empty input and a huge run of one byte go through every target.
    for (_, target) in TARGETS {
        target(b"");
        target(&[0xff; 4096]);
        target(b"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}");
    }
}
