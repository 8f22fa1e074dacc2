//! Recovery codes: ten single-use codes, shown once when an app is set up or when the user
//! asks for a new set (which voids the old one), stored only as digests bound to their user.
//! A code stands in for the app's code at sign-in; using one is audited and the user is told
//! how many remain.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::Rng;
use zeroize::Zeroizing;

use super::{guard_refusal, Mfa, MfaError};
use crate::accounts::User;
use crate::audit::{Event, Kind};
use crate::db::repo::factors;
use crate::db::DbError;
use crate::digest::digest_hex;
use crate::passwords::Password;

pub const COUNT: usize = 10;
/// Lower-case base32 without the look-alikes' trouble (no 0/1/8/9): 10 characters, 50 bits.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const CODE_LEN: usize = 10;

/// A new set: the codes to show (`xxxxx-xxxxx`) and their digests to store. No `Debug`.
pub struct RecoveryCodes {
    pub shown: Vec<Zeroizing<String>>,
    pub digests: Vec<String>,
}

/// The digest stored for a (normalised) code of `user_id`: bound to the user, so two users'
/// codes never collide and a code is worth nothing for another account.
fn digest(user_id: &str, code: &str) -> String {
    digest_hex(&format!("recovery:{user_id}:{code}"))
}

/// A code as typed: its ten characters, case, spaces and dashes aside; anything else is no
/// code and is not looked up.
pub fn normalise(text: &str) -> Option<Zeroizing<String>> {
    if text.len() > 32 {
        return None;
    }
    let code: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    let shaped = code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    shaped.then_some(code)
}

impl RecoveryCodes {
    pub fn generate(user_id: &str) -> RecoveryCodes {
        let mut rng = rand::rngs::OsRng;
        let mut shown = Vec::with_capacity(COUNT);
        let mut digests = Vec::with_capacity(COUNT);
        while shown.len() < COUNT {
            let code: Zeroizing<String> = Zeroizing::new(
                (0..CODE_LEN)
                    .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                    .collect(),
            );
            let d = digest(user_id, &code);
            if digests.contains(&d) {
                continue;
            }
            digests.push(d);
            shown.push(Zeroizing::new(format!("{}-{}", &code[..5], &code[5..])));
        }
        RecoveryCodes { shown, digests }
    }
}

impl Mfa {
    /// A new set of codes after the password, the old set void; only with an app set up.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &User,
        password: Password,
        client_addr: &str,
    ) -> Result<Vec<Zeroizing<String>>, MfaError> {
        self.recheck_password(user, password, client_addr).await?;
        if !self.has_second_factor(&user.id).await? {
            return Err(MfaError::NotEnrolled);
        }
        let codes = RecoveryCodes::generate(&user.id);
        let (id, digests, now) = (user.id.clone(), codes.digests.clone(), self.clock.now());
        self.db
            .write(move |conn| factors::replace_recovery_codes(conn, &id, &digests, now))
            .await?;
        self.audit(Event::success(
            Kind::RecoveryCodesRegenerated,
            &user.username,
        ))
        .await;
        Ok(codes.shown)
    }

    /// The second factor of a sign-in: one of the user's unused recovery codes, spent;
    /// answers how many remain.
    pub async fn use_recovery_code(
        &self,
        user: &User,
        code: &str,
        client_addr: &str,
    ) -> Result<i64, MfaError> {
        let code = normalise(code).ok_or(MfaError::Malformed)?;
        if !self.has_second_factor(&user.id).await? {
            return Err(MfaError::NotEnrolled);
        }
        let hash = digest(&user.id, &code);
        let guessed = AtomicBool::new(false);
        let checked = self
            .guard
            .check_code(&user.username, client_addr, || async {
                guessed.store(true, Ordering::Relaxed);
                let (id, now) = (user.id.clone(), self.clock.now());
                let left = self
                    .db
                    .write(move |conn| {
                        if !factors::spend_recovery_code(conn, &id, &hash, now)? {
                            return Ok(None);
                        }
                        Ok::<_, DbError>(Some(factors::unused_recovery_codes(conn, &id)?))
                    })
                    .await?;
                Ok(left)
            })
            .await;
        match checked {
            Ok(left) => {
                self.audit(
                    Event::success(Kind::RecoveryCodeUsed, &user.username)
                        .detail(format!("{left} left")),
                )
                .await;
                Ok(left)
            }
            Err(e) => {
                if guessed.load(Ordering::Relaxed)
                    && matches!(e, crate::accounts::login_guard::GuardError::BadCredentials)
                {
                    self.audit(
                        Event::failure(Kind::MfaFailed, &user.username).detail("recovery code"),
                    )
                    .await;
                }
                Err(guard_refusal(e, MfaError::WrongCode))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_whose_digests_are_bound_to_the_user() {
        let codes = RecoveryCodes::generate("u1");
        assert_eq!(codes.shown.len(), COUNT);
        for (shown, stored) in codes.shown.iter().zip(&codes.digests) {
            let code = normalise(shown).expect("a shown code is a code");
            assert_eq!(&digest("u1", &code), stored);
            assert_ne!(&digest("u2", &code), stored);
        }
        let mut unique = codes.digests.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
    }

    #[test]
    fn only_a_codes_shape_is_looked_up() {
        assert_eq!(normalise("ABCDE-fghij").unwrap().as_str(), "abcdefghij");
        assert_eq!(normalise(" abcde fghij ").unwrap().as_str(), "abcdefghij");
        for bad in [
            "",
            "abcde",
            "abcde-fghij-k",
            "abcde-fghi1",
            "abcde-fghi!",
            &"a".repeat(40),
        ] {
            assert!(normalise(bad).is_none(), "{bad}");
        }
    }
}
