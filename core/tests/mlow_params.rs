//! Whole-stream checks of the MLow parameter decode against the reference decoder's per-subframe
//! dump (`gennoise_params_dump.json`) over every packet of `inbound_capture_frames.json`, including
//! the coded-inactive (`0x10`) and hang-over (`0x12`) packets.

use wacall_core::kat::{decode_hex, int, text};
use wacall_core::mlow::params::{
    EndpointRule, Excitation, PacketParams, ParamError, SUBFRAMES, decode_packet, encode_packet,
};
use wacall_testkit::JsonVectors;

fn load(rel: &str) -> Option<JsonVectors> {
    let path = wacall_testkit::shared_file("mlow params stream", rel)?;
    Some(JsonVectors::load(&path).expect(rel))
}

fn packets(v: &JsonVectors) -> Vec<Vec<u8>> {
    (0..int(v, "#").unwrap())
        .map(|i| decode_hex(text(v, &i.to_string()).unwrap()).unwrap())
        .collect()
}

#[test]
fn every_subframe_matches_the_reference_dump() {
    let (Some(frames), Some(dump)) = (
        load("mlow/inbound_capture_frames.json"),
        load("mlow/gennoise_params_dump.json"),
    ) else {
        return;
    };
    let packets = packets(&frames);
    assert_eq!(packets.len(), 110);
    let mut params = PacketParams::new();
    let mut checked = [0usize; 4]; // subframes, voiced fcb gains, unvoiced energies, unvoiced fcb
    let records = int(&dump, "#").unwrap() as usize;
    assert_eq!(records, 110 * 3 * SUBFRAMES);
    for r in 0..records {
        let field = |f: &str| int(&dump, &format!("{r}.{f}")).unwrap();
        let (p, f, sf) = (field("packet"), field("frame"), field("sf"));
        let (p, f, sf) = (p as usize, f as usize, sf as usize);
        if f == 0 && sf == 0 {
            decode_packet(&packets[p], EndpointRule::Reference, &mut params)
                .unwrap_or_else(|e| panic!("packet {p}: {e:?}"));
            assert_eq!(params.frames().len(), 3, "packet {p}");
        }
        let fr = &params.frames()[f];
        let at = format!("packet {p} frame {f} subframe {sf}");
        assert_eq!(i64::from(fr.voiced), field("voiced"), "{at}: voiced");
        assert_eq!(
            i64::from(fr.subframe_pulses[sf]),
            field("sf_pulses"),
            "{at}: pulses"
        );
        assert_eq!(params.geometry.subframes as i64, field("num_subfr"), "{at}");
        // Every subframe, with or without pulses: the reference keeps the energy and FCB gain
        // index of earlier frames where a frame codes none.
        assert_eq!(
            i64::from(fr.nrgres_dbq_q14[sf]),
            field("nrgres_dbq_Q14"),
            "{at}: energy"
        );
        assert_eq!(
            i64::from(fr.fcb_gain_idx[sf]),
            field("fcbg_idx"),
            "{at}: fcbg"
        );
        let coded = fr.subframe_pulses[sf] > 0;
        match fr.excitation {
            Excitation::Voiced(_) => checked[1] += usize::from(coded),
            Excitation::Unvoiced(u) => {
                assert_eq!(u.nrgres_dbq_q14[sf], fr.nrgres_dbq_q14[sf]);
                checked[2] += 1;
                checked[3] += usize::from(coded);
            }
        }
        checked[0] += 1;
    }
    eprintln!("checked {checked:?} (subframes, voiced FCB, unvoiced energy, unvoiced FCB)");
    assert!(checked.iter().all(|&n| n > 0));
}

#[test]
fn every_packet_ends_where_the_reference_accepts_it() {
    let Some(frames) = load("mlow/inbound_capture_frames.json") else {
        return;
    };
    let mut params = PacketParams::new();
    let mut inactive = 0;
    for (i, pkt) in packets(&frames).iter().enumerate() {
        decode_packet(pkt, EndpointRule::Reference, &mut params)
            .unwrap_or_else(|e| panic!("packet {i}: {e:?}"));
        let body = pkt.len() - 1;
        assert!(params.consumed_bytes >= body && params.consumed_bytes <= body + 2);
        if !params.toc.coded_as_active_voice() {
            inactive += 1;
            assert!(params.frames().iter().all(|f| !f.voiced));
        }
        // Three stray bytes after the body: the decode now ends before the body does, which the
        // reference refuses; no frames are left behind.
        let mut long = pkt.clone();
        long.extend_from_slice(&[0x5a; 3]);
        match decode_packet(&long, EndpointRule::Reference, &mut params) {
            Err(ParamError::Endpoint { storage, consumed }) => {
                assert_eq!(storage, body + 3);
                assert!(consumed < storage, "packet {i}");
            }
            other => panic!("packet {i} with trailing bytes: {other:?}"),
        }
        assert!(params.frames().is_empty());
    }
    assert_eq!(inactive, 13, "the stream's coded-inactive 0x10 packets");
}

/// `pulse_vectors.json` (host only: flattened, it is too large for the QEMU flash; the QEMU
/// suites still depend on the pulse decode, since the voiced and unvoiced blocks follow it).
#[test]
fn pulses_match_reference() {
    let Some(path) = wacall_testkit::shared_file("mlow pulses", "mlow/pulse_vectors.json") else {
        return;
    };
    let v = JsonVectors::load(&path).unwrap();
    wacall_core::mlow::params::kat_pulses(&v).unwrap_or_else(|f| panic!("{f}"));
}

/// Re-encoding the decoded parameters reproduces the reference encoder's packets byte for byte:
/// the encoder is the exact inverse of the decoder, and both agree with the reference.
#[test]
fn re_encoding_reproduces_every_packet() {
    let Some(frames) = load("mlow/inbound_capture_frames.json") else {
        return;
    };
    let mut params = PacketParams::new();
    let mut buf = [0u8; 512];
    for (i, pkt) in packets(&frames).iter().enumerate() {
        decode_packet(pkt, EndpointRule::Reference, &mut params).unwrap();
        let n = encode_packet(&params, &mut buf).unwrap_or_else(|e| panic!("packet {i}: {e:?}"));
        assert_eq!(&buf[..n], &pkt[..], "packet {i}");
    }
}
