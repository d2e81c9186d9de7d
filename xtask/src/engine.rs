//! The build: one multi-platform build into an OCI image layout under target/, with docker
//! buildx (on a builder that can export one) or podman.

use std::fs;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::{
    layout::{self, ImageLayout},
    release::Release,
    runner::{Command, Runner},
    settings::{parse_platforms, LAYOUT_DIR, METADATA_FILE, WORK_DIR},
    tools,
};

const STEP: &str = "build";
/// Created (or reused) when the active builder uses the `docker` driver, which cannot export
/// a multi-platform OCI layout.
pub const FALLBACK_BUILDER: &str = "blog-xtask";
/// podman 4.3 rejects `COPY --link`; this copy of the Dockerfile, without it, is what podman
/// builds. `--link` only changes how BuildKit reuses layers, never what they contain.
pub const PODMAN_CONTAINERFILE: &str = "target/xtask/Containerfile.podman";
/// Build arguments the pipeline sets itself.
const MANAGED_ARGS: [&str; 4] = ["BASE_URL", "GIT_SHA", "VERSION", "SOURCE_DATE_EPOCH"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub fn tool(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }

    /// The engine asked for, else docker when `docker buildx` works, else podman.
    pub fn resolve(runner: &Runner, asked: Option<Engine>) -> Result<Engine> {
        match asked {
            Some(Engine::Docker) => check_buildx(runner).map(|()| Engine::Docker),
            Some(Engine::Podman) => runner.find_tool(STEP, "podman").map(|_| Engine::Podman),
            None => {
                if check_buildx(runner).is_ok() {
                    return Ok(Engine::Docker);
                }
                if tools::find(runner.sh, "podman").is_some() {
                    eprintln!("[{STEP}] docker buildx is not available: using podman");
                    return Ok(Engine::Podman);
                }
                bail!(
                    "step `{STEP}`: no build engine: neither `docker buildx` nor `podman` works here\nhint: {}; or {}",
                    tools::install_hint("docker"),
                    tools::install_hint("podman")
                )
            }
        }
    }
}

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
    /// Extra build argument, e.g. NGINX_IMAGE=mirror.example.org/nginx-unprivileged:1.27.4-alpine.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// BuildKit cache source (docker), e.g. type=gha or type=registry,ref=ghcr.io/me/blog:cache.
    #[arg(long, env = "BUILDX_CACHE_FROM", value_name = "SPEC")]
    pub cache_from: Option<String>,
    /// BuildKit cache destination (docker), e.g. type=gha,mode=max.
    #[arg(long, env = "BUILDX_CACHE_TO", value_name = "SPEC")]
    pub cache_to: Option<String>,
}

impl BuildArgs {
    pub fn platforms(&self) -> Result<Vec<String>> {
        parse_platforms(&self.platform)
    }

    /// Every build argument: the pipeline's own, then the extra ones.
    pub fn all_build_args(&self, release: &Release) -> Result<Vec<(String, String)>> {
        let mut args = vec![
            ("BASE_URL".to_string(), self.base_url.clone()),
            ("GIT_SHA".to_string(), release.git.revision.clone()),
            ("VERSION".to_string(), release.version.clone()),
            ("SOURCE_DATE_EPOCH".to_string(), release.git.commit_time.to_string()),
        ];
        for extra in &self.build_args {
            let Some((name, value)) = extra.split_once('=').filter(|(name, _)| !name.is_empty()) else {
                bail!("invalid --build-arg `{extra}`: expected NAME=VALUE");
            };
            if MANAGED_ARGS.contains(&name) {
                bail!("--build-arg {name} is set by the pipeline itself (from git and --base-url)");
            }
            args.push((name.to_string(), value.to_string()));
        }
        Ok(args)
    }
}

/// The single buildx invocation: all platforms, build args, labels, cache, OCI layout output.
pub fn buildx_command(
    settings: &BuildArgs,
    platforms: &[String],
    build_args: &[(String, String)],
    builder: &str,
    release: &Release,
) -> Command {
    let mut args: Vec<String> = vec!["buildx".into(), "build".into(), "--builder".into(), builder.into()];
    args.push(format!("--platform={}", platforms.join(",")));
    args.extend(settings.cache_from.iter().map(|spec| format!("--cache-from={spec}")));
    args.extend(settings.cache_to.iter().map(|spec| format!("--cache-to={spec}")));
    args.extend(build_args.iter().map(|(name, value)| format!("--build-arg={name}={value}")));
    args.extend(release.labels.iter().map(|(key, value)| format!("--label={key}={value}")));
    // Provenance attestations carry build times (the image would never be reproducible) and
    // add unknown/unknown entries to the index; provenance belongs to the pushed digest instead.
    args.push("--provenance=false".into());
    args.push("--sbom=false".into());
    args.push(format!("--output=type=oci,dest={LAYOUT_DIR},tar=false,rewrite-timestamp=true"));
    args.push(format!("--metadata-file={METADATA_FILE}"));
    args.push("--file=Dockerfile".into());
    args.push(".".into());
    Command::new("docker", args).changes_state().hint(BUILD_HINT)
}

const BUILD_HINT: &str = "read the build output above; `hugo --source site` reproduces Hugo errors outside the image";

/// The platform this machine runs natively, as `linux/<arch>`.
pub fn native_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

/// podman's three steps: drop a stale manifest list, build every platform into it, and write
/// it out as an OCI layout.
pub fn podman_commands(
    platforms: &[String],
    build_args: &[(String, String)],
    list: &str,
    release: &Release,
) -> [Command; 3] {
    let remove = Command::new("podman", ["manifest", "rm", list]).changes_state();
    let mut args: Vec<String> =
        vec!["build".into(), format!("--platform={}", platforms.join(",")), format!("--manifest={list}")];
    // podman 4.3 leaves $BUILDPLATFORM unset in FROM lines unless it is passed in.
    args.push(format!("--build-arg=BUILDPLATFORM={}", native_platform()));
    args.extend(build_args.iter().map(|(name, value)| format!("--build-arg={name}={value}")));
    args.extend(release.labels.iter().map(|(key, value)| format!("--label={key}={value}")));
    // File and config times from the commit: the same commit gives the same digests.
    args.push(format!("--timestamp={}", release.git.commit_time));
    args.push(format!("--file={PODMAN_CONTAINERFILE}"));
    args.push(".".into());
    let build = Command::new("podman", args).changes_state().hint(BUILD_HINT);
    let export =
        Command::new("podman", ["manifest", "push", "--all", "--format=oci", list, &format!("oci:{LAYOUT_DIR}")])
            .changes_state()
            .hint("podman could not write the OCI layout; check free disk space under target/");
    [remove, build, export]
}

/// Rewrites podman's index with its platforms in a fixed order, so one commit gives one
/// digest; skopeo computes the new digest.
fn canonicalize_index(runner: &Runner, platforms: &[String]) -> Result<()> {
    if runner.dry_run {
        return Ok(());
    }
    let layout_dir = runner.sh.current_dir().join(LAYOUT_DIR);
    let (old_digest, index) =
        layout::top_index(&layout_dir).context("step `build`: podman wrote no usable OCI layout")?;
    let bytes = layout::canonical_index(&index, platforms);
    let draft = runner.sh.current_dir().join(WORK_DIR).join("index.draft.json");
    fs::write(&draft, &bytes)?;
    let digest_cmd = Command::new("skopeo", ["manifest-digest", &format!("{WORK_DIR}/index.draft.json")])
        .hint("skopeo computes the digest of the reordered index; install it (see `cargo xtask doctor`)");
    let digest = runner.read(STEP, &digest_cmd)?.trim().to_string();
    fs::remove_file(&draft)?;
    layout::replace_index(&layout_dir, &old_digest, &bytes, &digest)
}

/// The Dockerfile as podman 4.3 accepts it.
pub fn podman_containerfile(dockerfile: &str) -> String {
    dockerfile.lines().map(|line| line.replacen("COPY --link ", "COPY ", 1) + "\n").collect()
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

fn check_buildx(runner: &Runner) -> Result<()> {
    runner.find_tool(STEP, "docker")?;
    let version = runner.output(STEP, &Command::new("docker", ["buildx", "version"]))?;
    if !version.success {
        bail!(
            "step `{STEP}`: `docker buildx` is not available ({})\nhint: install the Docker buildx plugin \
             (https://docs.docker.com/build/install-buildx/), or use `--engine podman`",
            version.stderr.trim()
        );
    }
    Ok(())
}

/// Builds every platform once; returns the layout (`None` in a dry run).
pub fn build(runner: &Runner, engine: Engine, args: &BuildArgs, release: &Release) -> Result<Option<ImageLayout>> {
    let platforms = args.platforms()?;
    let build_args = args.all_build_args(release)?;
    let root = runner.sh.current_dir();
    let dockerfile = fs::read_to_string(root.join("Dockerfile")).map_err(|_| {
        anyhow::anyhow!(
            "step `{STEP}`: no Dockerfile in {}\nhint: run from the blog repository, or restore its Dockerfile",
            root.display()
        )
    })?;
    if !runner.dry_run {
        let layout_dir = root.join(LAYOUT_DIR);
        if layout_dir.exists() {
            fs::remove_dir_all(&layout_dir).with_context(|| format!("cannot clear {}", layout_dir.display()))?;
        }
        fs::create_dir_all(root.join(WORK_DIR))?;
    }
    match engine {
        Engine::Docker => {
            let builder = choose_builder(runner, args.builder.as_deref())?;
            runner.run(STEP, &buildx_command(args, &platforms, &build_args, &builder, release))?;
        }
        Engine::Podman => {
            if args.cache_from.is_some() || args.cache_to.is_some() {
                eprintln!("[{STEP}] note: --cache-from/--cache-to are BuildKit cache specs: podman ignores them");
            }
            if !runner.dry_run {
                fs::write(root.join(PODMAN_CONTAINERFILE), podman_containerfile(&dockerfile))?;
            }
            // One list per process, so concurrent builds never share one.
            let list = format!("localhost/blog-xtask-build:{}", std::process::id());
            let [remove, build, export] = podman_commands(&platforms, &build_args, &list, release);
            runner.output(STEP, &remove)?; // fails harmlessly when there is no such list
            runner.run(STEP, &build)?;
            runner.read(STEP, &export)?;
            runner.output(STEP, &remove)?;
            canonicalize_index(runner, &platforms)?;
        }
    }
    if runner.dry_run {
        return Ok(None);
    }
    let image = layout::read(&root.join(LAYOUT_DIR)).context("step `build`: the build wrote no usable OCI layout")?;
    if engine == Engine::Docker {
        let metadata: Value = serde_json::from_str(&fs::read_to_string(root.join(METADATA_FILE)).unwrap_or_default())
            .context("step `build`: buildx wrote no metadata file")?;
        let built = metadata.get("containerimage.digest").and_then(Value::as_str);
        if built != Some(image.digest.as_str()) {
            bail!(
                "step `build`: buildx reports digest {built:?} but the layout holds {}: rebuild from a clean target/",
                image.digest
            );
        }
    }
    image.check_platforms(&platforms)?;
    eprintln!("[{STEP}] built {} for {} with {}", image.digest, platforms.join(", "), engine.tool());
    Ok(Some(image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::GitFacts;

    fn release() -> Release {
        Release::from_git(GitFacts {
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            commit_time: 1_700_000_000,
            dirty: false,
            branch: None,
            head_tags: vec!["v1.2.3".into()],
            all_tags: vec!["v1.2.3".into()],
            shallow: false,
            remote_url: None,
        })
    }

    fn build_args(base_url: &str, extra: &[&str]) -> BuildArgs {
        BuildArgs {
            platform: "linux/amd64,linux/arm64".into(),
            base_url: base_url.into(),
            builder: None,
            build_args: extra.iter().map(|s| s.to_string()).collect(),
            cache_from: Some("type=gha".into()),
            cache_to: None,
        }
    }

    const EXPECTED_ARGS: [&str; 5] = [
        "--build-arg=BASE_URL=https://blog.example.org/",
        "--build-arg=GIT_SHA=0123456789abcdef0123456789abcdef01234567",
        "--build-arg=VERSION=1.2.3",
        "--build-arg=SOURCE_DATE_EPOCH=1700000000",
        "--label=org.opencontainers.image.created=2023-11-14T22:13:20Z",
    ];

    #[test]
    fn one_buildx_build_for_all_platforms_with_args_and_labels() {
        let release = release();
        let args = build_args("https://blog.example.org/", &["NGINX_IMAGE=mirror/nginx:1"]);
        let platforms = args.platforms().unwrap();
        let cmd = buildx_command(&args, &platforms, &args.all_build_args(&release).unwrap(), "b", &release);
        let line = cmd.display();
        assert!(
            line.starts_with(
                "docker buildx build --builder b --platform=linux/amd64,linux/arm64 --cache-from=type=gha --build-arg"
            ),
            "{line}"
        );
        for part in EXPECTED_ARGS.iter().chain(&[
            "--build-arg=NGINX_IMAGE=mirror/nginx:1",
            "--output=type=oci,dest=target/xtask/image,tar=false",
            "--metadata-file=target/xtask/build-metadata.json",
        ]) {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert!(cmd.changes_state);
    }

    #[test]
    fn podman_builds_every_platform_into_one_list_then_writes_the_layout() {
        let release = release();
        let platforms = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];
        let args = build_args("https://blog.example.org/", &[]).all_build_args(&release).unwrap();
        let [remove, build, export] = podman_commands(&platforms, &args, "localhost/l:1", &release);
        assert_eq!(remove.display(), "podman manifest rm localhost/l:1");
        let line = build.display();
        assert!(line.starts_with("podman build --platform=linux/amd64,linux/arm64 --manifest=localhost/l:1"), "{line}");
        for part in EXPECTED_ARGS.iter().chain(&[
            "--timestamp=1700000000",
            "--file=target/xtask/Containerfile.podman",
            "--build-arg=BUILDPLATFORM=linux/",
        ]) {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert_eq!(export.display(), "podman manifest push --all --format=oci localhost/l:1 oci:target/xtask/image");
    }

    #[test]
    fn podman_containerfile_drops_only_copy_link() {
        let text = "FROM a\nCOPY --link x /x\nCOPY --link --from=s /o /h\nRUN echo --link\n";
        assert_eq!(podman_containerfile(text), "FROM a\nCOPY x /x\nCOPY --from=s /o /h\nRUN echo --link\n");
    }

    #[test]
    fn extra_build_args_are_checked() {
        let release = release();
        assert!(build_args("/", &["VERSION=9"])
            .all_build_args(&release)
            .unwrap_err()
            .to_string()
            .contains("set by the pipeline"));
        assert!(build_args("/", &["NOEQUALS"]).all_build_args(&release).is_err());
        assert!(build_args("/", &["=x"]).all_build_args(&release).is_err());
    }

    #[test]
    fn driver_is_read_from_inspect() {
        let inspect = "Name:          default\nDriver:        docker\nLast Activity: x\n";
        assert_eq!(builder_driver(inspect), Some("docker"));
        assert_eq!(builder_driver("Name: b\nDriver: docker-container\n"), Some("docker-container"));
        assert_eq!(builder_driver("nothing"), None);
    }
}
