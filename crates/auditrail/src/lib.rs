//! `auditrail`: the server, the store administration commands and the client commands, in
//! one binary. The binary's `main` only installs the allocator and calls [`main_exit`]; this
//! library parses arguments and dispatches; each command lives in `commands/`.
//! Conventions: results on stdout (an id or a token alone where one is created), logs and
//! progress on stderr, exit 0 on success and non-zero with a one-line reason otherwise.

pub mod allocator;
mod cli;
mod commands;
mod demo;
mod progress;
mod seed;
mod signing;
mod timearg;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line of this process to its end: parses the arguments (clap exits by itself
/// on `--help` or a usage error), sets up logging and the async runtime, runs the command and
/// reports a failure as one line on stderr.
pub fn main_exit() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A cause already written by the error above it (store errors write their whole chain)
            // is not repeated.
            let mut message = String::new();
            for cause in e.chain().map(ToString::to_string) {
                if !message.contains(&cause) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&cause);
                }
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cli: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let default = if matches!(cli.command, cli::Command::Serve(_)) { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("AUDITRAIL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}
