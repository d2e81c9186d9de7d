//! The one place that runs external commands: it finds the tool, echoes the command (secrets
//! masked), honours `--dry-run`, times each step, and turns a failure into an error that names
//! the step, the tool and what to do next.

use std::{
    cell::RefCell,
    fmt,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Result};
use xshell::Shell;

use crate::tools;

/// A value that must never be shown: `Debug` and `Display` print `<secret>`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// One external command as plain data, so plans can be built, tested and printed before
/// anything runs.
#[derive(Debug, Clone)]
pub struct Command {
    pub tool: &'static str,
    pub args: Vec<String>,
    /// Fed to the command's standard input; never echoed.
    pub stdin: Option<Secret>,
    /// Commands that change anything (files, registries, logins) are only printed by `--dry-run`.
    pub changes_state: bool,
    /// What to tell the user when this command fails.
    pub hint: String,
}

impl Command {
    pub fn new<I, S>(tool: &'static str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            tool,
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
            changes_state: false,
            hint: String::new(),
        }
    }

    pub fn changes_state(mut self) -> Command {
        self.changes_state = true;
        self
    }

    pub fn stdin(mut self, secret: Secret) -> Command {
        self.stdin = Some(secret);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Command {
        self.hint = hint.into();
        self
    }

    /// The command line as a user would type it.
    pub fn display(&self) -> String {
        let mut line = self.tool.to_string();
        for arg in &self.args {
            line.push(' ');
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                line.push('\'');
                line.push_str(&arg.replace('\'', r"'\''"));
                line.push('\'');
            } else {
                line.push_str(arg);
            }
        }
        if self.stdin.is_some() {
            line.push_str(" <<< <secret>");
        }
        line
    }
}

/// What a finished command left behind.
pub struct Outcome {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub struct Runner<'a> {
    pub sh: &'a Shell,
    pub dry_run: bool,
    secrets: RefCell<Vec<Secret>>,
    timings: RefCell<Vec<(String, Duration)>>,
}

impl<'a> Runner<'a> {
    pub fn new(sh: &'a Shell, dry_run: bool) -> Runner<'a> {
        Runner { sh, dry_run, secrets: RefCell::default(), timings: RefCell::default() }
    }

    /// Every later echo and error has this value replaced by `<secret>`.
    pub fn register_secret(&self, secret: &Secret) {
        if !secret.expose().is_empty() {
            self.secrets.borrow_mut().push(secret.clone());
        }
    }

    pub fn mask(&self, text: &str) -> String {
        self.secrets.borrow().iter().fold(text.to_string(), |text, secret| text.replace(secret.expose(), "<secret>"))
    }

    /// Wall time spent per step, in the order steps first ran.
    pub fn timings(&self) -> Vec<(String, Duration)> {
        self.timings.borrow().clone()
    }

    pub fn record_time(&self, step: &str, elapsed: Duration) {
        let mut timings = self.timings.borrow_mut();
        match timings.iter_mut().find(|(name, _)| name == step) {
            Some((_, total)) => *total += elapsed,
            None => timings.push((step.to_string(), elapsed)),
        }
    }

    pub fn find_tool(&self, step: &str, tool: &str) -> Result<PathBuf> {
        tools::find(self.sh, tool)
            .ok_or_else(|| anyhow!("step `{step}`: `{tool}` not found on PATH\nhint: {}", tools::install_hint(tool)))
    }

    /// Runs with output streaming to the user (builds, servers). The tool's stdout goes to our
    /// stderr, so stdout stays clean for `--json`.
    pub fn run(&self, step: &str, cmd: &Command) -> Result<()> {
        if self.skip(step, cmd)? {
            return Ok(());
        }
        let mut process: std::process::Command = self.xshell_cmd(step, cmd)?.into();
        let started = Instant::now();
        let status = process.stdout(std::io::stderr()).status();
        self.record_time(step, started.elapsed());
        match status {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => {
                bail!(self.failure(step, cmd, &format!("{}, see its output above", exit_text(status.code())), ""))
            }
            Err(err) => bail!(self.failure(step, cmd, "could not be started", &err.to_string())),
        }
    }

    /// Runs and returns stdout, failing with the command's stderr attached.
    pub fn read(&self, step: &str, cmd: &Command) -> Result<String> {
        let outcome = self.output(step, cmd)?;
        if !outcome.success {
            bail!(self.failure(step, cmd, &exit_text(outcome.code), &outcome.stderr));
        }
        Ok(outcome.stdout)
    }

    /// Runs and returns what happened, success or not; the caller decides. In a dry run, a
    /// state-changing command is only printed and reports success with empty output.
    pub fn output(&self, step: &str, cmd: &Command) -> Result<Outcome> {
        if self.skip(step, cmd)? {
            return Ok(Outcome { success: true, code: Some(0), stdout: String::new(), stderr: String::new() });
        }
        let started = Instant::now();
        let output = self
            .xshell_cmd(step, cmd)?
            .quiet()
            .ignore_status()
            .output()
            .map_err(|err| anyhow!(self.failure(step, cmd, "could not be started", &err.to_string())))?;
        self.record_time(step, started.elapsed());
        Ok(Outcome {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// The error text for a failed command: step, command, reason, stderr tail and hint.
    pub fn failure(&self, step: &str, cmd: &Command, reason: &str, stderr: &str) -> String {
        let mut text = format!("step `{step}`: `{}` failed ({reason})", cmd.display());
        let tail = stderr_tail(stderr);
        if !tail.is_empty() {
            text.push_str(&format!("\n{}: {tail}", cmd.tool));
        }
        if !cmd.hint.is_empty() {
            text.push_str(&format!("\nhint: {}", cmd.hint));
        }
        self.mask(&text)
    }

    fn skip(&self, step: &str, cmd: &Command) -> Result<bool> {
        let skip = self.dry_run && cmd.changes_state;
        let prefix = if skip { "[dry-run] " } else { "" };
        eprintln!("{prefix}[{step}] $ {}", self.mask(&cmd.display()));
        if !skip {
            self.find_tool(step, cmd.tool)?;
        }
        Ok(skip)
    }

    fn xshell_cmd(&self, step: &str, cmd: &Command) -> Result<xshell::Cmd<'a>> {
        let program = self.find_tool(step, cmd.tool)?;
        let mut xcmd = self.sh.cmd(program).args(&cmd.args);
        if let Some(secret) = &cmd.stdin {
            xcmd = xcmd.stdin(secret.expose());
        }
        Ok(xcmd)
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// The last lines of a tool's stderr: enough to see why, short enough to read.
fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let cmd = Command::new("docker", ["build", "--label", "a=b c", "", "it's"]);
        assert_eq!(cmd.display(), r"docker build --label 'a=b c' '' 'it'\''s'");
    }

    #[test]
    fn stdin_secret_is_never_displayed() {
        let cmd = Command::new("skopeo", ["login", "--password-stdin"]).stdin(Secret::new("hunter2".into()));
        assert!(!cmd.display().contains("hunter2"));
        assert!(!format!("{cmd:?}").contains("hunter2"));
    }

    #[test]
    fn mask_hides_registered_secrets_in_errors() {
        let sh = Shell::new().unwrap();
        let runner = Runner::new(&sh, false);
        runner.register_secret(&Secret::new("s3cr3t".into()));
        let cmd = Command::new("skopeo", ["login"]).hint("check the password");
        let text = runner.failure("login", &cmd, "exit status 1", "bad password s3cr3t\n");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("step `login`") && text.contains("hint: check the password"), "{text}");
    }

    #[test]
    fn stderr_tail_keeps_last_lines() {
        let stderr: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        assert_eq!(stderr_tail(&stderr).lines().next(), Some("line 13"));
    }
}
