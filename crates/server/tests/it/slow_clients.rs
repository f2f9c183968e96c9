//! Slow clients cannot hold the server (issue 16, point 4): half-sent headers and bodies and idle
//! keep-alive connections are cut after their timeouts, a body declared beyond the limit is
//! refused before it is read, and the connection cap keeps served connections working. Raw TCP
//! against the real server, with the timeouts set short.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{JBSYNC, Running};

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(20);

/// A server with every connection timeout `LONG` but those `adjust` shortens.
fn server(adjust: impl FnOnce(&mut custos_server::Config)) -> Running {
    Running::start_configured(None, JBSYNC.to_owned(), |c| {
        c.header_timeout = LONG;
        c.body_timeout = LONG;
        c.idle_timeout = LONG;
        adjust(c);
    })
}

/// The same on a fresh SQLite vault, with an admin key: the body routes need a caller, whose key
/// is checked before the body is read.
fn server_with_admin(
    name: &str,
    adjust: impl FnOnce(&mut custos_server::Config),
) -> (Running, String) {
    let backend = crate::data::open_backend(&crate::data::sqlite_config(name));
    let admin = crate::data::admin_key(&backend);
    let s = Running::start_configured(Some(backend), JBSYNC.to_owned(), |c| {
        c.header_timeout = LONG;
        c.body_timeout = LONG;
        c.idle_timeout = LONG;
        adjust(c);
    });
    (s, admin)
}

/// A `POST /v1/tenants` head by `admin` announcing `length` bytes of JSON.
fn post_head(admin: &str, length: u64) -> Vec<u8> {
    format!(
        "POST /v1/tenants HTTP/1.1\r\nHost: custos\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .into_bytes()
}

fn connect(s: &Running) -> TcpStream {
    let t = TcpStream::connect(s.addr).expect("connect");
    t.set_nodelay(true).expect("nodelay");
    t
}

/// Waits up to `within` for the server to close `t`; how long it took, or `None` if it is still
/// open. Bytes the server sends first (an error answer) are skipped.
fn closed_within(t: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        t.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        match t.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(_) => return Some(start.elapsed()),
        }
    }
}

/// Reads one response (headers and a `Content-Length` body) within `within`: its status and
/// body, or `None` if none came (or the connection closed first).
fn response_within(t: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let body = String::from_utf8_lossy(&got[end + 4..end + 4 + length]).to_string();
                return Some((status, body));
            }
        }
        let left = within.checked_sub(start.elapsed())?;
        t.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        match t.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: custos\r\n\r\n";

#[test]
fn half_sent_headers_are_dropped_after_the_header_timeout() {
    let s = server(|c| c.header_timeout = SHORT);
    let mut t = connect(&s);
    t.write_all(b"GET /healthz HTTP/1.1\r\nHost: custos\r\nX-Slow: ")
        .unwrap();
    let after = closed_within(&mut t, Duration::from_secs(5))
        .expect("the connection is closed, not held for as long as the client likes");
    assert!(after < Duration::from_secs(2), "closed after {after:?}");
}

#[test]
fn headers_trickled_byte_by_byte_do_not_extend_the_header_timeout() {
    let s = server(|c| c.header_timeout = SHORT);
    let mut t = connect(&s);
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /healthz HTTP/1.1\r\nHost: custos\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if t.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed = closed || closed_within(&mut t, Duration::from_secs(2)).is_some();
    assert!(
        closed,
        "a trickle of header bytes keeps the connection open"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_half_sent_body_is_answered_408_after_the_body_timeout() {
    let (s, admin) = server_with_admin("half-body", |c| c.body_timeout = SHORT);
    let mut t = connect(&s);
    t.write_all(&post_head(&admin, 1000)).unwrap();
    t.write_all(b"{\"id\":").unwrap();
    let start = Instant::now();
    let (status, body) = response_within(&mut t, Duration::from_secs(5))
        .expect("the request is answered, not held until the client sends the rest");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("request-timeout"), "{body}");
    assert!(
        closed_within(&mut t, Duration::from_secs(2)).is_some(),
        "the connection closes after the 408"
    );
}

#[test]
fn a_body_trickled_byte_by_byte_is_answered_408_within_the_body_timeout() {
    let (s, admin) = server_with_admin("trickled-body", |c| c.body_timeout = SHORT);
    let mut t = connect(&s);
    t.write_all(&post_head(&admin, 200)).unwrap();
    let writer = {
        let mut w = t.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..40 {
                if w.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let start = Instant::now();
    let (status, body) =
        response_within(&mut t, Duration::from_secs(5)).expect("the trickled request is answered");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status, 408, "{body}");
    writer.join().unwrap();
}

#[test]
fn a_declared_body_beyond_the_limit_is_refused_413_at_once() {
    let (s, admin) = server_with_admin("huge-body", |_| {});
    let mut t = connect(&s);
    t.write_all(&post_head(&admin, 1_000_000_000)).unwrap();
    let start = Instant::now();
    let (status, body) = response_within(&mut t, Duration::from_secs(5))
        .expect("a gigabyte announced and never sent is answered");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body-too-large"), "{body}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_timeout() {
    let s = server(|c| {
        c.header_timeout = SHORT;
        c.idle_timeout = Duration::from_millis(1200);
    });
    let mut t = connect(&s);
    t.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut t, Duration::from_secs(5)).map(|r| r.0),
        Some(200)
    );
    // Idle for longer than the header timeout: still open, and serves the next request.
    std::thread::sleep(Duration::from_millis(600));
    t.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut t, Duration::from_secs(5)).map(|r| r.0),
        Some(200),
        "a keep-alive connection idle for less than the idle timeout serves the next request"
    );
    let after = closed_within(&mut t, Duration::from_secs(6))
        .expect("the idle connection is closed, not held for ever");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
}

#[test]
fn at_the_connection_cap_a_new_connection_replaces_the_longest_waiting_slow_one() {
    let s = server(|c| c.max_connections = 4);
    let mut served = connect(&s);
    served.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut served, Duration::from_secs(5)).map(|r| r.0),
        Some(200)
    );
    let mut slow: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut t = connect(&s);
            t.write_all(b"GET /healthz HTTP/1.1\r\nHost: cus").unwrap();
            std::thread::sleep(Duration::from_millis(50));
            t
        })
        .collect();
    let mut further = connect(&s);
    further.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut further, Duration::from_secs(2)).map(|r| r.0),
        Some(200),
        "a fifth connection over the cap of 4 is served"
    );
    assert!(
        closed_within(&mut slow[0], Duration::from_secs(2)).is_some(),
        "the connection that has waited longest for its headers made room"
    );
    for t in &mut slow[1..] {
        assert_eq!(closed_within(t, Duration::from_millis(200)), None);
    }
    served.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut served, Duration::from_secs(5)).map(|r| r.0),
        Some(200),
        "the keep-alive connection served before keeps working"
    );
}

/// Requests being answered are never cut to make room: a further connection waits (in the listen
/// backlog, costing no file descriptor) until one of them is done.
#[test]
fn when_every_connection_is_answering_a_request_a_new_one_waits_for_a_slot() {
    let (s, admin) = server_with_admin("cap-busy", |c| c.max_connections = 2);
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut t = connect(&s);
            t.write_all(&post_head(&admin, 2)).unwrap();
            t.write_all(b"{").unwrap();
            t
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut further = connect(&s);
    further.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut further, Duration::from_millis(700)),
        None,
        "over the cap of 2, with both answering a request, a third connection waits"
    );
    busy[0].write_all(b"}").unwrap();
    let answered = response_within(&mut busy[0], Duration::from_secs(5)).map(|r| r.0);
    assert!(
        answered.is_some_and(|s| s != 408),
        "the request being answered when the cap was reached is answered: {answered:?}"
    );
    assert_eq!(
        response_within(&mut further, Duration::from_secs(2)).map(|r| r.0),
        Some(200),
        "once a request is done, the waiting connection is served"
    );
}

#[test]
fn the_server_stops_at_once_with_half_sent_requests_and_idle_connections_open() {
    let s = server(|_| {});
    let mut idle = connect(&s);
    idle.write_all(HEALTHZ).unwrap();
    assert_eq!(
        response_within(&mut idle, Duration::from_secs(5)).map(|r| r.0),
        Some(200)
    );
    let mut half = connect(&s);
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: cus")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        drop(s);
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "the server is still stopping after 5 s, waiting for clients that send nothing"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(closed_within(&mut half, Duration::from_secs(1)).is_some());
    assert!(closed_within(&mut idle, Duration::from_secs(1)).is_some());
}
