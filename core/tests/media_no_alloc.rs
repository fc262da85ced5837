//! The media-path promise, measured: after setup, SRTP/SRTCP protect and unprotect and SFrame
//! seal and open perform no heap allocation. A counting global allocator wraps this test binary.

use wacall_core::keys::{CallKey, ParticipantId, SrtpMaster};
use wacall_core::sframe::OneToOne;
use wacall_core::srtp::{Config, SrtpReceiver, SrtpSender};

use wacall_testkit::alloc_counter::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn media_paths_do_not_allocate() {
    // Setup may allocate.
    let ck = CallKey::new([3; 32]);
    let own = ParticipantId::normalize("111@lid").unwrap();
    let peer = ParticipantId::normalize("222@lid").unwrap();
    let master = SrtpMaster::wahkdf(&ck, &own);
    let mut tx = SrtpSender::new(&master, 0x1234_5678, Config::WHATSAPP);
    let mut rx = SrtpReceiver::<4>::new(&master, Config::WHATSAPP);
    rx.add_ssrc(0x1234_5678).unwrap();
    let mut ours = OneToOne::new(&ck, &own, &peer);
    let theirs = OneToOne::new(&ck, &peer, &own);
    let mut buf = [0u8; 256];

    let ((), stats) = alloc_counter::count(|| {
        for seq in 65_500u16..=65_535 {
            buf[..16].copy_from_slice(&[
                0x90, 0x78, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0xde, 0xbe, 0, 0,
            ]);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            // SFrame inside SRTP, as a frame would travel.
            let f = ours.sealer.seal(&mut buf[16..], 100).unwrap();
            let n = tx.protect_rtp(&mut buf, 16 + f).unwrap();
            let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
            let p = theirs.opener.open(&mut buf[16..m]).unwrap();
            assert_eq!(p, 100);

            buf[..8].copy_from_slice(&[0x80, 200, 0, 1, 0x12, 0x34, 0x56, 0x78]);
            let n = tx.protect_rtcp(&mut buf, 40).unwrap();
            rx.unprotect_rtcp(&mut buf[..n]).unwrap();
        }
    });
    assert_eq!(stats.allocations(), 0, "{stats:?}");
}
