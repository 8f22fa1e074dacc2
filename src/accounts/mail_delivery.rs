//! The outbox's deliverer of the `mail` kind: reads a [`MailJob`], decides what to send now
//! (a forgot-password request may name nobody who gets a link), makes the link, sends the
//! message to the SMTP server, and withdraws the link when the server did not take it, so a
//! retry sends a fresh one.

use futures_util::future::BoxFuture;

use super::Accounts;
use crate::domain::LoginLimits;
use crate::mail::messages::{self, Rendered};
use crate::mail::transport::SendError;
use crate::mail::{MailJob, Mailer};
use crate::outbox::{Deliverer, Delivery, Message};

/// Why a message was not delivered this time. The text is stored as the message's last
/// error: it names the server's answer, never a token or an address's secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (the server down, slow, refusing for now; the database).
    #[error("{0}")]
    Retry(String),
    /// Never deliverable (a payload we cannot read, an address the server refuses for good).
    #[error("{0}")]
    Permanent(String),
}

impl From<SendError> for DeliveryError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Permanent(m) => DeliveryError::Permanent(m),
            SendError::Transient(m) => DeliveryError::Retry(m),
        }
    }
}

impl From<crate::db::DbError> for DeliveryError {
    fn from(e: crate::db::DbError) -> Self {
        DeliveryError::Retry(format!("database: {e}"))
    }
}

/// What the mail deliverer needs: the accounts (links), the server, the issuer (links and
/// the issuer's name), the forgot-password windows.
#[derive(Clone)]
pub struct MailDeliverer {
    pub accounts: Accounts,
    pub mailer: Mailer,
    pub issuer: String,
    pub reset_limits: LoginLimits,
}

impl Deliverer for MailDeliverer {
    fn deliver<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            match self.deliver_payload(&message.payload).await {
                Ok(()) => Delivery::Delivered,
                Err(DeliveryError::Retry(why)) => Delivery::Retry(why),
                Err(DeliveryError::Permanent(why)) => Delivery::Reject(why),
            }
        })
    }
}

impl MailDeliverer {
    /// Delivers one stored job (its JSON payload).
    pub async fn deliver_payload(&self, payload: &str) -> Result<(), DeliveryError> {
        let job: MailJob = serde_json::from_str(payload)
            .map_err(|e| DeliveryError::Permanent(format!("unreadable mail job: {e}")))?;
        match job {
            MailJob::ForgotPassword { identifier } => self.forgot_password(&identifier).await,
            MailJob::VerifyEmail { user_id, email } => self.verify_email(&user_id, &email).await,
            MailJob::EmailChanged {
                username,
                old_email,
                removed,
                ..
            } => {
                let rendered = messages::email_changed(&self.issuer, &username, removed)
                    .map_err(|e| DeliveryError::Permanent(format!("template: {e}")))?;
                self.send(&old_email, rendered).await
            }
        }
    }

    async fn forgot_password(&self, identifier: &str) -> Result<(), DeliveryError> {
        let links = self
            .accounts
            .reset_links_for_request(identifier, self.reset_limits)
            .await?;
        let minutes = crate::accounts::reset::DEFAULT_RESET_TTL.as_secs() / 60;
        let mut failed = None;
        for link in links {
            let url = link.link.url(&self.issuer);
            let sent = match messages::password_reset(&self.issuer, &link.username, &url, minutes) {
                Ok(rendered) => self.send(&link.email, rendered).await,
                Err(e) => Err(DeliveryError::Permanent(format!("template: {e}"))),
            };
            if let Err(e) = sent {
                self.accounts.withdraw_mailed_link(&link).await?;
                failed = Some(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn verify_email(&self, user_id: &str, email: &str) -> Result<(), DeliveryError> {
        let Some(link) = self
            .accounts
            .issue_verification_link(user_id, email)
            .await?
        else {
            return Ok(()); // the address changed, was verified, or the user is gone
        };
        let url = link.url(&self.issuer);
        let hours = crate::accounts::email::VERIFY_TTL.as_secs() / 3600;
        let sent = match messages::verify_email(&self.issuer, &link.username, &url, hours) {
            Ok(rendered) => self.send(&link.email, rendered).await,
            Err(e) => Err(DeliveryError::Permanent(format!("template: {e}"))),
        };
        if sent.is_err() {
            self.accounts.withdraw_verification_link(&link).await?;
        }
        sent
    }

    async fn send(&self, to: &str, rendered: Rendered) -> Result<(), DeliveryError> {
        let message = messages::build(&self.mailer.from, to, &self.issuer, rendered)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        Ok(self.mailer.send(message).await?)
    }
}
