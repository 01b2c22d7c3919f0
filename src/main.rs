//! The `docspace-compliance-operator` binary.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, LogFormat};
use docspace_compliance_operator::{logging, text};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(
        match cli.log_format {
            LogFormat::Text => logging::Format::Text,
            LogFormat::Json => logging::Format::Json,
        },
        &cli.log,
    );
    let mut builder = if cli.command.multi_threaded() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::main(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, without secrets, whatever a server put into the message.
            eprintln!("error: {}", text::safe_message(&message));
            ExitCode::FAILURE
        }
    }
}
