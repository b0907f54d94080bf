//! Free-text search: what an event is found by, and what a search asks for, cut into tokens by one
//! tokenizer, so that both stores match exactly the same events.
//!
//! A token is a run of alphanumeric characters after Unicode lowercasing: every other character
//! separates (`Jane.Doe@Example.com` is `jane doe example com`). The stores never tokenize text
//! themselves: SQLite's FTS5 (`ascii` tokenizer) and PostgreSQL's `tsvector` receive these tokens
//! already cut, joined by single spaces, and split them only there (see the store's `search`
//! module), so a word is found on one backend exactly when it is found on the other.
//!
//! A search matches an event when every one of its tokens is one of the event's tokens (whole
//! tokens, case-insensitively). The last word is not a prefix: FTS5 materialises a prefix's
//! merged posting list on every lookup, which a search that checks a few hundred listed events
//! one by one would pay each time.

use std::fmt;

use serde_json::{Map, Value};

use crate::{Kind, ParamError};

/// The longest search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most distinct words a search may have.
pub const MAX_QUERY_TOKENS: usize = 16;
/// Tokens are cut to this many characters, at indexing and at search alike: two tokens equal in
/// their first 64 characters are the same token (long ids differ well before that).
pub const MAX_TOKEN_CHARS: usize = 64;
/// The most distinct tokens an event is found by (the first ones, in the order of its fields):
/// bounds the index work per event whatever the event carries.
pub const MAX_EVENT_TOKENS: usize = 256;

/// The tokens of `text` in order (repeats included): lowercased, split at every character that is
/// not alphanumeric, each cut to [`MAX_TOKEN_CHARS`] characters.
pub fn tokens(text: &str) -> Tokens<'_> {
    Tokens { chars: text.chars(), lowered: None }
}

/// The iterator of [`tokens`].
pub struct Tokens<'a> {
    chars: std::str::Chars<'a>,
    /// The rest of the lowercase form of the current character (one character may lowercase to
    /// several: `İ` is `i` and a combining dot, which separates).
    lowered: Option<std::char::ToLowercase>,
}

impl Tokens<'_> {
    fn next_char(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.lowered.as_mut().and_then(Iterator::next) {
                return Some(c);
            }
            self.lowered = Some(self.chars.next()?.to_lowercase());
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut token = String::new();
        let mut len = 0;
        loop {
            match self.next_char() {
                Some(c) if c.is_alphanumeric() => {
                    if len < MAX_TOKEN_CHARS {
                        token.push(c);
                        len += 1;
                    }
                }
                Some(_) if token.is_empty() => {}
                Some(_) => return Some(token),
                None => return (!token.is_empty()).then_some(token),
            }
        }
    }
}

/// A parsed search: its distinct words, in the order given. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchText {
    tokens: Vec<String>,
}

impl SearchText {
    /// Parses what a client typed. Refused: more than [`MAX_QUERY_CHARS`] characters, control
    /// characters, no letter or digit at all, more than [`MAX_QUERY_TOKENS`] distinct words.
    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(ParamError::new(param, format!("must be at most {MAX_QUERY_CHARS} characters")));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParamError::new(param, "must not contain control characters"));
        }
        let mut words: Vec<String> = Vec::new();
        for token in tokens(raw) {
            if !words.contains(&token) {
                words.push(token);
            }
        }
        if words.is_empty() {
            return Err(ParamError::new(param, "must contain at least one letter or digit"));
        }
        if words.len() > MAX_QUERY_TOKENS {
            return Err(ParamError::new(param, format!("must have at most {MAX_QUERY_TOKENS} distinct words")));
        }
        Ok(Self { tokens: words })
    }

    /// The words, lowercase, each alphanumeric only.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

/// The normalised search: its words joined by single spaces (parses back to the same value).
impl fmt::Display for SearchText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tokens.join(" "))
    }
}

/// The fields an event of each kind is found by, as paths into its stored JSON. Names, e-mails,
/// descriptions and categories, what people type into a search box; not ids (the `actorId`
/// filter matches those exactly) and not free-form client data such as user agents.
fn fields(kind: Kind) -> &'static [&'static [&'static str]] {
    match kind {
        Kind::Admin => &[
            &["data", "actionText"],
            &["data", "eventDescription"],
            &["data", "actorName"],
            &["data", "actorEmail"],
            &["data", "actorOrgName"],
            &["data", "targetName"],
            &["data", "targetType"],
            &["data", "targetOrgName"],
            &["data", "eventCategory"],
            &["data", "errorMessage"],
        ],
        Kind::Security => &[
            &["data", "actionText"],
            &["data", "eventDescription"],
            &["data", "actorName"],
            &["data", "actorEmail"],
            &["data", "actorOrgName"],
            &["data", "eventCategory"],
            &["data", "actorIp"],
        ],
        Kind::Compliance => &[
            &["resource"],
            &["type"],
            &["data", "personEmail"],
            &["data", "personDisplayName"],
            &["data", "host", "email"],
            &["data", "host", "displayName"],
            &["data", "ownerEmail"],
            &["data", "title"],
            &["data", "meetingTopic"],
            &["data", "topic"],
            &["data", "fileName"],
            &["data", "displayName"],
            &["data", "text"],
        ],
        Kind::Connect => {
            &[&["actionText"], &["eventDescription"], &["actorEmail"], &["eventCategory"], &["statusOfAction"]]
        }
        Kind::Access => &[&["actorName"], &["actorEmail"], &["method"], &["path"]],
        Kind::System => {
            &[&["actorId"], &["data", "actionText"], &["data", "eventDescription"], &["data", "eventCategory"]]
        }
    }
}

fn string_at<'a>(event: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut object = event;
    for key in parents {
        object = object.get(*key)?.as_object()?;
    }
    object.get(*last)?.as_str()
}

/// What an event is found by: the distinct tokens of its searchable fields (see [`fields`]), in
/// field order, at most [`MAX_EVENT_TOKENS`], joined by single spaces; empty when it has none.
/// Computed from the stored (= served) JSON, at ingest and when a store indexes older events.
///
/// The same tokens as [`tokens`], written straight into the result (this runs for every event
/// ingested): a repeated token is written, found among the earlier ones and cut off again.
pub fn event_text(kind: Kind, event: &Map<String, Value>) -> String {
    let mut text = EventText { out: String::with_capacity(256), spans: Vec::with_capacity(32), token: None };
    for path in fields(kind) {
        let Some(field) = string_at(event, path) else { continue };
        if !text.push_field(field) {
            break;
        }
    }
    text.out
}

struct EventText {
    out: String,
    /// Where each distinct token written lies in `out`.
    spans: Vec<(usize, usize)>,
    /// The token being written: its start in `out`, its length in characters.
    token: Option<(usize, usize)>,
}

impl EventText {
    /// Adds a field's tokens; false once [`MAX_EVENT_TOKENS`] are written.
    fn push_field(&mut self, field: &str) -> bool {
        for c in field.chars() {
            if c.is_ascii() {
                self.push_char(c.to_ascii_lowercase());
            } else {
                for lower in c.to_lowercase() {
                    self.push_char(lower);
                }
            }
        }
        self.end_token();
        self.spans.len() < MAX_EVENT_TOKENS
    }

    fn push_char(&mut self, c: char) {
        if !c.is_alphanumeric() {
            self.end_token();
            return;
        }
        if self.spans.len() >= MAX_EVENT_TOKENS {
            return;
        }
        let (start, len) = match self.token {
            Some(token) => token,
            None => {
                if !self.out.is_empty() {
                    self.out.push(' ');
                }
                (self.out.len(), 0)
            }
        };
        if len < MAX_TOKEN_CHARS {
            self.out.push(c);
        }
        self.token = Some((start, len + 1));
    }

    fn end_token(&mut self) {
        let Some((start, _)) = self.token.take() else { return };
        let end = self.out.len();
        let token = &self.out[start..end];
        if self.spans.iter().any(|&(s, e)| e - s == token.len() && &self.out[s..e] == token) {
            // Cut it off again, with the space before it.
            self.out.truncate(start.saturating_sub(1));
        } else {
            self.spans.push((start, end));
        }
    }
}

/// [`event_text`] of a stored body; a body that is not a JSON object is found by nothing.
pub fn stored_event_text(kind: Kind, body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(event)) => event_text(kind, &event),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(text: &str) -> Vec<String> {
        tokens(text).collect()
    }

    #[test]
    fn tokens_are_lowercase_alphanumeric_runs() {
        assert_eq!(all("Jane.Doe@Example.com"), ["jane", "doe", "example", "com"]);
        assert_eq!(all("  --a_b  c9 "), ["a", "b", "c9"]);
        assert_eq!(all("ÉCOLE Straße 東京タワー"), ["école", "straße", "東京タワー"]);
        assert_eq!(all("İstanbul"), ["i", "stanbul"], "the combining dot of İ's lowercase separates");
        assert_eq!(all("192.0.2.10"), ["192", "0", "2", "10"]);
        assert!(all("").is_empty() && all("@@ -- ..").is_empty());
        let long = "x".repeat(100);
        assert_eq!(all(&format!("{long} y")), ["x".repeat(MAX_TOKEN_CHARS), "y".to_owned()]);
        assert_eq!(all(&"é".repeat(70))[0].chars().count(), MAX_TOKEN_CHARS, "cut in characters, not bytes");
    }

    #[test]
    fn a_search_is_its_distinct_words() {
        let s = SearchText::parse("Login FAILED login", "q").unwrap();
        assert_eq!(s.tokens(), ["login", "failed"]);
        assert_eq!(s.to_string(), "login failed");
        assert_eq!(SearchText::parse(&s.to_string(), "q").unwrap(), s);
        assert_eq!(SearchText::parse("jane.doe@example.com", "q").unwrap().tokens(), ["jane", "doe", "example", "com"]);
        assert_eq!(SearchText::parse(&"é".repeat(MAX_QUERY_CHARS), "q").unwrap().tokens().len(), 1);
        for bad in ["", "   ", "@@ --", "a\u{0}b", "tab\there", &"x".repeat(MAX_QUERY_CHARS + 1)] {
            let err = SearchText::parse(bad, "q").unwrap_err();
            assert_eq!(err.param, "q", "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_QUERY_TOKENS).map(|i| format!("w{i}")).collect();
        assert!(SearchText::parse(&many.join(" "), "q").unwrap_err().reason.contains("distinct words"));
        assert!(SearchText::parse(&many[..MAX_QUERY_TOKENS].join(" "), "q").is_ok());
    }

    #[test]
    fn each_kind_is_found_by_its_named_fields_only() {
        let admin = json!({"id": "secret-id", "actorId": "ACTOR", "data": {
            "actionText": "Jane Doe updated user Bob", "actorEmail": "jane.doe@example.com",
            "eventCategory": "USERS", "targetName": "Bob Builder", "adminRoles": ["Full_Admin"]}});
        let text = event_text(Kind::Admin, admin.as_object().unwrap());
        assert_eq!(text, "jane doe updated user bob example com builder users");
        let compliance = json!({"resource": "messages", "type": "created", "actorId": "X",
            "data": {"text": "Quarterly numbers", "personEmail": "a@b.c", "host": {"email": "h@x.y"}, "roomId": "R"}});
        assert_eq!(
            event_text(Kind::Compliance, compliance.as_object().unwrap()),
            "messages created a b c h x y quarterly numbers"
        );
        let connect = json!({"actionText": "Logged in", "eventDescription": "login", "actorEmail": "u@e.x",
            "statusOfAction": "SUCCESS", "actorIp": "10.0.0.1"});
        assert_eq!(event_text(Kind::Connect, connect.as_object().unwrap()), "logged in login u e x success");
        let access = json!({"actorName": "Alice", "actorEmail": "alice@acme.example", "path": "/v1/events",
            "method": "GET", "userAgent": "curl/8"});
        assert_eq!(event_text(Kind::Access, access.as_object().unwrap()), "alice acme example get v1 events");
        assert_eq!(event_text(Kind::Security, &Map::new()), "");
        assert_eq!(stored_event_text(Kind::Admin, "not json"), "");
        assert_eq!(stored_event_text(Kind::Connect, &connect.to_string()), "logged in login u e x success");
    }

    /// Whatever the text, an event is found by exactly the distinct tokens [`tokens`] cuts, in order.
    #[test]
    fn event_text_is_the_distinct_tokens_of_its_fields() {
        let texts = [
            "Jane Doe reset JANE's password",
            "İstanbul ÉCOLE straße ǅemal ΣΊΣΥΦΟΣ",
            "a-b_c.d@e a b c",
            "x x x",
            "",
            "--",
            "東京 タワー 東京",
        ];
        let long = format!("{} {} y", "é".repeat(70), "é".repeat(80));
        for first in texts.iter().copied().chain([long.as_str()]) {
            for second in texts {
                let event = json!({"actionText": first, "eventDescription": second});
                let mut expected: Vec<String> = Vec::new();
                for token in tokens(first).chain(tokens(second)) {
                    if !expected.contains(&token) {
                        expected.push(token);
                    }
                }
                assert_eq!(
                    event_text(Kind::Connect, event.as_object().unwrap()),
                    expected.join(" "),
                    "{first:?} {second:?}"
                );
            }
        }
    }

    #[test]
    fn an_event_is_found_by_a_bounded_number_of_tokens() {
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let event = json!({"actionText": words.join(" "), "eventDescription": "late"});
        let text = event_text(Kind::Connect, event.as_object().unwrap());
        assert_eq!(text.split(' ').count(), MAX_EVENT_TOKENS);
        assert!(!text.split(' ').any(|t| t == "late"));
    }
}
