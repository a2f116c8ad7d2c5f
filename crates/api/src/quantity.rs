//! Resource quantities (`"500m"`, `"1Gi"`, `"1e3"`).
//!
//! `k8s-openapi` keeps a `Quantity` as the raw string, so validation (requests
//! must not exceed limits), QoS classification and the node agent's admission
//! all need the same parser. Values are held exactly as nano-units in an
//! `i128`; that covers every quantity the API realistically carries and makes
//! comparisons exact, which upstream's `inf.Dec` also guarantees.
//! Upstream: `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go`.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::cmp::Ordering;

/// The message upstream's decoder returns for a malformed quantity.
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// How the quantity was written; it decides the canonical spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... suffixes.
    BinarySI,
    /// `n`, `u`, `m`, `k`, `M`, ... suffixes or none.
    DecimalSI,
    /// `1e3`, `5E-2`.
    DecimalExponent,
}

/// A parsed quantity: `nanos` is the value times 10^9, rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    pub nanos: i128,
    pub format: Format,
}

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("{}", QUANTITY_FORMAT_ERROR)]
    Format,
    #[error("quantity is too large")]
    Overflow,
}

const NANO: i128 = 1_000_000_000;

/// Parse a quantity string the way `resource.ParseQuantity` does.
pub fn parse_quantity(input: &str) -> Result<ParsedQuantity, QuantityError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => {
            if f.contains('.') {
                return Err(QuantityError::Format);
            }
            (i, f)
        }
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(QuantityError::Format);
    }
    let (format, pow10, pow1024): (Format, i32, u32) = match suffix {
        "" => (Format::DecimalSI, 0, 0),
        "n" => (Format::DecimalSI, -9, 0),
        "u" => (Format::DecimalSI, -6, 0),
        "m" => (Format::DecimalSI, -3, 0),
        "k" => (Format::DecimalSI, 3, 0),
        "M" => (Format::DecimalSI, 6, 0),
        "G" => (Format::DecimalSI, 9, 0),
        "T" => (Format::DecimalSI, 12, 0),
        "P" => (Format::DecimalSI, 15, 0),
        "E" => (Format::DecimalSI, 18, 0),
        "Ki" => (Format::BinarySI, 0, 1),
        "Mi" => (Format::BinarySI, 0, 2),
        "Gi" => (Format::BinarySI, 0, 3),
        "Ti" => (Format::BinarySI, 0, 4),
        "Pi" => (Format::BinarySI, 0, 5),
        "Ei" => (Format::BinarySI, 0, 6),
        other => {
            let exp = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))
                .ok_or(QuantityError::Format)?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QuantityError::Format);
            }
            let e: i32 = exp.parse().map_err(|_| QuantityError::Overflow)?;
            (Format::DecimalExponent, e, 0)
        }
    };
    // value = mantissa * 10^(pow10 - frac_len) * 1024^pow1024; store value * 10^9.
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut mantissa: i128 = 0;
    for b in digits.bytes() {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
            .ok_or(QuantityError::Overflow)?;
    }
    mantissa = mantissa
        .checked_mul(1024i128.pow(pow1024))
        .ok_or(QuantityError::Overflow)?;
    let scale = pow10 - frac_part.len() as i32 + 9;
    let nanos = if scale >= 0 {
        10i128
            .checked_pow(scale as u32)
            .and_then(|p| mantissa.checked_mul(p))
            .ok_or(QuantityError::Overflow)?
    } else {
        match 10i128.checked_pow((-scale) as u32) {
            // Round up to the nearest nano, as upstream rounds toward +inf.
            Some(p) => (mantissa + p - 1) / p,
            None => i128::from(mantissa > 0),
        }
    };
    Ok(ParsedQuantity {
        nanos: if negative { -nanos } else { nanos },
        format,
    })
}

impl ParsedQuantity {
    /// `Quantity.String()`: the canonical spelling upstream echoes back.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.abs();
        if self.format == Format::BinarySI && abs >= 1024 * NANO && abs % NANO == 0 {
            let mut v = abs / NANO;
            let mut k = 0;
            while k < 6 && v % 1024 == 0 {
                v /= 1024;
                k += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
            return format!("{sign}{v}{suffix}");
        }
        let mut m = abs;
        let mut e = -9;
        while e < 18 && m % 1000 == 0 {
            m /= 1000;
            e += 3;
        }
        let suffix = if self.format == Format::DecimalExponent {
            if e == 0 {
                String::new()
            } else {
                format!("e{e}")
            }
        } else {
            match e {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            }
            .to_string()
        };
        format!("{sign}{m}{suffix}")
    }

    /// `MilliValue()`: rounded up.
    pub fn millis(&self) -> Option<i64> {
        i64::try_from(div_ceil(self.nanos, 1_000_000)).ok()
    }

    /// `Value()`: rounded up.
    pub fn value(&self) -> Option<i64> {
        i64::try_from(div_ceil(self.nanos, NANO)).ok()
    }

    /// `Cmp`.
    pub fn cmp_value(&self, other: &ParsedQuantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 {
        q + 1
    } else {
        q
    }
}

/// CPU in millicores (`"500m"` → 500, `"2"` → 2000); `None` if unparsable.
pub fn quantity_to_millis(q: &Quantity) -> Option<i64> {
    parse_quantity(&q.0).ok()?.millis()
}

/// Memory or storage in bytes (`"1Gi"` → 1073741824); `None` if unparsable.
pub fn quantity_to_bytes(q: &Quantity) -> Option<i64> {
    parse_quantity(&q.0).ok()?.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalizes() {
        // (input, nanos, canonical)
        let cases: &[(&str, i128, &str)] = &[
            ("0", 0, "0"),
            ("1", NANO, "1"),
            ("500m", 500_000_000, "500m"),
            ("0.5", 500_000_000, "500m"),
            ("1000m", NANO, "1"),
            ("1500m", 1_500_000_000, "1500m"),
            ("1000", 1000 * NANO, "1k"),
            ("100", 100 * NANO, "100"),
            ("1.5k", 1500 * NANO, "1500"),
            ("1Ki", 1024 * NANO, "1Ki"),
            ("1024Mi", 1024 * 1024 * 1024 * NANO, "1Gi"),
            ("1.5Gi", 1_610_612_736 * NANO, "1536Mi"),
            ("512", 512 * NANO, "512"),
            ("1e3", 1000 * NANO, "1e3"),
            ("5E-3", 5_000_000, "5e-3"),
            ("128974848", 128_974_848 * NANO, "128974848"),
            ("129M", 129_000_000 * NANO, "129M"),
            ("-1", -NANO, "-1"),
            ("+2", 2 * NANO, "2"),
            ("10n", 10, "10n"),
            ("1u", 1000, "1u"),
            (".5", 500_000_000, "500m"),
        ];
        for (input, nanos, canonical) in cases {
            let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.nanos, *nanos, "{input}");
            assert_eq!(q.canonical(), *canonical, "{input}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "abc", "1x", "1.2.3", "1Ki2", ".", "1e", "1e+", "m", "--1", "1 Gi",
        ] {
            assert_eq!(parse_quantity(bad), Err(QuantityError::Format), "{bad}");
        }
        assert_eq!(QuantityError::Format.to_string(), QUANTITY_FORMAT_ERROR);
    }

    #[test]
    fn helpers_round_up() {
        let cases: &[(&str, Option<i64>, Option<i64>)] = &[
            ("500m", Some(500), Some(1)),
            ("2", Some(2000), Some(2)),
            ("1Gi", Some(1_073_741_824_000), Some(1_073_741_824)),
            ("0.1m", Some(1), Some(1)),
            ("bogus", None, None),
        ];
        for (input, millis, bytes) in cases {
            let q = Quantity(input.to_string());
            assert_eq!(quantity_to_millis(&q), *millis, "{input}");
            assert_eq!(quantity_to_bytes(&q), *bytes, "{input}");
        }
    }
}
