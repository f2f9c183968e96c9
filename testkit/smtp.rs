//! A real SMTP receiver on a loopback port, for tests of what Custos sends by e-mail: std only,
//! one thread per connection, no TLS. It speaks EHLO/HELO, AUTH PLAIN and LOGIN (any login is
//! accepted and recorded), MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP and QUIT, and
//! keeps every message it accepted. Included by test binaries with
//! `#[path = "../../../../testkit/smtp.rs"] mod smtp;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A login the client gave with AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `PLAIN` or `LOGIN`.
    pub mechanism: String,
    /// The user name (PLAIN's authentication identity).
    pub username: String,
    /// The password.
    pub password: String,
}

/// One message the receiver accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (MAIL FROM, without the angle brackets).
    pub from: String,
    /// The envelope recipients (RCPT TO), in order.
    pub to: Vec<String>,
    /// The message as sent after DATA: headers and body, CRLF line ends, dot-unstuffed, without
    /// the final `.` line.
    pub data: String,
    /// The login of the session that sent it, if it logged in.
    pub login: Option<Login>,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Accepts everything.
    #[default]
    Accept,
    /// Refuses every RCPT TO with `550 5.1.1 <address>: Recipient address rejected`, quoting
    /// the address as real servers do.
    RejectRecipients,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    arrived: Condvar,
    stop: AtomicBool,
}

/// A running receiver; dropped, it stops listening.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that accepts everything, on `127.0.0.1` and a free port.
    pub fn start() -> Receiver {
        Receiver::start_with(Behaviour::Accept)
    }

    /// A receiver that answers as `behaviour` says.
    pub fn start_with(behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("smtp-receiver".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let s = Arc::clone(&s);
                    std::thread::spawn(move || {
                        // A broken connection ends the session; the test sees the missing message.
                        let _ = session(stream, &s, behaviour);
                    });
                }
            })
            .expect("spawn the receiver");
        Receiver {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message accepted so far, in order of arrival.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().expect("messages").clone()
    }

    /// Waits until `n` messages have arrived and returns them all.
    ///
    /// # Panics
    /// When fewer than `n` arrived within `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut messages = self.shared.messages.lock().expect("messages");
        while messages.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the SMTP receiver got {} message(s) in {timeout:?}, not {n}",
                messages.len()
            );
            messages = self
                .shared
                .arrived
                .wait_timeout(messages, left)
                .expect("messages")
                .0;
        }
        messages.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The transaction being built: MAIL FROM and RCPT TO so far.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

fn session(stream: TcpStream, shared: &Shared, behaviour: Behaviour) -> std::io::Result<()> {
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 custos-test ESMTP ready")?;
    let mut login: Option<Login> = None;
    let mut tx = Transaction::default();
    loop {
        let Some(line) = read_line(&mut input)? else {
            return Ok(());
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                tx = Transaction::default();
                reply("250-custos-test greets you")?;
                reply("250-8BITMIME")?;
                reply("250-SMTPUTF8")?;
                reply("250 AUTH PLAIN LOGIN")?;
            }
            "HELO" => {
                tx = Transaction::default();
                reply("250 custos-test")?;
            }
            "AUTH" => {
                let (mechanism, initial) = match arg.split_once(' ') {
                    Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_owned())),
                    None => (arg.to_ascii_uppercase(), None),
                };
                let mut ask = |prompt: &str| -> std::io::Result<Option<String>> {
                    reply(&format!("334 {prompt}"))?;
                    read_line(&mut input)
                };
                let got = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(i) => Some(i),
                            None => ask("")?,
                        };
                        response.and_then(|r| decode_base64(&r)).and_then(|raw| {
                            // authorization identity NUL authentication identity NUL password
                            let mut parts = raw.split(|&b| b == 0);
                            let _authz = parts.next()?;
                            let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
                            let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
                            Some((user, pass))
                        })
                    }
                    "LOGIN" => {
                        let user = match initial {
                            Some(i) => Some(i),
                            None => ask("VXNlcm5hbWU6")?,
                        };
                        let pass = ask("UGFzc3dvcmQ6")?;
                        let text = |s: Option<String>| {
                            s.and_then(|s| decode_base64(&s))
                                .and_then(|b| String::from_utf8(b).ok())
                        };
                        text(user).zip(text(pass))
                    }
                    _ => {
                        reply("504 5.5.4 Unrecognized authentication type")?;
                        continue;
                    }
                };
                match got {
                    Some((username, password)) => {
                        login = Some(Login {
                            mechanism,
                            username,
                            password,
                        });
                        reply("235 2.7.0 Authentication successful")?;
                    }
                    None => reply("501 5.5.2 Cannot decode the response")?,
                }
            }
            "MAIL" => match path_after(&arg, "FROM:") {
                Some(from) => {
                    tx = Transaction {
                        from: Some(from),
                        to: Vec::new(),
                    };
                    reply("250 2.1.0 Sender OK")?;
                }
                None => reply("501 5.5.4 Syntax: MAIL FROM:<address>")?,
            },
            "RCPT" => match (&tx.from, path_after(&arg, "TO:")) {
                (None, _) => reply("503 5.5.1 MAIL first")?,
                (_, None) => reply("501 5.5.4 Syntax: RCPT TO:<address>")?,
                (Some(_), Some(to)) if behaviour == Behaviour::RejectRecipients => reply(
                    &format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown"),
                )?,
                (Some(_), Some(to)) => {
                    tx.to.push(to);
                    reply("250 2.1.5 Recipient OK")?;
                }
            },
            "DATA" => {
                if tx.from.is_none() || tx.to.is_empty() {
                    reply("503 5.5.1 RCPT first")?;
                    continue;
                }
                reply("354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut input)? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    // RFC 5321 4.5.2: a leading dot was doubled by the sender.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                let tx = std::mem::take(&mut tx);
                shared.messages.lock().expect("messages").push(Received {
                    from: tx.from.unwrap_or_default(),
                    to: tx.to,
                    data,
                    login: login.clone(),
                });
                shared.arrived.notify_all();
                reply("250 2.0.0 OK: queued")?;
            }
            "RSET" => {
                tx = Transaction::default();
                reply("250 2.0.0 OK")?;
            }
            "NOOP" => reply("250 2.0.0 OK")?,
            "QUIT" => {
                reply("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => reply("502 5.5.2 Command not recognized")?,
        }
    }
}

/// One line without its CRLF (or LF); `None` at the end of the stream.
fn read_line(input: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if input.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The address of `FROM:<a@b> PARAM=…` or `TO:<a@b>`, after `prefix` (any case).
fn path_after(arg: &str, prefix: &str) -> Option<String> {
    let head = arg.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let path = rest.split_whitespace().next().unwrap_or_default();
    let path = path.strip_prefix('<')?.strip_suffix('>')?;
    Some(path.to_owned())
}

/// Standard base64 (RFC 4648), with or without padding; `None` when it is not base64.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.trim().trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
