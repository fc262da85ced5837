//! `cargo run -p wacall-mlow-tablegen [SEED_DIR]`: regenerate `core/src/mlow/tables/{lsf,pitch,cc}.rs`
//! from the seeds (default: the shared vectors' `mlow/` directory beside the workspace).

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seeds = std::env::args_os().nth(1).map_or_else(
        || {
            std::env::var_os("WACALL_SHARED_VECTORS")
                .map_or_else(|| root.join("../shared/vectors"), PathBuf::from)
                .join("mlow")
        },
        PathBuf::from,
    );
    let out = root.join("core/src/mlow/tables");
    match wacall_mlow_tablegen::generate(&seeds) {
        Ok(files) => {
            for (name, text) in files {
                std::fs::write(out.join(name), text).expect("write table file");
                println!("wrote {name}");
            }
        }
        Err(e) => {
            eprintln!("tablegen: {e}");
            std::process::exit(1);
        }
    }
}
