//! The `<relay>` block of a call offer or ack, typed.
//!
//! ```text
//! <relay uuid self_pid peer_pid>
//!   <key>…</key>                     relay key: base64 text; the TEXT is the STUN integrity key
//!   <hbh_key>…</hbh_key>             30-byte hop-by-hop master (base64, sometimes twice)
//!   <warp_mi_tag_len>4</…>           SRTP tag length, ignored unless 1..=20
//!   <token id="N">…</token>          relay tokens (STUN 0x4000), 0-based sparse table
//!   <auth_token id="N">…</…>         auth tokens, 0-based sparse table
//!   <te2 relay_id relay_name token_id auth_token_id is_fna protocol c2r_rtt>6 or 18 bytes</te2>
//! </relay>
//! ```
//!
//! The signaling layer hands the block over as plain data ([`Element`]s); [`RelayBlock::parse`]
//! builds the typed form once at call setup (this is the one place in the transport that
//! allocates). Rules: token ids of 64 and above are dropped (a hostile relay must not size our
//! tables); a padded-empty token slot counts as missing; `<te2>` content of any length but 6
//! (IPv4 + port) or 18 (IPv6 + port) is skipped; `<te2>`s with the same `relay_id` and
//! `relay_name` merge into one [`Endpoint`], keeping the first IPv4 content verbatim (it is echoed
//! in `<relaylatency>`) and the latest `c2r_rtt`.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Token ids at or above this are dropped.
pub const MAX_TOKEN_ID: usize = 64;
/// Length of a decoded hop-by-hop key: master key (16) and salt (14).
pub const HBH_KEY_LEN: usize = 30;
/// The relay port on which web-client media flows both ways.
pub const WEB_CLIENT_PORT: u16 = 3480;
/// The default relay port (`0x0D96`).
pub const DEFAULT_PORT: u16 = 3478;

/// One child element as the signaling layer has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// Tag name.
    pub tag: &'a str,
    /// Attributes, name and value.
    pub attrs: &'a [(&'a str, &'a str)],
    /// Content bytes (binary or UTF-8 text).
    pub content: &'a [u8],
}

fn attr<'a>(attrs: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn attr_num<T: core::str::FromStr>(attrs: &[(&str, &str)], name: &str) -> Option<T> {
    attr(attrs, name).and_then(|v| v.trim().parse().ok())
}

/// Decode standard-alphabet base64, padded or not. Refuses anything else, including
/// non-canonical trailing bits.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let body = match text {
        [rest @ .., b'=', b'='] | [rest @ .., b'='] => {
            if !text.len().is_multiple_of(4) {
                return None;
            }
            rest
        }
        _ => text,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | sextet(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&acc.to_be_bytes()[1..]),
            3 => {
                if acc & 0x3 != 0 {
                    return None;
                }
                out.extend_from_slice(&(acc >> 2).to_be_bytes()[2..]);
            }
            _ => {
                if acc & 0xF != 0 {
                    return None;
                }
                out.push((acc >> 4) as u8);
            }
        }
    }
    Some(out)
}

/// Base64-decode relay content when it looks like base64 (at least 4 characters, all from the
/// alphabet or `=`); `None` when it does not or does not decode.
fn try_base64(content: &[u8]) -> Option<Vec<u8>> {
    let looks = content.len() >= 4
        && content
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
    if looks { base64_decode(content) } else { None }
}

/// The relay key: its text as received (the STUN MESSAGE-INTEGRITY key) and its decoded bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayKey {
    /// The `<key>` content as received.
    pub text: Vec<u8>,
    /// Base64-decoded, or the text itself when it is not base64.
    pub decoded: Vec<u8>,
}

impl RelayKey {
    /// Read `<key>` content.
    pub fn from_content(content: &[u8]) -> Self {
        RelayKey {
            text: content.to_vec(),
            decoded: try_base64(content).unwrap_or_else(|| content.to_vec()),
        }
    }

    /// The STUN MESSAGE-INTEGRITY key: the text, not the decoded bytes.
    pub fn integrity_key(&self) -> &[u8] {
        &self.text
    }
}

impl core::fmt::Debug for RelayKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RelayKey([redacted])")
    }
}

/// Decode `<hbh_key>` content: one base64 layer, a second one if the first does not give 30
/// bytes; anything not ending at 30 bytes is absent.
pub fn decode_hbh_key(content: &[u8]) -> Option<[u8; HBH_KEY_LEN]> {
    if content.is_empty() {
        return None;
    }
    let once = try_base64(content).unwrap_or_else(|| content.to_vec());
    let bytes = if once.len() == HBH_KEY_LEN {
        once
    } else {
        try_base64(&once)?
    };
    bytes.try_into().ok()
}

/// One address of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    /// The `protocol` attribute, carried through.
    pub protocol: u8,
    /// IP and port.
    pub addr: SocketAddr,
}

/// Read `<te2>` content: 6 bytes IPv4 + port, 18 bytes IPv6 + port.
pub fn parse_te2(content: &[u8]) -> Option<SocketAddr> {
    match content.len() {
        6 => {
            let ip = Ipv4Addr::new(content[0], content[1], content[2], content[3]);
            let port = u16::from_be_bytes([content[4], content[5]]);
            Some(SocketAddr::new(IpAddr::V4(ip), port))
        }
        18 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&content[..16]);
            let port = u16::from_be_bytes([content[16], content[17]]);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

/// One relay (all `<te2>` sharing its id and name).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// `relay_id`.
    pub relay_id: u32,
    /// `relay_name`.
    pub relay_name: String,
    /// Index into [`RelayBlock::tokens`].
    pub token_id: u32,
    /// Index into [`RelayBlock::auth_tokens`]; non-zero marks a latency candidate.
    pub auth_token_id: u32,
    /// Fallback (inbound-only) relay.
    pub is_fna: bool,
    /// Latest client-to-relay RTT advertised, in milliseconds.
    pub c2r_rtt_ms: Option<u32>,
    /// Every address, in arrival order.
    pub addresses: Vec<Address>,
    /// The first IPv4 `<te2>` content, verbatim.
    pub ipv4_te2: Option<[u8; 6]>,
}

impl Endpoint {
    /// An outbound (latency) candidate: not FNA and a non-zero auth token id.
    pub fn is_outbound_candidate(&self) -> bool {
        !self.is_fna && self.auth_token_id != 0
    }

    /// The IPv4 address a transport dials.
    pub fn primary_ipv4(&self) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .map(|a| a.addr)
            .find(SocketAddr::is_ipv4)
    }
}

/// The typed `<relay>` block.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RelayBlock {
    /// `uuid`.
    pub uuid: Option<String>,
    /// `self_pid`.
    pub self_pid: Option<u32>,
    /// `peer_pid`.
    pub peer_pid: Option<u32>,
    /// `<key>`.
    pub key: Option<RelayKey>,
    /// `<hbh_key>` decoded.
    pub hbh_key: Option<[u8; HBH_KEY_LEN]>,
    /// `<warp_mi_tag_len>` when 1..=20.
    pub warp_mi_tag_len: Option<u8>,
    /// Relay tokens by id (empty = missing).
    pub tokens: Vec<Vec<u8>>,
    /// Auth tokens by id (empty = missing).
    pub auth_tokens: Vec<Vec<u8>>,
    /// Endpoints in first-seen order.
    pub endpoints: Vec<Endpoint>,
}

fn put_token(table: &mut Vec<Vec<u8>>, id: Option<usize>, content: &[u8]) {
    let id = id.unwrap_or(table.len());
    if id >= MAX_TOKEN_ID {
        return;
    }
    if table.len() <= id {
        table.resize(id + 1, Vec::new());
    }
    table[id] = content.to_vec();
}

impl RelayBlock {
    /// Build from the `<relay>` element's attributes and children. Unknown children are ignored.
    pub fn parse(relay_attrs: &[(&str, &str)], children: &[Element<'_>]) -> Self {
        let mut block = RelayBlock {
            uuid: attr(relay_attrs, "uuid").map(String::from),
            self_pid: attr_num(relay_attrs, "self_pid"),
            peer_pid: attr_num(relay_attrs, "peer_pid"),
            ..RelayBlock::default()
        };
        for el in children {
            match el.tag {
                "key" if block.key.is_none() => {
                    block.key = Some(RelayKey::from_content(el.content))
                }
                "hbh_key" if block.hbh_key.is_none() => block.hbh_key = decode_hbh_key(el.content),
                "warp_mi_tag_len" if block.warp_mi_tag_len.is_none() => {
                    block.warp_mi_tag_len = core::str::from_utf8(el.content)
                        .ok()
                        .and_then(|s| s.trim().parse::<u8>().ok())
                        .filter(|n| (1..=20).contains(n));
                }
                "token" => put_token(&mut block.tokens, attr_num(el.attrs, "id"), el.content),
                "auth_token" => {
                    put_token(&mut block.auth_tokens, attr_num(el.attrs, "id"), el.content)
                }
                "te2" => block.add_te2(el),
                _ => {}
            }
        }
        block
    }

    fn add_te2(&mut self, el: &Element<'_>) {
        let Some(addr) = parse_te2(el.content) else {
            return;
        };
        let a = el.attrs;
        let relay_id = attr_num(a, "relay_id").unwrap_or(0);
        let relay_name = attr(a, "relay_name").unwrap_or("");
        let rtt = attr_num(a, "c2r_rtt");
        let idx = match self
            .endpoints
            .iter()
            .position(|e| e.relay_id == relay_id && e.relay_name == relay_name)
        {
            Some(i) => i,
            None => {
                self.endpoints.push(Endpoint {
                    relay_id,
                    relay_name: String::from(relay_name),
                    token_id: attr_num(a, "token_id").unwrap_or(0),
                    auth_token_id: attr_num(a, "auth_token_id").unwrap_or(0),
                    is_fna: attr(a, "is_fna") == Some("1"),
                    ..Endpoint::default()
                });
                self.endpoints.len() - 1
            }
        };
        let ep = &mut self.endpoints[idx];
        ep.addresses.push(Address {
            protocol: attr_num(a, "protocol").unwrap_or(0),
            addr,
        });
        if rtt.is_some() {
            ep.c2r_rtt_ms = rtt;
        }
        if ep.ipv4_te2.is_none()
            && let Ok(six) = <[u8; 6]>::try_from(el.content)
        {
            ep.ipv4_te2 = Some(six);
        }
    }

    /// The relay token an endpoint refers to, if present and non-empty.
    pub fn token_for(&self, ep: &Endpoint) -> Option<&[u8]> {
        let t = self.tokens.get(usize::try_from(ep.token_id).ok()?)?;
        (!t.is_empty()).then_some(t.as_slice())
    }

    /// The STUN MESSAGE-INTEGRITY key (the `<key>` text).
    pub fn integrity_key(&self) -> Option<&[u8]> {
        self.key.as_ref().map(RelayKey::integrity_key)
    }

    /// The endpoint to carry media, by preference: one whose IPv4 port is [`WEB_CLIENT_PORT`];
    /// else the first outbound candidate; else the first non-FNA endpoint; else the first. Each
    /// tier first looks for a usable endpoint (an IPv4 address and its token present), and only
    /// when no tier has one does the same order run over all endpoints.
    pub fn media_endpoint(&self) -> Option<&Endpoint> {
        let usable = |e: &Endpoint| e.primary_ipv4().is_some() && self.token_for(e).is_some();
        let tiers: [&dyn Fn(&Endpoint) -> bool; 4] = [
            &|e| {
                e.primary_ipv4()
                    .is_some_and(|a| a.port() == WEB_CLIENT_PORT)
            },
            &|e| e.is_outbound_candidate(),
            &|e| !e.is_fna,
            &|_| true,
        ];
        for only_usable in [true, false] {
            for tier in tiers {
                if let Some(e) = self
                    .endpoints
                    .iter()
                    .find(|e| tier(e) && (!only_usable || usable(e)))
                {
                    return Some(e);
                }
            }
        }
        None
    }

    /// Relays to probe for `<relaylatency>`: outbound candidates, one per name (the first seen),
    /// ordered by `relay_id`.
    pub fn latency_candidates(&self) -> Vec<&Endpoint> {
        let mut out: Vec<&Endpoint> = Vec::new();
        for e in self.endpoints.iter().filter(|e| e.is_outbound_candidate()) {
            if !out.iter().any(|o| o.relay_name == e.relay_name) {
                out.push(e);
            }
        }
        out.sort_by_key(|e| e.relay_id);
        out
    }

    /// Lay a later block (for example the accept ack's) over this one: every field present in
    /// `patch` wins; its empty token tables and endpoint list keep ours.
    pub fn merge(self, patch: RelayBlock) -> RelayBlock {
        let keep = |ours: Vec<_>, theirs: Vec<_>| if theirs.is_empty() { ours } else { theirs };
        RelayBlock {
            uuid: patch.uuid.or(self.uuid),
            self_pid: patch.self_pid.or(self.self_pid),
            peer_pid: patch.peer_pid.or(self.peer_pid),
            key: patch.key.or(self.key),
            hbh_key: patch.hbh_key.or(self.hbh_key),
            warp_mi_tag_len: patch.warp_mi_tag_len.or(self.warp_mi_tag_len),
            tokens: keep(self.tokens, patch.tokens),
            auth_tokens: keep(self.auth_tokens, patch.auth_tokens),
            endpoints: if patch.endpoints.is_empty() {
                self.endpoints
            } else {
                patch.endpoints
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_section10() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
            let unpadded = enc.trim_end_matches('=');
            assert_eq!(
                base64_decode(unpadded.as_bytes()).unwrap(),
                plain.as_bytes()
            );
        }
        assert_eq!(base64_decode(b"Zg="), None);
        assert_eq!(base64_decode(b"Zh=="), None);
        assert_eq!(base64_decode(b"Z"), None);
        assert_eq!(base64_decode(b"Zm=v"), None);
    }

    fn te2<'a>(attrs: &'a [(&'a str, &'a str)], content: &'a [u8]) -> Element<'a> {
        Element {
            tag: "te2",
            attrs,
            content,
        }
    }

    #[test]
    fn keys_tokens_and_tag_length() {
        // 30 bytes 0x40..0x5d, base64 once and twice.
        let hbh: [u8; 30] = core::array::from_fn(|i| 0x40 + i as u8);
        let once = b"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd";
        let twice = b"UUVGQ1EwUkZSa2RJU1VwTFRFMU9UMUJSVWxOVVZWWlhXRmxhVzF4ZA==";
        assert_eq!(base64_decode(once).unwrap(), hbh);
        assert_eq!(base64_decode(twice).unwrap(), once);
        let children = [
            Element {
                tag: "key",
                attrs: &[],
                content: b"MDEyMzQ1Njc4OWFiY2RlZg==",
            },
            Element {
                tag: "hbh_key",
                attrs: &[],
                content: twice,
            },
            Element {
                tag: "warp_mi_tag_len",
                attrs: &[],
                content: b"10",
            },
            Element {
                tag: "token",
                attrs: &[("id", "2")],
                content: b"t2",
            },
            Element {
                tag: "token",
                attrs: &[],
                content: b"t3",
            },
            Element {
                tag: "token",
                attrs: &[("id", "64")],
                content: b"dropped",
            },
            Element {
                tag: "auth_token",
                attrs: &[("id", "1")],
                content: b"a1",
            },
        ];
        let b = RelayBlock::parse(
            &[("uuid", "u-1"), ("self_pid", "3"), ("peer_pid", "x")],
            &children,
        );
        assert_eq!(
            (b.uuid.as_deref(), b.self_pid, b.peer_pid),
            (Some("u-1"), Some(3), None)
        );
        let key = b.key.as_ref().unwrap();
        assert_eq!(b.integrity_key(), Some(&b"MDEyMzQ1Njc4OWFiY2RlZg=="[..]));
        assert_eq!(key.decoded, b"0123456789abcdef");
        assert_eq!(b.hbh_key, Some(hbh));
        assert_eq!(decode_hbh_key(once), Some(hbh));
        assert_eq!(decode_hbh_key(b"c2hvcnQ="), None);
        assert_eq!(b.warp_mi_tag_len, Some(10));
        assert_eq!(b.tokens, [&b""[..], b"", b"t2", b"t3"]);
        assert_eq!(b.auth_tokens, [&b""[..], b"a1"]);
        // Non-base64 key text is used verbatim; bad tag lengths are ignored.
        let b = RelayBlock::parse(
            &[],
            &[
                Element {
                    tag: "key",
                    attrs: &[],
                    content: b"k!y",
                },
                Element {
                    tag: "warp_mi_tag_len",
                    attrs: &[],
                    content: b"0",
                },
            ],
        );
        assert_eq!(b.key.unwrap().decoded, b"k!y");
        assert_eq!(b.warp_mi_tag_len, None);
        for bad in [&b"21"[..], b"-4", b"four"] {
            let b = RelayBlock::parse(
                &[],
                &[Element {
                    tag: "warp_mi_tag_len",
                    attrs: &[],
                    content: bad,
                }],
            );
            assert_eq!(b.warp_mi_tag_len, None);
        }
    }

    #[test]
    fn te2_addresses_merge_by_relay() {
        let v4 = [157, 240, 226, 133, 0x0D, 0x96];
        let mut v6 = [0u8; 18];
        v6[..2].copy_from_slice(&[0x2a, 0x03]);
        v6[15] = 1;
        v6[16..].copy_from_slice(&[0x0D, 0x98]);
        let a1 = [
            ("relay_id", "1"),
            ("relay_name", "fra"),
            ("auth_token_id", "1"),
            ("c2r_rtt", "40"),
        ];
        let a2 = [
            ("relay_id", "1"),
            ("relay_name", "fra"),
            ("protocol", "1"),
            ("c2r_rtt", "35"),
        ];
        let b = RelayBlock::parse(
            &[],
            &[
                te2(&a1, &v4),
                te2(&a2, &v6),
                te2(&a1, &[1, 2, 3, 4, 5, 6, 7]),
            ],
        );
        assert_eq!(b.endpoints.len(), 1);
        let ep = &b.endpoints[0];
        assert_eq!(ep.addresses.len(), 2);
        assert_eq!(
            ep.addresses[0].addr,
            "157.240.226.133:3478".parse().unwrap()
        );
        assert_eq!(ep.addresses[1].addr, "[2a03::1]:3480".parse().unwrap());
        assert_eq!(ep.addresses[1].protocol, 1);
        assert_eq!((ep.ipv4_te2, ep.c2r_rtt_ms), (Some(v4), Some(35)));
        assert_eq!(
            ep.primary_ipv4(),
            Some("157.240.226.133:3478".parse().unwrap())
        );
    }

    fn addr(port: u16) -> [u8; 6] {
        let p = port.to_be_bytes();
        [10, 0, 0, 1, p[0], p[1]]
    }

    #[test]
    fn media_endpoint_preference_and_latency_candidates() {
        let fna = [
            ("relay_id", "3"),
            ("relay_name", "c"),
            ("is_fna", "1"),
            ("token_id", "0"),
        ];
        let outbound = [
            ("relay_id", "2"),
            ("relay_name", "b"),
            ("auth_token_id", "1"),
            ("token_id", "0"),
        ];
        let web = [("relay_id", "1"), ("relay_name", "a"), ("token_id", "1")];
        let p3478 = addr(3478);
        let p3480 = addr(3480);
        let token0 = Element {
            tag: "token",
            attrs: &[("id", "0")],
            content: b"t0",
        };
        let token1 = Element {
            tag: "token",
            attrs: &[("id", "1")],
            content: b"t1",
        };
        let name = |b: &RelayBlock| b.media_endpoint().map(|e| e.relay_name.clone());

        // The 3480 endpoint wins when its token is present.
        let b = RelayBlock::parse(
            &[],
            &[
                token0,
                token1,
                te2(&fna, &p3478),
                te2(&outbound, &p3478),
                te2(&web, &p3480),
            ],
        );
        assert_eq!(name(&b).as_deref(), Some("a"));
        // Without its token it is unusable: the outbound candidate is next.
        let b = RelayBlock::parse(
            &[],
            &[
                token0,
                te2(&fna, &p3478),
                te2(&outbound, &p3478),
                te2(&web, &p3480),
            ],
        );
        assert_eq!(name(&b).as_deref(), Some("b"));
        // Only an FNA relay is usable: it still carries media.
        let b = RelayBlock::parse(&[], &[token0, te2(&fna, &p3478), te2(&web, &p3480)]);
        assert_eq!(name(&b).as_deref(), Some("c"));
        // Nothing usable: the same order over all endpoints.
        let b = RelayBlock::parse(&[], &[te2(&fna, &p3478), te2(&web, &p3480)]);
        assert_eq!(name(&b).as_deref(), Some("a"));
        assert_eq!(RelayBlock::default().media_endpoint(), None);

        let o2 = [
            ("relay_id", "9"),
            ("relay_name", "z"),
            ("auth_token_id", "2"),
        ];
        let o1 = [
            ("relay_id", "4"),
            ("relay_name", "y"),
            ("auth_token_id", "1"),
        ];
        let dup = [
            ("relay_id", "5"),
            ("relay_name", "y"),
            ("auth_token_id", "1"),
        ];
        let b = RelayBlock::parse(
            &[],
            &[
                te2(&o2, &p3478),
                te2(&fna, &p3478),
                te2(&o1, &p3478),
                te2(&dup, &p3478),
            ],
        );
        let ids: Vec<u32> = b.latency_candidates().iter().map(|e| e.relay_id).collect();
        assert_eq!(ids, [4, 9]);
    }

    #[test]
    fn merge_prefers_present_patch_fields() {
        let p3478 = addr(3478);
        let ep = [("relay_id", "1"), ("relay_name", "a")];
        let base = RelayBlock::parse(
            &[("uuid", "u")],
            &[
                Element {
                    tag: "key",
                    attrs: &[],
                    content: b"base",
                },
                Element {
                    tag: "token",
                    attrs: &[],
                    content: b"t",
                },
                te2(&ep, &p3478),
            ],
        );
        let hbh = b"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd";
        let patch = RelayBlock::parse(
            &[],
            &[Element {
                tag: "hbh_key",
                attrs: &[],
                content: hbh,
            }],
        );
        let m = base.clone().merge(patch);
        assert!(m.hbh_key.is_some());
        assert_eq!(
            (m.uuid, m.key, m.tokens, m.endpoints),
            (base.uuid, base.key, base.tokens, base.endpoints)
        );
    }
}
