//! Readers for the shared MLow reference dumps used by the synthesis tests (host only).

extern crate std;

use std::fs;
use std::string::String;
use std::vec::Vec;

/// Parses a shared JSON vector file, or `None` after the testkit's loud skip notice.
pub(crate) fn json(test: &str, rel: &str) -> Option<serde_json::Value> {
    let path = wacall_testkit::shared_file(test, rel)?;
    let text = fs::read_to_string(&path).expect("read vector file");
    Some(serde_json::from_str(&text).expect("vector file is JSON"))
}

/// An `i64` field of a JSON object.
pub(crate) fn int(v: &serde_json::Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("field {key} is an integer"))
}

/// An `f32` field of a JSON object (stored as a double holding an f32 value).
pub(crate) fn float(v: &serde_json::Value, key: &str) -> f32 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("field {key} is a number")) as f32
}

/// An array of `f32` in a JSON object.
pub(crate) fn floats(v: &serde_json::Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("field {key} is an array"))
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Formats a measured error for the test log.
pub(crate) fn report(test: &str, what: &str, err: f32) -> String {
    let line = std::format!("{test}: {what} = {err:.3e}");
    std::eprintln!("{line}");
    line
}
