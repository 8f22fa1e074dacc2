//! Mail: the SMTP server of `SMTP_URL` (`transport.rs`), the messages Gatehouse sends
//! (`messages.rs`, plain text and HTML from askama templates) and the outbox's deliverer of
//! the `mail` kind (`deliver.rs`). A request never talks to the SMTP server: it writes a
//! [`MailJob`] to the outbox in its own transaction, and a background task sends it.

pub mod messages;
pub mod transport;

use serde::{Deserialize, Serialize};

use crate::db::{DbConn, DbError};
use crate::outbox::{self, NewMessage};

pub use transport::{Mailer, SmtpSettings};

/// The outbox kind of every message to an email address.
pub const KIND: &str = "mail";

/// What the outbox holds for one message: never a token (the link's token is made when the
/// message is sent, stored as a digest, and exists in the mail only) and never a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MailJob {
    /// A forgot-password request as typed (a username or an address): whether it names an
    /// account, and whether that account gets a link, is decided when it is sent, off the
    /// request, so the request does the same work for every answer.
    ForgotPassword { identifier: String },
    /// A verification link for the user's address, while the user still has that address.
    VerifyEmail { user_id: String, email: String },
    /// The notice to a verified address that was replaced or removed: it carries no link,
    /// and never the new address (whoever changed it need not tell the old owner where to).
    EmailChanged {
        user_id: String,
        username: String,
        old_email: String,
        removed: bool,
    },
}

impl MailJob {
    /// The outbox's destination column, shown in the console: the address of a verification;
    /// never what was typed into the forgot-password form (it may be a password typed into
    /// the wrong field, and it names nobody until the delivery looks).
    pub fn destination(&self) -> &str {
        match self {
            MailJob::ForgotPassword { .. } => "forgot-password request",
            MailJob::VerifyEmail { email, .. } => email,
            MailJob::EmailChanged { old_email, .. } => old_email,
        }
    }

    /// Jobs of one key go in the order they were written: a request's, per what was typed;
    /// a verification's and an address notice's, per user (the new address's link first).
    fn ordering_key(&self) -> String {
        match self {
            MailJob::ForgotPassword { identifier } => {
                format!("forgot:{}", identifier.to_lowercase())
            }
            MailJob::VerifyEmail { user_id, .. } | MailJob::EmailChanged { user_id, .. } => {
                format!("verify:{user_id}")
            }
        }
    }
}

/// Writes `job` to the outbox on `conn`, inside the caller's transaction, so the message
/// exists exactly when the change that causes it was committed.
pub fn enqueue(conn: &mut DbConn, job: &MailJob, now: i64) -> Result<(), DbError> {
    // Strings only: serialising cannot fail (an empty payload would be refused when sent).
    let payload = serde_json::to_string(job).unwrap_or_default();
    let message = NewMessage {
        kind: KIND,
        destination: job.destination(),
        payload: &payload,
        ordering_key: &job.ordering_key(),
    };
    outbox::enqueue(conn, &message, now)
}
