//! What the current commit ships as: git facts, image tags, labels and version, together.

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::{
    git::{self, GitFacts},
    project::PROJECT,
    runner::Runner,
    tags,
};

pub struct Release {
    pub git: GitFacts,
    pub tags: Vec<String>,
    pub labels: Vec<(String, String)>,
    /// The release's semver, or the sha tag for an untagged commit.
    pub version: String,
    /// HEAD carries a semver release tag.
    pub is_release: bool,
    pub notes: Vec<String>,
}

impl Release {
    pub fn read(runner: &Runner) -> Result<Release> {
        Ok(Release::from_git(git::read(runner)?))
    }

    pub fn from_git(git: GitFacts) -> Release {
        let derived = tags::derive(&git);
        let version = match &derived.release {
            Some(release) => release.text(),
            None => tags::sha_tag(&git.revision),
        };
        let labels = tags::labels(&PROJECT, &git, &version);
        let is_release = derived.release.is_some();
        Release { tags: derived.tags, labels, version, is_release, notes: derived.notes, git }
    }

    pub fn created(&self) -> String {
        tags::rfc3339(self.git.commit_time)
    }

    pub fn to_json(&self) -> Value {
        let labels: Map<String, Value> =
            self.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
        json!({
            "tags": self.tags,
            "labels": labels,
            "version": self.version,
            "revision": self.git.revision,
            "created": self.created(),
            "dirty": self.git.dirty,
            "notes": self.notes,
        })
    }

    pub fn print_human(&self) {
        let dirty = if self.git.dirty { " (dirty worktree: uncommitted changes are not in these tags)" } else { "" };
        println!("commit   {}{dirty}", self.git.revision);
        println!("created  {}", self.created());
        println!("version  {}", self.version);
        println!("tags     {}", self.tags.join(", "));
        println!("labels");
        for (key, value) in &self.labels {
            println!("  {key}={value}");
        }
        for note in &self.notes {
            println!("note: {note}");
        }
    }
}
