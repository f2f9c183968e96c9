//! E-mail to data subjects over SMTP: the privacy center's one-time verification codes and the
//! notices that a request changed. One message per call, one connection per message, blocking
//! (the server calls [`Mailer::send`] on the blocking pool).
//!
//! A recipient's address and a message's text are personal data: they go to the mail server and
//! nowhere else. A [`MailError`] names the server (`host:port`), what failed and the server's
//! reply code, never the address or the text, even when the server's own reply quotes them.

use std::fmt;
use std::time::Duration;

use lettre::Transport;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use zeroize::Zeroizing;

use crate::config::SmtpTls;
use custos_types::ErrorCode;

/// The configuration a [`Mailer`] is built from: the `[smtp]` table of the server's
/// configuration.
pub type MailConfig = crate::config::SmtpConfig;

/// The languages a message may be written in, as `Content-Language` names them.
const LANGUAGES: [&str; 2] = ["nl", "en"];

/// Sends messages through the configured mail server.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    /// `host:port`, for errors.
    server: String,
    timeout: Duration,
}

impl fmt::Debug for Mailer {
    /// The server and the sender; never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// One message to one data subject.
#[derive(Clone)]
pub struct Message {
    /// The recipient's address (personal data: never logged, never in an error).
    pub to: String,
    /// The subject line; any characters (non-ASCII is encoded for the header).
    pub subject: String,
    /// The plain-text body, always sent.
    pub text: String,
    /// An HTML body besides the text; with one, the message is `multipart/alternative`.
    pub html: Option<String>,
    /// The language it is written in, `"nl"` or `"en"` (its `Content-Language`).
    pub lang: &'static str,
}

impl fmt::Debug for Message {
    /// The language and whether there is HTML; never the address, subject or text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("lang", &self.lang)
            .field("html", &self.html.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent. Its text names the mail server and what failed, never the
/// recipient or the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The `[smtp]` configuration cannot be used; the message names the field.
    #[error("{0}")]
    Config(String),
    /// The message itself cannot be sent (which part, never its value).
    #[error("the message cannot be sent: {0}")]
    InvalidMessage(&'static str),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the mail server {server}: {reason}")]
    Connection {
        /// `host:port`.
        server: String,
        /// What the operating system said.
        reason: String,
    },
    /// The server did not answer within the configured timeout.
    #[error("the mail server {server} did not answer within {} seconds", after.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The TLS handshake failed (an untrusted or expired certificate, a wrong host name, a
    /// server that speaks no TLS on this port).
    #[error("TLS with the mail server {server} failed: {reason}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with a refusal: a 4xx (temporary) or 5xx (permanent) reply.
    #[error(
        "the mail server {server} refused with reply code {code}{}: {}",
        enhanced.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
        refusal_hint(*code)
    )]
    Rejected {
        /// `host:port`.
        server: String,
        /// The reply code, e.g. 550.
        code: u16,
        /// The enhanced status code at the start of the reply (RFC 3463), e.g. `5.1.1`.
        enhanced: Option<String>,
    },
    /// The session went wrong otherwise (the server cannot do STARTTLS or none of the login
    /// mechanisms, or answered something that is no SMTP).
    #[error("the SMTP session with {server} failed: {reason}")]
    Session {
        /// `host:port`.
        server: String,
        /// What failed.
        reason: String,
    },
}

fn refusal_hint(code: u16) -> &'static str {
    match code {
        530 | 534 | 535 | 538 | 454 => {
            "the login was refused or is required: check [smtp] username and password_file"
        }
        400..=499 => "a temporary refusal; try again later",
        _ => "a permanent refusal",
    }
}

impl MailError {
    /// The stable code: `mail-unavailable` when the server could not be used or refused,
    /// `unprocessable` for a message that cannot be sent to anyone, `internal` for a
    /// configuration that cannot be used.
    pub fn code(&self) -> ErrorCode {
        match self {
            MailError::Config(_) => ErrorCode::Internal,
            MailError::InvalidMessage(_) => ErrorCode::Unprocessable,
            MailError::Connection { .. }
            | MailError::Timeout { .. }
            | MailError::Tls { .. }
            | MailError::Rejected { .. }
            | MailError::Session { .. } => ErrorCode::MailUnavailable,
        }
    }

    /// Whether the same message may go through when sent again later: the server was
    /// unreachable or slow, or refused for now (a 4xx reply).
    pub fn is_temporary(&self) -> bool {
        match self {
            MailError::Connection { .. } | MailError::Timeout { .. } => true,
            MailError::Rejected { code, .. } => (400..500).contains(code),
            _ => false,
        }
    }
}

impl Mailer {
    /// A mailer for `config`: checks it as the configuration loader does, and reads the
    /// password from `password_file`. Nothing is sent and no connection is made.
    pub fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        config.check().map_err(MailError::Config)?;
        let from: Mailbox = config.from.trim().parse().map_err(|_| {
            MailError::Config(format!(
                "[smtp] from: `{}` is not an e-mail address",
                config.from
            ))
        })?;
        let host = config.host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let tls_parameters = || {
            TlsParameters::new_rustls(host.to_owned())
                .map_err(|e| MailError::Config(format!("[smtp] host `{host}` for TLS: {e}")))
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let (Some(username), Some(file)) = (&config.username, &config.password_file) {
            let password = read_password(file)?;
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.as_str().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            server: if host.contains(':') {
                format!("[{host}]:{}", config.port)
            } else {
                format!("{host}:{}", config.port)
            },
            timeout: config.timeout,
        })
    }

    /// The mail server, `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `message` and returns once the server accepted it for delivery. Blocks for up to
    /// a few times the configured timeout: call it where blocking is allowed.
    pub fn send(&self, message: &Message) -> Result<(), MailError> {
        let email = self.build(message)?;
        self.transport
            .send(&email)
            .map(drop)
            .map_err(|e| self.failure(&e))
    }

    /// The message as it goes on the wire: `From`, `To`, the encoded `Subject`, `Date`, a
    /// `Message-ID` in the sender's domain, `Content-Language`, and `Auto-Submitted:
    /// auto-generated` (RFC 3834) so that no autoresponder answers a verification code.
    fn build(&self, m: &Message) -> Result<lettre::Message, MailError> {
        if !LANGUAGES.contains(&m.lang) {
            return Err(MailError::InvalidMessage(
                "the language must be \"nl\" or \"en\"",
            ));
        }
        let to: Mailbox =
            m.to.trim()
                .parse()
                .map_err(|_| MailError::InvalidMessage("the recipient is not an e-mail address"))?;
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .message_id(Some(message_id(self.from.email.domain())))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                m.lang.to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        match &m.html {
            None => builder.singlepart(SinglePart::plain(m.text.clone())),
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                html.clone(),
            )),
        }
        .map_err(|_| MailError::InvalidMessage("its headers cannot be built"))
    }

    /// What failed, in words that carry no address and no message text: the server's reply
    /// text is dropped (it often quotes the recipient), only its codes are kept.
    fn failure(&self, e: &lettre::transport::smtp::Error) -> MailError {
        let server = self.server.clone();
        // A read past its timeout fails with `WouldBlock` on Unix, which lettre does not count
        // as a timeout.
        let timed_out = io_error(e).is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            )
        });
        if e.is_timeout() || timed_out {
            return MailError::Timeout {
                server,
                after: self.timeout,
            };
        }
        if let Some(code) = e.status() {
            let enhanced =
                std::error::Error::source(e).and_then(|reply| enhanced_status(&reply.to_string()));
            return MailError::Rejected {
                server,
                code: code.into(),
                enhanced,
            };
        }
        if e.is_tls() {
            return MailError::Tls {
                server,
                reason: without_addresses(&source_text(e)),
            };
        }
        if let Some(io) = io_error(e) {
            return MailError::Connection {
                server,
                reason: without_addresses(&io.to_string()),
            };
        }
        MailError::Session {
            server,
            reason: if e.is_response() {
                "the server's reply is not SMTP".to_owned()
            } else {
                without_addresses(&source_text(e))
            },
        }
    }
}

/// The password in `file`, without a trailing newline.
fn read_password(file: &std::path::Path) -> Result<Zeroizing<String>, MailError> {
    let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
        MailError::Config(format!("[smtp] password_file: {}: {e}", file.display()))
    })?);
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(MailError::Config(format!(
            "[smtp] password_file: {} is empty",
            file.display()
        )));
    }
    Ok(Zeroizing::new(password.to_owned()))
}

/// A fresh `Message-ID` in the sender's domain.
fn message_id(domain: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough without the random part: the clock's nanoseconds.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_le_bytes();
    }
    format!("<{}@{domain}>", hex::encode(bytes))
}

/// The enhanced status code (RFC 3463) a reply text starts with, e.g. `5.1.1`; nothing else of
/// the text.
fn enhanced_status(reply: &str) -> Option<String> {
    let first = reply.split_whitespace().next()?;
    let mut parts = first.split('.');
    let class = parts.next()?;
    let (subject, detail) = (parts.next()?, parts.next()?);
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    (matches!(class, "2" | "4" | "5")
        && digits(subject, 3)
        && digits(detail, 3)
        && parts.next().is_none())
    .then(|| first.to_owned())
}

/// The error's causes, innermost last, as one line.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cause = e.source();
    while let Some(c) = cause {
        parts.push(c.to_string());
        cause = c.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// The first I/O error among the causes (a refused connection, a reset).
fn io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}

/// `text` with every word that holds an `@` replaced, and cut to a line: a guard for the texts
/// of other libraries, which this module does not control.
fn without_addresses(text: &str) -> String {
    let mut out = text
        .split_whitespace()
        .map(|w| if w.contains('@') { "<address>" } else { w })
        .collect::<Vec<_>>()
        .join(" ");
    if out.len() > 200 {
        let mut end = 200;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MailConfig {
        MailConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            from: "Privacy desk <privacy@example.nl>".into(),
            tls: SmtpTls::None,
            username: None,
            password_file: None,
            timeout: Duration::from_secs(1),
        }
    }

    fn message() -> Message {
        Message {
            to: "jan.jansen@example.com".into(),
            subject: "Uw verzoek".into(),
            text: "Uw code is 123456.".into(),
            html: None,
            lang: "nl",
        }
    }

    #[test]
    fn the_enhanced_status_is_all_that_is_kept_of_a_reply() {
        assert_eq!(
            enhanced_status("5.1.1 <jan@example.com>: Recipient address rejected").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(enhanced_status("4.7.0 Try later").as_deref(), Some("4.7.0"));
        assert_eq!(enhanced_status("<jan@example.com> unknown"), None);
        assert_eq!(enhanced_status("5.1.1.1 x"), None);
        assert_eq!(enhanced_status(""), None);
    }

    #[test]
    fn words_with_an_address_are_left_out_of_foreign_texts() {
        assert_eq!(
            without_addresses("no route to <jan@example.com>, sorry"),
            "no route to <address> sorry"
        );
        assert!(without_addresses(&"é".repeat(300)).ends_with('…'));
    }

    #[test]
    fn a_message_needs_a_known_language_and_a_real_recipient() {
        let mailer = Mailer::new(&config()).unwrap();
        let mut m = message();
        m.lang = "de";
        assert!(matches!(mailer.send(&m), Err(MailError::InvalidMessage(_))));
        let mut m = message();
        m.to = "jan.jansen at example.com".into();
        let e = mailer.send(&m).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unprocessable);
        assert!(!e.to_string().contains("jan.jansen"), "{e}");
    }

    #[test]
    fn the_mailer_refuses_what_the_configuration_refuses() {
        let mut c = config();
        c.host = "smtp.example.nl".into();
        let e = Mailer::new(&c).unwrap_err();
        assert!(e.to_string().contains("tls = \"none\""), "{e}");
        let mut c = config();
        c.username = Some("custos".into());
        c.password_file = Some("/nonexistent/custos-smtp.password".into());
        let e = Mailer::new(&c).unwrap_err().to_string();
        assert!(
            e.starts_with("[smtp] password_file: /nonexistent/custos-smtp.password"),
            "{e}"
        );
    }

    #[test]
    fn neither_mailer_nor_message_print_what_they_carry() {
        let dir = std::env::temp_dir().join(format!("custos-mail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("smtp.password");
        std::fs::write(&file, "correct horse battery\n").unwrap();
        let mut c = config();
        c.username = Some("custos".into());
        c.password_file = Some(file);
        let mailer = Mailer::new(&c).unwrap();
        assert!(!format!("{mailer:?}").contains("correct horse"));
        let shown = format!("{:?}", message());
        assert!(
            !shown.contains("jan.jansen") && !shown.contains("123456"),
            "{shown}"
        );
    }

    #[test]
    fn a_temporary_refusal_is_worth_retrying_and_a_permanent_one_is_not() {
        let rejected = |code| MailError::Rejected {
            server: "smtp.example.nl:587".into(),
            code,
            enhanced: None,
        };
        assert!(rejected(451).is_temporary());
        assert!(!rejected(550).is_temporary());
        assert_eq!(rejected(550).code(), ErrorCode::MailUnavailable);
        assert!(rejected(535).to_string().contains("password_file"));
    }
}
