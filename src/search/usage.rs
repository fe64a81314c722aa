//! The usage prior: tools this user calls often rank a little higher.
//!
//! Owns only the bounded boost derived from a tool's call count; the counts themselves are the
//! usage profiles' ([`crate::metrics::Profiles`], the one place that counts calls). The boost is
//! capped (see [`factor`]) so it only breaks near-ties and can never lift a tool past a clearly
//! better textual match.

/// Multiplier for a tool's text score given how often it was called: 1 for unused tools,
/// rising with the log of the count and approaching `1 + max_boost` (never reaching it).
pub fn factor(calls: u64, max_boost: f32) -> f32 {
    if calls == 0 {
        return 1.0;
    }
    let c = calls as f32;
    1.0 + max_boost * (1.0 - 1.0 / (1.0 + c.ln_1p()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_is_bounded_and_monotone() {
        assert_eq!(factor(0, 0.1), 1.0);
        let one = factor(1, 0.1);
        let many = factor(10_001, 0.1);
        assert!(1.0 < one && one < many && many < 1.1, "{one} {many}");
    }
}
