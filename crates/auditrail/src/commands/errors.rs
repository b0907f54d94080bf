//! `auditrail errors explain|list`: the WXC provisioning error codes that admin audit events carry
//! in `data.errorCode` (seed 000), offline. Collectors see these codes without their meaning; the
//! table is compiled into the binary so the answer needs no server and no network.
//!
//! The BIFROST rows are the trap this command exists for: `WXC-BIFROST-U400405` is reported with
//! the message `WXC-500: …`, so a code may be a row of its own, appear inside other rows'
//! messages, or both; `explain` says which.

use anyhow::bail;

use crate::cli::ErrorsCommand;

pub fn run(cmd: &ErrorsCommand) -> anyhow::Result<()> {
    match cmd {
        ErrorsCommand::Explain { code } => {
            println!("{}", explain(code)?);
            Ok(())
        }
        ErrorsCommand::List => {
            for (code, description) in auditrail_synth::wxc_error_codes() {
                println!("{code}\t{description}");
            }
            Ok(())
        }
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

/// The explanation printed for `code`, or an error naming the unknown code.
pub fn explain(raw: &str) -> anyhow::Result<String> {
    let code = normalise(raw);
    let table = auditrail_synth::wxc_error_codes();
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
        None => bail!(
            "unknown error code '{}': not in the WXC table of the admin audit API (see `auditrail errors list`)",
            raw.trim()
        ),
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
        for (code, description) in auditrail_synth::wxc_error_codes() {
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
