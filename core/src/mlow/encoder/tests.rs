use super::*;

/// The state size the report quotes; a change here should update it.
#[test]
fn state_size() {
    assert_eq!(Encoder::STATE_BYTES, 80_840);
}
