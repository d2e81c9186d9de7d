//! Facts read from git: the commit, its time, its tags, the branch, whether the tree is dirty.

use anyhow::{bail, Result};

use crate::runner::{Command, Runner};

const STEP: &str = "git";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitFacts {
    pub revision: String,
    /// Committer time, seconds since the Unix epoch: the image's `created` and SOURCE_DATE_EPOCH.
    pub commit_time: i64,
    pub dirty: bool,
    /// `None` on a detached HEAD (as in a CI checkout of a tag).
    pub branch: Option<String>,
    pub head_tags: Vec<String>,
    pub all_tags: Vec<String>,
    pub shallow: bool,
    pub remote_url: Option<String>,
}

fn git(args: &[&str]) -> Command {
    Command::new("git", args.iter().copied())
}

pub fn read(runner: &Runner) -> Result<GitFacts> {
    runner.find_tool(STEP, "git")?;
    let inside = runner.output(STEP, &git(&["rev-parse", "--is-inside-work-tree"]))?;
    if !inside.success || inside.stdout.trim() != "true" {
        bail!(
            "step `{STEP}`: {} is not a git repository (git: {})\n\
             hint: run this inside a clone of the blog repository; tags are derived from its git history",
            runner.sh.current_dir().display(),
            inside.stderr.trim()
        );
    }
    let head = runner.output(STEP, &git(&["log", "-1", "--format=%H %ct"]))?;
    let Some((revision, time)) = head.stdout.trim().split_once(' ').filter(|_| head.success) else {
        bail!(
            "step `{STEP}`: the repository has no commits yet, so there is nothing to tag or build\n\
             hint: commit the site first: `git add -A && git commit -m \"first post\"`"
        );
    };
    let commit_time = time.parse()?;
    let lines = |args: &[&str]| -> Result<Vec<String>> {
        Ok(runner.read(STEP, &git(args))?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    };
    let dirty = !lines(&["status", "--porcelain", "--untracked-files=normal"])?.is_empty();
    let branch = runner.output(STEP, &git(&["symbolic-ref", "--quiet", "--short", "HEAD"]))?;
    let remote = runner.output(STEP, &git(&["remote", "get-url", "origin"]))?;
    Ok(GitFacts {
        revision: revision.to_string(),
        commit_time,
        dirty,
        branch: branch.success.then(|| branch.stdout.trim().to_string()),
        head_tags: lines(&["tag", "--points-at", "HEAD"])?,
        all_tags: lines(&["tag", "--list"])?,
        shallow: runner.read(STEP, &git(&["rev-parse", "--is-shallow-repository"]))?.trim() == "true",
        remote_url: remote.success.then(|| remote.stdout.trim().to_string()),
    })
}
