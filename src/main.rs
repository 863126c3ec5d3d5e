//! The `swas-image-operator` command: the operator's entry point and a few SWAS tools.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use swas_image_operator::config::{OperatorArgs, SwasArgs};
use swas_image_operator::emulator::{self, args::EmulatorArgs};
use swas_image_operator::swas::SwasClient;
use swas_image_operator::swas::credentials::{CachedProvider, DefaultChain, SourceContext};
use swas_image_operator::swas::ops::ListCustomImages;
use swas_image_operator::swas::sign::SystemClock;

#[derive(Parser)]
#[command(
    version,
    about = "Alibaba Cloud SWAS custom images as Kubernetes resources"
)]
struct Cli {
    /// Log format: `text` or `json` (one object per line). The filter is `RUST_LOG`.
    #[arg(
        long,
        global = true,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator: reconcile CustomImage resources against SWAS.
    Run(Box<OperatorArgs>),
    /// List the custom images of a region, using the default credential chain.
    Images {
        /// The region, e.g. `cn-hangzhou`.
        #[arg(long, env = "SWAS_REGION")]
        region: String,
        #[command(flatten)]
        swas: SwasArgs,
    },
    /// Run the local SWAS emulator (SWAS API on `/`, STS on `/sts/`, ECS metadata on
    /// `/latest/`, admin on `/admin/`).
    Emulator(Box<EmulatorArgs>),
    /// Print the CustomImage CRD as YAML (what `crds/customimage.yaml` holds).
    Crd,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let result = match cli.command {
        Command::Run(args) => swas_image_operator::operator::run(&args).await,
        Command::Images { region, swas } => list_images(&region, &swas).await,
        Command::Emulator(args) => run_emulator(&args).await,
        Command::Crd => {
            print!("{}", swas_image_operator::crd::crd_yaml());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn list_images(region: &str, swas: &SwasArgs) -> Result<(), String> {
    let chain = Arc::new(DefaultChain::new(SourceContext::system()));
    let credentials = Arc::new(CachedProvider::new(chain, Arc::new(SystemClock)));
    let client = SwasClient::new(swas.client_config(), credentials).map_err(|e| e.to_string())?;
    let filter = ListCustomImages {
        region_id: region.to_string(),
        ..Default::default()
    };
    let images = client.all_images(filter).await.map_err(|e| e.to_string())?;
    println!(
        "{:<24} {:<32} {:<8} {:<6} SHARED-ACCOUNTS",
        "IMAGE-ID", "NAME", "STATUS", "ECS"
    );
    for image in images {
        println!(
            "{:<24} {:<32} {:<8} {:<6} {}",
            image.image_id, image.name, image.status, image.in_share, image.in_share_user
        );
    }
    Ok(())
}

async fn run_emulator(args: &EmulatorArgs) -> Result<(), String> {
    let config = args.config()?;
    let running = emulator::start(config, args.listen)
        .await
        .map_err(|e| e.to_string())?;
    println!("swas emulator listening on {}", running.url());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    running.stop();
    Ok(())
}
