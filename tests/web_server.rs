//! The HTTP server under connection floods: clients that never finish (or dribble) a request
//! are closed after `--web.read-timeout`, connections beyond `--web.max-connections` make room
//! by closing idle ones, and `/-/healthy` answers throughout. Loopback only; every loop is
//! bounded in count and time. Figures are printed (run with `--nocapture` to see them); no
//! assertion depends on how fast the machine is, only on the order of events.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::util::{eventually, start, try_http};

/// Whether the server has closed `stream` (end of file or reset). `stream` is non-blocking;
/// anything the server sent first (an error response) is read and skipped.
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// `GET /-/healthy` on a new connection: the status (`None` for no answer within 5 s) and how
/// long it took.
fn healthy(addr: SocketAddr) -> (Option<u16>, Duration) {
    let asked = Instant::now();
    let status = try_http(addr, "GET", "/-/healthy").map(|r| r.status);
    (status, asked.elapsed())
}

fn connect(addr: SocketAddr, first_bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connecting to promlite");
    stream.write_all(first_bytes).expect("sending the first bytes");
    stream.set_nonblocking(true).unwrap();
    stream
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted.get(sorted.len().saturating_sub(1) * p / 100).copied().unwrap_or_default()
}

#[test]
fn slow_clients_are_closed_after_the_read_timeout_and_healthy_still_answers() {
    // Long enough that a loaded machine answers /-/healthy well before the slow clients' time
    // is up: the test shows it answered while they were held by finding them still open.
    let read_timeout = Duration::from_secs(10);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.read-timeout=10s"]);
    let opened = Instant::now();
    // 600 slowloris clients, past the default 512 connections: the even ones send part of a
    // header and stall, the odd ones then go on one byte at a time and never end it.
    let mut slow: Vec<(TcpStream, Option<Duration>)> =
        (0..600).map(|_| (connect(server.addr, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: "), None)).collect();
    // 10 clients whose request body never arrives in full.
    let mut slow_bodies: Vec<(TcpStream, Option<Duration>)> = (0..10)
        .map(|_| {
            let head = b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nquery";
            (connect(server.addr, head), None)
        })
        .collect();

    let (status, took) = healthy(server.addr);
    eprintln!("/-/healthy with 610 slow clients connected: {status:?} in {took:?}");
    assert_eq!(status, Some(200), "/-/healthy must answer while slow clients hold connections");
    // It answered while they were held, not once the read timeout had freed their slots: most
    // are still open now (those past the 512 connections may have been closed to make room).
    let mut open_after_healthy = 0;
    for (stream, closed_after) in &mut slow {
        if closed(stream) {
            *closed_after = Some(opened.elapsed());
        } else {
            open_after_healthy += 1;
        }
    }
    assert!(open_after_healthy >= 400, "only {open_after_healthy} of 600 slow clients still open after /-/healthy");

    // Generous: the timeout must close them all, however slowly the machine gets round to it.
    let deadline = opened + read_timeout + Duration::from_secs(60);
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        for (i, (stream, closed_after)) in slow.iter_mut().chain(slow_bodies.iter_mut()).enumerate() {
            if closed_after.is_some() {
                continue;
            }
            if i % 2 == 1 && i < 600 && stream.write_all(b"a").is_err() {
                *closed_after = Some(opened.elapsed());
                continue;
            }
            if closed(stream) {
                *closed_after = Some(opened.elapsed());
            }
        }
        if slow.iter().chain(&slow_bodies).all(|(_, closed_after)| closed_after.is_some()) {
            break;
        }
        if round % 10 == 5 {
            let (status, _) = healthy(server.addr);
            assert_eq!(status, Some(200), "/-/healthy must answer while slow clients hold connections");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let still_open = slow.iter().chain(&slow_bodies).filter(|(_, closed_after)| closed_after.is_none()).count();
    assert_eq!(still_open, 0, "slow clients still open {:?} after connecting", opened.elapsed());
    let mut lifetimes: Vec<Duration> = slow.iter().filter_map(|(_, closed_after)| *closed_after).collect();
    lifetimes.sort();
    let body_lifetimes: Vec<Duration> = slow_bodies.iter().filter_map(|(_, closed_after)| *closed_after).collect();
    eprintln!(
        "slow-header connections lived min {:?}, median {:?}, p99 {:?}, max {:?}; slow bodies at most {:?}",
        lifetimes[0],
        percentile(&lifetimes, 50),
        percentile(&lifetimes, 99),
        lifetimes[lifetimes.len() - 1],
        body_lifetimes.iter().max()
    );
    // The timeout closed them, not a refusal: most were held until it passed (a lower bound,
    // which a slow machine cannot break).
    let held = lifetimes.iter().filter(|&&lived| lived >= read_timeout - Duration::from_millis(500)).count();
    assert!(held >= 400, "only {held} of 600 slow clients were held until the read timeout");
}

#[test]
fn an_idle_flood_beyond_max_connections_leaves_room_for_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.max-connections=20", "--web.read-timeout=1m"]);
    let mut flood: Vec<TcpStream> = (0..1000).map(|_| connect(server.addr, b"")).collect();

    let mut latencies = Vec::new();
    // The read timeout is a minute: an answer before it (`healthy` waits 5 s) means idle
    // connections were closed to make room.
    for _ in 0..5 {
        let (status, took) = healthy(server.addr);
        assert_eq!(status, Some(200), "/-/healthy must answer under an idle flood");
        latencies.push(took);
    }
    eprintln!("/-/healthy under 1000 idle connections (--web.max-connections=20): {latencies:?}");
    // The server keeps at most 20: the flood's others were closed to make room.
    let open = eventually(Duration::from_secs(60), || {
        let open = flood.iter_mut().map(|stream| !closed(stream)).filter(|&open| open).count();
        if open <= 20 { Ok(open) } else { Err(format!("{open} of the 1000 idle connections still open")) }
    });
    eprintln!("{open} of 1000 idle connections left open");
}

#[test]
fn shutdown_closes_idle_and_slow_connections_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &["--web.enable-lifecycle"]);
    let _idle: Vec<TcpStream> = (0..50).map(|_| connect(server.addr, b"")).collect();
    let _slow: Vec<TcpStream> = (0..50).map(|_| connect(server.addr, b"GET /-/healthy HTTP/1.1\r\nX-Slow: ")).collect();
    assert_eq!(healthy(server.addr).0, Some(200));
    let asked = Instant::now();
    assert_eq!(try_http(server.addr, "POST", "/-/quit").map(|r| r.status), Some(200));
    // The default read timeout is 5m: only closing them at shutdown lets the process end
    // within the minute allowed here.
    let status = eventually(Duration::from_secs(60), || server.try_wait().ok_or("still running".to_owned()));
    eprintln!("exited {status} {:?} after /-/quit with 100 idle or slow connections open", asked.elapsed());
    assert!(status.success(), "{status}");
}
