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

struct Fill;

impl wacall_core::media::playout::Decoder for Fill {
    fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [i16],
    ) -> Result<(), wacall_core::media::playout::DecodeError> {
        out.fill(i16::from(payload[0]));
        Ok(())
    }
    fn conceal(&mut self, out: &mut [i16]) {
        out.fill(0);
    }
}

#[test]
fn playout_tick_does_not_allocate() {
    use wacall_core::media::playout::{Playout, TICK_16K};
    let mut p = Box::new(Playout::new(JitterBuffer::<32, 512>::default()));
    let payload = [7u8; 200];
    let mut out = [0i16; TICK_16K];
    let (_, stats) = alloc_counter::count(|| {
        for tick in 0..500u64 {
            let now = Instant::from_millis(tick * 20);
            if tick % 3 == 0 && tick % 21 != 9 {
                let k = tick / 3;
                p.jitter()
                    .insert(now, k as u16, (k as u32) * 960, 960, &payload)
                    .unwrap();
            }
            p.tick(now, &mut Fill, &mut out);
        }
    });
    assert_eq!(stats.allocations(), 0, "{stats:?}");
    let s = *p.stats();
    assert_eq!(s.ticks, 500);
    assert!(s.decoded_16k > 100 * 960 && s.lost_16k > 0, "{s:?}");
}
