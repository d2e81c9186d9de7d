//! `cargo xtask`: the blog's delivery pipeline. Parses the command line and dispatches; each
//! task lives in its own module.

mod engine;
mod git;
mod layout;
mod lint;
mod project;
mod publish;
mod registry;
mod release;
mod runner;
mod scan;
mod serve;
mod settings;
mod smoke;
mod summary;
mod tags;
mod tools;

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use xshell::Shell;

use crate::{release::Release, runner::Runner};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, scan and publish the blog's container image",
    version
)]
struct Cli {
    /// Print every command the task would run; run only those that change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// The repository to work on (default: the one this xtask belongs to).
    #[arg(long, global = true, value_name = "DIR")]
    project_dir: Option<PathBuf>,
    /// Container engine [default: docker when `docker buildx` works, else podman].
    #[arg(long, global = true, env = "ENGINE", value_enum)]
    engine: Option<engine::Engine>,
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Show the image tags and OCI labels derived from git for HEAD.
    Tags {
        /// One JSON object on stdout, for machines.
        #[arg(long)]
        json: bool,
    },
    /// List the tools the pipeline uses, their versions, and whether `publish` can run.
    Doctor,
    /// Preview the site locally with `hugo server`.
    Serve(serve::ServeArgs),
    /// Build the image for every platform once, into an OCI layout under target/xtask/image.
    Build(engine::BuildArgs),
    /// Scan each platform of the built image with trivy; fail on findings at the threshold.
    Scan {
        #[command(flatten)]
        scan: publish::ScanArgs,
        /// Platforms the built image must have, comma-separated.
        #[arg(long, env = "PLATFORMS", default_value = "linux/amd64,linux/arm64")]
        platform: String,
    },
    /// Run the built image for this machine's platform and check that it serves the site.
    Smoke {
        /// Seconds to wait for the container's /healthz.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Log in to the registry (password from an environment variable or stdin, never a flag).
    Login(registry::LoginArgs),
    /// Push the scanned image under every tag, then verify what the registry serves.
    Push {
        #[command(flatten)]
        login: registry::LoginArgs,
        #[command(flatten)]
        retry: registry::RetryArgs,
    },
    /// actionlint and zizmor on the workflows, hadolint on the Dockerfile.
    Lint,
    /// tags -> build -> scan -> smoke -> login -> push -> verify -> summary.
    Publish(Box<publish::PublishArgs>),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let sh = Shell::new().context("cannot create a shell: is the current directory readable?")?;
    let project_dir = cli.project_dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let project_dir = project_dir
        .canonicalize()
        .with_context(|| format!("project directory {} does not exist", project_dir.display()))?;
    sh.change_dir(&project_dir);
    let runner = Runner::new(&sh, cli.dry_run);
    match cli.task {
        Task::Tags { json } => {
            let release = Release::read(&runner)?;
            if json {
                println!("{}", release.to_json());
            } else {
                release.print_human();
            }
            Ok(())
        }
        Task::Doctor => tools::doctor(&runner),
        Task::Lint => lint::lint(&runner),
        Task::Serve(args) => args.run(&runner),
        Task::Build(args) => {
            let engine = engine::Engine::resolve(&runner, cli.engine)?;
            let release = Release::read(&runner)?;
            engine::build(&runner, engine, &args, &release).map(drop)
        }
        Task::Scan { scan, platform } => {
            publish::scan_only(&runner, &scan, &settings::parse_platforms(&platform)?).map(drop)
        }
        Task::Login(args) => {
            settings::validate_registry(&args.image.registry)?;
            let password = publish::read_password(&runner, &args)?;
            let engine = engine::Engine::resolve(&runner, cli.engine)?;
            registry::login(&runner, engine.tool(), &args, password.as_ref())
        }
        Task::Push { login, retry } => publish::push_scanned(&runner, &login, &retry),
        Task::Smoke { timeout } => publish::smoke_built(&runner, cli.engine, std::time::Duration::from_secs(timeout)),
        Task::Publish(args) => publish::publish(&runner, cli.engine, &args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
