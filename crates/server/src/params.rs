//! Query strings as the Webex APIs read them: unknown parameters are ignored (webexpythonsdk sends
//! `request_parameters=…`), a known single-valued parameter given twice with different values is an
//! error rather than a silent pick, and list parameters may repeat.

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        // Invalid percent-encoding or UTF-8 decodes to U+FFFD, which the typed parsers then refuse
        // with a 400 naming the parameter.
        let pairs = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
            .unwrap_or_default();
        Self { pairs }
    }

    /// A single-valued parameter: absent, or given once (or repeated with the identical value).
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let Some(first) = values.next() else { return Ok(None) };
        if values.any(|v| v != first) {
            return Err(ApiError::bad_request(format!(
                "Invalid parameter '{name}': given more than once with different values"
            )));
        }
        Ok(Some(first))
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.single(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::bad_request(format!("Missing required parameter '{name}'"))),
        }
    }

    /// Present and non-empty; an empty value (`actorId=`) counts as absent, as Webex clients send
    /// empty strings for unset optional filters.
    pub fn optional(&self, name: &str) -> Result<Option<&str>, ApiError> {
        Ok(self.single(name)?.filter(|v| !v.is_empty()))
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_unknowns_and_lists() {
        let q = QueryParams::parse(Some("a=1&a=1&b=2&b=3&c=&l=x,y&l=z&request_parameters=eventCategories&bad=%FF%FE"));
        assert_eq!(q.single("a").unwrap(), Some("1"));
        assert!(q.single("b").is_err());
        assert_eq!(q.optional("c").unwrap(), None);
        assert!(q.required("c").is_err());
        assert!(q.required("missing").is_err());
        assert_eq!(q.all("l").collect::<Vec<_>>(), ["x,y", "z"]);
        assert!(q.single("bad").unwrap().unwrap().contains('\u{FFFD}'));
        assert_eq!(
            QueryParams::parse(Some("t=2024-01-01T00:00:00+01:00")).single("t").unwrap(),
            Some("2024-01-01T00:00:00 01:00")
        );
    }
}
