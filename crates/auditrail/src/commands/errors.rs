//! `auditrail errors explain|list`: the WXC provisioning error codes that admin audit events carry
//! in `data.errorCode`, offline. Collectors see these codes without their meaning; the
//! table is compiled into the binary so the answer needs no server and no network.
//!
//! The BIFROST rows are the trap this command exists for: `WXC-BIFROST-U400405` is reported with
//! the message `WXC-500: …`, so a code may be a row of its own, appear inside other rows'
//! messages, or both; `explain` says which.

use crate::cli::ErrorsCommand;

pub fn run(cmd: &ErrorsCommand) -> anyhow::Result<()> {
    match cmd {
        ErrorsCommand::Explain { code } => {
            println!("{}", auditrail_core::wxc::explain(code)?);
            Ok(())
        }
        ErrorsCommand::List => {
            for (code, description) in &auditrail_core::wxc::WXC_ERROR_CODES {
                println!("{code}\t{description}");
            }
            Ok(())
        }
    }
}
