use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    accord::cli::run(accord::cli::Cli::parse())
}
