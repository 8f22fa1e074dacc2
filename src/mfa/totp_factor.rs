//! A user's authenticator app: enrolment (a new secret, shown once as a QR code and as text,
//! counting only after one valid code), removal (the password again), and the code check of
//! a sign-in. Each code counts once: the step it belongs to is stored, and a later code must
//! belong to a later step.

use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

use super::recovery::RecoveryCodes;
use super::totp::{self, Check};
use super::{guard_refusal, Mfa, MfaError};
use crate::accounts::login_guard::PasswordSurface;
use crate::accounts::User;
use crate::audit::{Event, Kind};
use crate::db::repo::factors::{self, TotpRow};
use crate::db::{repo, DbError};
use crate::error::Internal;
use crate::passwords::Password;

/// An enrolment in progress: what the user's app needs to read. No `Debug`: it is the secret.
pub struct Enrolment {
    /// The secret in base32, for typing into an app.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI the QR code carries.
    pub uri: Zeroizing<String>,
}

/// A user's authenticator app, as their account shows it.
pub enum TotpState {
    None,
    /// Started, not yet confirmed by a code.
    Pending(Enrolment),
    Enabled {
        since: i64,
        recovery_codes_left: i64,
    },
}

/// The context a user's secret is sealed under: it opens for that user's row only.
fn context(user_id: &str) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

impl Mfa {
    fn open_secret(&self, row: &TotpRow) -> Result<Zeroizing<Vec<u8>>, Internal> {
        self.store
            .master()
            .open(
                &row.master_key_id,
                &row.secret_sealed,
                &context(&row.user_id),
            )
            .map_err(|e| Internal::Broken(Box::new(e)))
    }

    fn enrolment(&self, user: &User, secret: &[u8]) -> Enrolment {
        Enrolment {
            secret: totp::base32(secret),
            uri: totp::otpauth_uri(&self.issuer_name, &user.username, secret),
        }
    }

    async fn totp_row(&self, user_id: &str) -> Result<Option<TotpRow>, DbError> {
        let id = user_id.to_string();
        self.db.run(move |conn| factors::find_totp(conn, &id)).await
    }

    /// Whether the user has a confirmed second factor.
    pub async fn has_second_factor(&self, user_id: &str) -> Result<bool, DbError> {
        let id = user_id.to_string();
        self.db
            .run(move |conn| factors::has_second_factor(conn, &id))
            .await
    }

    pub async fn totp_state(&self, user: &User) -> Result<TotpState, MfaError> {
        let Some(row) = self.totp_row(&user.id).await? else {
            return Ok(TotpState::None);
        };
        match row.confirmed_at {
            None => {
                let secret = self.open_secret(&row)?;
                Ok(TotpState::Pending(self.enrolment(user, &secret)))
            }
            Some(since) => {
                let id = user.id.clone();
                let left = self
                    .db
                    .run(move |conn| factors::unused_recovery_codes(conn, &id))
                    .await?;
                Ok(TotpState::Enabled {
                    since,
                    recovery_codes_left: left,
                })
            }
        }
    }

    /// The user's password, asked again before a factor changes (through the guard, so it is
    /// throttled like a sign-in).
    pub(super) async fn recheck_password(
        &self,
        user: &User,
        password: Password,
        client_addr: &str,
    ) -> Result<(), MfaError> {
        if password.expose().is_empty()
            || password.expose().len() > crate::accounts::MAX_PASSWORD_BYTES
        {
            return Err(MfaError::WrongPassword);
        }
        let checked = self
            .guard
            .check_password(
                &user.username,
                password,
                client_addr,
                PasswordSurface::AccountPage,
            )
            .await
            .map_err(|e| guard_refusal(e, MfaError::WrongPassword))?;
        if checked.id == user.id {
            Ok(())
        } else {
            Err(MfaError::WrongPassword)
        }
    }

    /// Starts an enrolment after the password: a new secret, in place of any unconfirmed
    /// one. Refused while an app is set up (remove it first).
    pub async fn start_totp(
        &self,
        user: &User,
        password: Password,
        client_addr: &str,
    ) -> Result<Enrolment, MfaError> {
        self.recheck_password(user, password, client_addr).await?;
        let secret = totp::new_secret();
        let master = &self.store.master().current;
        let sealed = master.seal(&secret, &context(&user.id));
        let (id, key_id, now) = (user.id.clone(), master.id().to_string(), self.clock.now());
        let started = self
            .db
            .write(move |conn| factors::start_totp(conn, &id, &sealed, &key_id, now))
            .await?;
        if !started {
            return Err(MfaError::AlreadyEnrolled);
        }
        Ok(self.enrolment(user, &secret))
    }

    /// Checks a code against the user's secret through the guard and spends its step; with
    /// `confirming`, only an unconfirmed enrolment is checked, and its first recovery codes
    /// are stored in the same transaction.
    async fn spend_code(
        &self,
        user: &User,
        code: &str,
        client_addr: &str,
        confirming: Option<&RecoveryCodes>,
    ) -> Result<(), MfaError> {
        let code = totp::parse_code(code).ok_or(MfaError::Malformed)?;
        let row = match self.totp_row(&user.id).await? {
            Some(row) if row.confirmed_at.is_some() != confirming.is_some() => row,
            _ => return Err(MfaError::NotEnrolled),
        };
        let secret = self.open_secret(&row)?;
        let replayed = AtomicBool::new(false);
        let digests = confirming.map(|codes| codes.digests.clone());
        let checked = self
            .guard
            .check_code(&user.username, client_addr, || async {
                let now = self.clock.now();
                let step = match totp::check(&secret, code, now, row.last_step) {
                    Check::Valid(step) => step,
                    Check::Replayed => {
                        replayed.store(true, Ordering::Relaxed);
                        return Ok(None);
                    }
                    Check::Wrong => return Ok(None),
                };
                let id = user.id.clone();
                let spent = self
                    .db
                    .write(move |conn| {
                        // A concurrent request with the same code loses here.
                        if !factors::accept_step(conn, &id, step, now)? {
                            return Ok(false);
                        }
                        if let Some(digests) = &digests {
                            factors::replace_recovery_codes(conn, &id, digests, now)?;
                        }
                        Ok::<_, DbError>(true)
                    })
                    .await?;
                if !spent {
                    replayed.store(true, Ordering::Relaxed);
                }
                Ok(spent.then_some(()))
            })
            .await;
        match checked {
            Ok(()) => Ok(()),
            Err(e) => {
                let wrong = if replayed.load(Ordering::Relaxed) {
                    MfaError::Replayed
                } else {
                    MfaError::WrongCode
                };
                let failed = matches!(wrong, MfaError::Replayed | MfaError::WrongCode)
                    && matches!(e, crate::accounts::login_guard::GuardError::BadCredentials);
                if failed {
                    let detail = if confirming.is_some() {
                        "totp enrolment"
                    } else {
                        "totp"
                    };
                    self.audit(
                        Event::failure(Kind::MfaFailed, &user.username)
                            .detail(format!("{detail}: {wrong}")),
                    )
                    .await;
                }
                Err(guard_refusal(e, wrong))
            }
        }
    }

    /// Confirms an enrolment with one valid code; answers the ten recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        user: &User,
        code: &str,
        client_addr: &str,
    ) -> Result<Vec<Zeroizing<String>>, MfaError> {
        let codes = RecoveryCodes::generate(&user.id);
        self.spend_code(user, code, client_addr, Some(&codes))
            .await?;
        self.audit(Event::success(Kind::MfaEnrolled, &user.username).detail("totp"))
            .await;
        Ok(codes.shown)
    }

    /// The second factor of a sign-in: a code of the user's app.
    pub async fn check_totp(
        &self,
        user: &User,
        code: &str,
        client_addr: &str,
    ) -> Result<(), MfaError> {
        self.spend_code(user, code, client_addr, None).await
    }

    /// Removes a user's app and recovery codes for an admin (a lost phone and lost codes):
    /// audited with the admin as actor, and counted. False when there was nothing.
    pub async fn remove_by_admin(&self, user: &User) -> Result<bool, DbError> {
        let id = user.id.clone();
        let removed = self
            .db
            .write(move |conn| repo::factors::remove_all(conn, &id))
            .await?;
        if removed {
            let event =
                Event::success(Kind::MfaRemoved, &user.username).detail("totp, by an admin");
            self.audit(event).await;
        }
        Ok(removed)
    }

    /// Removes the user's app and recovery codes after the password.
    pub async fn remove_totp(
        &self,
        user: &User,
        password: Password,
        client_addr: &str,
    ) -> Result<(), MfaError> {
        self.recheck_password(user, password, client_addr).await?;
        let id = user.id.clone();
        let removed = self
            .db
            .write(move |conn| repo::factors::remove_all(conn, &id))
            .await?;
        if !removed {
            return Err(MfaError::NotEnrolled);
        }
        self.audit(Event::success(Kind::MfaRemoved, &user.username).detail("totp, by the user"))
            .await;
        Ok(())
    }
}
