//! The real-tool world of the end-to-end tests and the benchmark: a TLS + htpasswd registry
//! (Debian's docker-registry) on loopback, base-image fixtures built offline from Debian
//! packages, a trivy vulnerability DB written here, isolated podman storage and auth, and
//! temporary git repositories holding this repository's site.
#![allow(dead_code)] // the e2e tests and the benchmark each use a different subset

use std::{
    fs,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{Repo, TempDir};

pub const USER: &str = "tester";
pub const PASSWORD: &str = "e2e-Registry-Pa55word";
pub const VULN_CVE: &str = "CVE-2099-0001";
const DEFAULT_DEBS: &str = "/var/cache/blog-xtask-e2e/debs";
const TOOLS: [&str; 9] =
    ["podman", "skopeo", "trivy", "hugo", "docker-registry", "htpasswd", "openssl", "dpkg-deb", "busybox"];

/// What the e2e world needs and this machine lacks, if anything.
pub fn missing_prerequisites() -> Option<String> {
    let mut missing: Vec<String> = TOOLS.iter().filter(|t| !on_path(t)).map(|t| format!("`{t}` on PATH")).collect();
    for arch in ["amd64", "arm64"] {
        let dir = debs_dir().join(arch);
        if fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0 {
            missing.push(format!("{arch} .debs in {} (see .ci/run)", dir.display()));
        }
    }
    (!missing.is_empty()).then(|| format!("end-to-end prerequisites missing: {}", missing.join(", ")))
}

fn on_path(tool: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|dir| dir.join(tool).is_file())
}

fn debs_dir() -> PathBuf {
    std::env::var_os("E2E_DEBS_DIR").map_or_else(|| PathBuf::from(DEFAULT_DEBS), PathBuf::from)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn must(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A registry on loopback with TLS (its own CA, trusted through /etc/containers/certs.d) and
/// htpasswd authentication.
pub struct Registry {
    pub address: String,
    config: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
}

impl Registry {
    /// Writes the configuration for `port` under `dir` and trusts its certificate; `start` runs it.
    pub fn configure(dir: &Path, port: u16) -> Registry {
        fs::create_dir_all(dir).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        must(Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]).args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]));
        let htpasswd = must(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
        fs::write(dir.join("htpasswd"), htpasswd).unwrap();
        let address = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {address}\n  tls:\n    certificate: {}\n    key: {}\n\
                 auth:\n  htpasswd:\n    realm: e2e\n    path: {}\n",
                dir.join("data").display(),
                cert.display(),
                key.display(),
                dir.join("htpasswd").display()
            ),
        )
        .unwrap();
        let trust = PathBuf::from("/etc/containers/certs.d").join(&address);
        fs::create_dir_all(&trust)
            .unwrap_or_else(|err| panic!("cannot trust the test registry in {}: {err}", trust.display()));
        fs::copy(&cert, trust.join("ca.crt")).unwrap();
        Registry { address, config, child: None, watchdog: None }
    }

    pub fn start(&mut self) {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start docker-registry");
        // If this test process dies without dropping us, the registry goes with it.
        let watchdog =
            format!("while kill -0 {} 2>/dev/null; do sleep 1; done; kill {}", std::process::id(), child.id());
        self.watchdog = Some(Command::new("sh").args(["-c", &watchdog]).stdin(Stdio::null()).spawn().unwrap());
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(&self.address).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the registry at {} did not start", self.address);
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(&mut self) {
        for mut child in [self.child.take(), self.watchdog.take()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The shared world: one registry with the fixtures, one trivy DB, isolated podman state.
pub struct World {
    _dir: TempDir,
    pub registry: Registry,
    pub trivy_cache: PathBuf,
    pub env: Vec<(String, String)>,
    dir_path: PathBuf,
}

impl World {
    pub fn new() -> World {
        let dir = TempDir::new("e2e");
        let dir_path = dir.path().to_path_buf();
        let mut registry = Registry::configure(&dir_path.join("registry"), free_port());
        registry.start();
        let env = podman_env(&dir_path.join("podman"));
        let world = World { trivy_cache: dir_path.join("trivy-cache"), registry, env, _dir: dir, dir_path };
        write_trivy_db(&world.trivy_cache);
        world.login(&world.registry.address.clone());
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures.sh");
        let debs = debs_dir();
        must(
            Command::new("sh")
                .arg(fixtures)
                .args([
                    &world.registry.address,
                    debs.to_str().unwrap(),
                    world.dir_path.join("fixtures").to_str().unwrap(),
                ])
                .envs(world.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        world
    }

    pub fn path(&self) -> &Path {
        &self.dir_path
    }

    pub fn login(&self, registry: &str) {
        let mut login = Command::new("podman");
        login.args(["login", "--username", USER, "--password-stdin", registry]).stdin(Stdio::piped());
        login.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = login.stdout(Stdio::null()).spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "podman login to {registry} failed");
    }

    /// Arguments for `publish`/`build` that point the real Dockerfile at the fixtures.
    pub fn base_image_args(&self, nginx: &str) -> Vec<String> {
        let registry = &self.registry.address;
        vec![
            "--build-arg".into(),
            format!("HUGO_IMAGE={registry}/fixtures/hugo:fixture"),
            "--build-arg".into(),
            format!("NGINX_IMAGE={registry}/fixtures/nginx:{nginx}"),
            "--cache-dir".into(),
            self.trivy_cache.display().to_string(),
        ]
    }

    /// The environment an xtask run needs here, with `extra` on top.
    pub fn env_with<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        env
    }

    fn skopeo(&self, args: &[&str]) -> std::process::Output {
        Command::new("skopeo").args(args).envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).output().unwrap()
    }

    /// The tags of a repository, read from the registry itself (empty when it has none).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let output = self.skopeo(&["list-tags", &format!("docker://{}/{repository}", self.registry.address)]);
        if !output.status.success() {
            return Vec::new();
        }
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut tags: Vec<String> =
            json["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        tags.sort();
        tags
    }

    /// The raw manifest a tag points to in the world's registry, and its digest.
    pub fn manifest(&self, repository: &str, tag: &str) -> (String, Value) {
        self.manifest_on(&self.registry.address, repository, tag)
    }

    /// The raw manifest a tag points to in `registry`, and its digest (sha256 of those bytes).
    pub fn manifest_on(&self, registry: &str, repository: &str, tag: &str) -> (String, Value) {
        let output = self.skopeo(&["inspect", "--raw", &format!("docker://{registry}/{repository}:{tag}")]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let mut sha = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        sha.stdin.take().unwrap().write_all(&output.stdout).unwrap();
        let sum = String::from_utf8(sha.wait_with_output().unwrap().stdout).unwrap();
        let digest = format!("sha256:{}", sum.split_whitespace().next().unwrap());
        (digest, serde_json::from_slice(&output.stdout).unwrap())
    }
}

/// podman and skopeo state of the tests' own: storage, auth file, and a runtime that works on
/// hosts with hybrid cgroups (runc; crun refuses them), with explicit ulimits.
fn podman_env(dir: &Path) -> Vec<(String, String)> {
    fs::create_dir_all(dir).unwrap();
    let storage = dir.join("storage.conf");
    fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"{}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            storage_driver(),
            dir.join("graph").display(),
            dir.join("run").display()
        ),
    )
    .unwrap();
    let runtime = if on_path("runc") { "runtime = \"runc\"\n" } else { "" };
    let containers = dir.join("containers.conf");
    fs::write(
        &containers,
        format!(
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\n[engine]\n{runtime}"
        ),
    )
    .unwrap();
    vec![
        ("CONTAINERS_STORAGE_CONF".to_string(), storage.display().to_string()),
        ("CONTAINERS_CONF".to_string(), containers.display().to_string()),
        ("REGISTRY_AUTH_FILE".to_string(), dir.join("auth.json").display().to_string()),
    ]
}

/// overlay, unless E2E_STORAGE_DRIVER says otherwise (vfs inside a container, where overlay on
/// an overlay root does not mount).
pub fn storage_driver() -> String {
    std::env::var("E2E_STORAGE_DRIVER").unwrap_or_else(|_| "overlay".to_string())
}

/// A vulnerability DB trivy accepts offline: `vulnpkg` (Debian 12) has a HIGH CVE.
fn write_trivy_db(cache: &Path) {
    use bbolt_rs::*;
    let db_dir = cache.join("db");
    fs::create_dir_all(&db_dir).unwrap();
    let mut db = Bolt::open(db_dir.join("trivy.db")).unwrap();
    db.update(|mut tx| {
        let mut vulnerabilities = tx.create_bucket_if_not_exists("vulnerability")?;
        let detail = r#"{"Title":"vulnpkg: remote code execution (test fixture)","Severity":"HIGH","VendorSeverity":{"debian":3}}"#;
        vulnerabilities.put(VULN_CVE, detail)?;
        let mut debian = tx.create_bucket_if_not_exists("debian 12")?;
        let mut package = debian.create_bucket_if_not_exists("vulnpkg")?;
        package.put(VULN_CVE, r#"{"FixedVersion":"1.0-2"}"#)?;
        let mut sources = tx.create_bucket_if_not_exists("data-source")?;
        sources.put("debian 12", r#"{"ID":"debian","Name":"Debian Security Tracker","URL":"https://salsa.debian.org/security-tracker-team/security-tracker"}"#)?;
        Ok(())
    })
    .unwrap();
    let metadata = r#"{"Version":2,"NextUpdate":"2099-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","DownloadedAt":"2026-01-01T00:00:00Z"}"#;
    fs::write(db_dir.join("metadata.json"), metadata).unwrap();
}

/// A git repository holding this repository's Dockerfile and site, committed at `epoch`.
pub fn blog_repo(epoch: i64) -> Repo {
    let repo = Repo::new();
    let root = crate::common::repo_root();
    for file in ["Dockerfile", ".dockerignore"] {
        fs::copy(root.join(file), repo.path().join(file)).unwrap();
    }
    copy_dir(&root.join("site"), &repo.path().join("site"));
    repo.write(".gitignore", "/target\n/site/public\n/site/resources\n");
    repo.commit("the blog", epoch);
    repo
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "public" || name == "resources" || name == ".hugo_build.lock" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The platform digests of the last scan, from target/xtask/scan/record.json.
pub fn scanned_digests(repo: &Path) -> Vec<(String, String)> {
    let record: Value =
        serde_json::from_str(&fs::read_to_string(repo.join("target/xtask/scan/record.json")).unwrap()).unwrap();
    record["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["platform"].as_str().unwrap().to_string(), p["digest"].as_str().unwrap().to_string()))
        .collect()
}
