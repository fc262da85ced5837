//! `wacall relay` as a user runs it: it listens where told, says so, answers an allocate, prints
//! its events, and on Ctrl-C (SIGINT) prints a summary and exits cleanly.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use wacall_core::stun::{self, Message, msg_type};

#[test]
fn relay_command_serves_and_summarises_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wacall"))
        .args([
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "Y29tbWFuZC1rZXk=",
            "--token",
            "c0ffee",
            "--status-interval-ms",
            "100000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let at = first
        .strip_prefix("wacall relay listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 256];
    let n = stun::allocate_request(
        &mut buf,
        [3; 12],
        &[0xC0, 0xFF, 0xEE],
        &[],
        at,
        b"Y29tbWFuZC1rZXk=",
    )
    .unwrap();
    client.send_to(&buf[..n], at).unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    let m = Message::new_checked(&buf[..n]).unwrap();
    assert_eq!(m.message_type(), msg_type::ALLOCATE_SUCCESS);
    let event = lines.next().unwrap().unwrap();
    assert_eq!(
        event,
        format!("allocated {} on token #0", client.local_addr().unwrap())
    );

    // The shell's builtin `kill`: a minimal system may lack the procps binary.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "clean exit: {rest:?}");
    let summary = rest.join("\n");
    assert!(
        summary.contains("summary: allocations 1 (calls 0)"),
        "{summary}"
    );
    assert!(summary.contains("summary: 1 datagrams in"), "{summary}");
    assert!(summary.contains("rejected: none"), "{summary}");
}
