//! `cargo bench --bench publish`: our publish against the seed pipeline's method, on the local
//! fixture registry with the real tools (the e2e world). Prints wall times per step, the
//! number of builds, scans and pushes, the ratio seed/ours, and the xtask's own overhead.
//!
//!   (a) our publish of one release: 2 platforms, 5 tags
//!   (b) the seed's method: 3 single-tag publishes, each building and scanning every platform
//!   (c) our publish again, nothing changed (warm)
//!   (d) our publish after one post was edited (a new release tag)
//!   (e) `publish --dry-run`

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::{
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{system_path, xtask, Repo};
use harness::{blog_repo, must, World, PASSWORD, USER};
use serde_json::Value;

const PLATFORMS: [&str; 2] = ["linux/amd64", "linux/arm64"];

struct Measured {
    label: &'static str,
    wall: Duration,
    builds: usize,
    scans: usize,
    pushes: usize,
    /// Per step, from the summary: seconds spent in the tools.
    steps: Vec<(String, f64)>,
}

fn main() {
    if let Some(reason) = harness::missing_prerequisites() {
        eprintln!("error: {reason}");
        std::process::exit(1);
    }
    eprintln!("setting up the registry, fixtures and trivy DB ...");
    let world = World::new();
    let repo = blog_repo(1_750_000_000);
    repo.tag("v1.2.3");

    let mut results = vec![ours(&world, &repo, "(a) ours, one release", "bench/ours")];
    results.push(seed_method(&world, &repo));
    results.push(ours(&world, &repo, "(c) ours, warm rerun", "bench/ours"));
    repo.write(
        "site/content/posts/static-sites-and-small-images.md",
        "---\ntitle: \"Static sites\"\ndate: 2026-10-02T18:30:00Z\n---\nEdited.\n",
    );
    repo.commit("edit one post", 1_750_000_100);
    repo.tag("v1.2.4");
    results.push(ours(&world, &repo, "(d) ours, one post edited", "bench/ours"));
    let dry_run = dry_run(&world, &repo);

    println!(
        "\n{:<30} {:>9} {:>7} {:>6} {:>7}   tool time per step (s)",
        "run", "wall (s)", "builds", "scans", "pushes"
    );
    for r in &results {
        let steps: Vec<String> = r.steps.iter().map(|(step, s)| format!("{step} {s:.2}")).collect();
        println!(
            "{:<30} {:>9.2} {:>7} {:>6} {:>7}   {}",
            r.label,
            r.wall.as_secs_f64(),
            r.builds,
            r.scans,
            r.pushes,
            steps.join(", ")
        );
    }
    println!("{:<30} {:>9.2}", "(e) ours, --dry-run", dry_run.as_secs_f64());
    let (a, b) = (&results[0], &results[1]);
    println!("\nratio seed/ours (b)/(a): {:.2}x wall time", b.wall.as_secs_f64() / a.wall.as_secs_f64());
    for r in results.iter().filter(|r| !r.steps.is_empty()) {
        let in_tools: f64 = r.steps.iter().map(|(_, s)| s).sum();
        let overhead = r.wall.as_secs_f64() - in_tools;
        println!(
            "xtask overhead in {}: {:.3} s of {:.2} s ({:.1}%)",
            r.label,
            overhead,
            r.wall.as_secs_f64(),
            100.0 * overhead / r.wall.as_secs_f64()
        );
    }
}

fn publish_args(world: &World, repository: &str) -> Vec<String> {
    let mut args: Vec<String> =
        ["--engine", "podman", "publish", "--registry", &world.registry.address, "--username", USER]
            .map(String::from)
            .to_vec();
    args.extend(["--repository".into(), repository.into()]);
    args.extend(world.base_image_args("clean"));
    args
}

fn ours(world: &World, repo: &Repo, label: &'static str, repository: &str) -> Measured {
    eprintln!("{label} ...");
    let args = publish_args(world, repository);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let run = xtask(repo.path(), &system_path(), &world.env_with(&[("REGISTRY_PASSWORD", PASSWORD)]), &args);
    let wall = started.elapsed();
    assert!(run.success, "{}", run.all_output());
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(repo.path().join("target/xtask/summary.json")).unwrap()).unwrap();
    let steps = summary["timings_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["step"].as_str().unwrap().to_string(), t["seconds"].as_f64().unwrap()))
        .collect();
    let count = |prefix: &str| run.stderr.lines().filter(|l| l.contains(prefix)).count();
    Measured {
        label,
        wall,
        builds: count("] $ podman build "),
        scans: count("] $ trivy image "),
        pushes: count("] $ skopeo copy --all"),
        steps,
    }
}

/// The seed pipeline's method with the same tools: for each of 3 tags, build each platform
/// on its own, scan each, then assemble and push a list under that one tag.
fn seed_method(world: &World, repo: &Repo) -> Measured {
    eprintln!("(b) seed method ...");
    let env = world.env_with(&[]);
    let registry = &world.registry.address;
    let containerfile = repo.path().join("target/seed/Containerfile");
    fs::create_dir_all(containerfile.parent().unwrap()).unwrap();
    let dockerfile = fs::read_to_string(repo.path().join("Dockerfile")).unwrap();
    fs::write(&containerfile, dockerfile.replace("COPY --link ", "COPY ")).unwrap();
    let podman = |args: &[&str]| must(Command::new("podman").args(args).current_dir(repo.path()).envs(env.clone()));
    let (mut builds, mut scans, mut pushes) = (0, 0, 0);
    let started = Instant::now();
    for tag in ["latest", "1.2.3", "sha"] {
        let list = format!("localhost/seed-list-{tag}");
        let _ = Command::new("podman").args(["manifest", "rm", &list]).envs(env.clone()).output();
        podman(&["manifest", "create", &list]);
        for platform in PLATFORMS {
            let image = format!("localhost/seed-{}", platform.replace('/', "-"));
            let hugo = format!("--build-arg=HUGO_IMAGE={registry}/fixtures/hugo:fixture");
            let nginx = format!("--build-arg=NGINX_IMAGE={registry}/fixtures/nginx:clean");
            let file = containerfile.display().to_string();
            let platform_arg = format!("--platform={platform}");
            podman(&[
                "build",
                "--quiet",
                &platform_arg,
                "--build-arg=BUILDPLATFORM=linux/amd64",
                &hugo,
                &nginx,
                "-t",
                &image,
                "-f",
                &file,
                ".",
            ]);
            builds += 1;
            let layout = repo.path().join("target/seed").join(platform.replace('/', "-"));
            let _ = fs::remove_dir_all(&layout);
            podman(&["push", "--quiet", &image, &format!("oci:{}", layout.display())]);
            scan(world, &layout);
            scans += 1;
            podman(&["manifest", "add", &list, &format!("containers-storage:{image}")]);
        }
        podman(&["manifest", "push", "--all", "--quiet", &list, &format!("docker://{registry}/bench/seed:{tag}")]);
        pushes += 1;
    }
    Measured {
        label: "(b) seed method, 3 publishes",
        wall: started.elapsed(),
        builds,
        scans,
        pushes,
        steps: Vec::new(),
    }
}

fn scan(world: &World, layout: &Path) {
    let report = layout.with_extension("json");
    must(Command::new("trivy").args(["image", "--input"]).arg(layout).args([
        "--scanners",
        "vuln,secret",
        "--severity",
        "CRITICAL,HIGH",
        "--exit-code",
        "1",
        "--format",
        "json",
        "--quiet",
        "--skip-version-check",
        "--disable-telemetry",
        "--cache-dir",
        world.trivy_cache.to_str().unwrap(),
        "--output",
        report.to_str().unwrap(),
    ]));
}

fn dry_run(world: &World, repo: &Repo) -> Duration {
    let mut args = publish_args(world, "bench/ours");
    args.push("--dry-run".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let run = xtask(repo.path(), &system_path(), &world.env_with(&[("REGISTRY_PASSWORD", PASSWORD)]), &args);
    assert!(run.success, "{}", run.all_output());
    started.elapsed()
}
