//! Numbers an event may carry: exactly those an IEEE-754 double holds (I-JSON, RFC 7493).
//!
//! An event's Merkle leaf commits to its RFC 8785 form, in which every number is the double it
//! parses to. A number that does not survive that trip (`12345678901234567890`, `1e-400`, `-0`,
//! `0.1000000000000000000001`) would be stored and served as written while the leaf commits to a
//! different value: its digits could then be edited without `verify` noticing, and two different
//! events would hash alike. Such numbers are refused at ingest, naming the item's field, so every
//! number stored means exactly what the log commits to.
//!
//! The check reads the item's JSON text (the parsed value has already lost what was written); it
//! runs after the text parsed, so it may assume well-formed JSON.

/// Where the first inexact number of `raw` is, and why; `Ok` when every number is exact.
pub fn exact_numbers(raw: &str) -> Result<(), (String, String)> {
    let bytes = raw.as_bytes();
    let mut path: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                path.push(Frame::Object(None));
                expect_key = true;
            }
            b'[' => {
                path.push(Frame::Array(0));
                expect_key = false;
            }
            b'}' | b']' => {
                path.pop();
                expect_key = false;
            }
            b',' => match path.last_mut() {
                Some(Frame::Array(index)) => *index += 1,
                Some(Frame::Object(_)) => expect_key = true,
                None => {}
            },
            b'"' => {
                let end = string_end(bytes, i);
                if expect_key {
                    let key = serde_json::from_str::<String>(&raw[i..end]).unwrap_or_default();
                    if let Some(Frame::Object(current)) = path.last_mut() {
                        *current = Some(key);
                    }
                    expect_key = false;
                }
                i = end;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(bytes.len(), |n| i + n);
                if let Err(reason) = exact(&raw[i..end]) {
                    return Err((field(&path), reason));
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

enum Frame {
    Object(Option<String>),
    Array(usize),
}

/// `data.amounts[2]` style, as item errors name fields.
fn field(path: &[Frame]) -> String {
    let mut out = String::new();
    for frame in path {
        match frame {
            Frame::Object(Some(key)) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Frame::Object(None) => {}
            Frame::Array(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// The index just past the string starting at `start` (a `"`).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn exact(token: &str) -> Result<(), String> {
    let value: f64 = token.parse().map_err(|_| format!("{token} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("{token} is beyond the range of a double"));
    }
    if value == 0.0 && value.is_sign_negative() {
        return Err(format!("{token} is a negative zero, which does not survive normalisation; send 0"));
    }
    // Rust prints a double as the shortest decimal that parses back to it.
    let kept = value.to_string();
    if Decimal::parse(token) != Decimal::parse(&kept) {
        return Err(format!(
            "{token} cannot be kept exactly (as a double it is {kept}); send it as a string to keep every digit"
        ));
    }
    Ok(())
}

/// A decimal number as sign, significant digits and the exponent of the last digit.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{whole}{fraction}");
        let mut exponent = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
        let trimmed = digits.trim_start_matches('0');
        let significant = trimmed.trim_end_matches('0');
        if significant.is_empty() {
            return Some(Decimal { negative: false, digits: String::new(), exponent: 0 });
        }
        exponent = exponent.checked_add(i64::try_from(trimmed.len() - significant.len()).ok()?)?;
        Some(Decimal { negative, digits: significant.to_owned(), exponent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_pass() {
        for raw in [
            r#"{"a":1,"b":-2,"c":1.5,"d":0.1,"e":1e21,"f":1E-7,"g":0,"h":0.0,"i":9007199254740992,"j":2.50,"k":-0.5}"#,
            r#"[1,[2,[3.25]],{"x":"12345678901234567890 in a string","y":"-0"}]"#,
            r#"{"s":"a \"quoted\" 1e-400 \\ ","n":100}"#,
        ] {
            assert_eq!(exact_numbers(raw), Ok(()), "{raw}");
        }
    }

    #[test]
    fn inexact_numbers_are_named_by_field() {
        let cases = [
            (r#"{"amount":12345678901234567890}"#, "amount"),
            (r#"{"data":{"n":9007199254740993}}"#, "data.n"),
            (r#"{"data":{"list":[1,2,1e-400]}}"#, "data.list[2]"),
            (r#"{"a":{"b":[{"c":-0}]}}"#, "a.b[0].c"),
            (r#"{"x":-0.0}"#, "x"),
            (r#"{"x":0.1000000000000000000001}"#, "x"),
            (r#"{"x":1e400}"#, "x"),
            (r#"{"k\"ey":[[],[7,123456789012345678901234567890]]}"#, "k\"ey[1][1]"),
        ];
        for (raw, field) in cases {
            let (got, reason) = exact_numbers(raw).expect_err(raw);
            assert_eq!(got, field, "{raw}: {reason}");
        }
    }
}
