//! Runs every known-answer suite of `wacall_core::kat::SUITES` on the host, against the same
//! vector files the QEMU Cortex-M4 runner embeds.

#[test]
fn every_known_answer_suite_passes() {
    let mut failures = Vec::new();
    for suite in wacall_core::kat::SUITES {
        match wacall_testkit::run_suite(suite) {
            Ok(true) => eprintln!("kat {} ... ok", suite.name),
            Ok(false) => {}
            Err(f) => {
                eprintln!("kat {} ... FAILED at {f}", suite.name);
                failures.push(suite.name);
            }
        }
    }
    assert!(failures.is_empty(), "failed suites: {failures:?}");
}

#[test]
fn every_suite_file_is_embedded_for_qemu() {
    let list = std::fs::read_to_string(
        wacall_testkit::workspace_root().join("host-embedded/qemu/vectors.list"),
    )
    .expect("host-embedded/qemu/vectors.list");
    for suite in wacall_core::kat::SUITES {
        assert!(
            list.lines().any(|l| l.trim() == suite.file),
            "{} is not listed in host-embedded/qemu/vectors.list",
            suite.file
        );
    }
}
