//! The messages Gatehouse sends, each as plain text and HTML from askama templates
//! (`templates/mail/`), signed with the issuer's name. Only the recipient's address and the
//! fixed subject reach a header, and an address with a CR or LF (or anything else that is
//! no address) is refused before a message is built, so no header can be injected.

use askama::Template;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// The issuer as people read it: its host (and port), e.g. `id.example.com`.
pub fn issuer_name(issuer: &str) -> &str {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer);
    rest.split('/').next().unwrap_or(rest)
}

#[derive(Template)]
#[template(path = "mail/reset.txt")]
struct ResetText<'a> {
    issuer_name: &'a str,
    username: &'a str,
    url: &'a str,
    minutes: u64,
}

#[derive(Template)]
#[template(path = "mail/reset.html")]
struct ResetHtml<'a> {
    issuer_name: &'a str,
    username: &'a str,
    url: &'a str,
    minutes: u64,
}

#[derive(Template)]
#[template(path = "mail/verify.txt")]
struct VerifyText<'a> {
    issuer_name: &'a str,
    username: &'a str,
    url: &'a str,
    hours: u64,
}

#[derive(Template)]
#[template(path = "mail/verify.html")]
struct VerifyHtml<'a> {
    issuer_name: &'a str,
    username: &'a str,
    url: &'a str,
    hours: u64,
}

#[derive(Template)]
#[template(path = "mail/email_changed.txt")]
struct ChangedText<'a> {
    issuer_name: &'a str,
    username: &'a str,
    account_url: &'a str,
    removed: bool,
}

#[derive(Template)]
#[template(path = "mail/email_changed.html")]
struct ChangedHtml<'a> {
    issuer_name: &'a str,
    username: &'a str,
    account_url: &'a str,
    removed: bool,
}

/// A message before it is addressed: subject, text and HTML. No `Debug`: the bodies hold a
/// link's token.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The forgot-password mail: the link, valid for `minutes`.
pub fn password_reset(
    issuer: &str,
    username: &str,
    url: &str,
    minutes: u64,
) -> Result<Rendered, askama::Error> {
    let issuer_name = issuer_name(issuer);
    Ok(Rendered {
        subject: format!("Reset your password at {issuer_name}"),
        text: ResetText {
            issuer_name,
            username,
            url,
            minutes,
        }
        .render()?,
        html: ResetHtml {
            issuer_name,
            username,
            url,
            minutes,
        }
        .render()?,
    })
}

/// The verification mail of a new address: the link, valid for `hours`.
pub fn verify_email(
    issuer: &str,
    username: &str,
    url: &str,
    hours: u64,
) -> Result<Rendered, askama::Error> {
    let issuer_name = issuer_name(issuer);
    Ok(Rendered {
        subject: format!("Confirm your email address at {issuer_name}"),
        text: VerifyText {
            issuer_name,
            username,
            url,
            hours,
        }
        .render()?,
        html: VerifyHtml {
            issuer_name,
            username,
            url,
            hours,
        }
        .render()?,
    })
}

/// The notice to an address that was replaced (or removed): no link with a token, and not
/// the new address; the account page's address, to check what happened.
pub fn email_changed(
    issuer: &str,
    username: &str,
    removed: bool,
) -> Result<Rendered, askama::Error> {
    let issuer_name = issuer_name(issuer);
    let account_url = format!("{issuer}/account");
    let account_url = account_url.as_str();
    Ok(Rendered {
        subject: format!("Your email address at {issuer_name} was changed"),
        text: ChangedText {
            issuer_name,
            username,
            account_url,
            removed,
        }
        .render()?,
        html: ChangedHtml {
            issuer_name,
            username,
            account_url,
            removed,
        }
        .render()?,
    })
}

/// Why no message could be built; permanent (retrying builds the same).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the recipient is not a valid address")]
    Recipient,
    #[error("message: {0}")]
    Message(String),
}

/// The message from `from` to `to`: multipart/alternative, text first. `issuer` gives the
/// Message-ID's domain.
pub fn build(
    from: &Mailbox,
    to: &str,
    issuer: &str,
    rendered: Rendered,
) -> Result<Message, BuildError> {
    if to.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(BuildError::Recipient);
    }
    let to = Mailbox::new(None, to.parse().map_err(|_| BuildError::Recipient)?);
    let host = issuer_name(issuer).split(':').next().unwrap_or("localhost");
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject)
        .message_id(Some(format!("<{}@{host}>", uuid::Uuid::new_v4())))
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(rendered.text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(rendered.html),
                ),
        )
        .map_err(|e| BuildError::Message(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "Gatehouse <id@example.com>".parse().unwrap()
    }

    #[test]
    fn the_issuer_is_named_by_its_host() {
        assert_eq!(issuer_name("https://id.example.com"), "id.example.com");
        assert_eq!(
            issuer_name("http://127.0.0.1:8080/tenant"),
            "127.0.0.1:8080"
        );
    }

    #[test]
    fn a_reset_mail_has_both_parts_with_the_link_and_the_escaped_name() {
        let url = "https://id.example.com/reset?token=abc_DEF-123";
        let rendered = password_reset("https://id.example.com", "o'<b>", url, 30).unwrap();
        assert!(rendered.text.contains(url) && rendered.text.contains("o'<b>"));
        assert!(
            rendered.html.contains("o&#39;&#60;b&#62;") && !rendered.html.contains("<b>"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains(url));
        let message = build(
            &from(),
            "alice@example.org",
            "https://id.example.com",
            rendered,
        )
        .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(
            raw.contains("Subject: Reset your password at id.example.com\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.org\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }

    #[test]
    fn the_address_change_notice_names_the_account_and_says_whether_it_was_removed() {
        let changed = email_changed("https://id.example.com", "o'<b>", false).unwrap();
        assert_eq!(
            changed.subject,
            "Your email address at id.example.com was changed"
        );
        assert!(changed.text.contains("was given another email address"));
        assert!(changed.text.contains("https://id.example.com/account"));
        assert!(changed.html.contains("o&#39;&#60;b&#62;") && !changed.html.contains("<b>"));
        let removed = email_changed("https://id.example.com", "alice", true).unwrap();
        assert!(removed.text.contains("no longer has an email address"));
        assert!(!removed.text.contains("token="));
    }

    #[test]
    fn no_header_can_be_injected_through_the_address() {
        for to in [
            "alice@example.org\r\nBcc: mallory@example.net",
            "alice@example.org\nBcc: mallory@example.net",
            "alice@example.org\rX: y",
            "Mallory <mallory@example.net>",
            "not an address",
            "",
        ] {
            let rendered =
                verify_email("https://id.example.com", "alice", "https://x", 24).unwrap();
            assert!(
                matches!(
                    build(&from(), to, "https://id.example.com", rendered),
                    Err(BuildError::Recipient)
                ),
                "{to:?}"
            );
        }
    }
}
