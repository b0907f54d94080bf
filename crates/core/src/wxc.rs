//! The Webex Calling provisioning error table (the admin audit API's "Audit Events API Response Error Codes Reference").
//!
//! Kept verbatim so generated failures carry codes a real collector may match on. Note the BIFROST rows,
//! whose description starts with a different code than the row's own (`WXC-BIFROST-U400405` → `WXC-500: …`).

/// `(code, description)` for all 37 rows, in the reference's order.
pub const WXC_ERROR_CODES: [(&str, &str); 37] = [
    ("WXC-4201", "WXC-4201: The phone number is already in use."),
    ("WXC-4202", "WXC-4202: The Extension is already in use."),
    (
        "WXC-4410",
        "WXC-4410: Invalid phone number. A phone number used for incoming calls must contain only the characters +, - and 0-9. Only the leading character may be a +.",
    ),
    (
        "WXC-4801",
        "WXC-4801: Invalid email address. The email address can contain only one @ and A-Z, a-z, 0-9, ! # $ % & * + - / = _ '{' '}'",
    ),
    ("WXC-4802", "WXC-4802: Invalid email address. The email address must contain an @ symbol."),
    ("WXC-4803", "WXC-4803: Invalid email address. The email address cannot contain two @ symbols."),
    ("WXC-4805", "WXC-4805: Mobile Network integration is not configured for this user."),
    (
        "WXC-4900",
        "WXC-4900: Invalid email address. The username length cannot be greater than 161 characters long and must be in username@domain format.",
    ),
    (
        "WXC-4901",
        "WXC-4901: Invalid email address. The supported characters in the email can be a letter, a digit, a single quote, or one of the following characters: # @ $ % & + - / = ? ; .",
    ),
    ("WXC-4909", "WXC-4909: Invalid extension/ extension length."),
    ("WXC-4910", "WXC-4910: Invalid extension. The extension can only contain characters from 0-9."),
    ("WXC-4911", "WXC-4911: Invalid extension. The extension cannot be an emergency number."),
    ("WXC-4912", "WXC-4912: Invalid extension. The extension cannot be a repair call number."),
    ("WXC-4942", "WXC-4942: Invalid extension."),
    ("WXC-4982", "WXC-4982: Invalid phone number length."),
    ("WXC-4989", "WXC-4989: Invalid email address. Ensure the email address is in username@domain format."),
    ("WXC-4992", "WXC-4992: Invalid domain name in email. Numeric IP address is not allowed in the domain name."),
    ("WXC-4993", "WXC-4993: Invalid domain name in email. Domain name cannot end with the . character."),
    (
        "WXC-4997",
        "WXC-4997: Invalid domain name in email. Domain name may only contain letter, digit, ., -, : and square brackets.",
    ),
    ("WXC-25058", "WXC-25058: Extension cannot be less than 2 or greater than 6 characters."),
    (
        "WXC-25279",
        "WXC-25279: Invalid field for firstName or lastName. It cannot have %, #, <, >, backslash, forward slash, and quote characters.",
    ),
    ("WXC-25400", "WXC-25400: firstName cannot be less than 1 or greater than 30."),
    ("WXC-25401", "WXC-25401: lastName cannot be less than 1 or greater than 30."),
    ("WXC-25402", "WXC-25402: Email cannot be longer than 161 characters."),
    (
        "WXC-25404",
        "WXC-25404: Webex calling features are undergoing maintenance and are temporarily unavailable. Try again later.",
    ),
    ("WXC-27392", "WXC-27392: The Mobile Network Integration is not enabled."),
    (
        "WXC-27516",
        "WXC-27516: Do not set the User to use custom caller ID name for external calls when custom caller ID name is empty.",
    ),
    (
        "WXC-27517",
        "WXC-27517: Do not set the User to use location caller ID name for external calls when location caller ID name is empty.",
    ),
    ("WXC-27590", "WXC-27590: Activate the number to convert to ESim."),
    (
        "WXC-27593",
        "WXC-27593: Cannot remove the main number of the user while an ESim device is associated to the user.",
    ),
    (
        "WXC-27771",
        "WXC-27771: Assigning Restricted Non-Geographical number as primary, alternate, or fax number is not allowed.",
    ),
    ("WXC-500", "WXC-500: An unexpected condition prevented the request from completing. Please try again."),
    ("WXC-BIFROST-U400401", "WXC-400401: Unable to determine the Webex Calling location to add the user."),
    (
        "WXC-BIFROST-U400405",
        "WXC-500: An unexpected condition prevented the request from completing. Please try again.",
    ),
    (
        "WXC-BIFROST-U400406",
        "WXC-500: An unexpected condition prevented the request from completing. Please try again.",
    ),
    (
        "WXC-BIFROST-U400407",
        "WXC-500: An unexpected condition prevented the request from completing. Please try again.",
    ),
    (
        "WXC-BIFROST-U400408",
        "WXC-500: An unexpected condition prevented the request from completing. Please try again.",
    ),
];

/// The `data.errorMessage` form of a description, as in the API spec's example
/// (`WXC-25058 Extension cannot be … characters`): the colon after the leading code and a final period dropped.
pub fn error_message(description: &str) -> String {
    let trimmed = description.strip_suffix('.').unwrap_or(description);
    match trimmed.split_once(": ") {
        Some((code, text)) => format!("{code} {text}"),
        None => trimmed.to_owned(),
    }
}

/// `WXC-4201`, `wxc-4201` and `4201` all name WXC-4201.
fn normalise(raw: &str) -> String {
    let upper = raw.trim().to_ascii_uppercase();
    if upper.starts_with("WXC-") { upper } else { format!("WXC-{upper}") }
}

/// The code at the start of a description (`WXC-500: An unexpected …` → `WXC-500`).
fn leading_code(description: &str) -> Option<&str> {
    description.split_once(':').map(|(code, _)| code.trim()).filter(|c| c.starts_with("WXC-"))
}

/// A code that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code '{0}': not in the WXC table of the admin audit API (see `auditrail errors list`)")]
pub struct UnknownCode(pub String);

/// What a code means: its own row, the rows whose message it is, or both (`errors explain`, the
/// web viewer's event detail).
pub fn explain(raw: &str) -> Result<String, UnknownCode> {
    let code = normalise(raw);
    let table = &WXC_ERROR_CODES;
    let own = table.iter().find(|(c, _)| c.eq_ignore_ascii_case(&code));
    let carried_by: Vec<&str> = table
        .iter()
        .filter(|(c, d)| {
            !c.eq_ignore_ascii_case(&code) && leading_code(d).is_some_and(|l| l.eq_ignore_ascii_case(&code))
        })
        .map(|(c, _)| *c)
        .collect();
    let mut out = String::new();
    match own {
        Some((c, description)) => {
            out.push_str(c);
            out.push_str(": ");
            match description.strip_prefix(&format!("{c}: ")) {
                Some(text) => out.push_str(text),
                None => {
                    // A BIFROST row: its message is reported under another code.
                    out.push_str(description);
                    if let Some(inner) = leading_code(description) {
                        out.push_str(&format!("\n(reported with the message code {inner})"));
                    }
                }
            }
        }
        None if !carried_by.is_empty() => {
            let description = table.iter().find(|(c, _)| *c == carried_by[0]).map_or("", |(_, d)| *d);
            out.push_str(description);
        }
        None => return Err(UnknownCode(raw.trim().chars().take(64).collect())),
    }
    if !carried_by.is_empty() {
        out.push_str(&format!("\n(the message of {})", carried_by.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_table_is_explained() {
        for (code, description) in &WXC_ERROR_CODES {
            let text = explain(code).unwrap();
            assert!(text.starts_with(&format!("{code}: ")), "{text}");
            let body = description.split_once(": ").map_or(*description, |(_, b)| b);
            assert!(text.contains(body), "{text}");
        }
    }

    #[test]
    fn spellings_bifrost_and_unknown_codes() {
        assert_eq!(explain("wxc-4201").unwrap(), "WXC-4201: The phone number is already in use.");
        assert_eq!(explain("4201").unwrap(), explain("WXC-4201").unwrap());
        let bifrost = explain("WXC-BIFROST-U400401").unwrap();
        assert!(bifrost.starts_with("WXC-BIFROST-U400401: WXC-400401: Unable to determine"), "{bifrost}");
        assert!(bifrost.contains("reported with the message code WXC-400401"));
        let carried = explain("WXC-400401").unwrap();
        assert!(carried.contains("the message of WXC-BIFROST-U400401"), "{carried}");
        let five_hundred = explain("WXC-500").unwrap();
        assert!(five_hundred.contains("WXC-BIFROST-U400405, WXC-BIFROST-U400406"), "{five_hundred}");
        let err = explain("WXC-9999").unwrap_err().to_string();
        assert!(err.contains("unknown error code 'WXC-9999'"), "{err}");
    }
}
