//! The command line: `report` runs one cycle from a resource file, `demo` runs one against the
//! built-in DocSpace simulator.

mod demo;
mod load;
mod output;
mod progress;
mod report;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Turns ONLYOFFICE DocSpace's audit trail into scheduled compliance reports.
#[derive(Debug, Parser)]
#[command(name = "docspace-compliance-operator", version, about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `docspace_compliance_operator=debug` (also RUST_LOG).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one report cycle for a ComplianceReport file, without a cluster.
    Report(ReportArgs),
    /// Run one full cycle against the built-in DocSpace simulator with an example report.
    Demo(DemoArgs),
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The ComplianceReport YAML (or JSON) file.
    #[arg(long, short)]
    pub file: PathBuf,
    /// Reference instant for the period (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    /// Environment variable that holds the DocSpace API key.
    #[arg(long, default_value = "DOCSPACE_TOKEN")]
    pub token_env: String,
    /// Keep local copies of the rendered files here.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Render without uploading.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to keep the rendered files.
    #[arg(long, default_value = "docspace-demo-output")]
    pub out_dir: PathBuf,
    /// Audit events the simulator seeds into last month.
    #[arg(long, default_value_t = 5000)]
    pub events: usize,
}

/// Runs the chosen command; the error is printed as one line by `main`.
pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Report(args) => report::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}
