//! Human durations in config: `500ms`, `30s`, `10m`, `1h`, `1h30m`, `30d`, or a bare integer of seconds.
//!
//! Owns only the text → `Duration` conversion; it never decides which keys take durations or
//! what their bounds are (that is `schema`'s job).

use std::time::Duration;

/// Parses `text` as a duration. The error is a sentence fragment for a config message.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (use e.g. `30s`, `500ms`, `10m`, `1h`)".to_string());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bad = || {
        format!(
            "`{text}` is not a duration (use e.g. `30s`, `500ms`, `10m`, `1h`, `30d`, or an integer number of seconds)"
        )
    };
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let amount: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Some(Duration::from_millis(amount)),
            "s" => Some(Duration::from_secs(amount)),
            "m" => amount.checked_mul(60).map(Duration::from_secs),
            "h" => amount.checked_mul(3600).map(Duration::from_secs),
            "d" => amount.checked_mul(86_400).map(Duration::from_secs),
            _ => return Err(bad()),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2m500ms"), Ok(Duration::from_millis(120_500)));
        assert_eq!(parse("30d"), Ok(Duration::from_secs(30 * 86_400)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "s", "30x", "1.5s", "-3s", "30 s", "ten", "5w"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
        assert!(parse("99999999999999999999h").is_err());
    }
}
