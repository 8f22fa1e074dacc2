//! An authenticator app for the tests, written apart from the server's: RFC 4648 base32 and
//! RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) straight from the RFCs.

use aws_lc_rs::hmac;

/// The secret an app reads from the base32 text the server shows.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u64, 0u32);
    for c in text.trim_end_matches('=').chars() {
        let value = ALPHABET
            .find(c.to_ascii_uppercase())
            .expect("a base32 character") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The code an app shows at `unix` seconds.
pub fn code(secret: &[u8], unix: i64) -> String {
    let counter = (unix / 30) as u64;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let h = mac.as_ref();
    let offset = (h[19] & 0xf) as usize;
    let value =
        u32::from_be_bytes([h[offset], h[offset + 1], h[offset + 2], h[offset + 3]]) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

#[test]
fn the_test_app_matches_rfc_6238() {
    assert_eq!(code(b"12345678901234567890", 59), "287082");
    assert_eq!(code(b"12345678901234567890", 1_111_111_109), "081804");
    assert_eq!(base32_decode("GEZDGNBV"), b"12345".to_vec());
}
