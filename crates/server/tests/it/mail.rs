//! E-mail over real SMTP to the test receiver (`testkit/smtp.rs`): what arrives, with which
//! headers, with which login, and what an error says when the server cannot be used. The
//! recipient's address and the message are personal data: no error may carry them.

use std::time::{Duration, Instant};

use custos_server::config::{SmtpConfig, SmtpTls};
use custos_server::mail::{MailError, Mailer, Message};
use custos_types::ErrorCode;

use crate::smtp::{Behaviour, Login, Receiver};

const TO: &str = "jan.jansen@example.com";
const WAIT: Duration = Duration::from_secs(10);

fn config(addr: std::net::SocketAddr) -> SmtpConfig {
    SmtpConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        from: "Privacy desk <privacy@example.nl>".into(),
        tls: SmtpTls::None,
        username: None,
        password_file: None,
        timeout: Duration::from_secs(5),
    }
}

fn dutch() -> Message {
    Message {
        to: TO.into(),
        subject: "Uw verzoek — ontvangen".into(),
        text: "Beste Jan,\n\nUw code is 482913. Hij is één uur geldig.\n".into(),
        html: None,
        lang: "nl",
    }
}

/// The header block, continuation lines unfolded, as (name, value) pairs.
fn headers(block: &str) -> Vec<(String, String)> {
    let head = block.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

fn header(block: &str, name: &str) -> String {
    headers(block)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} header in:\n{block}"))
}

fn body(block: &str) -> &str {
    block.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// A header value with its RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded;
/// the space between two encoded words is not part of the text (RFC 2047 6.2).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut previous_encoded = None;
    for word in value.split(' ') {
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                assert!(charset.eq_ignore_ascii_case("utf-8"), "{word}");
                let bytes = if encoding.eq_ignore_ascii_case("b") {
                    crate::smtp::decode_base64(text)?
                } else {
                    quoted_printable(&text.replace('_', " ")).into_bytes()
                };
                String::from_utf8(bytes).ok()
            });
        let encoded = decoded.is_some();
        if previous_encoded.is_some_and(|p| !(p && encoded)) {
            out.push(' ');
        }
        out.push_str(decoded.as_deref().unwrap_or(word));
        previous_encoded = Some(encoded);
    }
    out
}

/// Quoted-printable (RFC 2045 6.7) decoded as UTF-8.
fn quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("an =XX escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// A part's body decoded by its `Content-Transfer-Encoding`, with LF line ends and without the
/// empty lines the sender adds before the end of the data.
pub(crate) fn decoded_body(part: &str) -> String {
    let encoding = headers(part)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-transfer-encoding"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".into());
    let raw = body(part);
    let text = match encoding.as_str() {
        "quoted-printable" => quoted_printable(raw),
        "base64" => String::from_utf8(
            crate::smtp::decode_base64(&raw.split_whitespace().collect::<String>())
                .expect("base64"),
        )
        .expect("UTF-8"),
        _ => raw.to_owned(),
    };
    let text = text.replace("\r\n", "\n");
    format!("{}\n", text.trim_end_matches('\n'))
}

#[test]
fn a_dutch_message_arrives_with_its_headers_and_an_encoded_subject() {
    let receiver = Receiver::start();
    let mailer = Mailer::new(&config(receiver.addr())).unwrap();
    mailer.send(&dutch()).unwrap();
    let got = receiver.wait_for(1, WAIT).remove(0);
    assert_eq!(got.from, "privacy@example.nl");
    assert_eq!(got.to, [TO]);
    let data = &got.data;
    assert!(
        data.is_ascii(),
        "headers and body are encoded for 7-bit transport"
    );
    assert_eq!(
        header(data, "From"),
        "\"Privacy desk\" <privacy@example.nl>"
    );
    assert_eq!(header(data, "To"), TO);
    let subject = header(data, "Subject");
    assert!(subject.contains("=?utf-8?"), "encoded: {subject}");
    assert_eq!(decode_words(&subject), "Uw verzoek — ontvangen");
    assert_eq!(header(data, "Content-Language"), "nl");
    assert_eq!(header(data, "Auto-Submitted"), "auto-generated");
    assert!(header(data, "Message-ID").ends_with("@example.nl>"));
    header(data, "Date");
    assert_eq!(
        header(data, "Content-Type").to_ascii_lowercase(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(decoded_body(data), dutch().text);
    assert!(got.login.is_none(), "no login was configured");
}

#[test]
fn an_english_message_with_html_is_multipart_alternative() {
    let receiver = Receiver::start();
    let mailer = Mailer::new(&config(receiver.addr())).unwrap();
    mailer
        .send(&Message {
            to: TO.into(),
            subject: "Your request has been answered".into(),
            text: "Dear Jan,\n\nYour request was answered.\n".into(),
            html: Some("<p>Dear Jan,</p><p>Your request was <b>answered</b>.</p>".into()),
            lang: "en",
        })
        .unwrap();
    let data = receiver.wait_for(1, WAIT).remove(0).data;
    assert_eq!(header(&data, "Content-Language"), "en");
    assert_eq!(
        decode_words(&header(&data, "Subject")),
        "Your request has been answered"
    );
    let content_type = header(&data, "Content-Type");
    assert!(
        content_type.starts_with("multipart/alternative;"),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let parts: Vec<&str> = body(&data)
        .split(&format!("--{boundary}"))
        .map(|p| p.trim_start_matches("\r\n"))
        .filter(|p| !p.is_empty() && !p.starts_with("--"))
        .collect();
    assert_eq!(parts.len(), 2, "{data}");
    let kinds: Vec<String> = parts
        .iter()
        .map(|p| header(p, "Content-Type").to_ascii_lowercase())
        .collect();
    assert_eq!(
        kinds,
        ["text/plain; charset=utf-8", "text/html; charset=utf-8"]
    );
    assert!(decoded_body(parts[0]).starts_with("Dear Jan,"));
    assert!(decoded_body(parts[1]).contains("<b>answered</b>"));
}

#[test]
fn the_login_from_the_password_file_reaches_the_server() {
    let receiver = Receiver::start();
    let dir = std::env::temp_dir().join(format!("custos-it-mail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("smtp.password");
    std::fs::write(&file, "s3cret wachtwoord\n").unwrap();
    let mut config = config(receiver.addr());
    config.username = Some("custos@example.nl".into());
    config.password_file = Some(file);
    Mailer::new(&config).unwrap().send(&dutch()).unwrap();
    let got = receiver.wait_for(1, WAIT).remove(0);
    assert_eq!(
        got.login,
        Some(Login {
            mechanism: "PLAIN".into(),
            username: "custos@example.nl".into(),
            password: "s3cret wachtwoord".into(),
        }),
        "the trailing newline is not part of the password"
    );
}

#[test]
fn a_lone_dot_and_leading_dots_in_the_text_arrive_intact() {
    let receiver = Receiver::start();
    let mailer = Mailer::new(&config(receiver.addr())).unwrap();
    let text = "Before\n.\n.hidden\n..two\nAfter\n";
    mailer
        .send(&Message {
            text: text.into(),
            ..dutch()
        })
        .unwrap();
    let data = receiver.wait_for(1, WAIT).remove(0).data;
    assert_eq!(decoded_body(&data), text);
}

#[test]
fn a_subject_cannot_add_headers_or_recipients() {
    let receiver = Receiver::start();
    let mailer = Mailer::new(&config(receiver.addr())).unwrap();
    mailer
        .send(&Message {
            subject: "Uw verzoek\r\nBcc: mallory@example.org".into(),
            ..dutch()
        })
        .unwrap();
    let got = receiver.wait_for(1, WAIT).remove(0);
    assert_eq!(got.to, [TO]);
    assert!(
        !headers(&got.data)
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("bcc")),
        "{}",
        got.data
    );
}

/// The error, as text and as debug form, holds no part of the address, the subject or the text.
fn assert_no_personal_data(e: &MailError) {
    for shown in [e.to_string(), format!("{e:?}")] {
        for secret in [TO, "jan.jansen", "Uw verzoek", "482913"] {
            assert!(!shown.contains(secret), "`{secret}` leaked into: {shown}");
        }
    }
}

#[test]
fn a_server_that_is_not_listening_is_named_and_the_recipient_is_not() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mailer = Mailer::new(&config(([127, 0, 0, 1], port).into())).unwrap();
    let e = mailer.send(&dutch()).unwrap_err();
    assert!(matches!(e, MailError::Connection { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert_eq!(e.code(), ErrorCode::MailUnavailable);
    assert_eq!(e.code().status(), 503);
    assert!(e.is_temporary());
    assert_no_personal_data(&e);
}

#[test]
fn a_refusal_that_quotes_the_recipient_keeps_only_its_codes() {
    let receiver = Receiver::start_with(Behaviour::RejectRecipients);
    let mailer = Mailer::new(&config(receiver.addr())).unwrap();
    let e = mailer.send(&dutch()).unwrap_err();
    assert_eq!(
        e,
        MailError::Rejected {
            server: receiver.addr().to_string(),
            code: 550,
            enhanced: Some("5.1.1".into()),
        }
    );
    assert!(e.to_string().contains("550 (5.1.1)"), "{e}");
    assert!(!e.is_temporary());
    assert_no_personal_data(&e);
    assert!(receiver.messages().is_empty());
}

#[test]
fn a_server_that_never_answers_times_out_naming_host_and_port() {
    // Connections queue in the backlog, but nothing greets them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let mut config = config(addr);
    config.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let e = Mailer::new(&config).unwrap().send(&dutch()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(e, MailError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    assert_no_personal_data(&e);
}
