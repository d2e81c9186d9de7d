//! Image tags and OCI labels, derived from git facts alone. Pure: no I/O in this module.

use std::cmp::Ordering;

use crate::git::GitFacts;
use crate::project::Project;

/// A semantic version read from a git tag (`v1.2.3`, `1.2.3-rc.1`, `v2.0.0+build.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<String>,
    pub build: Option<String>,
}

impl Version {
    pub fn parse(tag: &str) -> Option<Version> {
        let text = tag.strip_prefix('v').unwrap_or(tag);
        let (text, build) = match text.split_once('+') {
            Some((text, build)) => (text, Some(build)),
            None => (text, None),
        };
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let numbers: Vec<u64> = core.split('.').map(numeric_identifier).collect::<Option<_>>()?;
        let [major, minor, patch] = numbers[..] else { return None };
        let pre = match pre {
            Some(pre) => pre.split('.').map(|id| pre_identifier(id).map(str::to_string)).collect::<Option<_>>()?,
            None => Vec::new(),
        };
        if let Some(build) = build {
            if !build.split('.').all(|id| !id.is_empty() && id.chars().all(is_identifier_char)) {
                return None;
            }
        }
        Some(Version { major, minor, patch, pre, build: build.map(str::to_string) })
    }

    pub fn is_stable(&self) -> bool {
        self.pre.is_empty()
    }

    /// The version as written, without the `v` (`2.0.0+build.5`).
    pub fn text(&self) -> String {
        let mut text = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            text.push('-');
            text.push_str(&self.pre.join("."));
        }
        if let Some(build) = &self.build {
            text.push('+');
            text.push_str(build);
        }
        text
    }

    /// The version as an image tag: registries forbid `+`, so build metadata joins with `_`
    /// (the convention Helm uses for OCI tags).
    pub fn image_tag(&self) -> String {
        self.text().replace('+', "_")
    }

    /// SemVer precedence: build metadata is ignored, a prerelease sorts before its release.
    pub fn precedence(&self, other: &Version) -> Ordering {
        let core = (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        core.then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(&self.pre, &other.pre),
        })
    }
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn numeric_identifier(id: &str) -> Option<u64> {
    let valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    valid.then(|| id.parse().ok()).flatten()
}

fn pre_identifier(id: &str) -> Option<&str> {
    let numeric = id.chars().all(|c| c.is_ascii_digit());
    let valid =
        !id.is_empty() && id.chars().all(is_identifier_char) && !(numeric && id.len() > 1 && id.starts_with('0'));
    valid.then_some(id)
}

fn compare_prerelease(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// The registry grammar for a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && tag.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// What `tags` derives for one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub tags: Vec<String>,
    /// The highest semver release tagged at HEAD, if any.
    pub release: Option<Version>,
    /// Things the user should know: ignored tags, withheld floating tags.
    pub notes: Vec<String>,
}

pub fn derive(git: &GitFacts) -> Derived {
    let mut notes = Vec::new();
    let mut releases: Vec<Version> = Vec::new();
    for tag in &git.head_tags {
        match Version::parse(tag) {
            Some(version) => releases.push(version),
            None => notes.push(format!("tag `{tag}` at HEAD is not a semantic version (vX.Y.Z): ignored")),
        }
    }
    releases.sort_by(|a, b| b.precedence(a));
    let stable: Vec<Version> =
        git.all_tags.iter().filter_map(|tag| Version::parse(tag)).filter(Version::is_stable).collect();

    let mut tags = Vec::new();
    for release in &releases {
        tags.push(release.image_tag());
        if !release.is_stable() {
            continue;
        }
        if git.shallow {
            notes.push(format!(
                "shallow clone: floating tags for {} withheld, since other releases may be missing; \
                 fetch full history and tags (actions/checkout `fetch-depth: 0`, or `git fetch --unshallow --tags`)",
                release.text()
            ));
            continue;
        }
        let newest_of = |same_line: &dyn Fn(&Version) -> bool| {
            stable.iter().filter(|other| same_line(other)).all(|other| other.precedence(release) != Ordering::Greater)
        };
        if newest_of(&|other| other.major == release.major && other.minor == release.minor) {
            tags.push(format!("{}.{}", release.major, release.minor));
        }
        if release.major > 0 && newest_of(&|other| other.major == release.major) {
            tags.push(release.major.to_string());
        }
        if newest_of(&|_| true) {
            tags.push("latest".to_string());
        }
    }
    if releases.is_empty() {
        match &git.branch {
            Some(branch) => tags.extend(branch_tag(branch)),
            None => notes.push("detached HEAD without a release tag: only the sha tag applies".to_string()),
        }
    }
    tags.push(sha_tag(&git.revision));

    let mut unique = Vec::new();
    for tag in tags {
        if !is_valid_tag(&tag) {
            notes.push(format!("`{tag}` is not a valid image tag (over 128 characters?): left out"));
        } else if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    Derived { tags: unique, release: releases.into_iter().next(), notes }
}

pub fn sha_tag(revision: &str) -> String {
    format!("sha-{}", &revision[..revision.len().min(7)])
}

/// A branch name as a tag: lowercase, invalid characters as `-`, no leading `.`/`-`, at most
/// 128 characters. Names a release could own (`latest`, `1.2`, `sha-…`) get a `branch-` prefix.
pub fn branch_tag(branch: &str) -> Option<String> {
    let mut tag = String::new();
    for c in branch.to_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' };
        if !(c == '-' && tag.ends_with('-')) {
            tag.push(c);
        }
    }
    let tag = tag.trim_start_matches(['.', '-']);
    if tag.is_empty() {
        return None;
    }
    let looks_like_release = tag == "latest"
        || tag.starts_with("sha-")
        || tag
            .split(['.', '-', '_'])
            .next()
            .is_some_and(|head| !head.is_empty() && head.chars().all(|c| c.is_ascii_digit()))
        || Version::parse(tag).is_some();
    let tag = if looks_like_release { format!("branch-{tag}") } else { tag.to_string() };
    let tag: String = tag.chars().take(128).collect();
    Some(tag.trim_end_matches(['.', '-']).to_string())
}

/// The OCI annotations/labels for the image. `created` is the commit time, so a rebuild of the
/// same commit yields the same image.
pub fn labels(project: &Project, git: &GitFacts, version: &str) -> Vec<(String, String)> {
    let mut labels = vec![
        ("created", rfc3339(git.commit_time)),
        ("revision", git.revision.clone()),
        ("version", version.to_string()),
    ];
    if let Some(source) = git.remote_url.as_deref().and_then(source_url) {
        labels.push(("source", source));
    }
    labels.extend([
        ("title", project.title.to_string()),
        ("description", project.description.to_string()),
        ("licenses", project.licenses.to_string()),
        ("url", project.url.to_string()),
    ]);
    labels.into_iter().map(|(key, value)| (format!("org.opencontainers.image.{key}"), value)).collect()
}

/// A remote URL as a public https address, with any credentials removed; `None` for local paths.
pub fn source_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    if remote.starts_with("file://") {
        return None;
    }
    let host_and_path = if let Some((_, rest)) = remote.split_once("://") {
        rest.to_string()
    } else if let Some((user_host, path)) = remote.split_once(':').filter(|(head, _)| !head.contains('/')) {
        format!("{user_host}/{path}")
    } else {
        return None;
    };
    let without_user = match host_and_path.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{host}/{path}")
        }
        None => return None,
    };
    let cleaned = without_user.trim_end_matches('/').trim_end_matches(".git");
    Some(format!("https://{cleaned}"))
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let seconds = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn facts(head: &[&str], all: &[&str], branch: Option<&str>) -> GitFacts {
        GitFacts {
            revision: SHA.to_string(),
            commit_time: 1_700_000_000,
            dirty: false,
            branch: branch.map(str::to_string),
            head_tags: head.iter().map(|t| t.to_string()).collect(),
            all_tags: all.iter().map(|t| t.to_string()).collect(),
            shallow: false,
            remote_url: None,
        }
    }

    fn tags_for(head: &[&str], all: &[&str]) -> Vec<String> {
        derive(&facts(head, all, None)).tags
    }

    #[test]
    fn release_tags_follow_the_contract() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["v1.2.3"], &["v1.2.3"], &["1.2.3", "1.2", "1", "latest", "sha-0123456"]),
            (&["1.2.3"], &["1.2.3"], &["1.2.3", "1.2", "1", "latest", "sha-0123456"]),
            (&["v0.3.1"], &["v0.3.1"], &["0.3.1", "0.3", "latest", "sha-0123456"]),
            (&["v1.2.3-rc.1"], &["v1.2.2", "v1.2.3-rc.1"], &["1.2.3-rc.1", "sha-0123456"]),
            (&["v2.0.0+build.5"], &["v2.0.0+build.5"], &["2.0.0_build.5", "2.0", "2", "latest", "sha-0123456"]),
            // Backports take only the floating tags they still lead.
            (&["v1.9.1"], &["v1.9.0", "v1.10.0", "v2.0.1", "v1.9.1"], &["1.9.1", "1.9", "sha-0123456"]),
            // v1.9.1 after v2.0.1 still leads line 1, so `1` moves forward to it; `latest` does not.
            (&["v1.9.1"], &["v1.9.0", "v2.0.1", "v1.9.1"], &["1.9.1", "1.9", "1", "sha-0123456"]),
            (&["v2.0.2"], &["v2.0.1", "v2.1.0", "v2.0.2"], &["2.0.2", "2.0", "sha-0123456"]),
            // A newer prerelease does not take floating tags from a stable release.
            (&["v1.2.3"], &["v1.2.3", "v1.3.0-rc.1", "v2.0.0-beta"], &["1.2.3", "1.2", "1", "latest", "sha-0123456"]),
            // Two releases on one commit: each gets its own, floating tags go to the newest.
            (
                &["v1.2.3", "v1.3.0"],
                &["v1.2.3", "v1.3.0"],
                &["1.3.0", "1.3", "1", "latest", "1.2.3", "1.2", "sha-0123456"],
            ),
            (
                &["v1.0.0-rc.1", "v1.0.0"],
                &["v1.0.0-rc.1", "v1.0.0"],
                &["1.0.0", "1.0", "1", "latest", "1.0.0-rc.1", "sha-0123456"],
            ),
            // Not semver: ignored, only the sha remains (detached, no branch).
            (&["release-2024"], &["release-2024"], &["sha-0123456"]),
            (&["v1.2"], &["v1.2"], &["sha-0123456"]),
        ];
        for (head, all, expected) in cases {
            assert_eq!(tags_for(head, all), *expected, "head {head:?}, all {all:?}");
        }
    }

    #[test]
    fn non_semver_tag_is_noted() {
        let derived = derive(&facts(&["release-2024"], &["release-2024"], Some("main")));
        assert_eq!(derived.tags, ["main", "sha-0123456"]);
        assert!(derived.notes[0].contains("`release-2024`"), "{:?}", derived.notes);
    }

    #[test]
    fn shallow_clone_withholds_floating_tags() {
        let mut git = facts(&["v1.2.3"], &["v1.2.3"], None);
        git.shallow = true;
        let derived = derive(&git);
        assert_eq!(derived.tags, ["1.2.3", "sha-0123456"]);
        assert!(derived.notes.iter().any(|n| n.contains("fetch-depth: 0")));
    }

    #[test]
    fn untagged_commits_get_their_branch() {
        assert_eq!(derive(&facts(&[], &["v1.0.0"], Some("main"))).tags, ["main", "sha-0123456"]);
        let detached = derive(&facts(&[], &["v1.0.0"], None));
        assert_eq!(detached.tags, ["sha-0123456"]);
        assert!(detached.notes[0].contains("detached HEAD"));
    }

    #[test]
    fn branch_names_are_sanitized() {
        let long = "a".repeat(200);
        let cases: &[(&str, Option<&str>)] = &[
            ("main", Some("main")),
            ("feature/new-theme", Some("feature-new-theme")),
            ("fix/#42-typo", Some("fix-42-typo")),
            ("Feature/UPPER", Some("feature-upper")),
            (".hidden", Some("hidden")),
            ("-dash", Some("dash")),
            ("--.", None),
            ("dependabot/cargo/serde_json-1.0.1", Some("dependabot-cargo-serde_json-1.0.1")),
            ("latest", Some("branch-latest")),
            ("1.2", Some("branch-1.2")),
            ("v2.0.0", Some("branch-v2.0.0")),
            ("sha-abc", Some("branch-sha-abc")),
            ("trailing/", Some("trailing")),
        ];
        for (branch, expected) in cases {
            assert_eq!(branch_tag(branch).as_deref(), *expected, "branch {branch:?}");
        }
        assert_eq!(branch_tag(&long).unwrap().len(), 128);
        for (branch, _) in cases {
            if let Some(tag) = branch_tag(branch) {
                assert!(is_valid_tag(&tag), "{tag}");
            }
        }
    }

    #[test]
    fn tag_grammar() {
        assert!(is_valid_tag("1.2.3") && is_valid_tag("_x") && is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag("") && !is_valid_tag(".x") && !is_valid_tag("-x") && !is_valid_tag("a+b"));
        assert!(!is_valid_tag(&"a".repeat(129)));
    }

    #[test]
    fn version_parsing_is_strict() {
        assert_eq!(Version::parse("v01.2.3"), None);
        assert_eq!(Version::parse("v1.2.3-"), None);
        assert_eq!(Version::parse("v1.2.3-01"), None);
        assert_eq!(Version::parse("v1.2.3+"), None);
        assert_eq!(Version::parse("v1.2.3.4"), None);
        assert_eq!(Version::parse("1.2.3-rc.1+b.2").unwrap().text(), "1.2.3-rc.1+b.2");
    }

    #[test]
    fn precedence_follows_semver() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        let versions: Vec<Version> = order.iter().map(|v| Version::parse(v).unwrap()).collect();
        for pair in versions.windows(2) {
            assert_eq!(pair[0].precedence(&pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn labels_use_commit_time_and_clean_source() {
        let mut git = facts(&["v1.2.3"], &["v1.2.3"], None);
        git.remote_url = Some("https://user:token@github.com/me/blog.git".to_string());
        let labels = labels(&crate::project::PROJECT, &git, "1.2.3");
        let get = |key: &str| {
            labels.iter().find(|(k, _)| k == &format!("org.opencontainers.image.{key}")).map(|(_, v)| v.as_str())
        };
        assert_eq!(get("created"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(get("revision"), Some(SHA));
        assert_eq!(get("version"), Some("1.2.3"));
        assert_eq!(get("source"), Some("https://github.com/me/blog"));
        assert_eq!(labels.len(), 8);
    }

    #[test]
    fn source_urls() {
        let cases = [
            ("git@github.com:me/blog.git", Some("https://github.com/me/blog")),
            ("ssh://git@gitlab.com/me/blog.git", Some("https://gitlab.com/me/blog")),
            ("https://x-access-token:abc@github.com/me/blog", Some("https://github.com/me/blog")),
            ("/srv/git/blog.git", None),
            ("file:///srv/git/blog.git", None),
        ];
        for (remote, expected) in cases {
            assert_eq!(source_url(remote).as_deref(), expected, "{remote}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
