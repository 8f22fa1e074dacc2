//! The key lifecycle as pure functions of the stored records and `now`:
//! `next -> current -> retired -> (removed)`, with `revoked` as the emergency exit.

use std::time::Duration;

pub use crate::db::repo::keys::{KeyRecord, KeyState};

/// What one rotation changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPlan {
    /// The current key, and what becomes of it.
    pub old_current: Option<(String, KeyState)>,
    /// When set, the retired key stays published until then.
    pub remove_after: Option<i64>,
    /// The pre-published key that starts signing now.
    pub promote: Option<String>,
    /// The freshly generated key's state: `Next` normally, `Current` when no key was waiting.
    pub fresh_state: KeyState,
    /// Said to the operator when downstream caches may not yet hold the new signing key.
    pub warning: Option<String>,
}

/// Plans a rotation: next -> current, current -> retired (or revoked in an emergency), and a
/// fresh key becomes the new next.
pub fn plan_rotation(
    current: Option<&KeyRecord>,
    next: Option<&KeyRecord>,
    now: i64,
    emergency: bool,
    retire_for: Duration,
    jwks_max_age: Duration,
) -> RotationPlan {
    let old_current = current.map(|k| {
        let to = if emergency {
            KeyState::Revoked
        } else {
            KeyState::Retired
        };
        (k.kid.clone(), to)
    });
    let remove_after = match (&old_current, emergency) {
        (Some(_), false) => Some(now.saturating_add(retire_for.as_secs() as i64)),
        _ => None,
    };
    let (promote, fresh_state, warning) = match next {
        Some(k) => {
            let published_for = now - k.created_at;
            let warning = (published_for < jwks_max_age.as_secs() as i64).then(|| {
                format!(
                    "key {} was published {}s ago, less than the JWKS max-age of {}s: verifiers with a cached JWKS must refetch it on an unknown kid",
                    k.kid,
                    published_for.max(0),
                    jwks_max_age.as_secs()
                )
            });
            (Some(k.kid.clone()), KeyState::Next, warning)
        }
        None => (
            None,
            KeyState::Current,
            Some("no key was pre-published: the new key signs at once, before any verifier could cache it".to_string()),
        ),
    };
    RotationPlan {
        old_current,
        remove_after,
        promote,
        fresh_state,
        warning,
    }
}

/// Whether the automatic schedule rotates now. It never promotes a key that has been
/// published for less than the JWKS max-age, so every honest cache already holds it.
pub fn rotation_due(
    current: Option<&KeyRecord>,
    next: Option<&KeyRecord>,
    now: i64,
    interval: Duration,
    jwks_max_age: Duration,
) -> bool {
    let (Some(current), Some(next)) = (current, next) else {
        return false;
    };
    let activated = current.activated_at.unwrap_or(current.created_at);
    activated.saturating_add(interval.as_secs() as i64) <= now
        && next
            .created_at
            .saturating_add(jwks_max_age.as_secs() as i64)
            <= now
}

/// What happens next to a key, and when (Unix seconds): for the console.
pub fn next_step(
    key: &KeyRecord,
    interval: Duration,
    jwks_max_age: Duration,
) -> Option<(&'static str, i64)> {
    let secs = |d: Duration| d.as_secs() as i64;
    match key.state {
        KeyState::Current => Some((
            "retires at the scheduled rotation",
            key.activated_at
                .unwrap_or(key.created_at)
                .saturating_add(secs(interval)),
        )),
        KeyState::Next => Some((
            "may sign from",
            key.created_at.saturating_add(secs(jwks_max_age)),
        )),
        KeyState::Retired => key.remove_after.map(|t| ("removed from the JWKS", t)),
        KeyState::Revoked => None,
    }
}

/// The keys the JWKS publishes, current first, then next, then retired keys newest first.
pub fn published(records: &[KeyRecord], now: i64) -> Vec<&KeyRecord> {
    let rank = |k: &KeyRecord| match k.state {
        KeyState::Current => 0,
        KeyState::Next => 1,
        _ => 2,
    };
    let mut keys: Vec<&KeyRecord> = records
        .iter()
        .filter(|k| match k.state {
            KeyState::Current | KeyState::Next => true,
            KeyState::Retired => k.remove_after.is_none_or(|t| t > now),
            KeyState::Revoked => false,
        })
        .collect();
    keys.sort_by_key(|k| {
        (
            rank(k),
            std::cmp::Reverse(k.retired_at.unwrap_or(k.created_at)),
        )
    });
    keys
}

/// Retired keys whose tokens have all expired: they can be deleted.
pub fn removable(records: &[KeyRecord], now: i64) -> Vec<&KeyRecord> {
    records
        .iter()
        .filter(|k| k.state == KeyState::Retired && k.remove_after.is_some_and(|t| t <= now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, state: KeyState, created_at: i64) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            state,
            bits: 2048,
            n: String::new(),
            e: String::new(),
            created_at,
            activated_at: (state == KeyState::Current).then_some(created_at),
            retired_at: None,
            remove_after: None,
            revoked_at: None,
        }
    }

    const DAY: Duration = Duration::from_secs(86_400);
    const MAX_AGE: Duration = Duration::from_secs(300);

    #[test]
    fn rotation_promotes_next_and_retires_current() {
        let cur = key("a", KeyState::Current, 0);
        let next = key("b", KeyState::Next, 0);
        let plan = plan_rotation(Some(&cur), Some(&next), 1000, false, DAY, MAX_AGE);
        assert_eq!(plan.old_current, Some(("a".into(), KeyState::Retired)));
        assert_eq!(plan.remove_after, Some(1000 + 86_400));
        assert_eq!(plan.promote.as_deref(), Some("b"));
        assert_eq!(plan.fresh_state, KeyState::Next);
        assert_eq!(plan.warning, None);
    }

    #[test]
    fn rotation_warns_when_next_key_is_younger_than_jwks_max_age() {
        let cur = key("a", KeyState::Current, 0);
        let next = key("b", KeyState::Next, 900);
        let plan = plan_rotation(Some(&cur), Some(&next), 1000, false, DAY, MAX_AGE);
        assert!(plan.warning.unwrap().contains("100s ago"));
    }

    #[test]
    fn emergency_rotation_revokes_current_without_grace() {
        let cur = key("a", KeyState::Current, 0);
        let next = key("b", KeyState::Next, 0);
        let plan = plan_rotation(Some(&cur), Some(&next), 1000, true, DAY, MAX_AGE);
        assert_eq!(plan.old_current, Some(("a".into(), KeyState::Revoked)));
        assert_eq!(plan.remove_after, None);
        assert_eq!(plan.promote.as_deref(), Some("b"));
    }

    #[test]
    fn rotation_without_next_makes_fresh_key_current() {
        let plan = plan_rotation(None, None, 1000, false, DAY, MAX_AGE);
        assert_eq!(plan.old_current, None);
        assert_eq!(plan.fresh_state, KeyState::Current);
        assert!(plan.warning.is_some());
    }

    #[test]
    fn schedule_waits_for_interval_and_for_next_key_to_be_cached() {
        let cur = key("a", KeyState::Current, 0);
        let next = key("b", KeyState::Next, 86_200);
        assert!(
            !rotation_due(Some(&cur), Some(&next), 86_399, DAY, MAX_AGE),
            "interval not over"
        );
        assert!(
            !rotation_due(Some(&cur), Some(&next), 86_400, DAY, MAX_AGE),
            "next published 200 s ago"
        );
        assert!(rotation_due(Some(&cur), Some(&next), 86_500, DAY, MAX_AGE));
        assert!(
            !rotation_due(Some(&cur), None, 10 * 86_400, DAY, MAX_AGE),
            "nothing to promote"
        );
    }

    #[test]
    fn jwks_keeps_retired_key_until_its_tokens_expire() {
        let mut old = key("old", KeyState::Retired, 0);
        old.retired_at = Some(100);
        old.remove_after = Some(500);
        let mut revoked = key("bad", KeyState::Revoked, 0);
        revoked.revoked_at = Some(50);
        let records = vec![
            old,
            revoked,
            key("n", KeyState::Next, 100),
            key("c", KeyState::Current, 100),
        ];
        let kids = |now| {
            published(&records, now)
                .iter()
                .map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(499), ["c", "n", "old"]);
        assert_eq!(kids(500), ["c", "n"]);
        assert_eq!(removable(&records, 500).len(), 1);
        assert!(removable(&records, 499).is_empty());
    }
}
