//! Limits that more than one crate checks, so they cannot drift apart.

/// How far in the future a caller-given time may lie, in seconds: five minutes. Apps' clocks
/// drift; a retention event or a request's receipt dated further ahead would start a legal clock
/// (Art. 12(3), Art. 17(3)) in the future, so it is refused.
pub const CLOCK_SKEW_SECONDS: i64 = 300;
