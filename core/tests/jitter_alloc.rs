//! The jitter buffer allocates nothing per packet: ten seconds of a jittery, lossy 60 ms stream
//! through insert and pop under the counting allocator.

use wacall_core::media::jitter::{JitterBuffer, Pop};
use wacall_core::time::Instant;
use wacall_testkit::alloc_counter::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn jitter_buffer_steady_state_does_not_allocate() {
    let mut jb = Box::new(JitterBuffer::<32, 512>::default());
    let payload = [0x50u8; 160];
    let ((played, concealed), stats) = alloc_counter::count(|| {
        let (mut played, mut concealed) = (0u32, 0u32);
        let mut pcm_left = 0u32;
        for tick in 0..500u64 {
            let now = Instant::from_millis(tick * 20);
            // One 60 ms packet every third tick, arrival stamps varying by 0..40 ms, every 7th
            // lost, sequence numbers crossing the wrap.
            if tick % 3 == 0 && (tick / 3) % 7 != 3 {
                let k = tick / 3;
                let arrive = Instant::from_millis(tick * 20 + (k * 13 % 3) * 20);
                let seq = (k as u16).wrapping_add(65_500);
                jb.insert(arrive, seq, (k as u32) * 960, 960, &payload)
                    .unwrap();
            }
            if pcm_left == 0 {
                pcm_left = match jb.pop(now) {
                    Pop::Frame(f) => {
                        played += 1;
                        f.samples_16k
                    }
                    Pop::Conceal { samples_16k, .. } => {
                        concealed += 1;
                        samples_16k
                    }
                    Pop::Wait => 320,
                };
            }
            pcm_left -= 320;
        }
        (played, concealed)
    });
    assert!(played > 130 && concealed > 0, "{played} {concealed}");
    assert_eq!(stats.allocations(), 0, "{stats:?}");
}
