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

/// Reads a shared binary vector file, or `None` after the testkit's loud skip notice.
pub(crate) fn raw(test: &str, rel: &str) -> Option<Vec<u8>> {
    let path = wacall_testkit::shared_file(test, rel)?;
    Some(fs::read(&path).expect("read vector file"))
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
/// A little-endian cursor over a `.raw` dump (mlow.md §4 layouts).
pub(crate) struct Raw<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Raw<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn word(&mut self) -> [u8; 4] {
        let w = self.bytes[self.at..self.at + 4]
            .try_into()
            .expect("four bytes");
        self.at += 4;
        w
    }

    pub(crate) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.word())
    }

    pub(crate) fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.word())
    }

    pub(crate) fn f32s<const N: usize>(&mut self) -> [f32; N] {
        core::array::from_fn(|_| self.f32())
    }

    pub(crate) fn f32_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }

    pub(crate) fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}
