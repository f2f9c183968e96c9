//! Art. 19 GDPR: telling the recipients a subject's data was disclosed to about its
//! rectification, erasure or restriction. What is told, to whom and in which words is decided
//! here; the vault keeps the disclosures and the notification queue, the server delivers them
//! signed ([`crate::webhook`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

/// The actions a recipient is told about (Art. 19: rectification, erasure, restriction).
pub const ACTIONS: [&str; 3] = ["rectification", "erasure", "restriction"];

/// The `last_error` of a notification for a recipient without a webhook.
pub const NO_WEBHOOK: &str =
    "no webhook configured for this recipient; set one and retry, or tell them another way";

/// Whether recipients are told about `action` at all.
pub fn is_told(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// What one recipient received of one subject: the union of the categories of every
/// disclosure, and the recipient's own references for the subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// The categories disclosed.
    pub categories: BTreeSet<String>,
    /// The recipient's references for the subject, as recorded with the disclosures.
    pub references: BTreeSet<String>,
}

/// The recipients to tell, from the subject's disclosures `(recipient, categories, reference)`:
/// each recipient once, sorted, with everything it received.
pub fn recipients_to_tell(
    disclosures: impl IntoIterator<Item = (String, Vec<String>, Option<String>)>,
) -> BTreeMap<String, Received> {
    let mut per: BTreeMap<String, Received> = BTreeMap::new();
    for (recipient, categories, reference) in disclosures {
        let r = per.entry(recipient).or_default();
        r.categories.extend(categories);
        r.references.extend(reference);
    }
    per
}

/// The notification's JSON body, exactly as it is signed and sent: the action, the recipient's
/// own references for the subject and the categories it received; nothing of Custos's or the
/// app's identifier for the person, and no record contents.
///
/// ```json
/// {"type": "custos.subject.erasure", "id": "ntf_…", "request_id": "req_…",
///  "action": "erasure", "recipient": "anthropic", "subject_references": ["cus_42"],
///  "categories": ["account", "support"], "occurred_at": "2026-11-23T10:00:00Z",
///  "basis": "Art. 19 GDPR"}
/// ```
pub fn notification_body(
    id: &str,
    request_id: &str,
    action: &str,
    recipient: &str,
    received: &Received,
    occurred_at: Timestamp,
) -> String {
    serde_json::json!({
        "type": format!("custos.subject.{action}"),
        "id": id,
        "request_id": request_id,
        "action": action,
        "recipient": recipient,
        "subject_references": received.references,
        "categories": received.categories,
        "occurred_at": occurred_at,
        "basis": "Art. 19 GDPR",
    })
    .to_string()
}

/// A delivered notification's body as kept: without the subject references, which the
/// recipient has now and Custos no longer needs (Art. 5(1)(c)). A body that is not a JSON
/// object keeps nothing rather than something unknown.
pub fn redact_delivered(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.remove("subject_references");
            serde_json::Value::Object(map).to_string()
        }
        _ => "{}".to_owned(),
    }
}

/// Checks a webhook URL: `http` or `https`, a host, no credentials, no spaces or control
/// characters, at most `max` bytes. The reason names the part that is wrong, never the URL.
pub fn check_webhook_url(url: &str, max: usize) -> Result<(), &'static str> {
    if url.len() > max {
        return Err("longer than 2048 bytes");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return Err("the scheme must be http or https");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "credentials in the URL are refused; the signature authenticates Custos to the receiver",
        );
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err("no host");
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err("the port is not a number from 0 to 65535");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectification_erasure_and_restriction_are_told_and_nothing_else() {
        // Art. 19: "any rectification or erasure of personal data or restriction of processing
        // carried out in accordance with Article 16, Article 17(1) and Article 18".
        for a in ["rectification", "erasure", "restriction"] {
            assert!(is_told(a), "{a}");
        }
        for a in [
            "access",
            "portability",
            "objection",
            "withdrawal",
            "Erasure",
        ] {
            assert!(!is_told(a), "{a}");
        }
    }

    #[test]
    fn each_recipient_is_told_once_with_everything_it_received() {
        let per = recipients_to_tell([
            (
                "stripe".into(),
                vec!["billing".into()],
                Some("cus_42".into()),
            ),
            ("anthropic".into(), vec!["mail.body".into()], None),
            (
                "stripe".into(),
                vec!["account".into(), "billing".into()],
                Some("cus_42".into()),
            ),
            ("stripe".into(), vec![], Some("sub_7".into())),
        ]);
        assert_eq!(per.keys().collect::<Vec<_>>(), ["anthropic", "stripe"]);
        let stripe = &per["stripe"];
        assert_eq!(
            stripe.categories.iter().collect::<Vec<_>>(),
            ["account", "billing"]
        );
        assert_eq!(
            stripe.references.iter().collect::<Vec<_>>(),
            ["cus_42", "sub_7"]
        );
        assert!(per["anthropic"].references.is_empty());
    }

    #[test]
    fn the_body_names_the_recipients_references_and_no_identifier_of_ours() {
        let per = recipients_to_tell([(
            "stripe".into(),
            vec!["billing".into()],
            Some("cus_42".into()),
        )]);
        let at: Timestamp = "2026-11-23T10:00:00Z".parse().expect("a time");
        let body = notification_body("ntf_1", "req_1", "erasure", "stripe", &per["stripe"], at);
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["type"], "custos.subject.erasure");
        assert_eq!(v["subject_references"], serde_json::json!(["cus_42"]));
        assert_eq!(v["categories"], serde_json::json!(["billing"]));
        assert_eq!(v["basis"], "Art. 19 GDPR");
        assert_eq!(v["occurred_at"], "2026-11-23T10:00:00Z");
        let kept = redact_delivered(&body);
        assert!(!kept.contains("cus_42"), "{kept}");
        assert!(kept.contains("custos.subject.erasure"));
        assert_eq!(redact_delivered("not json"), "{}");
    }

    #[test]
    fn a_webhook_url_needs_a_scheme_a_host_and_no_credentials() {
        assert_eq!(
            check_webhook_url("https://hooks.example.com/custos", 2048),
            Ok(())
        );
        assert_eq!(check_webhook_url("http://[::1]:8080/x", 2048), Ok(()));
        for (url, why) in [
            ("ftp://example.com", "the scheme must be http or https"),
            (
                "https://user:pw@example.com",
                "credentials in the URL are refused; the signature authenticates Custos to the receiver",
            ),
            ("https:///path", "no host"),
            (
                "https://example.com:99999/",
                "the port is not a number from 0 to 65535",
            ),
            (
                "https://exa mple.com",
                "contains spaces or control characters",
            ),
        ] {
            assert_eq!(check_webhook_url(url, 2048), Err(why), "{url}");
        }
        assert!(check_webhook_url(&format!("https://e.com/{}", "a".repeat(2048)), 2048).is_err());
    }
}
