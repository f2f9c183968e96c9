//! Limits that more than one crate checks, so they cannot drift apart.

/// How far in the future a caller-given time may lie, in seconds: five minutes. Apps' clocks
/// drift; a retention event or a request's receipt dated further ahead would start a legal clock
/// (Art. 12(3), Art. 17(3)) in the future, so it is refused. The same margin is how far a purge's
/// clock may lag the last purge (servers' clocks differ a little too).
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// Whether a caller-given moment `at` lies further in the future than [`CLOCK_SKEW_SECONDS`]
/// allows, both in Unix seconds: such a time is refused wherever a caller dates something (a
/// request's receipt, an event, a consent).
pub fn beyond_skew(at: i64, now: i64) -> bool {
    at > now.saturating_add(CLOCK_SKEW_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_minutes_ahead_is_skew_and_a_second_more_is_the_future() {
        let now = 1_800_000_000;
        assert!(!beyond_skew(now, now));
        assert!(!beyond_skew(now + 300, now));
        assert!(beyond_skew(now + 301, now));
        assert!(
            !beyond_skew(now - 86_400, now),
            "the past is not this check's business"
        );
        assert!(!beyond_skew(i64::MAX, i64::MAX), "no overflow at the edge");
    }
}
