//! PostgreSQL `numeric` in its binary wire form, to and from decimal text, exactly and at
//! any scale (what `decimal.Decimal` round-trips through `str()`).

use crate::errors::{EngineError, EngineResult};

const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_POS_INF: u16 = 0xD000;
const SIGN_NEG_INF: u16 = 0xF000;
/// PostgreSQL's limits: 131072 digits before the point, 16383 after.
const MAX_EXPONENT: i64 = 140_000;
const MAX_DSCALE: usize = 0x3FFF;

/// Encode decimal text (`-12.5`, `1E+3`, `NaN`, `-Infinity`) as a binary numeric.
pub fn encode(text: &str) -> EngineResult<Vec<u8>> {
    let trimmed = text.trim();
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "nan" | "snan" => return Ok(header(0, 0, SIGN_NAN, 0)),
        "infinity" | "inf" => {
            let sign = if negative { SIGN_NEG_INF } else { SIGN_POS_INF };
            return Ok(header(0, 0, sign, 0));
        }
        _ => {}
    }
    let invalid = || EngineError::config(format!("{text:?} is not a decimal number"));
    let (mantissa, exponent) = match lower.find('e') {
        Some(at) => {
            let exp: i64 = lower[at + 1..].parse().map_err(|_| invalid())?;
            (&lower[..at], exp)
        }
        None => (lower.as_str(), 0),
    };
    let (int_text, frac_text) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };
    if (int_text.is_empty() && frac_text.is_empty())
        || !int_text
            .bytes()
            .chain(frac_text.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    // value = digits * 10^exp10
    let digits: String = format!("{int_text}{frac_text}");
    let exp10 = exponent - frac_text.len() as i64;
    if exp10.abs() > MAX_EXPONENT {
        return Err(EngineError::config(format!(
            "{text:?} is outside PostgreSQL's numeric range"
        )));
    }
    let (int_digits, frac_digits) = if exp10 >= 0 {
        (
            format!("{digits}{}", "0".repeat(exp10 as usize)),
            String::new(),
        )
    } else {
        let shift = (-exp10) as usize;
        if digits.len() > shift {
            let split = digits.len() - shift;
            (digits[..split].to_owned(), digits[split..].to_owned())
        } else {
            (
                String::new(),
                format!("{}{digits}", "0".repeat(shift - digits.len())),
            )
        }
    };
    let dscale = frac_digits.len();
    if dscale > MAX_DSCALE {
        return Err(EngineError::config(format!(
            "{text:?} has more than {MAX_DSCALE} digits after the point"
        )));
    }
    let int_pad = (4 - int_digits.len() % 4) % 4;
    let int_padded = format!("{}{int_digits}", "0".repeat(int_pad));
    let frac_pad = (4 - frac_digits.len() % 4) % 4;
    let frac_padded = format!("{frac_digits}{}", "0".repeat(frac_pad));
    let mut groups: Vec<i16> = int_padded
        .as_bytes()
        .chunks(4)
        .chain(frac_padded.as_bytes().chunks(4))
        .map(group_value)
        .collect();
    let mut weight = (int_padded.len() / 4) as i64 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        return Ok(header(0, 0, SIGN_POSITIVE, dscale as u16));
    }
    let sign = if negative {
        SIGN_NEGATIVE
    } else {
        SIGN_POSITIVE
    };
    let mut out = header(groups.len() as u16, weight as i16, sign, dscale as u16);
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    Ok(out)
}

fn group_value(chunk: &[u8]) -> i16 {
    chunk
        .iter()
        .fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0'))
}

fn header(ndigits: u16, weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 2 * usize::from(ndigits));
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    out
}

/// Decode a binary numeric into decimal text that `decimal.Decimal` parses exactly.
pub fn decode(raw: &[u8]) -> Result<String, String> {
    if raw.len() < 8 {
        return Err("numeric value shorter than its header".into());
    }
    let read = |at: usize| u16::from_be_bytes([raw[at], raw[at + 1]]);
    let ndigits = usize::from(read(0));
    let weight = i64::from(read(2) as i16);
    let sign = read(4);
    let dscale = usize::from(read(6));
    if raw.len() != 8 + 2 * ndigits {
        return Err("numeric value length does not match its digit count".into());
    }
    match sign {
        SIGN_NAN => return Ok("NaN".into()),
        SIGN_POS_INF => return Ok("Infinity".into()),
        SIGN_NEG_INF => return Ok("-Infinity".into()),
        SIGN_POSITIVE | SIGN_NEGATIVE => {}
        other => return Err(format!("numeric value has unknown sign {other:#06x}")),
    }
    let digit_at = |index: i64| -> u16 {
        if index >= 0 && (index as usize) < ndigits {
            read(8 + 2 * index as usize)
        } else {
            0
        }
    };
    let mut text = String::with_capacity(ndigits * 4 + 4);
    if sign == SIGN_NEGATIVE {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for index in 0..=weight {
            let group = digit_at(index);
            if index == 0 {
                text.push_str(&group.to_string());
            } else {
                text.push_str(&format!("{group:04}"));
            }
        }
    }
    if dscale > 0 {
        text.push('.');
        let mut fraction = String::with_capacity(dscale + 4);
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit_at(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        decode(&encode(text).expect("encodes")).expect("decodes")
    }

    #[test]
    fn plain_values_round_trip() {
        for text in [
            "0",
            "1",
            "-1",
            "12345.6789",
            "0.0001",
            "-0.50",
            "99999999",
            "10000",
        ] {
            assert_eq!(round_trip(text), text);
        }
    }

    #[test]
    fn exponents_expand() {
        assert_eq!(round_trip("1E+3"), "1000");
        assert_eq!(round_trip("1.5E-7"), "0.00000015");
        assert_eq!(round_trip("-0E-2"), "0.00");
    }

    #[test]
    fn special_values() {
        assert_eq!(round_trip("NaN"), "NaN");
        assert_eq!(round_trip("Infinity"), "Infinity");
        assert_eq!(round_trip("-Infinity"), "-Infinity");
    }

    #[test]
    fn many_digits_survive() {
        let text = "123456789012345678901234567890.123456789012345678901234567890";
        assert_eq!(round_trip(text), text);
    }

    #[test]
    fn rejects_garbage() {
        assert!(encode("12a").is_err());
        assert!(encode("").is_err());
        assert!(decode(&[0, 1]).is_err());
    }
}
