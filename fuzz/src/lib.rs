//! Fuzz targets live in `fuzz_targets/`; this library only anchors the package.
