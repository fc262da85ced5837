//! Relay block builder over elements decoded from the input: each record is a tag selector, an
//! attribute-value length and bytes, then a content length and bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::relay;

const TAGS: [&str; 7] = [
    "key",
    "hbh_key",
    "warp_mi_tag_len",
    "token",
    "auth_token",
    "te2",
    "x",
];
const NAMES: [&str; 8] = [
    "id",
    "relay_id",
    "relay_name",
    "token_id",
    "auth_token_id",
    "is_fna",
    "protocol",
    "c2r_rtt",
];

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut records: Vec<(&str, Vec<(&str, &str)>, &[u8])> = Vec::new();
    while let [sel, alen, tail @ ..] = rest {
        let (aval, tail) = tail.split_at(usize::from(*alen).min(tail.len()));
        let Some((clen, tail)) = tail.split_first() else {
            break;
        };
        let (content, tail) = tail.split_at(usize::from(*clen).min(tail.len()));
        let value = core::str::from_utf8(aval).unwrap_or("");
        let attrs = vec![(NAMES[usize::from(sel >> 4) % NAMES.len()], value)];
        records.push((TAGS[usize::from(sel & 0x0F) % TAGS.len()], attrs, content));
        rest = tail;
    }
    let children: Vec<relay::Element<'_>> = records
        .iter()
        .map(|(tag, attrs, content)| relay::Element {
            tag,
            attrs,
            content,
        })
        .collect();
    let block = relay::RelayBlock::parse(&[("self_pid", "1")], &children);
    assert!(block.tokens.len() <= relay::MAX_TOKEN_ID);
    let _ = (block.media_endpoint(), block.latency_candidates().len());
    let _ = relay::base64_decode(data);
});
