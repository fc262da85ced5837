//! Places `memory.x` for cortex-m-rt and turns every vector file named in `vectors.list` into a
//! static table of flattened leaves (the same flattening the host tests use), so the no_std
//! runner can answer `kat::Vectors` look-ups without a JSON parser.

use std::fmt::Write as _;
use std::path::PathBuf;

use wacall_testkit::{JsonVectors, Leaf};

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=vectors.list");
    println!("cargo:rerun-if-env-changed=WACALL_SHARED_VECTORS");
    println!("cargo:rerun-if-env-changed=CI");

    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let list = std::fs::read_to_string("vectors.list").unwrap();
    let mut code = String::from("pub static FILES: &[(&str, &[(&str, Value<'static>)])] = &[\n");
    for name in list.lines().map(str::trim) {
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        let path = if let Some(rel) = name.strip_prefix("own:") {
            wacall_testkit::own_vectors().join(rel)
        } else if let Some(rel) = name.strip_prefix("shared:") {
            wacall_testkit::shared_vectors_location().join(rel)
        } else {
            panic!("vectors.list: {name:?} must start with own: or shared:");
        };
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            if ci {
                panic!("{name}: {} is missing (CI=true)", path.display());
            }
            println!(
                "cargo:warning=SKIPPING {name}: {} not found",
                path.display()
            );
            continue;
        }
        let vectors = JsonVectors::load(&path).unwrap();
        writeln!(code, "    ({name:?}, &[").unwrap();
        for (key, leaf) in vectors.leaves() {
            let value = match leaf {
                Leaf::Text(s) => format!("Value::Text({s:?})"),
                Leaf::Int(i) => format!("Value::Int({i})"),
                Leaf::Float(f) => format!("Value::Float({f:?})"),
                Leaf::Bool(b) => format!("Value::Bool({b})"),
            };
            writeln!(code, "        ({key:?}, {value}),").unwrap();
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    std::fs::write(out.join("vectors.rs"), code).unwrap();
}
