//! The key lifecycle as pure functions of the stored records and `now`:
//! `standby -> next -> current -> retired -> (removed)`, and `revoked`, the exit from any
//! state. Three keys line up to sign: the current key, the next key (it signs from the next
//! rotation) and the standby key (the next key's successor). The standby key is what makes
//! an emergency safe at any moment: right after a rotation the next key is the former
//! standby, in every honest cache for a whole interval already, not a key made a second ago.

use std::time::Duration;

pub use crate::db::repo::keys::{KeyRecord, KeyState};

/// The signing line, in the order keys move through it towards signing.
pub const LINE: [KeyState; 3] = [KeyState::Current, KeyState::Next, KeyState::Standby];

/// The settings that time the lifecycle.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// How long a retired key stays published: the longest token lifetime plus leeway.
    pub retire_for: Duration,
    pub jwks_max_age: Duration,
    pub interval: Duration,
    /// How long every instance may take to serve a stored key: the key poll interval, plus
    /// a second because stored times are whole seconds.
    pub propagation: Duration,
}

impl RotationPolicy {
    /// Seconds after it is stored by which a key is in every verifier cache that honours
    /// Cache-Control: a fetch from the slowest instance just before it served the key is
    /// cached for the JWKS max-age.
    pub fn cached_everywhere_after(&self) -> i64 {
        (self.jwks_max_age + self.propagation).as_secs() as i64
    }
}

/// A change to the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// next -> current, current -> retired, standby -> next, a fresh key -> standby.
    Rotate,
    /// The key leaves the JWKS at once, whatever its state; the keys behind it in the line
    /// move up, and a fresh key takes the place left free.
    Revoke(&'a str),
}

/// Why a change cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no signing key has the kid {0}")]
    UnknownKey(String),
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
}

/// What one change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The key that leaves the line or the JWKS, and its state after the change.
    pub leaving: Option<(String, KeyState)>,
    /// When set, the retired key stays published until then.
    pub remove_after: Option<i64>,
    /// Keys moving up the line, in an order the unique indexes allow (each move frees the
    /// place the following one takes).
    pub moves: Vec<(String, KeyState)>,
    /// The place of the freshly generated key, when the change leaves one free.
    pub fresh: Option<KeyState>,
    /// Said to the operator when downstream caches may not yet hold the new signing key.
    pub warning: Option<String>,
}

fn find(records: &[KeyRecord], state: KeyState) -> Option<&KeyRecord> {
    records.iter().find(|k| k.state == state)
}

/// Plans `change` on the stored `records`.
pub fn plan(
    records: &[KeyRecord],
    change: Change<'_>,
    now: i64,
    policy: &RotationPolicy,
) -> Result<Plan, PlanError> {
    let current = find(records, KeyState::Current);
    let (leaving, remove_after) = match change {
        Change::Rotate => (
            current,
            current.map(|_| now.saturating_add(policy.retire_for.as_secs() as i64)),
        ),
        Change::Revoke(kid) => {
            let key = records
                .iter()
                .find(|k| k.kid == kid)
                .ok_or_else(|| PlanError::UnknownKey(kid.to_string()))?;
            if key.state == KeyState::Revoked {
                return Err(PlanError::AlreadyRevoked(kid.to_string()));
            }
            (Some(key), None)
        }
    };
    let to = match change {
        Change::Rotate => KeyState::Retired,
        Change::Revoke(_) => KeyState::Revoked,
    };
    let staying: Vec<&KeyRecord> = LINE
        .iter()
        .filter_map(|&s| find(records, s))
        .filter(|k| leaving.is_none_or(|l| l.kid != k.kid))
        .collect();
    let moves = staying
        .iter()
        .zip(LINE)
        .filter(|(k, place)| k.state != *place)
        .map(|(k, place)| (k.kid.clone(), place))
        .collect();
    let fresh = LINE.get(staying.len()).copied();
    let signs_now = staying.first();
    let warning = match signs_now {
        Some(k) if current.is_none_or(|c| c.kid != k.kid) => {
            let published_for = now - k.created_at;
            (published_for < policy.cached_everywhere_after()).then(|| {
                format!(
                    "key {} was published {}s ago, less than the JWKS max-age of {}s plus the {}s \
                     every instance takes to serve it: verifiers with a cached JWKS must refetch \
                     it on an unknown kid",
                    k.kid,
                    published_for.max(0),
                    policy.jwks_max_age.as_secs(),
                    policy.propagation.as_secs()
                )
            })
        }
        Some(_) => None,
        None => Some(
            "no key was pre-published: the new key signs at once, before any verifier could \
             cache it"
                .to_string(),
        ),
    };
    Ok(Plan {
        leaving: leaving.map(|k| (k.kid.clone(), to)),
        remove_after,
        moves,
        fresh,
        warning,
    })
}

/// When the automatic schedule rotates: once the current key has signed for an interval,
/// and not before the next key *and* the standby key are in every honest cache, so that
/// neither this rotation nor an emergency right after it promotes a key a verifier lacks.
/// `None` while the line is incomplete (the upkeep fills it first).
pub fn scheduled_rotation_at(records: &[KeyRecord], policy: &RotationPolicy) -> Option<i64> {
    let current = find(records, KeyState::Current)?;
    let next = find(records, KeyState::Next)?;
    let standby = find(records, KeyState::Standby)?;
    let cached = policy.cached_everywhere_after();
    let signing_since = current.activated_at.unwrap_or(current.created_at);
    Some(
        signing_since
            .saturating_add(policy.interval.as_secs() as i64)
            .max(next.created_at.saturating_add(cached))
            .max(standby.created_at.saturating_add(cached)),
    )
}

/// Whether the automatic schedule rotates now ([`scheduled_rotation_at`]).
pub fn rotation_due(records: &[KeyRecord], now: i64, policy: &RotationPolicy) -> bool {
    scheduled_rotation_at(records, policy).is_some_and(|at| at <= now)
}

/// What happens next to a key, and when (Unix seconds): for the console. `rotation_at` is
/// [`scheduled_rotation_at`] of the key set.
pub fn next_step(key: &KeyRecord, rotation_at: Option<i64>) -> Option<(&'static str, i64)> {
    match key.state {
        KeyState::Current => rotation_at.map(|t| ("retires at the scheduled rotation", t)),
        KeyState::Next => rotation_at.map(|t| ("signs from the scheduled rotation", t)),
        KeyState::Standby => rotation_at.map(|t| ("becomes next at the scheduled rotation", t)),
        KeyState::Retired => key.remove_after.map(|t| ("removed from the JWKS", t)),
        KeyState::Revoked => None,
    }
}

/// The keys the JWKS publishes: current, next, standby, then retired keys newest first.
pub fn published(records: &[KeyRecord], now: i64) -> Vec<&KeyRecord> {
    let rank = |k: &KeyRecord| {
        LINE.iter()
            .position(|&s| s == k.state)
            .unwrap_or(LINE.len())
    };
    let mut keys: Vec<&KeyRecord> = records
        .iter()
        .filter(|k| match k.state {
            KeyState::Current | KeyState::Next | KeyState::Standby => true,
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
            alg: crate::keys::Alg::Rs256,
            x: None,
            y: None,
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
    const POLICY: RotationPolicy = RotationPolicy {
        retire_for: DAY,
        jwks_max_age: Duration::from_secs(300),
        interval: DAY,
        propagation: Duration::from_secs(3),
    };

    /// current `a`, next `b`, standby `c`, all stored at 0.
    fn line() -> Vec<KeyRecord> {
        vec![
            key("a", KeyState::Current, 0),
            key("b", KeyState::Next, 0),
            key("c", KeyState::Standby, 0),
        ]
    }

    /// The records after `plan`, as the rotation transaction leaves them.
    fn apply(records: &[KeyRecord], plan: &Plan, fresh: &str, now: i64) -> Vec<KeyRecord> {
        let mut out: Vec<KeyRecord> = records.to_vec();
        for (kid, state) in plan.leaving.iter().chain(&plan.moves) {
            let k = out.iter_mut().find(|k| &k.kid == kid).unwrap();
            k.state = *state;
            if *state == KeyState::Current {
                k.activated_at = Some(now);
            }
        }
        if let Some(state) = plan.fresh {
            out.push(key(fresh, state, now));
            out.last_mut().unwrap().activated_at = (state == KeyState::Current).then_some(now);
        }
        out
    }

    fn moves(plan: &Plan) -> Vec<(&str, KeyState)> {
        plan.moves.iter().map(|(k, s)| (k.as_str(), *s)).collect()
    }

    #[test]
    fn rotation_moves_the_line_up_and_retires_current() {
        let plan = plan(&line(), Change::Rotate, 1000, &POLICY).unwrap();
        assert_eq!(plan.leaving, Some(("a".into(), KeyState::Retired)));
        assert_eq!(plan.remove_after, Some(1000 + 86_400));
        assert_eq!(
            moves(&plan),
            [("b", KeyState::Current), ("c", KeyState::Next)]
        );
        assert_eq!(plan.fresh, Some(KeyState::Standby));
        assert_eq!(plan.warning, None);
    }

    #[test]
    fn rotation_warns_when_next_key_is_not_yet_cached_everywhere() {
        let mut records = line();
        records[1].created_at = 900;
        let plan = plan(&records, Change::Rotate, 1000, &POLICY).unwrap();
        assert!(plan.warning.unwrap().contains("100s ago"));
        // Max-age alone is not enough: the slowest instance may serve it 3 s late.
        records[1].created_at = 1000 - 301;
        let plan = super::plan(&records, Change::Rotate, 1000, &POLICY).unwrap();
        assert!(plan.warning.is_some());
        records[1].created_at = 1000 - 303;
        let plan = super::plan(&records, Change::Rotate, 1000, &POLICY).unwrap();
        assert_eq!(plan.warning, None);
    }

    #[test]
    fn revoking_the_current_key_promotes_next_and_standby_without_grace() {
        let plan = plan(&line(), Change::Revoke("a"), 1000, &POLICY).unwrap();
        assert_eq!(plan.leaving, Some(("a".into(), KeyState::Revoked)));
        assert_eq!(plan.remove_after, None);
        assert_eq!(
            moves(&plan),
            [("b", KeyState::Current), ("c", KeyState::Next)]
        );
        assert_eq!(plan.fresh, Some(KeyState::Standby));
        assert_eq!(plan.warning, None);
    }

    #[test]
    fn revoking_the_next_or_standby_key_refills_the_line_behind_it() {
        let plan = plan(&line(), Change::Revoke("b"), 1000, &POLICY).unwrap();
        assert_eq!(plan.leaving, Some(("b".into(), KeyState::Revoked)));
        assert_eq!(moves(&plan), [("c", KeyState::Next)]);
        assert_eq!(plan.fresh, Some(KeyState::Standby));
        assert_eq!(plan.warning, None, "the current key keeps signing");

        let plan = super::plan(&line(), Change::Revoke("c"), 1000, &POLICY).unwrap();
        assert!(plan.moves.is_empty());
        assert_eq!(plan.fresh, Some(KeyState::Standby));
    }

    #[test]
    fn revoking_a_retired_key_changes_nothing_else() {
        let mut records = line();
        let mut old = key("old", KeyState::Retired, 0);
        old.remove_after = Some(5000);
        records.push(old);
        let plan = plan(&records, Change::Revoke("old"), 1000, &POLICY).unwrap();
        assert_eq!(plan.leaving, Some(("old".into(), KeyState::Revoked)));
        assert!(plan.moves.is_empty());
        assert_eq!(plan.fresh, None);
        assert_eq!(plan.warning, None);
    }

    #[test]
    fn revoking_an_unknown_or_revoked_key_is_refused() {
        let mut records = line();
        records.push(key("gone", KeyState::Revoked, 0));
        assert_eq!(
            plan(&records, Change::Revoke("nope"), 1000, &POLICY),
            Err(PlanError::UnknownKey("nope".into()))
        );
        assert_eq!(
            plan(&records, Change::Revoke("gone"), 1000, &POLICY),
            Err(PlanError::AlreadyRevoked("gone".into()))
        );
    }

    #[test]
    fn rotation_without_a_waiting_key_makes_the_fresh_key_current() {
        let plan = plan(&[], Change::Rotate, 1000, &POLICY).unwrap();
        assert_eq!(plan.leaving, None);
        assert_eq!(plan.fresh, Some(KeyState::Current));
        assert!(plan.warning.is_some());
    }

    #[test]
    fn schedule_waits_for_the_interval_and_for_next_and_standby_to_be_cached() {
        let mut records = line();
        records[1].created_at = 86_200;
        let cached = POLICY.cached_everywhere_after();
        assert_eq!(
            scheduled_rotation_at(&records, &POLICY),
            Some(86_200 + cached)
        );
        assert!(!rotation_due(&records, 86_200 + cached - 1, &POLICY));
        assert!(rotation_due(&records, 86_200 + cached, &POLICY));
        // A young standby holds the rotation back just the same.
        records[1].created_at = 0;
        records[2].created_at = 86_300;
        assert_eq!(
            scheduled_rotation_at(&records, &POLICY),
            Some(86_300 + cached)
        );
        records[2].created_at = 0;
        assert_eq!(scheduled_rotation_at(&records, &POLICY), Some(86_400));
        records.pop();
        assert_eq!(
            scheduled_rotation_at(&records, &POLICY),
            None,
            "no standby: the upkeep makes one first"
        );
    }

    #[test]
    fn an_emergency_right_after_a_scheduled_rotation_promotes_a_key_cached_everywhere() {
        let records = line();
        let at = scheduled_rotation_at(&records, &POLICY).unwrap();
        let rotated = apply(
            &records,
            &plan(&records, Change::Rotate, at, &POLICY).unwrap(),
            "d",
            at,
        );
        let emergency = plan(&rotated, Change::Revoke("b"), at + 1, &POLICY).unwrap();
        assert_eq!(emergency.warning, None);
        let after = apply(&rotated, &emergency, "e", at + 1);
        let current = find(&after, KeyState::Current).unwrap();
        assert_eq!(current.kid, "c", "the former standby signs");
        assert!(at + 1 - current.created_at >= POLICY.cached_everywhere_after());
        assert_eq!(find(&after, KeyState::Next).unwrap().kid, "d");
        assert_eq!(find(&after, KeyState::Standby).unwrap().kid, "e");
    }

    #[test]
    fn next_steps_follow_the_schedule() {
        let records = line();
        let at = scheduled_rotation_at(&records, &POLICY);
        assert_eq!(
            next_step(&records[2], at),
            Some(("becomes next at the scheduled rotation", 86_400))
        );
        assert_eq!(next_step(&key("x", KeyState::Revoked, 0), at), None);
    }

    #[test]
    fn jwks_publishes_the_line_and_retired_keys_until_their_tokens_expire() {
        let mut old = key("old", KeyState::Retired, 0);
        old.retired_at = Some(100);
        old.remove_after = Some(500);
        let mut revoked = key("bad", KeyState::Revoked, 0);
        revoked.revoked_at = Some(50);
        let records = vec![
            old,
            revoked,
            key("s", KeyState::Standby, 100),
            key("n", KeyState::Next, 100),
            key("c", KeyState::Current, 100),
        ];
        let kids = |now| {
            published(&records, now)
                .iter()
                .map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(499), ["c", "n", "s", "old"]);
        assert_eq!(kids(500), ["c", "n", "s"]);
        assert_eq!(removable(&records, 500).len(), 1);
        assert!(removable(&records, 499).is_empty());
    }
}
