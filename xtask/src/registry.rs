//! The registry: login (password on stdin only), push of the scanned layout under every tag
//! (retrying transient errors), and verification of what the registry then serves.

use std::{fs, thread, time::Duration};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::{
    layout::{self, ImageLayout},
    runner::{Command, Runner, Secret},
    settings::{ImageArgs, LAYOUT_DIR},
};

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Name of the environment variable holding the registry password or token.
    #[arg(long, default_value = "REGISTRY_PASSWORD", value_name = "VAR")]
    pub password_env: String,
    /// Read the password from standard input instead.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RetryArgs {
    /// Attempts per registry command when the registry answers 5xx/429 or the connection drops.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,
    /// Seconds before the first retry; doubled each time.
    #[arg(long, default_value_t = 2)]
    pub retry_delay: u64,
}

/// Where the password comes from, decided before anything runs.
pub fn password(
    args: &LoginArgs,
    env_value: Option<String>,
    read_stdin: impl FnOnce() -> Result<String>,
) -> Result<Option<Secret>> {
    let value = if args.password_stdin {
        let text = read_stdin().context("cannot read the password from standard input")?;
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    } else {
        env_value
    };
    let source = if args.password_stdin { "standard input".to_string() } else { format!("${}", args.password_env) };
    match value {
        Some(value) if value.is_empty() => bail!(
            "the registry password from {source} is empty (an unset GitHub secret arrives as an empty string)\n\
             hint: set it, or drop it and the username to use an existing login"
        ),
        Some(value) => {
            if args.image.username.as_deref().unwrap_or("").is_empty() && !args.image.is_ttl_sh() {
                bail!(
                    "a registry password is set in {source} but no username: pass --username or set REGISTRY_USERNAME"
                );
            }
            Ok(Some(Secret::new(value)))
        }
        None if args.image.username.is_some() && !args.image.is_ttl_sh() => bail!(
            "--username is set but {source} is not: put the password or token in {source}, or use --password-stdin"
        ),
        None => Ok(None),
    }
}

/// `<engine> login` with the password on stdin; `None` when no login is needed.
pub fn login_command(engine: &'static str, args: &LoginArgs, password: Option<&Secret>) -> Option<Command> {
    if args.image.is_ttl_sh() {
        return None;
    }
    let (password, user) = (password?, args.image.username.as_deref()?);
    let cmd = Command::new(engine, ["login", "--username", user, "--password-stdin", &args.image.registry])
        .stdin(password.clone())
        .changes_state()
        .hint(format!(
            "check the username and the password/token for {} (a GitHub token needs `packages: write`)",
            args.image.registry
        ));
    Some(cmd)
}

pub fn login(runner: &Runner, engine: &'static str, args: &LoginArgs, password: Option<&Secret>) -> Result<()> {
    match login_command(engine, args, password) {
        Some(cmd) => runner.read("login", &cmd).map(drop),
        None if args.image.is_ttl_sh() => {
            eprintln!("[login] ttl.sh is anonymous: no login");
            Ok(())
        }
        None => {
            eprintln!("[login] no credentials given: using any existing login for {}", args.image.registry);
            Ok(())
        }
    }
}

/// Floating tags (`X.Y`, `X`, `latest`) go last, so an interrupted push never leaves one of
/// them ahead of the exact version.
pub fn push_order(tags: &[String]) -> Vec<String> {
    let floating =
        |tag: &str| tag == "latest" || (tag.split('.').count() < 3 && tag.split('.').all(|p| p.parse::<u64>().is_ok()));
    let (mut first, last): (Vec<String>, Vec<String>) = tags.iter().cloned().partition(|t| !floating(t));
    first.extend(last);
    first
}

pub fn push_commands(image: &str, tags: &[String]) -> Vec<Command> {
    push_order(tags)
        .iter()
        .map(|tag| {
            let dest = format!("docker://{image}:{tag}");
            Command::new("skopeo", ["copy", "--all", "--preserve-digests", &format!("oci:{LAYOUT_DIR}"), &dest])
                .changes_state()
                .hint("check that the registry is reachable and that the login has push rights; rerunning is safe")
        })
        .collect()
}

/// The registry answered in a way worth another try.
pub fn is_transient(stderr: &str) -> bool {
    let text = stderr.to_lowercase();
    let permanent = ["unauthorized", "denied", "authentication required", "forbidden", "not found", "manifest invalid"];
    if permanent.iter().any(|p| text.contains(p)) {
        return false;
    }
    [
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "429 too many requests",
        "toomanyrequests",
        "connection reset",
        "connection refused",
        "i/o timeout",
        "tls handshake timeout",
        "unexpected eof",
        "broken pipe",
    ]
    .iter()
    .any(|p| text.contains(p))
}

/// Runs a registry command, retrying transient failures with exponential backoff.
pub fn with_retries(runner: &Runner, step: &str, cmd: &Command, retry: &RetryArgs) -> Result<String> {
    let mut delay = Duration::from_secs(retry.retry_delay);
    for attempt in 1..=retry.attempts {
        let outcome = runner.output(step, cmd)?;
        if outcome.success {
            return Ok(outcome.stdout);
        }
        let transient = is_transient(&outcome.stderr);
        if !transient || attempt == retry.attempts {
            let reason = match (transient, outcome.code) {
                (true, _) => format!("registry still failing after {attempt} attempts"),
                (false, Some(code)) => format!("exit status {code}"),
                (false, None) => "killed by a signal".to_string(),
            };
            bail!(runner.failure(step, cmd, &reason, &outcome.stderr));
        }
        let first_line = outcome.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        eprintln!(
            "[{step}] transient registry error (attempt {attempt}/{}): {}; retrying in {}s",
            retry.attempts,
            runner.mask(first_line.trim()),
            delay.as_secs()
        );
        thread::sleep(delay);
        delay *= 2;
    }
    unreachable!("the loop returns or fails on its last attempt")
}

pub fn push(runner: &Runner, image: &str, tags: &[String], retry: &RetryArgs) -> Result<()> {
    for cmd in push_commands(image, tags) {
        with_retries(runner, "push", &cmd, retry)?;
    }
    Ok(())
}

/// Reads back every tag and every platform manifest: they must be byte for byte what was
/// scanned, so their digests are the scanned digests.
pub fn verify(
    runner: &Runner,
    image: &str,
    tags: &[String],
    built: Option<&ImageLayout>,
    retry: &RetryArgs,
) -> Result<()> {
    let inspect = |reference: String| {
        Command::new("skopeo", ["inspect", "--raw", &format!("docker://{reference}")])
            .hint("the registry did not serve what was pushed; rerun `cargo xtask publish`")
    };
    let Some(built) = built else {
        for tag in tags {
            runner.run("verify", &inspect(format!("{image}:{tag}")).changes_state())?;
        }
        return Ok(());
    };
    let layout_dir = runner.sh.current_dir().join(LAYOUT_DIR);
    let local = |digest: &str| {
        fs::read(layout::blob_path(&layout_dir, digest))
            .with_context(|| format!("blob {digest} missing from the layout"))
    };
    let expected_index = local(&built.digest)?;
    for tag in push_order(tags) {
        let served = with_retries(runner, "verify", &inspect(format!("{image}:{tag}")), retry)?;
        if !same_manifest(served.as_bytes(), &expected_index) {
            bail!(
                "step `verify`: {image}:{tag} does not point to the scanned image {}: do not use it; rerun publish",
                built.digest
            );
        }
        let pushed: Value = serde_json::from_str(&served).context("step `verify`: the registry served invalid JSON")?;
        check_platform_digests(&pushed, built).with_context(|| format!("step `verify`: {image}:{tag}"))?;
    }
    for platform in &built.platforms {
        let served = with_retries(runner, "verify", &inspect(format!("{image}@{}", platform.digest)), retry)?;
        if !same_manifest(served.as_bytes(), &local(&platform.digest)?) {
            bail!(
                "step `verify`: the registry's {} manifest differs from the scanned one ({})",
                platform.platform,
                platform.digest
            );
        }
    }
    eprintln!(
        "[verify] {} tag(s) and {} platform manifest(s) match the scanned image",
        tags.len(),
        built.platforms.len()
    );
    Ok(())
}

/// Byte equality, allowing for the newline a tool may add when printing.
fn same_manifest(served: &[u8], local: &[u8]) -> bool {
    served == local || served.strip_suffix(b"\n") == Some(local)
}

/// Each platform in the pushed index must carry the digest that was scanned.
pub fn check_platform_digests(pushed: &Value, built: &ImageLayout) -> Result<()> {
    let entries: Vec<(String, String)> = match pushed.get("manifests").and_then(Value::as_array) {
        Some(manifests) => manifests
            .iter()
            .filter_map(|d| Some((layout::descriptor_platform(d)?, d.get("digest")?.as_str()?.to_string())))
            .collect(),
        None => return Ok(()), // a single manifest: its bytes were compared already
    };
    for platform in &built.platforms {
        let found = entries.iter().find(|(p, _)| p == &platform.platform).map(|(_, d)| d.as_str());
        if found != Some(platform.digest.as_str()) {
            bail!("{} is {:?} in the registry but {} was scanned", platform.platform, found, platform.digest);
        }
    }
    if entries.len() != built.platforms.len() {
        bail!("the registry's index lists {} platforms, {} were scanned", entries.len(), built.platforms.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layout::PlatformImage;

    fn login_args(registry: &str, user: Option<&str>, stdin: bool) -> LoginArgs {
        LoginArgs {
            image: ImageArgs { registry: registry.into(), repository: None, username: user.map(str::to_string) },
            password_env: "REGISTRY_PASSWORD".into(),
            password_stdin: stdin,
        }
    }

    #[test]
    fn password_rules() {
        let no_stdin = || -> Result<String> { panic!("stdin must not be read") };
        let ghcr = login_args("ghcr.io", Some("me"), false);
        assert_eq!(password(&ghcr, Some("pw".into()), no_stdin).unwrap().unwrap().expose(), "pw");
        let empty = password(&ghcr, Some(String::new()), no_stdin).unwrap_err().to_string();
        assert!(empty.contains("$REGISTRY_PASSWORD is empty"), "{empty}");
        assert!(password(&ghcr, None, no_stdin).is_err(), "a username without a password");
        assert!(
            password(&login_args("ghcr.io", None, false), Some("pw".into()), no_stdin).is_err(),
            "a password without a username"
        );
        assert!(password(&login_args("ghcr.io", None, false), None, no_stdin).unwrap().is_none());
        let stdin = login_args("ghcr.io", Some("me"), true);
        assert_eq!(password(&stdin, None, || Ok("pw\n".into())).unwrap().unwrap().expose(), "pw");
    }

    #[test]
    fn login_passes_the_password_on_stdin_only() {
        let args = login_args("ghcr.io", Some("me"), false);
        let secret = Secret::new("hunter2".into());
        let cmd = login_command("docker", &args, Some(&secret)).unwrap();
        assert_eq!(cmd.args, ["login", "--username", "me", "--password-stdin", "ghcr.io"]);
        assert_eq!(cmd.stdin.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(login_command("docker", &login_args("ttl.sh", None, false), Some(&secret)).is_none());
    }

    #[test]
    fn floating_tags_are_pushed_last() {
        let tags: Vec<String> = ["1.2.3", "1.2", "1", "latest", "sha-0123456"].map(String::from).to_vec();
        assert_eq!(push_order(&tags), ["1.2.3", "sha-0123456", "1.2", "1", "latest"]);
        let commands = push_commands("reg/blog", &tags);
        assert_eq!(commands.len(), 5);
        assert_eq!(
            commands[0].display(),
            "skopeo copy --all --preserve-digests oci:target/xtask/image docker://reg/blog:1.2.3"
        );
    }

    #[test]
    fn transient_errors() {
        assert!(is_transient("received unexpected HTTP status: 503 Service Unavailable"));
        assert!(is_transient("read: connection reset by peer"));
        assert!(is_transient("toomanyrequests: rate limited"));
        assert!(!is_transient("unauthorized: authentication required"));
        assert!(!is_transient("denied: permission denied 503"));
        assert!(!is_transient("invalid reference format"));
    }

    #[test]
    fn pushed_index_must_carry_the_scanned_platform_digests() {
        let built = ImageLayout {
            digest: "sha256:idx".into(),
            platforms: vec![PlatformImage {
                platform: "linux/amd64".into(),
                digest: "sha256:a".into(),
                config_digest: String::new(),
                descriptor: Value::Null,
            }],
        };
        let index = |digest: &str| json!({"manifests": [{"digest": digest, "platform": {"os": "linux", "architecture": "amd64"}}]});
        assert!(check_platform_digests(&index("sha256:a"), &built).is_ok());
        assert!(check_platform_digests(&index("sha256:b"), &built).is_err());
        assert!(same_manifest(b"{}\n", b"{}") && !same_manifest(b"{} ", b"{}"));
    }
}
