//! RFC 6238 TOTP as every authenticator app reads it: HMAC-SHA-1, 6 digits, 30-second steps
//! counted from the Unix epoch (RFC 6238 §4; the truncation of RFC 4226 §5.3). Pure
//! functions of the secret and the time.

use aws_lc_rs::hmac;
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const STEP_SECS: i64 = 30;
pub const DIGITS: u32 = 6;
/// 160 bits, the HMAC-SHA-1 output size (RFC 4226 §4 R6 asks for at least 128).
pub const SECRET_LEN: usize = 20;

pub fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The time step `now` falls in.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// The code of `step` (RFC 4226 §5.3, dynamic truncation).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &(step as u64).to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    bin % 10u32.pow(DIGITS)
}

/// A code as typed: six ASCII digits, spaces allowed between groups; anything else (longer
/// than 16 bytes, letters, signs) is no code and is never compared.
pub fn parse_code(text: &str) -> Option<u32> {
    if text.len() > 16 {
        return None;
    }
    let digits: String = text.chars().filter(|c| *c != ' ').collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a code is worth at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The code of this step (one of the previous, current and next).
    Valid(i64),
    /// The code of a step already used: refused, each code counts once.
    Replayed,
    Wrong,
}

/// Compares `code` with the codes of the steps around `now` (±1 step of clock drift, RFC
/// 6238 §5.2), all three in constant time; a step at or before `last_step` is a replay.
pub fn check(secret: &[u8], code: u32, now: i64, last_step: Option<i64>) -> Check {
    let current = step_of(now);
    let mut matched = None;
    for step in current - 1..=current + 1 {
        let same: bool = code_at(secret, step)
            .to_be_bytes()
            .ct_eq(&code.to_be_bytes())
            .into();
        if same && matched.is_none() {
            matched = Some(step);
        }
    }
    match matched {
        Some(step) if last_step.is_some_and(|last| step <= last) => Check::Replayed,
        Some(step) => Check::Valid(step),
        None => Check::Wrong,
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take a secret.
pub fn base32(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI of Google Authenticator's key URI format, which every app reads:
/// `issuer` names this Gatehouse in the app's list, `account` the user.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> Zeroizing<String> {
    let (issuer, account) = (encode(issuer), encode(account));
    Zeroizing::new(format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32(secret).as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, the last six of its eight digits.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(code_at(secret, step_of(time)), code, "{time}");
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_once() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            assert_eq!(
                check(secret, code_at(secret, s), now, None),
                Check::Valid(s)
            );
            assert_eq!(
                check(secret, code_at(secret, s), now, Some(s)),
                Check::Replayed
            );
        }
        for s in [step - 2, step + 2] {
            assert_eq!(check(secret, code_at(secret, s), now, None), Check::Wrong);
        }
    }

    #[test]
    fn only_six_digits_are_a_code() {
        assert_eq!(parse_code("123456"), Some(123_456));
        assert_eq!(parse_code("123 456"), Some(123_456));
        assert_eq!(parse_code("012345"), Some(12_345));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "-12345",
            "１２３４５６",
            &"1".repeat(40),
        ] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b"").as_str(), "");
        assert_eq!(base32(b"f").as_str(), "MY");
        assert_eq!(base32(b"foobar").as_str(), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; 20]).len(), 32);
    }

    #[test]
    fn the_uri_names_issuer_and_account_encoded() {
        let uri = otpauth_uri("id.example.com", "ann b", b"foobar");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/id.example.com:ann%20b?secret=MZXW6YTBOI&issuer=id.example.com&algorithm=SHA1&digits=6&period=30"
        );
    }
}
