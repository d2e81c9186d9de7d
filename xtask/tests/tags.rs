//! `cargo xtask tags` against real git repositories.

mod common;

use common::{git_in, system_path, xtask, Repo, TempDir};
use serde_json::Value;

fn tags_json(repo: &std::path::Path) -> Value {
    let run = xtask(repo, &system_path(), &[], &["tags", "--json"]);
    assert!(run.success, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("not JSON ({err}): {}", run.stdout))
}

fn tags(json: &Value) -> Vec<&str> {
    json["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()
}

#[test]
fn release_tag_gives_version_floating_tags_and_labels() {
    let repo = Repo::new();
    repo.write("README.md", "hello\n");
    let sha = repo.commit("first", 1_750_000_000);
    repo.tag("v1.2.3");
    let json = tags_json(repo.path());
    let short = format!("sha-{}", &sha[..7]);
    assert_eq!(tags(&json), ["1.2.3", "1.2", "1", "latest", short.as_str()]);
    assert_eq!(json["version"], "1.2.3");
    assert_eq!(json["revision"], sha.as_str());
    assert_eq!(json["created"], "2025-06-15T15:06:40Z");
    assert_eq!(json["dirty"], false);
    assert_eq!(json["labels"]["org.opencontainers.image.created"], "2025-06-15T15:06:40Z");
    assert_eq!(json["labels"]["org.opencontainers.image.version"], "1.2.3");
}

#[test]
fn backport_does_not_move_latest() {
    let repo = Repo::new();
    repo.commit("one", 1_700_000_000);
    repo.tag("v1.0.0");
    repo.commit("two", 1_700_000_100);
    repo.tag("v1.2.3");
    repo.git(&["checkout", "-q", "-b", "release-1.0", "v1.0.0"]);
    repo.commit("fix", 1_700_000_200);
    repo.tag("v1.0.1");
    assert_eq!(tags(&tags_json(repo.path()))[..2], ["1.0.1", "1.0"]);
    assert_eq!(tags(&tags_json(repo.path())).len(), 3);
}

#[test]
fn untagged_branch_and_detached_head() {
    let repo = Repo::new();
    repo.commit("one", 1_700_000_000);
    repo.tag("v0.1.0");
    repo.git(&["checkout", "-q", "-b", "Feature/#12-New_Theme"]);
    let sha = repo.commit("two", 1_700_000_100);
    let short = format!("sha-{}", &sha[..7]);
    assert_eq!(tags(&tags_json(repo.path())), ["feature-12-new_theme", short.as_str()]);

    // A CI checkout of a tag: detached HEAD, release tags still found.
    repo.git(&["checkout", "-q", "--detach", "v0.1.0"]);
    let json = tags_json(repo.path());
    assert_eq!(tags(&json)[..3], ["0.1.0", "0.1", "latest"]);
}

#[test]
fn dirty_tree_is_flagged() {
    let repo = Repo::new();
    repo.write("a.txt", "a\n");
    repo.commit("one", 1_700_000_000);
    repo.write("a.txt", "changed\n");
    assert_eq!(tags_json(repo.path())["dirty"], true);
    let human = xtask(repo.path(), &system_path(), &[], &["tags"]);
    assert!(human.stdout.contains("dirty worktree"), "{}", human.stdout);
}

#[test]
fn shallow_clone_says_to_fetch_full_history() {
    let origin = Repo::new();
    origin.commit("one", 1_700_000_000);
    origin.tag("v1.0.0");
    origin.commit("two", 1_700_000_100);
    origin.tag("v1.1.0");
    let clone = TempDir::new("shallow");
    let url = format!("file://{}", origin.path().display());
    git_in(clone.path(), &["clone", "-q", "--depth", "1", &url, "."]);
    git_in(clone.path(), &["fetch", "-q", "--depth", "1", "origin", "tag", "v1.1.0"]);
    git_in(clone.path(), &["checkout", "-q", "--detach", "v1.1.0"]);
    let run = xtask(clone.path(), &system_path(), &[], &["tags"]);
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("fetch-depth: 0"), "{}", run.stdout);
    assert!(!run.stdout.contains("latest"), "floating tags must be withheld: {}", run.stdout);
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let dir = TempDir::new("plain");
    let run = xtask(dir.path(), &system_path(), &[], &["tags"]);
    assert!(!run.success);
    assert!(run.stderr.contains("is not a git repository"), "{}", run.stderr);
}

#[test]
fn repository_without_commits_is_a_clear_error() {
    let repo = Repo::new();
    let run = xtask(repo.path(), &system_path(), &[], &["tags"]);
    assert!(!run.success);
    assert!(run.stderr.contains("no commits yet"), "{}", run.stderr);
}

#[test]
fn missing_git_is_a_clear_error() {
    let repo = Repo::new();
    repo.commit("one", 1_700_000_000);
    let empty = TempDir::new("empty-path");
    let run = xtask(repo.path(), &empty.path().display().to_string(), &[], &["tags"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("`git` not found on PATH") && run.stderr.contains("hint: install git"),
        "{}",
        run.stderr
    );
}
