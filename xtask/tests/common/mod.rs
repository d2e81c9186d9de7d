//! Helpers shared by the integration tests: temporary directories, real git repositories,
//! stand-in tools on PATH, and running the built xtask binary.
#![allow(dead_code)] // each test file uses a different subset

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("xtask-test-{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The blog repository these tests belong to.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the system's tools live, without any stand-ins.
pub fn system_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// A real git repository in a temporary directory, with a fixed identity and clock.
pub struct Repo {
    pub dir: TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo { dir: TempDir::new("repo") };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Commits everything with committer time `epoch`; returns the full hash.
    pub fn commit(&self, message: &str, epoch: i64) -> String {
        self.git(&["add", "-A"]);
        let date = format!("@{epoch} +0000");
        let status = Command::new("git")
            .current_dir(self.path())
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .envs(identity())
            .status()
            .unwrap();
        assert!(status.success());
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", name]);
    }
}

fn identity() -> [(&'static str, &'static str); 4] {
    [
        ("GIT_AUTHOR_NAME", "Test"),
        ("GIT_AUTHOR_EMAIL", "test@example.org"),
        ("GIT_COMMITTER_NAME", "Test"),
        ("GIT_COMMITTER_EMAIL", "test@example.org"),
    ]
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").current_dir(dir).args(args).envs(identity()).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The result of one xtask run.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the built xtask binary on `project` with `path` as PATH and extra environment.
pub fn xtask(project: &Path, path: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
    xtask_with_stdin(project, path, env, args, "")
}

/// Like [`xtask`], with `stdin` fed to the process.
pub fn xtask_with_stdin(project: &Path, path: &str, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(project)
        .args(args)
        .current_dir(project)
        .env("PATH", path)
        .env_remove("GITHUB_STEP_SUMMARY")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output: Output = child.wait_with_output().unwrap();
    let run = Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "xtask panicked:\n{}", run.stderr);
    run
}

/// Writes an executable shell script `name` into `dir`.
pub fn write_tool(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A required tool for a real-tool test: in CI its absence fails the test; elsewhere the test
/// is skipped with a printed reason. Returns whether the test should go on.
pub fn require_tool(tool: &str) -> bool {
    if which_on_path(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is required by this test and missing in CI: .ci/run must install it");
    }
    skipped(&format!("{tool} not found on PATH (install it to run this test)"));
    false
}

/// Says why a test did nothing, past the test harness's output capture, so a skip is never
/// mistaken for a pass.
pub fn skipped(reason: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

fn which_on_path(tool: &str) -> bool {
    std::env::split_paths(&system_path()).any(|dir| dir.join(tool).is_file())
}
