//! Absolute URLs for `Link` headers.
//!
//! Both Python SDKs refuse relative links, and webexpythonsdk re-appends any original parameter a
//! link lacks without URL-encoding it, so a next link is absolute and repeats every filter. Values
//! are percent-encoded with `+` as `%2B` (a literal `+` would read back as a space).

use axum::http::HeaderMap;
use axum::http::header::HOST;

use crate::error::ApiError;

/// Where the API is reachable from clients: scheme, host and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    prefix: String,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().trim_end_matches('/');
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| format!("'{raw}' is not an absolute http(s) URL"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("'{raw}': only http and https are supported"));
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !valid_host(host) {
            return Err(format!("'{raw}' has no valid host"));
        }
        if path.contains(['?', '#']) {
            return Err(format!("'{raw}' must not have a query or fragment"));
        }
        Ok(Self { origin: format!("{scheme}://{host}"), prefix: path.to_owned() })
    }

    /// `host[:port]` of the origin.
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }

    pub fn host(&self) -> &str {
        self.origin.split_once("://").map_or(&self.origin, |(_, host)| host)
    }

    pub fn join(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.prefix, path)
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

/// The right-most value of a forwarding header (`X-Forwarded-Host`, `-Proto`, `-For`): the one our
/// own, trusted proxy appended; values to its left came with the request and could say anything.
pub fn forwarded<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    last.rsplit(',').next().map(str::trim)
}

/// The host a request names: behind a trusted proxy the forwarded one, else `Host`.
fn requested_host(trust_proxy: bool, headers: &HeaderMap) -> Option<&str> {
    let forwarded_host = if trust_proxy { forwarded(headers, "x-forwarded-host") } else { None };
    forwarded_host.or_else(|| headers.get(HOST).and_then(|v| v.to_str().ok()))
}

/// Refuses a request that names no single host this server answers for: two `Host` headers
/// (which one was meant is ambiguous, and links could follow either), or a host outside
/// `ServerConfig::allowed_hosts` (when set). Health and metrics answer any host: load balancers
/// probe by address.
pub fn check_host(config: &crate::ServerConfig, path: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get_all(HOST).iter().count() > 1 {
        return Err(ApiError::bad_request("More than one Host header"));
    }
    if config.allowed_hosts.is_empty() || matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return Ok(());
    }
    let named = requested_host(config.trust_proxy, headers).map(str::to_ascii_lowercase).unwrap_or_default();
    let allowed = config.allowed_hosts.iter().any(|allowed| {
        // An entry without a port allows that host on any port.
        named == *allowed || (!allowed.contains(':') && named.rsplit_once(':').is_some_and(|(h, _)| h == allowed))
    });
    if allowed { Ok(()) } else { Err(ApiError::bad_request("This server does not answer for the requested Host.")) }
}

/// The base for this request's absolute URLs.
pub fn request_base(
    configured: Option<&PublicUrl>,
    trust_proxy: bool,
    headers: &HeaderMap,
) -> Result<PublicUrl, ApiError> {
    if let Some(url) = configured {
        return Ok(url.clone());
    }
    let host = requested_host(trust_proxy, headers).ok_or_else(|| ApiError::bad_request("Missing Host header"))?;
    if !valid_host(host) {
        return Err(ApiError::bad_request("Invalid Host header"));
    }
    let scheme = match (trust_proxy, forwarded(headers, "x-forwarded-proto")) {
        (true, Some(proto)) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    Ok(PublicUrl { origin: format!("{scheme}://{host}"), prefix: String::new() })
}

/// Builds `base + path + ?k=v&…` with every value percent-encoded.
pub fn with_query(base: &PublicUrl, path: &str, params: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    // form_urlencoded writes spaces as '+'; none of our values contain spaces after
    // normalisation, but encode them as %20 so that a '+' can never appear.
    let query = query.finish().replace('+', "%20");
    format!("{}?{}", base.join(path), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        let u = PublicUrl::parse("https://audit.example.com/api/").unwrap();
        assert_eq!(u.join("/v1/events"), "https://audit.example.com/api/v1/events");
        assert!(PublicUrl::parse("ftp://x").is_err());
        assert!(PublicUrl::parse("example.com").is_err());
        assert!(PublicUrl::parse("http://").is_err());
        assert!(PublicUrl::parse("http://a b").is_err());
    }

    #[test]
    fn queries_never_contain_a_plus() {
        let u = PublicUrl::parse("http://h:1").unwrap();
        let url = with_query(&u, "/v1/x", &[("orgId", "ab+/=".to_owned()), ("s", "a b".to_owned())]);
        assert_eq!(url, "http://h:1/v1/x?orgId=ab%2B%2F%3D&s=a%20b");
    }

    #[test]
    fn host_header_and_proxy_headers() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "localhost:8080".parse().unwrap());
        h.insert("x-forwarded-host", "audit.example.com".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(request_base(None, false, &h).unwrap().join("/p"), "http://localhost:8080/p");
        assert_eq!(request_base(None, true, &h).unwrap().join("/p"), "https://audit.example.com/p");
        h.insert(HOST, "evil.com/<script>".parse().unwrap());
        assert!(request_base(None, false, &h).is_err());
    }

    proptest::proptest! {
        /// A `Link` built from any filter values (hostile ones included) parses back to exactly
        /// those values, is absolute, and never holds a literal '+' or anything a header rejects.
        #[test]
        fn links_round_trip_any_values(values in proptest::collection::vec(proptest::prelude::any::<String>(), 1..6),
                                       prefix in "(/[a-z]{1,8}){0,2}") {
            let base = PublicUrl::parse(&format!("https://audit.example.com{prefix}")).unwrap();
            let names = ["orgId", "from", "actorId", "eventCategories", "cursor", "max"];
            let params: Vec<(&str, String)> = names.iter().copied().zip(values.iter().cloned()).collect();
            let url = with_query(&base, "/v1/adminAudit/events", &params);
            let expected_start = format!("https://audit.example.com{prefix}/v1/adminAudit/events?");
            proptest::prop_assert!(url.starts_with(&expected_start));
            proptest::prop_assert!(!url.contains('+'));
            let header = format!("<{url}>; rel=\"next\"");
            proptest::prop_assert!(axum::http::HeaderValue::from_str(&header).is_ok());
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let parsed = crate::params::QueryParams::parse(Some(query));
            for (name, value) in &params {
                proptest::prop_assert_eq!(parsed.all(name).collect::<Vec<_>>(), vec![value.as_str()]);
            }
        }
    }
}
