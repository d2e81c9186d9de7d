//! `doctor` and `serve`, with stand-in tools on PATH.

mod common;

use common::{repo_root, write_tool, xtask, Repo, TempDir};

fn stand_ins(tools: &[&str]) -> TempDir {
    let dir = TempDir::new("bin");
    for tool in tools {
        write_tool(dir.path(), tool, &format!("echo \"{tool} version 9.9.9\"\n"));
    }
    dir
}

#[test]
fn doctor_passes_when_every_tool_is_there() {
    let bin = stand_ins(&["git", "hugo", "docker", "podman", "trivy", "skopeo"]);
    let repo = Repo::new();
    let run = xtask(repo.path(), &bin.path().display().to_string(), &[], &["doctor"]);
    assert!(run.success, "{}", run.all_output());
    assert!(run.stdout.contains("publish can run"), "{}", run.stdout);
    assert!(run.stdout.contains("skopeo version 9.9.9"), "{}", run.stdout);
}

#[test]
fn doctor_fails_and_explains_when_tools_are_missing() {
    let bin = stand_ins(&["git"]);
    let repo = Repo::new();
    let run = xtask(repo.path(), &bin.path().display().to_string(), &[], &["doctor"]);
    assert!(!run.success);
    assert!(run.stdout.contains("publish cannot run"), "{}", run.stdout);
    assert!(run.stdout.contains("skopeo: install skopeo"), "{}", run.stdout);
    assert!(run.stderr.contains("prerequisite(s) of `publish` missing"), "{}", run.stderr);
}

#[test]
fn serve_without_hugo_says_how_to_install_it() {
    let project = repo_root();
    let bin = stand_ins(&["git"]);
    let run = xtask(&project, &bin.path().display().to_string(), &[], &["serve"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("`hugo` not found on PATH") && run.stderr.contains("apt-get install hugo"),
        "{}",
        run.stderr
    );
}

#[test]
fn serve_dry_run_prints_the_command() {
    let project = repo_root();
    let bin = stand_ins(&["hugo"]);
    let run = xtask(&project, &bin.path().display().to_string(), &[], &["--dry-run", "serve", "--port", "4000"]);
    assert!(run.success, "{}", run.all_output());
    assert!(run.stdout.contains("http://localhost:4000/"), "{}", run.stdout);
    assert!(run.stderr.contains("[dry-run] [serve] $ hugo server --source site"), "{}", run.stderr);
}
