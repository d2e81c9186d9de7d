//! End to end, everything real: podman builds the real Dockerfile from base-image fixtures,
//! real trivy scans with a fixture DB, a real registry (TLS + htpasswd) receives the push, and
//! every assertion about the result reads the registry itself, not the xtask's summary.
//! In CI a missing prerequisite fails these tests; elsewhere they are skipped with the reason.

mod common;
#[path = "e2e/harness.rs"]
mod harness;

use std::{
    fs,
    io::{BufRead, BufReader},
    process::Stdio,
    sync::{Mutex, MutexGuard, OnceLock},
};

use common::{git_in, system_path, xtask, Repo, Run, TempDir};
use harness::{blog_repo, free_port, scanned_digests, Registry, World, PASSWORD, USER, VULN_CVE};

/// The e2e tests share one world and run one at a time (they share podman and two cores).
/// Without its prerequisites a test fails in CI and is skipped, saying why, elsewhere.
fn world() -> Option<(&'static World, MutexGuard<'static, ()>)> {
    static WORLD: OnceLock<Result<World, String>> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match WORLD.get_or_init(|| harness::missing_prerequisites().map_or_else(|| Ok(World::new()), Err)) {
        Ok(world) => Some((world, guard)),
        Err(reason) if std::env::var_os("CI").is_some() => panic!("{reason}: .ci/run must install them"),
        Err(reason) => {
            common::skipped(reason);
            None
        }
    }
}

fn publish_args(world: &World, registry: &str, repository: &str, nginx: &str) -> Vec<String> {
    let mut args: Vec<String> =
        ["--engine", "podman", "publish", "--registry", registry, "--username", USER].map(String::from).to_vec();
    args.extend(["--repository".into(), repository.into(), "--retry-delay".into(), "1".into()]);
    args.extend(world.base_image_args(nginx));
    args
}

fn publish(world: &World, repo: &Repo, registry: &str, repository: &str, nginx: &str, env: &[(&str, &str)]) -> Run {
    let args = publish_args(world, registry, repository, nginx);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all_env = vec![("REGISTRY_PASSWORD", PASSWORD)];
    all_env.extend_from_slice(env);
    xtask(repo.path(), &system_path(), &world.env_with(&all_env), &args)
}

fn assert_never_shown(run: &Run, secret: &str) {
    assert!(!run.all_output().contains(secret), "`{secret}` appeared in the output:\n{}", run.all_output());
}

#[test]
fn release_then_backport_leaves_latest_on_the_newest_release() {
    let Some((world, _one)) = world() else { return };
    let registry = &world.registry.address;
    let repo = blog_repo(1_750_000_000);
    repo.tag("v1.0.0");
    repo.write("site/content/posts/second.md", "---\ntitle: \"Second\"\ndate: 2026-11-30T10:00:00Z\n---\nMore.\n");
    let sha = repo.commit("second post", 1_750_000_100);
    repo.tag("v1.2.3");

    let run = publish(world, &repo, registry, "e2e/release", "clean", &[]);
    assert!(run.success, "{}", run.all_output());
    let short = format!("sha-{}", &sha[..7]);
    let mut expected = vec!["1", "1.2", "1.2.3", "latest", short.as_str()];
    expected.sort();
    assert_eq!(world.tags("e2e/release"), expected);
    let (index_digest, index) = world.manifest("e2e/release", "1.2.3");
    for tag in &expected {
        assert_eq!(world.manifest("e2e/release", tag).0, index_digest, "{tag} must point to the one index");
    }
    let mut platforms: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let platform = format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            );
            (platform, m["digest"].as_str().unwrap().to_string())
        })
        .collect();
    platforms.sort();
    let mut scanned = scanned_digests(repo.path());
    scanned.sort();
    assert_eq!(platforms.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    assert_eq!(platforms, scanned, "each platform digest in the registry is the scanned one");
    assert!(run.stderr.contains("[smoke] linux/amd64: /healthz, / and the 404 page answer"), "{}", run.stderr);
    assert_never_shown(&run, PASSWORD);

    // A backport on the 1.0 line after 1.2.3: 1.0.1 and 1.0 only; 1 and latest stay.
    git_in(repo.path(), &["checkout", "-q", "-b", "release-1.0", "v1.0.0"]);
    repo.write("site/content/about.md", "---\ntitle: \"About\"\n---\nA typo fixed.\n");
    repo.commit("fix a typo", 1_750_000_200);
    repo.tag("v1.0.1");
    let run = publish(world, &repo, registry, "e2e/release", "clean", &[]);
    assert!(run.success, "{}", run.all_output());
    let backport = world.manifest("e2e/release", "1.0.1").0;
    assert_ne!(backport, index_digest);
    assert_eq!(world.manifest("e2e/release", "1.0").0, backport);
    assert_eq!(world.manifest("e2e/release", "latest").0, index_digest, "latest stays on 1.2.3");
    assert_eq!(world.manifest("e2e/release", "1").0, index_digest, "1 stays on 1.2.3");
}

#[test]
fn a_high_vulnerability_on_one_platform_pushes_nothing() {
    let Some((world, _one)) = world() else { return };
    let repo = blog_repo(1_750_000_000);
    repo.tag("v2.0.0");
    let run = publish(world, &repo, &world.registry.address, "e2e/vulnerable", "vuln", &[]);
    assert!(!run.success, "{}", run.all_output());
    let line = run.stderr.lines().find(|l| l.contains(VULN_CVE) && l.contains("HIGH")).unwrap_or_default();
    assert!(line.starts_with("linux/arm64") && line.contains("vulnpkg") && line.contains("1.0-2"), "{}", run.stderr);
    assert!(!run.stderr.lines().any(|l| l.starts_with("linux/amd64") && l.contains(VULN_CVE)), "amd64 is clean");
    assert_eq!(world.tags("e2e/vulnerable"), Vec::<String>::new(), "no tag may exist");
}

#[test]
fn a_committed_secret_halts_the_pipeline_without_printing_it() {
    let Some((world, _one)) = world() else { return };
    let repo = blog_repo(1_750_000_000);
    let key_id = "AKIA2E0A8F3B244C9986";
    let secret = "Wc4dL7pQx9Zr2Tn8Vb6Ym3Ks1Hj5Gf0Ed7Ca2Xq4";
    repo.write("site/static/deploy.env", &format!("AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n"));
    repo.commit("oops", 1_750_000_100);
    repo.tag("v3.0.0");
    let run = publish(world, &repo, &world.registry.address, "e2e/secret", "clean", &[]);
    assert!(!run.success, "{}", run.all_output());
    assert!(run.stderr.contains("secret") && run.stderr.contains("aws-"), "{}", run.stderr);
    assert!(run.stderr.contains("deploy.env"), "the file is named: {}", run.stderr);
    assert_never_shown(&run, secret);
    assert_never_shown(&run, key_id);
    assert_eq!(world.tags("e2e/secret"), Vec::<String>::new());
}

#[test]
fn a_wrong_password_pushes_nothing_and_is_never_shown() {
    let Some((world, _one)) = world() else { return };
    let repo = blog_repo(1_750_000_000);
    repo.tag("v4.0.0");
    let wrong = "Wrong-Pa55word-e2e";
    let run =
        publish(world, &repo, &world.registry.address, "e2e/wrong-password", "clean", &[("REGISTRY_PASSWORD", wrong)]);
    assert!(!run.success);
    assert!(run.stderr.contains("step `login`") && run.stderr.contains(&world.registry.address), "{}", run.stderr);
    assert_never_shown(&run, wrong);
    assert_eq!(world.tags("e2e/wrong-password"), Vec::<String>::new());
}

#[test]
fn an_unreachable_registry_is_named_and_a_rerun_after_it_is_back_succeeds() {
    let Some((world, _one)) = world() else { return };
    let dir = TempDir::new("second-registry");
    let mut second = Registry::configure(dir.path(), free_port());
    let repo = blog_repo(1_750_000_000);
    repo.tag("v5.0.0");
    let run = publish(world, &repo, &second.address, "e2e/flaky", "clean", &[]);
    assert!(!run.success);
    let error = run.stderr.lines().skip_while(|l| !l.starts_with("error:")).collect::<Vec<_>>().join("\n");
    assert!(error.contains(&second.address), "the error names the registry: {error}");
    assert!(error.contains("hint:"), "{error}");

    second.start();
    let run = publish(world, &repo, &second.address, "e2e/flaky", "clean", &[]);
    assert!(run.success, "{}", run.all_output());
    let run = publish(world, &repo, &second.address, "e2e/flaky", "clean", &[]);
    assert!(run.success, "a rerun is idempotent: {}", run.all_output());
    let digest = world.manifest_on(&second.address, "e2e/flaky", "5.0.0").0;
    assert_eq!(digest, world.manifest_on(&second.address, "e2e/flaky", "latest").0);
}

/// Runs publish and calls `at_push` the moment the first push is announced; returns whether
/// publish succeeded, and its stderr.
fn publish_interrupted(
    world: &World,
    repo: &Repo,
    registry: &str,
    repository: &str,
    at_push: impl FnOnce(),
) -> (bool, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(repo.path())
        .args(publish_args(world, registry, repository, "clean"))
        .current_dir(repo.path())
        .env("PATH", system_path())
        .envs(world.env_with(&[("REGISTRY_PASSWORD", PASSWORD)]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut at_push = Some(at_push);
    let mut stderr = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("[push] $ skopeo copy") {
            if let Some(stop) = at_push.take() {
                stop();
            }
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    (child.wait().unwrap().success(), stderr)
}

#[test]
fn a_registry_stopped_mid_push_fails_after_bounded_retries_and_a_rerun_completes() {
    let Some((world, _one)) = world() else { return };
    let dir = TempDir::new("third-registry");
    let mut third = Registry::configure(dir.path(), free_port());
    third.start();
    let repo = blog_repo(1_750_000_000);
    repo.tag("v7.0.0");
    let (success, stderr) =
        publish_interrupted(world, &repo, &third.address.clone(), "e2e/interrupted", || third.stop());
    assert!(!success, "{stderr}");
    assert!(stderr.contains("transient registry error (attempt 1/4)"), "{stderr}");
    let error = stderr.lines().skip_while(|l| !l.starts_with("error:")).collect::<Vec<_>>().join("\n");
    assert!(error.contains("registry still failing after 4 attempts") && error.contains(&third.address), "{error}");

    third.start();
    let run = publish(world, &repo, &third.address, "e2e/interrupted", "clean", &[]);
    assert!(run.success, "{}", run.all_output());
    let digest = world.manifest_on(&third.address, "e2e/interrupted", "7.0.0").0;
    for tag in ["7.0", "7", "latest"] {
        assert_eq!(world.manifest_on(&third.address, "e2e/interrupted", tag).0, digest, "{tag}");
    }
}

#[test]
fn the_same_commit_built_twice_from_clean_state_gives_the_same_index() {
    let Some((world, _one)) = world() else { return };
    let repo = blog_repo(1_750_000_000);
    repo.tag("v6.0.0");
    let mut digests = Vec::new();
    for round in 0..3 {
        let _ = fs::remove_dir_all(repo.path().join("target"));
        // A podman store of its own for each round: nothing cached from the round before.
        let storage = world.path().join(format!("repro-{round}.conf"));
        let graph = world.path().join(format!("repro-{round}"));
        let _ = fs::remove_dir_all(&graph);
        let conf = format!(
            "[storage]\ndriver = \"{0}\"\ngraphroot = \"{1}/graph\"\nrunroot = \"{1}/run\"\n",
            harness::storage_driver(),
            graph.display()
        );
        fs::write(&storage, conf).unwrap();
        let mut args = vec!["--engine".to_string(), "podman".into(), "build".into()];
        args.extend(world.base_image_args("clean").into_iter().take(4));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = world.env_with(&[("CONTAINERS_STORAGE_CONF", storage.to_str().unwrap())]);
        let run = xtask(repo.path(), &system_path(), &env, &args);
        assert!(run.success, "{}", run.all_output());
        let index: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(repo.path().join("target/xtask/image/index.json")).unwrap())
                .unwrap();
        digests.push(index["manifests"][0]["digest"].as_str().unwrap().to_string());
    }
    assert!(digests.iter().all(|d| *d == digests[0]), "clean builds of one commit must give one digest: {digests:?}");
}
