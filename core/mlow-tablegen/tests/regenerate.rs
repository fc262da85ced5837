//! The committed tables must be exactly what the generator makes from the shared seeds.

#[test]
fn committed_tables_match_regeneration() {
    let Some(lsf) = wacall_testkit::shared_file("mlow tables", "mlow/lsf_seed.bin") else {
        return;
    };
    let dir = lsf.parent().unwrap();
    let files = wacall_mlow_tablegen::generate(dir).expect("generate");
    let out = wacall_testkit::workspace_root().join("core/src/mlow/tables");
    for (name, text) in files {
        let committed = std::fs::read_to_string(out.join(name)).expect(name);
        assert!(
            committed == text,
            "core/src/mlow/tables/{name} differs from the generator output; \
             run `cargo run -p wacall-mlow-tablegen`"
        );
    }
}
