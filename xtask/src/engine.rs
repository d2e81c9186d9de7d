//! The build: one `docker buildx build` for every platform, into an OCI image layout under
//! target/, on a builder that can export one.

use std::fs;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::{
    layout::{self, ImageLayout},
    release::Release,
    runner::{Command, Runner},
    settings::{parse_platforms, LAYOUT_DIR, METADATA_FILE, WORK_DIR},
};

const STEP: &str = "build";
/// Created (or reused) when the active builder uses the `docker` driver, which cannot export
/// a multi-platform OCI layout.
pub const FALLBACK_BUILDER: &str = "blog-xtask";

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// Platforms to build, comma-separated.
    #[arg(long, env = "PLATFORMS", default_value = "linux/amd64,linux/arm64")]
    pub platform: String,
    /// The site's public URL, passed to Hugo as BASE_URL.
    #[arg(long, env = "BASE_URL", default_value = "http://localhost:8080/")]
    pub base_url: String,
    /// A buildx builder to use (e.g. a remote BuildKit), instead of the active one.
    #[arg(long, env = "BUILDX_BUILDER")]
    pub builder: Option<String>,
}

impl BuildArgs {
    pub fn platforms(&self) -> Result<Vec<String>> {
        parse_platforms(&self.platform)
    }
}

/// The single build invocation: all platforms, build args, labels, OCI layout output.
pub fn build_command(platforms: &[String], base_url: &str, builder: &str, release: &Release) -> Command {
    let mut args: Vec<String> = vec!["buildx".into(), "build".into(), "--builder".into(), builder.into()];
    args.push(format!("--platform={}", platforms.join(",")));
    let build_args = [
        ("BASE_URL", base_url.to_string()),
        ("GIT_SHA", release.git.revision.clone()),
        ("VERSION", release.version.clone()),
        ("SOURCE_DATE_EPOCH", release.git.commit_time.to_string()),
    ];
    for (name, value) in build_args {
        args.push(format!("--build-arg={name}={value}"));
    }
    for (key, value) in &release.labels {
        args.push(format!("--label={key}={value}"));
    }
    // Provenance attestations carry build times (the image would never be reproducible) and
    // add unknown/unknown entries to the index; provenance belongs to the pushed digest instead.
    args.push("--provenance=false".into());
    args.push("--sbom=false".into());
    args.push(format!("--output=type=oci,dest={LAYOUT_DIR},tar=false,rewrite-timestamp=true"));
    args.push(format!("--metadata-file={METADATA_FILE}"));
    args.push("--file=Dockerfile".into());
    args.push(".".into());
    Command::new("docker", args)
        .changes_state()
        .hint("read the build output above; `hugo --source site` reproduces Hugo errors outside the image")
}

/// The driver of a builder, from `docker buildx inspect` output.
pub fn builder_driver(inspect: &str) -> Option<&str> {
    inspect.lines().find_map(|line| line.trim().strip_prefix("Driver:")).map(str::trim)
}

/// The builder to use: the one asked for, the active one if it can export OCI layouts, or a
/// docker-container builder made for this.
fn choose_builder(runner: &Runner, asked: Option<&str>) -> Result<String> {
    if let Some(builder) = asked {
        return Ok(builder.to_string());
    }
    let inspect = Command::new("docker", ["buildx", "inspect"]);
    let active = runner.read(STEP, &inspect)?;
    let name = active.lines().find_map(|l| l.trim().strip_prefix("Name:")).map(str::trim).unwrap_or("default");
    if builder_driver(&active) != Some("docker") {
        return Ok(name.to_string());
    }
    eprintln!(
        "[{STEP}] the active builder `{name}` uses the docker driver, which cannot export a multi-platform \
         OCI layout: using the docker-container builder `{FALLBACK_BUILDER}`"
    );
    let existing = runner.output(STEP, &Command::new("docker", ["buildx", "inspect", FALLBACK_BUILDER]))?;
    if !existing.success {
        let create =
            Command::new("docker", ["buildx", "create", "--name", FALLBACK_BUILDER, "--driver", "docker-container"])
                .changes_state()
                .hint("docker-container builders need a running Docker engine; or pass --builder NAME");
        runner.read(STEP, &create)?;
    }
    Ok(FALLBACK_BUILDER.to_string())
}

pub fn check_buildx(runner: &Runner) -> Result<()> {
    runner.find_tool(STEP, "docker")?;
    let version = runner.output(STEP, &Command::new("docker", ["buildx", "version"]))?;
    if !version.success {
        bail!(
            "step `{STEP}`: `docker buildx` is not available ({})\nhint: install the Docker buildx plugin \
             (https://docs.docker.com/build/install-buildx/)",
            version.stderr.trim()
        );
    }
    Ok(())
}

/// Builds every platform once; returns the layout (`None` in a dry run). The caller has
/// checked for buildx.
pub fn build(runner: &Runner, args: &BuildArgs, release: &Release) -> Result<Option<ImageLayout>> {
    let platforms = args.platforms()?;
    let root = runner.sh.current_dir();
    if !root.join("Dockerfile").is_file() {
        bail!(
            "step `{STEP}`: no Dockerfile in {}\nhint: run from the blog repository, or restore its Dockerfile",
            root.display()
        );
    }
    let builder = choose_builder(runner, args.builder.as_deref())?;
    let cmd = build_command(&platforms, &args.base_url, &builder, release);
    if !runner.dry_run {
        let layout_dir = root.join(LAYOUT_DIR);
        if layout_dir.exists() {
            fs::remove_dir_all(&layout_dir).with_context(|| format!("cannot clear {}", layout_dir.display()))?;
        }
        fs::create_dir_all(root.join(WORK_DIR))?;
    }
    runner.run(STEP, &cmd)?;
    if runner.dry_run {
        return Ok(None);
    }
    let image = layout::read(&root.join(LAYOUT_DIR)).context("step `build`: the build wrote no usable OCI layout")?;
    let metadata: Value = serde_json::from_str(&fs::read_to_string(root.join(METADATA_FILE)).unwrap_or_default())
        .context("step `build`: buildx wrote no metadata file")?;
    let built = metadata.get("containerimage.digest").and_then(Value::as_str);
    if built != Some(image.digest.as_str()) {
        bail!(
            "step `build`: buildx reports digest {built:?} but the layout holds {}: rebuild from a clean target/",
            image.digest
        );
    }
    image.check_platforms(&platforms)?;
    eprintln!("[{STEP}] built {} for {}", image.digest, platforms.join(", "));
    Ok(Some(image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::GitFacts;

    #[test]
    fn one_build_for_all_platforms_with_args_and_labels() {
        let release = Release::from_git(GitFacts {
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            commit_time: 1_700_000_000,
            dirty: false,
            branch: None,
            head_tags: vec!["v1.2.3".into()],
            all_tags: vec!["v1.2.3".into()],
            shallow: false,
            remote_url: None,
        });
        let platforms = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];
        let cmd = build_command(&platforms, "https://blog.example.org/", "b", &release);
        let line = cmd.display();
        for part in [
            "docker buildx build --builder b --platform=linux/amd64,linux/arm64",
            "--build-arg=BASE_URL=https://blog.example.org/",
            "--build-arg=GIT_SHA=0123456789abcdef0123456789abcdef01234567",
            "--build-arg=VERSION=1.2.3",
            "--build-arg=SOURCE_DATE_EPOCH=1700000000",
            "--label=org.opencontainers.image.created=2023-11-14T22:13:20Z",
            "--output=type=oci,dest=target/xtask/image,tar=false",
            "--metadata-file=target/xtask/build-metadata.json",
        ] {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert!(cmd.changes_state);
    }

    #[test]
    fn driver_is_read_from_inspect() {
        let inspect = "Name:          default\nDriver:        docker\nLast Activity: x\n";
        assert_eq!(builder_driver(inspect), Some("docker"));
        assert_eq!(builder_driver("Name: b\nDriver: docker-container\n"), Some("docker-container"));
        assert_eq!(builder_driver("nothing"), None);
    }
}
