//! `cargo xtask publish`: tags -> build -> scan -> login -> push -> verify -> summary, with
//! every input checked before the build and nothing pushed unless every platform passed.

use std::{fs, io::Read, path::Path, time::Duration};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::{
    engine::{self, BuildArgs, Engine},
    layout,
    project::PROJECT,
    registry::{self, LoginArgs, RetryArgs},
    release::Release,
    runner::{Runner, Secret},
    scan::{self, ScanRecord, ScanSettings},
    settings::{parse_severities, LAYOUT_DIR, SCAN_RECORD, SUMMARY_FILE, TTL_SH},
    smoke,
    summary::Summary,
};

#[derive(Args, Debug, Clone)]
pub struct ScanArgs {
    /// Severities that block the pipeline, comma-separated.
    #[arg(long, env = "SEVERITY", default_value = "CRITICAL,HIGH")]
    pub severity: String,
    /// trivy's cache directory (its vulnerability DB), kept between runs.
    #[arg(long, env = "TRIVY_CACHE_DIR", default_value = "target/xtask/trivy-cache")]
    pub cache_dir: String,
}

impl ScanArgs {
    pub fn settings(&self, project_dir: &Path) -> Result<ScanSettings> {
        Ok(ScanSettings {
            severities: parse_severities(&self.severity)?,
            cache_dir: self.cache_dir.clone(),
            ignore_file: scan::ignore_file(project_dir),
        })
    }
}

#[derive(Args, Debug, Clone)]
pub struct PublishArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub login: LoginArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// Publish even with uncommitted changes in the worktree.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Publish to a registry other than ttl.sh without a release tag at HEAD.
    #[arg(long)]
    pub allow_untagged: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Do not run the image for a smoke test before pushing it.
    #[arg(long)]
    pub skip_smoke: bool,
    /// Seconds the smoke test waits for the container's /healthz.
    #[arg(long, default_value_t = 30)]
    pub smoke_timeout: u64,
}

/// The password, read once from where the arguments say, then registered for masking and
/// removed from the environment the tools inherit (only `login` gets it, on stdin).
pub fn read_password(runner: &Runner, args: &LoginArgs) -> Result<Option<Secret>> {
    let env_value = std::env::var(&args.password_env).ok();
    // Still single-threaded here; xshell commands inherit the process environment.
    std::env::remove_var(&args.password_env);
    let password = registry::password(args, env_value, || {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    })?;
    if let Some(secret) = &password {
        runner.register_secret(secret);
    }
    Ok(password)
}

/// Refuses what must not be published, before anything is built.
pub fn guard(release: &Release, args: &PublishArgs) -> Result<()> {
    if release.git.dirty && !args.allow_dirty {
        bail!(
            "refusing to publish a dirty worktree: uncommitted changes would ship under tags that name commit {}\n\
             hint: commit or stash them, or pass --allow-dirty",
            &release.git.revision[..7]
        );
    }
    let registry = &args.login.image.registry;
    if registry != TTL_SH && !release.is_release && !args.allow_untagged {
        bail!(
            "HEAD has no release tag (vX.Y.Z): refusing to publish to {registry}\n\
             hint: tag a release (`git tag v1.0.0`), or pass --allow-untagged to publish the branch and sha tags"
        );
    }
    Ok(())
}

pub fn publish(runner: &Runner, engine: Option<Engine>, args: &PublishArgs) -> Result<()> {
    let project_dir = runner.sh.current_dir();
    let platforms = args.build.platforms()?;
    let scan_settings = args.scan.settings(&project_dir)?;
    let image = args.login.image.image(PROJECT.name)?;
    let password = read_password(runner, &args.login)?;
    if !project_dir.join("Dockerfile").is_file() {
        bail!("step `build`: no Dockerfile in {}\nhint: run from the blog repository", project_dir.display());
    }
    let (engine, trivy) = preflight(runner, engine)?;

    let release = Release::read(runner)?;
    guard(&release, args)?;
    eprintln!("[tags] {image}: {}", release.tags.join(", "));
    for note in &release.notes {
        eprintln!("[tags] note: {note}");
    }

    let built = engine::build(runner, engine, &args.build, &release)?;
    let record = scan::scan(runner, &trivy, &scan_settings, &platforms)?;
    if args.skip_smoke {
        eprintln!("[smoke] skipped (--skip-smoke)");
    } else {
        smoke::smoke(runner, engine, built.as_ref(), Duration::from_secs(args.smoke_timeout))?;
    }
    registry::login(runner, engine.tool(), &args.login, password.as_ref())?;
    registry::push(runner, &image, &release.tags, &args.retry)?;
    registry::verify(runner, &image, &release.tags, built.as_ref(), &args.retry)?;

    let expires = args.login.image.is_ttl_sh().then_some(
        "ttl.sh is a temporary registry: this image expires 24 hours after the push (a tag that is a duration, such as 1h, sets a shorter time)",
    );
    let (Some(built), Some(record)) = (built, record) else {
        eprintln!("dry run: the plan above was printed; nothing was built, scanned, logged in or pushed");
        return Ok(());
    };
    let summary = Summary {
        image,
        tags: release.tags.clone(),
        digest: built.digest,
        revision: release.git.revision.clone(),
        version: release.version.clone(),
        scan: record,
        timings: runner.timings(),
        expires,
    };
    write_summary(runner, &summary, args.json)
}

/// Every tool the chain needs, found before the first command runs.
fn preflight(runner: &Runner, engine: Option<Engine>) -> Result<(Engine, scan::Trivy)> {
    let engine = Engine::resolve(runner, engine)?;
    let trivy = scan::Trivy::find(runner)?;
    runner.find_tool("push", "skopeo")?;
    Ok((engine, trivy))
}

fn write_summary(runner: &Runner, summary: &Summary, json: bool) -> Result<()> {
    let text = serde_json::to_string_pretty(&summary.to_json())?;
    let path = runner.sh.current_dir().join(SUMMARY_FILE);
    fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    if json {
        println!("{text}");
    } else {
        print!("{}", summary.human());
    }
    if let Some(step_summary) = runner.sh.var_os("GITHUB_STEP_SUMMARY") {
        let mut existing = fs::read_to_string(&step_summary).unwrap_or_default();
        existing.push_str(&summary.markdown());
        fs::write(&step_summary, existing).context("cannot append to $GITHUB_STEP_SUMMARY")?;
    }
    Ok(())
}

/// `cargo xtask push`: the scanned layout under every tag, then verification. Refuses an
/// image without a passing scan on record.
pub fn push_scanned(runner: &Runner, login: &LoginArgs, retry: &RetryArgs) -> Result<()> {
    let image = login.image.image(PROJECT.name)?;
    let release = Release::read(runner)?;
    let built = if runner.dry_run {
        None
    } else {
        let root = runner.sh.current_dir();
        let built = layout::read_built(&root, "push")?;
        let record =
            fs::read_to_string(root.join(SCAN_RECORD)).ok().and_then(|text| serde_json::from_str::<Value>(&text).ok());
        let Some(record) = record else {
            bail!("step `push`: the image in {LAYOUT_DIR} has not been scanned\nhint: run `cargo xtask scan` first");
        };
        scan::check_record_covers(&record, &built).context("step `push`")?;
        Some(built)
    };
    registry::push(runner, &image, &release.tags, retry)?;
    registry::verify(runner, &image, &release.tags, built.as_ref(), retry)?;
    println!("pushed {image}: {}", release.tags.join(", "));
    Ok(())
}

/// `cargo xtask smoke`: the smoke test on the image last built.
pub fn smoke_built(runner: &Runner, engine: Option<Engine>, timeout: Duration) -> Result<()> {
    let engine = Engine::resolve(runner, engine)?;
    let built = if runner.dry_run { None } else { Some(layout::read_built(&runner.sh.current_dir(), "smoke")?) };
    smoke::smoke(runner, engine, built.as_ref(), timeout)
}

pub fn scan_only(runner: &Runner, args: &ScanArgs, platforms: &[String]) -> Result<Option<ScanRecord>> {
    let settings = args.settings(&runner.sh.current_dir())?;
    scan::scan(runner, &scan::Trivy::find(runner)?, &settings, platforms)
}
