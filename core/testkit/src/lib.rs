//! Test support shared by every wacall crate's tests and tools.
//!
//! - [`own_vectors`]: the project's own `vectors/` directory.
//! - [`shared_vectors`]: the shared golden vectors, found through `$WACALL_SHARED_VECTORS`, else
//!   `../shared/vectors` beside the workspace. When they are absent a test must not quietly pass:
//!   under `CI=true` this panics (the test fails); elsewhere it prints one loud `SKIPPED` line and
//!   the caller returns early.
//! - [`JsonVectors`]: a JSON file flattened into the [`wacall_core::kat::Vectors`] view, and
//!   [`run_suite`] to run a known-answer suite against it.
//! - [`netsim`]: a deterministic network simulation (lossy, jittery links on a virtual clock).
//! - [`quality`]: speech quality measures (wideband PESQ, segmental SNR, correlation) and the
//!   speech fixtures.
//! - [`alloc_counter`]: a counting global allocator to assert zero allocations per packet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wacall_core::kat::{Failure, Suite, Value, Vectors};

pub mod alloc_counter;
pub mod netsim;
pub mod quality;

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("testkit lives two levels below the workspace root")
        .to_path_buf()
}

/// The project's own vector directory, `vectors/`.
pub fn own_vectors() -> PathBuf {
    workspace_root().join("vectors")
}

/// Where the shared vectors should be, whether or not they exist.
pub fn shared_vectors_location() -> PathBuf {
    match std::env::var_os("WACALL_SHARED_VECTORS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("..").join("shared").join("vectors"),
    }
}

/// The shared vector directory, or `None` after announcing a skip for `test`.
///
/// # Panics
/// When the directory is missing and `CI=true`: in CI a missing vector set is a failure.
pub fn shared_vectors(test: &str) -> Option<PathBuf> {
    let dir = shared_vectors_location();
    if dir.is_dir() {
        return Some(dir);
    }
    missing(test, &dir)
}

/// One file of the shared vectors (`rel` relative to the shared root), or `None` after announcing
/// a skip; panics under `CI=true` like [`shared_vectors`].
pub fn shared_file(test: &str, rel: &str) -> Option<PathBuf> {
    let path = shared_vectors(test)?.join(rel);
    if path.is_file() {
        return Some(path);
    }
    missing(test, &path)
}

fn missing(test: &str, path: &Path) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: shared vectors missing at {} (CI=true makes this a failure)",
            path.display()
        );
    }
    eprintln!(
        "!!!!! SKIPPED {test}: shared vectors not found at {} (set WACALL_SHARED_VECTORS) !!!!!",
        path.display()
    );
    None
}

/// A shared raw PCM file (16-bit little-endian mono, e.g. `mlow/synth_mic.raw`) as samples;
/// `None` after a skip notice, and a panic under `CI=true`, like [`shared_file`].
///
/// # Panics
/// If the file cannot be read.
pub fn shared_pcm(test: &str, rel: &str) -> Option<Vec<i16>> {
    let path = shared_file(test, rel)?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{test}: {}: {e}", path.display()));
    Some(
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
    )
}

/// [`shared_pcm`] cut into whole blocks of `N` samples (a trailing partial block is dropped).
pub fn shared_pcm_blocks<const N: usize>(test: &str, rel: &str) -> Option<Vec<[i16; N]>> {
    let pcm = shared_pcm(test, rel)?;
    Some(
        pcm.chunks_exact(N)
            .map(|c| c.try_into().expect("a whole block"))
            .collect(),
    )
}

/// A shared vector file holding a JSON array of hex strings (e.g. the MLow reference packets
/// `mlow/inbound_capture_frames.json`), decoded to bytes; `None` after a skip notice, and a panic
/// under `CI=true`, like [`shared_file`].
///
/// # Panics
/// If the file is not an array of hex strings.
pub fn shared_hex_array(test: &str, rel: &str) -> Option<Vec<Vec<u8>>> {
    let path = shared_file(test, rel)?;
    let vectors = JsonVectors::load(&path).unwrap_or_else(|e| panic!("{test}: {e}"));
    // A top-level array records its length at `#`.
    let n = wacall_core::kat::int(&vectors, "#").unwrap_or_else(|e| panic!("{test}: {e}"));
    Some(
        (0..n)
            .map(|i| {
                let at = i.to_string();
                let text = wacall_core::kat::text(&vectors, &at).unwrap_or_else(|e| panic!("{e}"));
                wacall_core::kat::decode_hex(text).unwrap_or_else(|| panic!("{rel}[{i}]: not hex"))
            })
            .collect(),
    )
}

/// Resolve a suite file name (`own:…` or `shared:…`) to a path; `None` after a skip notice.
pub fn suite_file(test: &str, file: &str) -> Option<PathBuf> {
    if let Some(rel) = file.strip_prefix("own:") {
        Some(own_vectors().join(rel))
    } else if let Some(rel) = file.strip_prefix("shared:") {
        shared_file(test, rel)
    } else {
        panic!("suite file {file:?} must start with own: or shared:")
    }
}

/// An owned leaf of a flattened JSON document.
#[derive(Clone, Debug, PartialEq)]
pub enum Leaf {
    /// A JSON string.
    Text(String),
    /// An integral JSON number.
    Int(i64),
    /// Any other JSON number.
    Float(f64),
    /// A JSON boolean.
    Bool(bool),
}

/// A JSON document flattened into dotted paths, as [`wacall_core::kat`] describes.
#[derive(Clone, Debug, Default)]
pub struct JsonVectors {
    leaves: BTreeMap<String, Leaf>,
}

impl JsonVectors {
    /// Read and flatten a JSON file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self::from_json(&json))
    }

    /// Flatten a parsed JSON value.
    pub fn from_json(json: &serde_json::Value) -> Self {
        let mut leaves = BTreeMap::new();
        flatten(String::new(), json, &mut leaves);
        JsonVectors { leaves }
    }

    /// Every leaf in path order (the QEMU build script embeds exactly this).
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &Leaf)> {
        self.leaves.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The flattening rule shared with the QEMU build script.
pub fn flatten(prefix: String, json: &serde_json::Value, out: &mut BTreeMap<String, Leaf>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match json {
        serde_json::Value::Null => {}
        serde_json::Value::Bool(b) => {
            out.insert(prefix, Leaf::Bool(*b));
        }
        serde_json::Value::Number(n) => {
            let leaf = match n.as_i64() {
                Some(i) => Leaf::Int(i),
                None => Leaf::Float(n.as_f64().unwrap_or(f64::NAN)),
            };
            out.insert(prefix, leaf);
        }
        serde_json::Value::String(s) => {
            out.insert(prefix, Leaf::Text(s.clone()));
        }
        serde_json::Value::Array(items) => {
            out.insert(join("#"), Leaf::Int(items.len() as i64));
            for (i, item) in items.iter().enumerate() {
                flatten(join(&i.to_string()), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(join(k), v, out);
            }
        }
    }
}

impl Vectors for JsonVectors {
    fn get(&self, path: &str) -> Option<Value<'_>> {
        Some(match self.leaves.get(path)? {
            Leaf::Text(s) => Value::Text(s),
            Leaf::Int(i) => Value::Int(*i),
            Leaf::Float(f) => Value::Float(*f),
            Leaf::Bool(b) => Value::Bool(*b),
        })
    }
}

/// Run one known-answer suite against its file. `Ok(false)` means it was skipped (shared vectors
/// absent outside CI).
pub fn run_suite(suite: &Suite) -> Result<bool, Failure> {
    let Some(path) = suite_file(suite.name, suite.file) else {
        return Ok(false);
    };
    let vectors = JsonVectors::load(&path).map_err(|e| Failure {
        at: e,
        what: "cannot load vector file",
    })?;
    (suite.run)(&vectors).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_numbers_arrays_and_records_lengths() {
        let json = serde_json::json!({"a": {"b": [1, 2.5, "x"], "c": true}, "n": null});
        let v = JsonVectors::from_json(&json);
        assert_eq!(v.get("a.b.#"), Some(Value::Int(3)));
        assert_eq!(v.get("a.b.0"), Some(Value::Int(1)));
        assert_eq!(v.get("a.b.1"), Some(Value::Float(2.5)));
        assert_eq!(v.get("a.b.2"), Some(Value::Text("x")));
        assert_eq!(v.get("a.c"), Some(Value::Bool(true)));
        assert_eq!(v.get("n"), None);
    }
}
