//! The command line: `report` runs one cycle from a resource file, `demo` runs one against the
//! built-in DocSpace simulator.

#[cfg(feature = "demo")]
mod demo;
mod load;
mod operate;
mod output;
mod progress;
mod report;
mod verify;

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
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Run the operator: reconcile ComplianceReports in a cluster.
    Run(RunArgs),
    /// Print the ComplianceReport CustomResourceDefinition as YAML.
    Crd,
    /// Verify saved report sets: artefact digests, signatures and the manifest hash chain.
    Verify(VerifyArgs),
}

impl Command {
    /// Whether the command needs a multi-threaded runtime: the operator, and a report, whose
    /// pages are read in one task while another renders them.
    pub fn multi_threaded(&self) -> bool {
        // A report reads pages in one task and renders them in another.
        match self {
            Self::Run(_) | Self::Report(_) => true,
            #[cfg(feature = "demo")]
            Self::Demo(_) => true,
            Self::Crd | Self::Verify(_) => false,
        }
    }
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kubeconfig file; default: in-cluster configuration, else KUBECONFIG or ~/.kube/config.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Address of /livez, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// Report runs at the same time, at most.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent_runs: usize,
    /// Run without a leader Lease (only with a single replica).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, default_value = "docspace-compliance-operator")]
    pub lease_name: String,
    /// Namespace of the leader Lease (default: POD_NAMESPACE, else "default").
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Seconds the Lease is held without renewal.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// This replica's identity (default: POD_NAME, else host name and process id).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds before the first retry after a failed reconcile; doubles up to --error-backoff-max-seconds.
    #[arg(long, default_value_t = 10)]
    pub error_backoff_seconds: u64,
    /// Longest wait between retries after failures.
    #[arg(long, default_value_t = 900)]
    pub error_backoff_max_seconds: u64,
    /// Caps every report's spec.activeDeadlineSeconds: no run takes longer, whatever its
    /// resource says. Past its limit a run fails, keeps nothing it uploaded, and is retried
    /// with backoff.
    #[arg(long, default_value_t = 86400)]
    pub run_timeout_seconds: u64,
    /// Portals resources may name, as host names or base URLs, comma-separated. Required
    /// unless --allow-any-portal is given.
    #[arg(long, env = "DOCSPACE_ALLOWED_PORTALS", value_delimiter = ',')]
    pub allowed_portals: Vec<String>,
    /// Let resources name any portal (only where every report author may read the Secrets
    /// of their namespace anyway: a report sends its Secret's key to the portal it names).
    #[arg(long, env = "DOCSPACE_ALLOW_ANY_PORTAL")]
    pub allow_any_portal: bool,
    /// Watch and read Secrets only in these namespaces, comma-separated (default: every
    /// namespace the operator watches); reports elsewhere get SecretNotFound.
    #[arg(long, value_delimiter = ',')]
    pub secret_namespaces: Vec<String>,
    /// Watch and read only Secrets with these labels, e.g. compliance.docspace.dev/secret=true.
    #[arg(long)]
    pub secret_label_selector: Option<String>,
    /// Read "now" from this file (RFC 3339) instead of the system clock; for tests.
    #[arg(long, hide = true)]
    pub clock_file: Option<PathBuf>,
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
    /// The previous run's manifest: this run's manifest links to its SHA-256 (the chain).
    #[arg(long)]
    pub previous_manifest: Option<PathBuf>,
    /// Environment variable that holds the Ed25519 signing key when the spec sets
    /// `report.signingKeySecretRef`.
    #[arg(long, default_value = "DOCSPACE_SIGNING_KEY")]
    pub signing_key_env: String,
    /// Environment variable that holds the key of `privacy: {ip: Hash}` and `{users: Pseudonym}`.
    #[arg(long, default_value = "DOCSPACE_PRIVACY_KEY")]
    pub privacy_key_env: String,
    /// The longest the run may take, in seconds, fetching, rendering and uploading; past it
    /// the run fails and keeps nothing it uploaded. Default: the resource's
    /// spec.activeDeadlineSeconds (3600 unless set).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Fail at once instead of waiting when the period ended less than `spec.settleSeconds`
    /// ago (DocSpace stores audit events late).
    #[arg(long)]
    pub no_wait: bool,
    /// About how many audit events the period holds (e.g. the previous period's count, as the
    /// operator keeps it in the status): the period is cut into concurrent slices at once
    /// instead of after a first page. Only the speed depends on it.
    #[arg(long, value_name = "EVENTS")]
    pub expected_events: Option<u64>,
}

/// Arguments of `demo`.
#[cfg(feature = "demo")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to keep the rendered files.
    #[arg(long, default_value = "docspace-demo-output")]
    pub out_dir: PathBuf,
    /// Audit events the simulator seeds into last month.
    #[arg(long, default_value_t = 5000)]
    pub events: usize,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Manifest files (`*.manifest.json`) or directories; a directory means every manifest in it.
    #[arg(required = true, value_name = "MANIFEST_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// The signer's Ed25519 public key (PEM or base64); every manifest must be signed by it.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Fail when a manifest has no signature (`<report>.manifest.sig` beside it).
    #[arg(long)]
    pub require_signature: bool,
    /// Accept files of the set that are symbolic links (by default only regular files are
    /// read; links, FIFOs and devices are refused).
    #[arg(long)]
    pub follow_symlinks: bool,
}

/// Runs the chosen command; the error is printed as one line by `main`.
pub async fn main(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Report(args) => report::main(args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::main(args).await,
        Command::Run(args) => operate::main(args).await,
        Command::Verify(args) => verify::main(args),
        Command::Crd => {
            print!("{}", docspace_compliance_operator::operator::crd::yaml()?);
            Ok(())
        }
    }
}
