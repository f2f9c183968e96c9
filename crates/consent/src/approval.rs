//! The approval gate's token (PRODUCT.md C7; Art. 22(3) GDPR, the right to obtain human
//! intervention): a person approves one action on one item of one subject, and the token they
//! hand out is good once, for a while, for exactly that. These rules say why a token is refused;
//! the vault stores approvals and spends tokens.

use jiff::Timestamp;

/// What an approval says about its token.
#[derive(Debug, Clone, Copy)]
pub struct Token<'a> {
    /// The action it approves, e.g. `draft.send`.
    pub action: &'a str,
    /// The item it approves (the app's reference, e.g. a draft id).
    pub item: &'a str,
    /// The subject (pseudonym) it was given for; `None` for approvals asked for before tokens
    /// were bound to a subject, which are refused like one for another subject (fail closed).
    pub subject: Option<&'a str>,
    /// Until when it is good.
    pub expires_at: Option<Timestamp>,
    /// When it was used, if it was.
    pub used_at: Option<Timestamp>,
}

/// What a token is presented for.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The action about to happen.
    pub action: &'a str,
    /// The item it happens to (surrounding spaces do not count).
    pub item: Option<&'a str>,
    /// The subject (pseudonym) whose item it is.
    pub subject: &'a str,
}

/// Why a token is refused, in the order it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Used before, at this moment: one token, one action.
    Used(Timestamp),
    /// Its time ran out at this moment.
    Expired(Timestamp),
    /// It approves another action.
    OtherAction {
        /// What it approves.
        approved: String,
        /// What was asked.
        asked: String,
    },
    /// It approves another item of the same action: one approval, one item.
    OtherItem,
    /// It approves the action for another subject (or for none).
    OtherSubject,
}

/// Whether `token` may be spent on `presented` at `now`: unused, not expired, and for exactly
/// this action, item and subject.
pub fn check_token(
    token: &Token<'_>,
    presented: &Presented<'_>,
    now: Timestamp,
) -> Result<(), TokenRefusal> {
    if let Some(used) = token.used_at {
        return Err(TokenRefusal::Used(used));
    }
    if let Some(exp) = token.expires_at
        && now > exp
    {
        return Err(TokenRefusal::Expired(exp));
    }
    if token.action != presented.action {
        return Err(TokenRefusal::OtherAction {
            approved: token.action.to_owned(),
            asked: presented.action.to_owned(),
        });
    }
    if presented.item.map(str::trim) != Some(token.item) {
        return Err(TokenRefusal::OtherItem);
    }
    if token.subject != Some(presented.subject) {
        return Err(TokenRefusal::OtherSubject);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a moment")
    }

    const SUBJECT: &str = "5f0c6e1d2a3b4c5d6e7f809112233445";

    fn token() -> Token<'static> {
        Token {
            action: "draft.send",
            item: "draft-7",
            subject: Some(SUBJECT),
            expires_at: Some(at("2026-11-01T09:15:00Z")),
            used_at: None,
        }
    }

    fn presented() -> Presented<'static> {
        Presented {
            action: "draft.send",
            item: Some(" draft-7 "),
            subject: SUBJECT,
        }
    }

    #[test]
    fn a_token_is_good_once_for_its_action_item_and_subject() {
        // Art. 22(3): the data subject's right "to obtain human intervention on the part of the
        // controller": the person who approved saw this item, and only this one.
        assert_eq!(
            check_token(&token(), &presented(), at("2026-11-01T09:15:00Z")),
            Ok(())
        );
        let used = Token {
            used_at: Some(at("2026-11-01T09:01:00Z")),
            ..token()
        };
        assert_eq!(
            check_token(&used, &presented(), at("2026-11-01T09:02:00Z")),
            Err(TokenRefusal::Used(at("2026-11-01T09:01:00Z")))
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        assert_eq!(
            check_token(&token(), &presented(), at("2026-11-01T09:15:01Z")),
            Err(TokenRefusal::Expired(at("2026-11-01T09:15:00Z")))
        );
    }

    #[test]
    fn a_token_for_another_action_item_or_subject_is_refused() {
        let now = at("2026-11-01T09:00:00Z");
        let other_action = Presented {
            action: "draft.delete",
            ..presented()
        };
        assert_eq!(
            check_token(&token(), &other_action, now),
            Err(TokenRefusal::OtherAction {
                approved: "draft.send".into(),
                asked: "draft.delete".into()
            })
        );
        let other_item = Presented {
            item: Some("draft-8"),
            ..presented()
        };
        assert_eq!(
            check_token(&token(), &other_item, now),
            Err(TokenRefusal::OtherItem)
        );
        let no_item = Presented {
            item: None,
            ..presented()
        };
        assert_eq!(
            check_token(&token(), &no_item, now),
            Err(TokenRefusal::OtherItem)
        );
        let other_subject = Presented {
            subject: "00000000000000000000000000000000",
            ..presented()
        };
        assert_eq!(
            check_token(&token(), &other_subject, now),
            Err(TokenRefusal::OtherSubject)
        );
    }

    #[test]
    fn a_token_bound_to_no_subject_is_refused() {
        let unbound = Token {
            subject: None,
            ..token()
        };
        assert_eq!(
            check_token(&unbound, &presented(), at("2026-11-01T09:00:00Z")),
            Err(TokenRefusal::OtherSubject)
        );
    }
}
