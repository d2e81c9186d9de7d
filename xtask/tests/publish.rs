//! `publish` and its steps, orchestrating recording stand-ins for docker, trivy and skopeo.
//! The stand-ins log every argv (and whether stdin carried data) and emulate the real tools'
//! outputs: an OCI layout, a buildx metadata file, trivy reports, registry failures.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
};

use common::{write_tool, xtask_with_stdin, Repo, Run, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "s3cr3t-Pa55word-for-tests";
const AMD64_CONFIG: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000a1";
const ARM64_CONFIG: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000a2";
const AMD64_MANIFEST: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000b1";
const ARM64_MANIFEST: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000b2";
const INDEX: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000c1";

const DOCKER: &str = r#"
echo "docker $*" >> "$STATE/log"
[ -n "$REGISTRY_PASSWORD" ] && echo "docker saw REGISTRY_PASSWORD in its environment" >> "$STATE/log"
stdin=$(cat)
[ -n "$stdin" ] && echo "docker stdin: yes" >> "$STATE/log"
case "$1" in
  login)
    if [ "$stdin" = "$EXPECTED_PASSWORD" ]; then echo "Login Succeeded"; exit 0; fi
    echo "Error response from daemon: unauthorized: incorrect username or password ($stdin)" >&2
    exit 1;;
  buildx)
    case "$2" in
      version) [ -f "$STATE/no-buildx" ] && { echo "docker: 'buildx' is not a docker command." >&2; exit 1; }
               echo "github.com/docker/buildx v0.19.0";;
      inspect) printf 'Name:   ci\nDriver: docker-container\n';;
      build)
        for a in "$@"; do case "$a" in
          --output=*) dest=$(echo "$a" | sed 's/.*dest=\([^,]*\).*/\1/');;
          --metadata-file=*) meta=${a#--metadata-file=};;
        esac; done
        mkdir -p "$dest" && cp -r "$FIXTURE"/. "$dest"/
        printf '{"containerimage.digest":"%s"}' "$INDEX_DIGEST" > "$meta";;
    esac;;
  run) echo "c0ffee";;
  port) echo "127.0.0.1:1";;
esac
"#;

const TRIVY: &str = r#"
echo "trivy $*" >> "$STATE/log"
[ -n "$REGISTRY_PASSWORD" ] && echo "trivy saw REGISTRY_PASSWORD in its environment" >> "$STATE/log"
cmd=$1; shift
while [ $# -gt 0 ]; do
  case "$1" in --input) input=$2; shift;; --output) output=$2; shift;; esac
  shift
done
case "$cmd" in
  image)
    name=$(basename "$input")
    echo "trivy scanned $name $(grep -o 'sha256:[0-9a-f]*' "$input/index.json" | tr '\n' ' ')" >> "$STATE/log"
    [ -f "$REPORTS/$name.fail" ] && { echo "FATAL: init error: failed to download vulnerability DB" >&2; exit 1; }
    cp "$REPORTS/$name.json" "$output";;
  convert) echo '{"version":"2.1.0","runs":[]}' > "$output";;
esac
"#;

const SKOPEO: &str = r#"
echo "skopeo $*" >> "$STATE/log"
[ -n "$REGISTRY_PASSWORD" ] && echo "skopeo saw REGISTRY_PASSWORD in its environment" >> "$STATE/log"
for last; do :; done
case "$1" in
  copy)
    n=$(cat "$STATE/copies" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$STATE/copies"
    if [ "$n" -le "${FAIL_COPIES:-0}" ]; then
      echo 'time="x" level=fatal msg="writing manifest: received unexpected HTTP status: 503 Service Unavailable"' >&2
      exit 1
    fi
    echo "$last" >> "$STATE/pushed";;
  inspect)
    case "$last" in
      *@sha256:*) cat "$FIXTURE/blobs/sha256/${last##*@sha256:}";;
      *) grep -qx "$last" "$STATE/pushed" 2>/dev/null || { echo "manifest unknown" >&2; exit 1; }
         cat "$FIXTURE/blobs/sha256/${INDEX_DIGEST#sha256:}";;
    esac;;
esac
"#;

/// Everything one test needs: a tagged repository, stand-ins, fixtures and a state directory.
struct Bench {
    repo: Repo,
    bin: TempDir,
    state: TempDir,
    fixture: TempDir,
    reports: TempDir,
}

fn blob(layout: &Path, digest: &str, value: &Value) {
    let path = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, value.to_string()).unwrap();
}

fn platform_descriptor(digest: &str, arch: &str) -> Value {
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 100,
           "platform": {"os": "linux", "architecture": arch}})
}

fn write_layout(layout: &Path) {
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index_type = "application/vnd.oci.image.index.v1+json";
    fs::write(
        layout.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [{"mediaType": index_type, "digest": INDEX, "size": 300}]}).to_string(),
    )
    .unwrap();
    blob(
        layout,
        INDEX,
        &json!({"schemaVersion": 2, "mediaType": index_type,
        "manifests": [platform_descriptor(AMD64_MANIFEST, "amd64"), platform_descriptor(ARM64_MANIFEST, "arm64")]}),
    );
    for (manifest, config, arch) in [(AMD64_MANIFEST, AMD64_CONFIG, "amd64"), (ARM64_MANIFEST, ARM64_CONFIG, "arm64")] {
        blob(layout, manifest, &json!({"schemaVersion": 2, "config": {"digest": config}, "layers": []}));
        blob(layout, config, &json!({"os": "linux", "architecture": arch}));
    }
}

fn report(config: &str, arch: &str, vulnerabilities: Value) -> Value {
    json!({"SchemaVersion": 2, "Metadata": {"ImageID": config, "ImageConfig": {"os": "linux", "architecture": arch}},
           "Results": [{"Target": "image (alpine 3.22)", "Vulnerabilities": vulnerabilities}]})
}

impl Bench {
    fn new() -> Bench {
        let bench = Bench {
            repo: Repo::new(),
            bin: TempDir::new("bin"),
            state: TempDir::new("state"),
            fixture: TempDir::new("layout"),
            reports: TempDir::new("reports"),
        };
        bench.repo.write(".gitignore", "/target\n");
        bench.repo.write("Dockerfile", "FROM scratch\n");
        bench.repo.write("site/hugo.toml", "title = 'x'\n");
        bench.repo.commit("site", 1_750_000_000);
        bench.repo.tag("v1.2.3");
        for (name, script) in [("docker", DOCKER), ("trivy", TRIVY), ("skopeo", SKOPEO)] {
            write_tool(bench.bin.path(), name, script);
        }
        write_layout(bench.fixture.path());
        let low = json!([{"VulnerabilityID": "CVE-2099-0002", "PkgName": "zlib", "InstalledVersion": "1.3", "Severity": "LOW"}]);
        bench.set_report("linux-amd64", report(AMD64_CONFIG, "amd64", low));
        bench.set_report("linux-arm64", report(ARM64_CONFIG, "arm64", json!([])));
        bench
    }

    fn set_report(&self, platform: &str, report: Value) {
        fs::write(self.reports.path().join(format!("{platform}.json")), report.to_string()).unwrap();
    }

    /// PATH: the stand-ins, then only the basic utilities they and the xtask need.
    fn path(&self) -> String {
        let utils = self.state.path().join("utils");
        if !utils.exists() {
            fs::create_dir_all(&utils).unwrap();
            for tool in ["sh", "cat", "cp", "mkdir", "sed", "grep", "basename", "tr", "rm", "git", "printf", "echo"] {
                if let Some(found) =
                    std::env::split_paths(&common::system_path()).map(|d| d.join(tool)).find(|p| p.is_file())
                {
                    std::os::unix::fs::symlink(found, utils.join(tool)).unwrap();
                }
            }
        }
        format!("{}:{}", self.bin.path().display(), utils.display())
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        self.run_with_stdin(args, extra_env, "")
    }

    fn run_with_stdin(&self, args: &[&str], extra_env: &[(&str, &str)], stdin: &str) -> Run {
        let state = self.state.path().display().to_string();
        let fixture = self.fixture.path().display().to_string();
        let reports = self.reports.path().display().to_string();
        let mut env = vec![
            ("STATE", state.as_str()),
            ("FIXTURE", fixture.as_str()),
            ("REPORTS", reports.as_str()),
            ("INDEX_DIGEST", INDEX),
            ("EXPECTED_PASSWORD", PASSWORD),
            ("REGISTRY_PASSWORD", PASSWORD),
        ];
        env.extend_from_slice(extra_env);
        xtask_with_stdin(self.repo.path(), &self.path(), &env, args, stdin)
    }

    fn publish(&self, extra_args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut args = vec![
            "publish",
            "--registry",
            "localhost:5000",
            "--username",
            "tester",
            "--retry-delay",
            "0",
            "--skip-smoke",
        ];
        args.extend_from_slice(extra_args);
        self.run(&args, extra_env)
    }

    fn log(&self) -> Vec<String> {
        fs::read_to_string(self.state.path().join("log")).unwrap_or_default().lines().map(String::from).collect()
    }

    fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }

    fn position(&self, prefix: &str, last: bool) -> usize {
        let log = self.log();
        let hits: Vec<usize> = log.iter().enumerate().filter(|(_, l)| l.starts_with(prefix)).map(|(i, _)| i).collect();
        let hit = if last { hits.last() } else { hits.first() };
        *hit.unwrap_or_else(|| panic!("`{prefix}` never ran: {log:#?}"))
    }

    fn summary_file(&self) -> PathBuf {
        self.repo.path().join("target/xtask/summary.json")
    }

    /// The password must not appear in any argv, log line, output, error or summary, and no
    /// tool may inherit it through the environment.
    fn assert_password_never_shown(&self, run: &Run) {
        assert!(!self.log().iter().any(|l| l.contains("saw REGISTRY_PASSWORD")), "{:#?}", self.log());
        let summary = fs::read_to_string(self.summary_file()).unwrap_or_default();
        let log = self.log().join("\n");
        for (what, text) in
            [("stdout", &run.stdout), ("stderr", &run.stderr), ("argv log", &log), ("summary", &summary)]
        {
            assert!(!text.contains(PASSWORD), "password leaked into {what}:\n{text}");
        }
    }
}

#[test]
fn publish_builds_once_scans_each_platform_then_pushes_and_verifies() {
    let bench = Bench::new();
    let run = bench.publish(&[], &[]);
    assert!(run.success, "{}", run.all_output());

    assert_eq!(bench.count("docker buildx build"), 1);
    let build = bench.log().into_iter().find(|l| l.starts_with("docker buildx build")).unwrap();
    assert!(build.contains("--platform=linux/amd64,linux/arm64"), "{build}");
    assert!(
        build.contains("--build-arg=VERSION=1.2.3") && build.contains("--label=org.opencontainers.image.version=1.2.3")
    );

    assert_eq!(bench.count("trivy image"), 2);
    let scanned: Vec<String> = bench.log().into_iter().filter(|l| l.starts_with("trivy scanned")).collect();
    assert_eq!(
        scanned,
        [
            format!("trivy scanned linux-amd64 {AMD64_MANIFEST} "),
            format!("trivy scanned linux-arm64 {ARM64_MANIFEST} ")
        ]
    );

    assert_eq!(bench.count("docker login"), 1);
    assert!(bench.log().contains(&"docker stdin: yes".to_string()), "password went through stdin");
    assert_eq!(bench.count("skopeo copy"), 5);
    assert!(bench.position("trivy image", true) < bench.position("skopeo copy", false), "push only after every scan");
    assert!(bench.position("docker login", false) < bench.position("skopeo copy", false));
    assert!(bench.position("skopeo copy", true) < bench.position("skopeo inspect", false), "verify after push");
    assert_eq!(bench.count("skopeo inspect"), 7, "5 tags + 2 platform manifests");
    let pushed = fs::read_to_string(bench.state.path().join("pushed")).unwrap();
    let tags: Vec<&str> = pushed.lines().map(|l| l.rsplit(':').next().unwrap()).collect();
    assert_eq!(tags[0], "1.2.3");
    assert_eq!(tags[2..], ["1.2", "1", "latest"], "floating tags last");
    assert!(tags[1].starts_with("sha-"));

    let summary: Value = serde_json::from_str(&fs::read_to_string(bench.summary_file()).unwrap()).unwrap();
    assert_eq!(summary["digest"], INDEX);
    assert_eq!(summary["image"], "localhost:5000/tester/blog");
    assert_eq!(summary["platforms"][0]["digest"], AMD64_MANIFEST);
    assert_eq!(summary["platforms"][0]["findings"], 1);
    assert!(run.stdout.contains(&format!("published localhost:5000/tester/blog@{INDEX}")), "{}", run.stdout);
    bench.assert_password_never_shown(&run);
}

#[test]
fn json_summary_and_github_step_summary() {
    let bench = Bench::new();
    let step_summary = bench.state.path().join("step-summary.md");
    let run = bench.publish(&["--json"], &[("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap())]);
    assert!(run.success, "{}", run.all_output());
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["tags"].as_array().unwrap().len(), 5);
    let markdown = fs::read_to_string(step_summary).unwrap();
    assert!(markdown.contains("### Published `localhost:5000/tester/blog`") && markdown.contains("| linux/arm64 |"));
}

#[test]
fn a_high_finding_on_one_platform_stops_everything() {
    let bench = Bench::new();
    let high = json!([{"VulnerabilityID": "CVE-2099-0001", "PkgName": "busybox", "InstalledVersion": "1.37.0-r1",
                       "FixedVersion": "1.37.0-r99", "Severity": "HIGH", "Title": "overflow"}]);
    bench.set_report("linux-arm64", report(ARM64_CONFIG, "arm64", high));
    let run = bench.publish(&[], &[]);
    assert!(!run.success);
    assert_eq!(bench.count("skopeo copy"), 0, "nothing may be pushed");
    assert_eq!(bench.count("docker login"), 0);
    let finding_line =
        run.stderr.lines().find(|l| l.contains("CVE-2099-0001") && l.contains("HIGH")).unwrap_or_default();
    assert!(finding_line.starts_with("linux/arm64"), "{}", run.stderr);
    assert!(
        finding_line.contains("busybox") && finding_line.contains("1.37.0-r1") && finding_line.contains("1.37.0-r99")
    );
    assert!(run.stderr.contains("1 finding(s) at or above CRITICAL,HIGH"), "{}", run.stderr);
}

#[test]
fn a_scanner_failure_is_not_a_pass() {
    let bench = Bench::new();
    fs::write(bench.reports.path().join("linux-amd64.fail"), "").unwrap();
    let run = bench.publish(&[], &[]);
    assert!(!run.success);
    assert!(run.stderr.contains("scanner failure on linux/amd64"), "{}", run.stderr);
    assert!(run.stderr.contains("failed to download vulnerability DB"), "{}", run.stderr);
    assert_eq!(bench.count("skopeo copy"), 0);
}

#[test]
fn a_report_about_another_image_is_a_scanner_failure() {
    let bench = Bench::new();
    bench.set_report("linux-arm64", report(AMD64_CONFIG, "amd64", json!([])));
    let run = bench.publish(&[], &[]);
    assert!(!run.success);
    assert!(run.stderr.contains("scanner failure on linux/arm64"), "{}", run.stderr);
    assert_eq!(bench.count("skopeo copy"), 0);
}

#[test]
fn wrong_password_fails_login_and_is_never_shown() {
    let bench = Bench::new();
    let run = bench.publish(&[], &[("EXPECTED_PASSWORD", "the-right-one")]);
    assert!(!run.success);
    assert!(run.stderr.contains("step `login`") && run.stderr.contains("unauthorized"), "{}", run.stderr);
    assert!(run.stderr.contains("<secret>"), "the stand-in echoed the password; it must be masked: {}", run.stderr);
    assert_eq!(bench.count("skopeo copy"), 0);
    bench.assert_password_never_shown(&run);
}

#[test]
fn password_from_stdin_reaches_login_and_is_never_shown() {
    let bench = Bench::new();
    let args = ["publish", "--registry", "localhost:5000", "--username", "tester", "--password-stdin", "--skip-smoke"];
    let run = bench.run_with_stdin(&args, &[("REGISTRY_PASSWORD", "not-this-one")], &format!("{PASSWORD}\n"));
    assert!(run.success, "{}", run.all_output());
    assert!(bench.log().contains(&"docker stdin: yes".to_string()));
    bench.assert_password_never_shown(&run);
}

#[test]
fn dry_run_masks_the_login() {
    let bench = Bench::new();
    let dry = bench.publish(&["--dry-run"], &[]);
    assert!(dry.success, "{}", dry.all_output());
    assert!(
        dry.stderr.contains("docker login --username tester --password-stdin localhost:5000 <<< <secret>"),
        "{}",
        dry.stderr
    );
    bench.assert_password_never_shown(&dry);
}

#[test]
fn transient_registry_errors_are_retried() {
    let bench = Bench::new();
    let run = bench.publish(&[], &[("FAIL_COPIES", "2")]);
    assert!(run.success, "{}", run.all_output());
    assert_eq!(bench.count("skopeo copy"), 7, "2 failures + 5 tags");
    assert!(run.stderr.contains("transient registry error (attempt 2/4)"), "{}", run.stderr);
}

#[test]
fn a_registry_that_keeps_failing_gives_up_after_bounded_retries() {
    let bench = Bench::new();
    let run = bench.publish(&["--attempts", "3"], &[("FAIL_COPIES", "1000")]);
    assert!(!run.success);
    assert_eq!(bench.count("skopeo copy"), 3);
    assert!(
        run.stderr.contains("registry still failing after 3 attempts") && run.stderr.contains("503"),
        "{}",
        run.stderr
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let bench = Bench::new();
    let run = bench.publish(&["--dry-run"], &[]);
    assert!(run.success, "{}", run.all_output());
    for changing in ["docker buildx build", "docker login", "trivy image", "trivy convert", "skopeo copy"] {
        assert_eq!(bench.count(changing), 0, "{changing} ran in a dry run");
    }
    let planned =
        |prefix: &str| run.stderr.lines().filter(|l| l.starts_with("[dry-run]") && l.contains(prefix)).count();
    assert_eq!(planned("$ docker buildx build"), 1);
    assert_eq!(planned("$ trivy image --input target/xtask/platforms/linux-"), 2);
    assert_eq!(planned("$ skopeo copy --all"), 5);
    assert_eq!(planned("$ skopeo inspect --raw"), 5);
    assert!(!bench.repo.path().join("target").exists(), "a dry run writes nothing");
    assert!(run.stderr.contains("dry run: the plan above was printed"), "{}", run.stderr);
}

#[test]
fn bad_inputs_fail_before_any_build_with_one_clear_error() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["--platform", "linux/amd65"], &[], "invalid platform `linux/amd65`"),
        (&["--platform", "foo"], &[], "invalid platform `foo`"),
        (&["--repository", "Me/Blog"], &[], "invalid image repository `Me/Blog`"),
        (&["--repository", "my blog"], &[], "invalid image repository `my blog`"),
        (&["--severity", "SEVERE"], &[], "invalid severity list"),
        (&[], &[("REGISTRY_PASSWORD", "")], "$REGISTRY_PASSWORD is empty"),
    ];
    for (args, env, expected) in cases {
        let bench = Bench::new();
        let run = bench.publish(args, env);
        assert!(!run.success, "{args:?} should fail");
        let first = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
        assert!(first.contains(expected), "{args:?}: expected `{expected}` in the error line, got:\n{}", run.stderr);
        assert_eq!(bench.count("docker buildx build"), 0, "{args:?} must fail before the build");
    }
}

#[test]
fn refuses_a_dirty_tree_and_untagged_commits_unless_allowed() {
    let bench = Bench::new();
    bench.repo.write("site/content/draft.md", "unsaved\n");
    let run = bench.publish(&[], &[]);
    assert!(!run.success && run.stderr.contains("refusing to publish a dirty worktree"), "{}", run.stderr);
    assert!(bench.publish(&["--allow-dirty", "--dry-run"], &[]).success);

    bench.repo.commit("draft", 1_750_000_100);
    let run = bench.publish(&[], &[]);
    assert!(!run.success && run.stderr.contains("HEAD has no release tag"), "{}", run.stderr);
    assert_eq!(bench.count("docker buildx build"), 0);
    assert!(bench.publish(&["--allow-untagged", "--dry-run"], &[]).success);
}

#[test]
fn missing_tools_are_named_with_a_hint_before_any_build() {
    for (tool, expected) in [("docker", "no build engine"), ("skopeo", "`skopeo` not found on PATH")] {
        let bench = Bench::new();
        fs::remove_file(bench.bin.path().join(tool)).unwrap();
        let run = bench.publish(&[], &[]);
        assert!(!run.success);
        assert!(run.stderr.contains(expected) && run.stderr.contains("hint: install"), "{tool}: {}", run.stderr);
        assert_eq!(bench.count("docker buildx build"), 0);
    }
    let bench = Bench::new();
    fs::write(bench.state.path().join("no-buildx"), "").unwrap();
    let run = bench.publish(&["--engine", "docker"], &[]);
    assert!(!run.success && run.stderr.contains("`docker buildx` is not available"), "{}", run.stderr);
    let run = bench.publish(&[], &[]);
    assert!(!run.success && run.stderr.contains("neither `docker buildx` nor `podman`"), "{}", run.stderr);
}

#[test]
fn a_failed_smoke_test_removes_its_container_and_pushes_nothing() {
    let bench = Bench::new();
    let args = ["publish", "--registry", "localhost:5000", "--username", "tester", "--smoke-timeout", "1"];
    let run = bench.run(&args, &[]);
    assert!(!run.success);
    assert!(run.stderr.contains("step `smoke`: /healthz did not answer 200 within 1s"), "{}", run.stderr);
    assert_eq!(bench.count("docker run --detach --rm --publish 127.0.0.1::8080 blog-xtask-smoke:latest"), 1);
    assert_eq!(bench.count("docker rm --force c0ffee"), 1, "the container must be removed");
    assert_eq!(bench.count("docker login"), 0);
    assert!(bench.position("skopeo copy oci:target/xtask/platforms/linux-amd64 docker-daemon:", false) > 0);
    assert!(!bench.log().iter().any(|l| l.contains("docker://")), "nothing pushed");
}

#[test]
fn without_trivy_the_pinned_trivy_image_runs_and_without_an_engine_scan_says_so() {
    let bench = Bench::new();
    fs::remove_file(bench.bin.path().join("trivy")).unwrap();
    let run = bench.publish(&["--dry-run"], &[]);
    assert!(run.success, "{}", run.all_output());
    assert!(
        run.stderr.contains("docker run --rm -v") && run.stderr.contains("aquasec/trivy:0.68.2 image --input"),
        "{}",
        run.stderr
    );

    fs::remove_file(bench.bin.path().join("docker")).unwrap();
    let run = bench.run(&["scan"], &[]);
    assert!(!run.success);
    assert!(run.stderr.contains("trivy not found on PATH and no container engine"), "{}", run.stderr);
}

#[test]
fn missing_dockerfile_is_a_clear_error() {
    let bench = Bench::new();
    fs::remove_file(bench.repo.path().join("Dockerfile")).unwrap();
    bench.repo.commit("no dockerfile", 1_750_000_100);
    bench.repo.tag("v1.2.4");
    let run = bench.publish(&[], &[]);
    assert!(!run.success && run.stderr.contains("no Dockerfile in"), "{}", run.stderr);
}

#[test]
fn steps_run_alone_and_push_refuses_an_unscanned_image() {
    let bench = Bench::new();
    assert!(bench.run(&["build"], &[]).success);
    let push = bench.run(&["push", "--registry", "localhost:5000", "--repository", "me/blog"], &[]);
    assert!(!push.success && push.stderr.contains("has not been scanned"), "{}", push.stderr);
    assert_eq!(bench.count("skopeo copy"), 0);

    let scan = bench.run(&["scan"], &[]);
    assert!(scan.success, "{}", scan.all_output());
    let login = bench.run(&["login", "--registry", "localhost:5000", "--username", "me"], &[]);
    assert!(login.success, "{}", login.all_output());
    let push =
        bench.run(&["push", "--registry", "localhost:5000", "--repository", "me/blog", "--retry-delay", "0"], &[]);
    assert!(push.success, "{}", push.all_output());
    assert_eq!(bench.count("skopeo copy"), 5);
    assert!(push.stdout.contains("pushed localhost:5000/me/blog"), "{}", push.stdout);
}

#[test]
fn ttl_sh_is_anonymous_random_and_says_when_it_expires() {
    let bench = Bench::new();
    let run = bench.run(&["publish", "--retry-delay", "0", "--skip-smoke"], &[]);
    assert!(run.success, "{}", run.all_output());
    assert_eq!(bench.count("docker login"), 0);
    let pushed = fs::read_to_string(bench.state.path().join("pushed")).unwrap();
    assert!(pushed.lines().all(|l| l.starts_with("docker://ttl.sh/blog-")), "{pushed}");
    assert!(run.stdout.contains("expires 24 hours after the push"), "{}", run.stdout);
}
