//! When a failed delivery is tried again: capped exponential backoff with jitter, so that
//! a receiver coming back is not hit by every instance's backlog at the same second.

/// The wait after the first failure.
pub const BASE_SECS: i64 = 5;
/// The longest wait between two attempts.
pub const CAP_SECS: i64 = 15 * 60;

/// Seconds to wait after failed attempt number `attempt` (from 1): `BASE * 2^(attempt-1)`,
/// at most `CAP`, then a uniform draw from its upper half (`unit` in `[0, 1)`).
pub fn delay_secs(attempt: i32, unit: f64) -> i64 {
    let exponent = (attempt.max(1) - 1).min(30) as u32;
    let full = BASE_SECS.saturating_mul(1_i64 << exponent).min(CAP_SECS);
    let half = full / 2;
    half + ((full - half) as f64 * unit.clamp(0.0, 1.0)) as i64
}

/// [`delay_secs`] with a fresh random draw.
pub fn delay_after(attempt: i32) -> i64 {
    delay_secs(attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_the_cap_and_the_jitter_stays_in_its_upper_half() {
        assert_eq!(delay_secs(1, 0.999), 4);
        assert_eq!(delay_secs(1, 0.0), 2);
        assert_eq!(delay_secs(2, 0.0), 5);
        assert_eq!(delay_secs(3, 1.0), 20);
        assert_eq!(delay_secs(4, 0.0), 20);
        for attempt in [9, 10, 40, i32::MAX] {
            assert_eq!(delay_secs(attempt, 1.0), CAP_SECS, "{attempt}");
            assert_eq!(delay_secs(attempt, 0.0), CAP_SECS / 2, "{attempt}");
        }
        for _ in 0..1000 {
            let d = delay_after(3);
            assert!((10..=20).contains(&d), "{d}");
        }
    }
}
