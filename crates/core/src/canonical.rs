//! RFC 8785 (JCS) canonical JSON for the events we store, fast.
//!
//! Ingest needs two canonical forms of every event: the whole event (its Merkle leaf) and the
//! event without `created` (its content hash for idempotency). The general library builds each
//! from scratch; here both come from one pass, and the whole form doubles as the stored body, so
//! an event is serialised once instead of three times (ingest CPU is what bounds throughput on a
//! small machine). The fast path covers JSON whose numbers are integers of magnitude ≤ 2^53,
//! which is every Webex event we know of; anything else (fractions, exponents, huge integers,
//! whose ES6 spelling differs from serde_json's) returns `None` and the caller falls back to
//! `serde_json_canonicalizer`. Strings: serde_json's escaping (`"`, `\`, control characters as
//! `\b \t \n \f \r` or lowercase `\u00xx`, nothing else) is exactly RFC 8785's.

use serde_json::{Map, Value};

/// The largest integer magnitude RFC 8785 (via ES6 doubles) spells exactly as written.
const MAX_SAFE: u64 = 1 << 53;

/// The canonical form of a top-level object, and the same without its `created` member.
pub struct CanonicalForms {
    pub whole: Vec<u8>,
    pub without_created: Vec<u8>,
}

/// Both canonical forms of `obj`, or `None` if it holds a number outside the fast path.
pub fn forms(obj: &Map<String, Value>) -> Option<CanonicalForms> {
    let mut whole = Vec::with_capacity(1024);
    whole.push(b'{');
    // The byte range of ",\"created\":…" (or "\"created\":…," when first) within `whole`.
    let mut created: Option<(usize, usize, bool)> = None;
    for (i, (key, value)) in sorted(obj).into_iter().enumerate() {
        let start = whole.len();
        if i > 0 {
            whole.push(b',');
        }
        write_str(key, &mut whole);
        whole.push(b':');
        if !write_value(value, &mut whole) {
            return None;
        }
        if key == "created" {
            created = Some((start, whole.len(), i == 0));
        }
    }
    whole.push(b'}');
    let without_created = match created {
        None => whole.clone(),
        Some((start, end, first)) => {
            let mut out = Vec::with_capacity(whole.len());
            out.extend_from_slice(&whole[..start]);
            let rest = &whole[end..];
            // When `created` came first, the next member's leading comma must go.
            out.extend_from_slice(if first { rest.strip_prefix(b",").unwrap_or(rest) } else { rest });
            out
        }
    };
    Some(CanonicalForms { whole, without_created })
}

/// The canonical form of any value, or `None` outside the fast path.
pub fn to_vec(value: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out).then_some(out)
}

/// Members in RFC 8785 order: by UTF-16 code units. serde_json's map is ordered by UTF-8 bytes
/// (code points), which agrees except when a key has a character above U+FFFF, so only then sort.
fn sorted(obj: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = obj.iter().collect();
    let code_point_order = entries.windows(2).all(|w| w[0].0 < w[1].0);
    if !code_point_order || entries.iter().any(|(k, _)| k.chars().any(|c| c > '\u{FFFF}')) {
        entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    entries
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64().filter(|u| *u <= MAX_SAFE) {
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE) {
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return false;
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_value(item, out) {
                    return false;
                }
            }
            out.push(b']');
        }
        Value::Object(obj) => {
            out.push(b'{');
            for (i, (key, item)) in sorted(obj).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                if !write_value(item, out) {
                    return false;
                }
            }
            out.push(b'}');
        }
    }
    true
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference(v: &Value) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(v).unwrap()
    }

    /// A small deterministic generator of awkward JSON (xorshift; no dependency needed).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn string(&mut self) -> String {
            const PIECES: [&str; 14] = [
                "a", "B", "created", "\"", "\\", "\n", "\u{1}", "\u{7f}", "é", "\u{2028}", "\u{FFFD}", "\u{E000}",
                "😀", " ",
            ];
            (0..self.next() % 5).map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize]).collect()
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.next() % if depth > 3 { 5 } else { 7 } {
                0 => Value::Null,
                1 => Value::Bool(self.next().is_multiple_of(2)),
                2 => json!((self.next() % (1 << 54)) as i64 - (1 << 53)),
                3 => json!(self.next() % 1000),
                4 => Value::String(self.string()),
                5 => Value::Array((0..self.next() % 4).map(|_| self.value(depth + 1)).collect()),
                _ => Value::Object((0..self.next() % 5).map(|_| (self.string(), self.value(depth + 1))).collect()),
            }
        }
    }

    #[test]
    fn matches_the_reference_implementation_on_awkward_json() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5_000 {
            let v = g.value(0);
            assert_eq!(to_vec(&v).as_deref(), Some(reference(&v).as_slice()), "{v}");
            if let Value::Object(obj) = &v {
                let forms = forms(obj).unwrap();
                assert_eq!(forms.whole, reference(&v), "{v}");
                let mut without = obj.clone();
                without.remove("created");
                assert_eq!(forms.without_created, reference(&Value::Object(without)), "{v}");
            }
        }
    }

    #[test]
    fn created_is_cut_out_wherever_it_sorts() {
        for v in [
            json!({"created": "t"}),
            json!({"created": "t", "id": 1}),
            json!({"a": 1, "created": "t"}),
            json!({"a": 1, "created": "t", "z": [1]}),
            json!({"a": {"created": "nested stays"}, "created": "t"}),
        ] {
            let Value::Object(obj) = &v else { unreachable!() };
            let mut without = obj.clone();
            without.remove("created");
            assert_eq!(forms(obj).unwrap().without_created, reference(&Value::Object(without)));
        }
    }

    #[test]
    fn numbers_outside_the_fast_path_fall_back() {
        for v in
            [json!({"n": 1.5}), json!({"n": 1e21}), json!([9_007_199_254_740_993u64]), json!(-9_007_199_254_740_993i64)]
        {
            assert!(to_vec(&v).is_none(), "{v}");
        }
        assert_eq!(to_vec(&json!(9_007_199_254_740_992u64)).unwrap(), b"9007199254740992");
        assert_eq!(to_vec(&json!(-9_007_199_254_740_992i64)).unwrap(), b"-9007199254740992");
    }
}
