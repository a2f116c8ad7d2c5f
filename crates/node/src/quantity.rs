//! Resource quantities (`500m`, `1Gi`, `1e3`) for admission and
//! `resourceFieldRef`, held exactly as nano-units.
//!
//! A small private parser so the node does not depend on when the `api`
//! crate exports its own; it follows
//! `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go`.

/// The value times 10^9, or `None` when malformed.
pub fn parse_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    if num.is_empty() || num == "." {
        return None;
    }
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let mut nanos: i128 = if int.is_empty() {
        0
    } else {
        int.parse::<i128>().ok()?
    } * 1_000_000_000;
    let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    if !frac.is_empty() {
        nanos += frac9.parse::<i128>().ok()?;
        if frac.len() > 9 && frac[9..].chars().any(|c| c != '0') {
            nanos += 1;
        }
    }
    let pow = |b: i128, e: u32| b.checked_pow(e);
    let (mul, div): (i128, i128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1000),
        "k" => (1000, 1),
        "M" => (pow(10, 6)?, 1),
        "G" => (pow(10, 9)?, 1),
        "T" => (pow(10, 12)?, 1),
        "P" => (pow(10, 15)?, 1),
        "E" => (pow(10, 18)?, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            if exp >= 0 {
                (pow(10, exp as u32)?, 1)
            } else {
                (1, pow(10, (-exp) as u32)?)
            }
        }
        _ => return None,
    };
    let v = nanos.checked_mul(mul)?;
    let v = (v + div - 1) / div;
    Some(if neg { -v } else { v })
}

/// CPU in millicores, rounded up.
pub fn millis(s: &str) -> Option<i64> {
    let n = parse_nanos(s)?;
    i64::try_from((n + 999_999).div_euclid(1_000_000)).ok()
}

/// Whole units (bytes for memory), rounded up.
pub fn value(s: &str) -> Option<i64> {
    let n = parse_nanos(s)?;
    i64::try_from((n + 999_999_999).div_euclid(1_000_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_memory() {
        let cases = [
            ("500m", Some(500), Some(1)),
            ("2", Some(2000), Some(2)),
            ("0.1", Some(100), Some(1)),
            ("1Gi", Some(1_073_741_824_000), Some(1_073_741_824)),
            ("128Mi", Some(134_217_728_000), Some(134_217_728)),
            ("1e3", Some(1_000_000), Some(1000)),
            ("1k", Some(1_000_000), Some(1000)),
            ("100n", Some(1), Some(1)),
            ("x", None, None),
        ];
        for (s, m, v) in cases {
            assert_eq!(millis(s), m, "{s}");
            assert_eq!(value(s), v, "{s}");
        }
    }
}
