//! `mcp-gateway model fetch|status`: installs the embedding model hybrid search uses, or tells
//! what is installed.
//!
//! Owns the command's arguments and output. Downloading, verifying and installing live in
//! `embedding::install`; this module never writes files itself.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::embedding::{self, ModelSpec, Source, Status};

/// `mcp-gateway model …`
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Download the embedding model (pinned SHA-256 checksums) into the data dir
    Fetch(FetchArgs),
    /// Tell which embedding model is installed, where, and what search uses
    Status,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Install from a local directory holding the model's files (config.json, tokenizer.json,
    /// model.safetensors) instead of downloading; the same checksums are enforced
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
}

/// Runs a `model` subcommand.
pub fn run(args: ModelArgs) -> anyhow::Result<()> {
    let paths = crate::state::Paths::from_env()
        .context("cannot determine the XDG data directory (is HOME set?)")?;
    let models_dir = embedding::models_dir(&paths);
    let spec = ModelSpec::default_model();
    match args.command {
        ModelCommand::Status => {
            print!("{}", status_text(&spec, &models_dir));
            Ok(())
        }
        ModelCommand::Fetch(fetch) => {
            let source = match &fetch.from {
                Some(dir) => Source::Dir(dir.clone()),
                None => Source::Download,
            };
            match &source {
                Source::Dir(dir) => eprintln!("installing {} from {}", spec.id, dir.display()),
                Source::Download => eprintln!(
                    "downloading {} ({} MB) from {}",
                    spec.id,
                    spec.files.iter().map(|f| f.bytes).sum::<u64>() / 1_000_000,
                    spec.base_url
                ),
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let dir = runtime.block_on(embedding::install(&spec, &source, &models_dir))?;
            println!("installed {} in {}", spec.id, dir.display());
            println!(
                "search is now hybrid (BM25 + {}) in newly started gateways",
                spec.id
            );
            Ok(())
        }
    }
}

/// The `model status` report.
pub fn status_text(spec: &ModelSpec, models_dir: &std::path::Path) -> String {
    let mut out = String::new();
    match embedding::status(spec, models_dir) {
        Status::Installed { dir, static_bytes } => {
            out.push_str(&format!("model: {} (installed)\n", spec.id));
            out.push_str(&format!("dir: {}\n", dir.display()));
            out.push_str(&format!(
                "static model: {:.1} MB (int8, distilled at install)\n",
                static_bytes as f64 / 1e6
            ));
            out.push_str("search: hybrid (BM25 + dense)\n");
        }
        Status::Missing { dir } => {
            out.push_str(&format!("model: {} (not installed)\n", spec.id));
            out.push_str(&format!("dir: {}\n", dir.display()));
            out.push_str("search: BM25 only (install the model with `mcp-gateway model fetch`)\n");
        }
    }
    out.push_str(&format!("license: {}\n", spec.license));
    out.push_str(&format!("provenance: {}\n", spec.provenance));
    for f in &spec.files {
        out.push_str(&format!(
            "  {} {} bytes sha256 {}\n",
            f.name, f.bytes, f.sha256
        ));
    }
    out
}
