//! Scanning: trivy on each platform's own manifest, report parsing, and the scan record that
//! `push` demands before anything leaves the machine.

use std::{fs, path::Path};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{
    layout::{self, ImageLayout, PlatformImage},
    runner::{Command, Runner},
    settings::{platform_dir_name, PLATFORMS_DIR, SCAN_DIR, SCAN_RECORD, SEVERITIES},
    tools,
};

const STEP: &str = "scan";
/// Used when trivy is not on PATH. Pinned: trivy 0.69.4 to 0.69.6 were malicious releases.
pub const TRIVY_IMAGE: &str = "docker.io/aquasec/trivy:0.68.2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub id: String,
    /// The package, or for a secret the file and line.
    pub package: String,
    pub installed: String,
    pub fixed: String,
    pub severity: String,
    pub title: String,
}

/// What a trivy JSON report says about the image it scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub image_id: String,
    pub os: String,
    pub architecture: String,
    pub findings: Vec<Finding>,
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Parses trivy's JSON report. Secret findings keep the rule, file and line, never the match.
pub fn parse_report(json: &str) -> Result<Report> {
    let report: Value = serde_json::from_str(json).context("the trivy report is not valid JSON")?;
    let metadata = report.get("Metadata").context("the trivy report has no Metadata")?;
    let mut findings = Vec::new();
    for result in report.get("Results").and_then(Value::as_array).into_iter().flatten() {
        for vuln in result.get("Vulnerabilities").and_then(Value::as_array).into_iter().flatten() {
            findings.push(Finding {
                kind: "vulnerability",
                id: text(vuln, "VulnerabilityID"),
                package: text(vuln, "PkgName"),
                installed: text(vuln, "InstalledVersion"),
                fixed: text(vuln, "FixedVersion"),
                severity: text(vuln, "Severity"),
                title: text(vuln, "Title"),
            });
        }
        for secret in result.get("Secrets").and_then(Value::as_array).into_iter().flatten() {
            let line = secret.get("StartLine").and_then(Value::as_u64).unwrap_or(0);
            findings.push(Finding {
                kind: "secret",
                id: text(secret, "RuleID"),
                package: format!("{}:{line}", text(result, "Target")),
                installed: String::new(),
                fixed: String::new(),
                severity: text(secret, "Severity"),
                title: text(secret, "Title"),
            });
        }
    }
    Ok(Report {
        image_id: text(metadata, "ImageID"),
        os: metadata.pointer("/ImageConfig/os").and_then(Value::as_str).unwrap_or("").to_string(),
        architecture: metadata.pointer("/ImageConfig/architecture").and_then(Value::as_str).unwrap_or("").to_string(),
        findings,
    })
}

/// The report must be about this platform's image: same config digest, same os/architecture.
pub fn check_report_is_for(report: &Report, image: &PlatformImage) -> Result<()> {
    let mut parts = image.platform.split('/');
    let (os, arch) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if report.image_id != image.config_digest || report.os != os || report.architecture != arch {
        bail!(
            "scanner failure on {}: trivy's report describes image {} ({}/{}), not the platform's image {} \
             (manifest {}); the scan proves nothing, so nothing is pushed",
            image.platform,
            report.image_id,
            report.os,
            report.architecture,
            image.config_digest,
            image.digest
        );
    }
    Ok(())
}

/// Findings whose severity is in the list.
pub fn blocking<'a>(findings: &'a [Finding], severities: &[String]) -> Vec<&'a Finding> {
    findings.iter().filter(|f| severities.contains(&f.severity)).collect()
}

pub fn findings_table(rows: &[(String, Finding)]) -> String {
    let header = ["PLATFORM", "SEVERITY", "KIND", "ID", "PACKAGE", "INSTALLED", "FIXED", "TITLE"];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|(platform, f)| {
            [
                platform.clone(),
                f.severity.clone(),
                f.kind.to_string(),
                f.id.clone(),
                f.package.clone(),
                dash(&f.installed),
                dash(&f.fixed),
                f.title.chars().take(60).collect(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..8)
        .map(|i| cells.iter().map(|row| row[i].chars().count()).chain([header[i].len()]).max().unwrap())
        .collect();
    let line = |row: &[&str]| -> String {
        let padded: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut table = line(&header);
    for row in &cells {
        table.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    table
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

/// How trivy is run: from PATH, or as a pinned container image by an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trivy {
    Binary,
    Container { engine: &'static str, project_dir: String, image: String },
}

impl Trivy {
    pub fn find(runner: &Runner) -> Result<Trivy> {
        if tools::find(runner.sh, "trivy").is_some() {
            return Ok(Trivy::Binary);
        }
        let project_dir = runner.sh.current_dir().display().to_string();
        for engine in ["docker", "podman"] {
            if tools::find(runner.sh, engine).is_some() {
                eprintln!("[{STEP}] trivy is not on PATH: running {TRIVY_IMAGE} with {engine}");
                return Ok(Trivy::Container { engine, project_dir, image: TRIVY_IMAGE.to_string() });
            }
        }
        bail!(
            "step `{STEP}`: trivy not found on PATH and no container engine (docker, podman) to run {TRIVY_IMAGE}\nhint: {}",
            tools::install_hint("trivy")
        )
    }

    /// A trivy invocation with the project directory as working directory.
    fn command(&self, args: Vec<String>) -> Command {
        match self {
            Trivy::Binary => Command::new("trivy", args),
            Trivy::Container { engine, project_dir, image } => {
                let mut full = vec![
                    "run".into(),
                    "--rm".into(),
                    "-v".into(),
                    format!("{project_dir}:/src"),
                    "-w".into(),
                    "/src".into(),
                ];
                full.push(image.clone());
                full.extend(args);
                Command::new(engine, full)
            }
        }
    }
}

/// Where one platform's scan inputs and outputs live.
pub struct ScanPaths {
    pub view: String,
    pub report: String,
    pub sarif: String,
}

pub fn scan_paths(platform: &str) -> ScanPaths {
    let name = platform_dir_name(platform);
    ScanPaths {
        view: format!("{PLATFORMS_DIR}/{name}"),
        report: format!("{SCAN_DIR}/{name}.json"),
        sarif: format!("{SCAN_DIR}/{name}.sarif"),
    }
}

#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub severities: Vec<String>,
    /// trivy's cache (its vulnerability DB), relative to the project directory.
    pub cache_dir: String,
    pub ignore_file: Option<String>,
}

/// The trivy scan of one platform view, and the SARIF conversion of its report.
pub fn scan_commands(trivy: &Trivy, settings: &ScanSettings, platform: &str) -> [Command; 2] {
    let paths = scan_paths(platform);
    let mut args: Vec<String> =
        ["image", "--input", &paths.view, "--scanners", "vuln,secret", "--severity"].map(String::from).to_vec();
    // Every severity is reported; the threshold decides what blocks.
    args.push(SEVERITIES.join(","));
    for arg in ["--format", "json", "--output", &paths.report, "--exit-code", "0", "--cache-dir", &settings.cache_dir] {
        args.push(arg.to_string());
    }
    args.push(format!("--ignorefile={}", settings.ignore_file.as_deref().unwrap_or("")));
    args.extend(["--skip-version-check", "--disable-telemetry", "--quiet"].map(String::from));
    let hint = "this is a scanner failure, not a finding: check that trivy can reach or find its vulnerability DB \
                (--cache-dir holds it) and that the image layout is intact; rerun `cargo xtask scan`";
    let scan = trivy.command(args).changes_state().hint(hint);
    let sarif_args = ["convert", "--format", "sarif", "--output", &paths.sarif, &paths.report].map(String::from);
    let sarif =
        trivy.command(sarif_args.to_vec()).changes_state().hint("trivy could not convert its own report to SARIF");
    [scan, sarif]
}

/// The outcome of scanning every platform: written to target/ for `push` and the summary.
#[derive(Debug, Clone)]
pub struct ScanRecord {
    pub image_digest: String,
    pub severities: Vec<String>,
    pub platforms: Vec<PlatformScan>,
}

#[derive(Debug, Clone)]
pub struct PlatformScan {
    pub platform: String,
    pub digest: String,
    pub config_digest: String,
    pub architecture: String,
    pub findings: Vec<Finding>,
}

impl ScanRecord {
    pub fn blocking(&self) -> Vec<(String, Finding)> {
        self.platforms
            .iter()
            .flat_map(|scan| {
                blocking(&scan.findings, &self.severities).into_iter().map(|f| (scan.platform.clone(), f.clone()))
            })
            .collect()
    }

    pub fn passed(&self) -> bool {
        self.blocking().is_empty()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "image_digest": self.image_digest,
            "severities": self.severities,
            "passed": self.passed(),
            "platforms": self.platforms.iter().map(|scan| json!({
                "platform": scan.platform,
                "digest": scan.digest,
                "config_digest": scan.config_digest,
                "architecture": scan.architecture,
                "findings": scan.findings.len(),
                "blocking": blocking(&scan.findings, &self.severities).len(),
                "report": scan_paths(&scan.platform).report,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What `push` needs from the last scan: that it passed, for exactly this image.
pub fn check_record_covers(record_json: &Value, image: &ImageLayout) -> Result<()> {
    let hint = "run `cargo xtask scan` (or `cargo xtask publish`) so that what is pushed is what was scanned";
    if record_json.get("image_digest").and_then(Value::as_str) != Some(image.digest.as_str()) {
        bail!(
            "the image in target/ ({}) was not scanned: the scan record is for another build\nhint: {hint}",
            image.digest
        );
    }
    if record_json.get("passed").and_then(Value::as_bool) != Some(true) {
        bail!(
            "the last scan of {} found issues at or above the threshold: refusing to push\nhint: fix them, then {hint}",
            image.digest
        );
    }
    let scanned: Vec<(&str, &str)> = record_json
        .get("platforms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get("platform")?.as_str()?, p.get("digest")?.as_str()?)))
        .collect();
    for platform in &image.platforms {
        if !scanned.contains(&(platform.platform.as_str(), platform.digest.as_str())) {
            bail!("{} ({}) has no scan on record\nhint: {hint}", platform.platform, platform.digest);
        }
    }
    Ok(())
}

/// Scans every platform of the built image; fails on findings at or above the threshold.
pub fn scan(
    runner: &Runner,
    trivy: &Trivy,
    settings: &ScanSettings,
    platforms: &[String],
) -> Result<Option<ScanRecord>> {
    if runner.dry_run {
        for platform in platforms {
            for cmd in scan_commands(trivy, settings, platform) {
                runner.run(STEP, &cmd)?;
            }
        }
        return Ok(None);
    }
    let image = layout::read_built(&runner.sh.current_dir(), STEP)?;
    image.check_platforms(platforms)?;
    fs::create_dir_all(runner.sh.current_dir().join(SCAN_DIR))?;
    let mut scans = Vec::new();
    for image in &image.platforms {
        scans.push(scan_platform(runner, trivy, settings, image)?);
    }
    let record =
        ScanRecord { image_digest: image.digest.clone(), severities: settings.severities.clone(), platforms: scans };
    let record_path = runner.sh.current_dir().join(SCAN_RECORD);
    fs::write(&record_path, serde_json::to_string_pretty(&record.to_json())?)
        .with_context(|| format!("cannot write {}", record_path.display()))?;
    report(&record);
    let blocking = record.blocking();
    if !blocking.is_empty() {
        bail!(
            "step `scan`: {} finding(s) at or above {} in the image: nothing is pushed\n{}\
             hint: update the base image (NGINX_IMAGE/HUGO_IMAGE in the Dockerfile) or remove the secret; \
             accept a risk only in .trivyignore, with a comment saying why",
            blocking.len(),
            record.severities.join(","),
            findings_table(&blocking)
        );
    }
    Ok(Some(record))
}

fn scan_platform(
    runner: &Runner,
    trivy: &Trivy,
    settings: &ScanSettings,
    image: &PlatformImage,
) -> Result<PlatformScan> {
    let root = runner.sh.current_dir();
    let paths = scan_paths(&image.platform);
    layout::write_platform_view(&root.join(crate::settings::LAYOUT_DIR), &root.join(&paths.view), image)?;
    let report_path = root.join(&paths.report);
    let _ = fs::remove_file(&report_path);
    let [scan, sarif] = scan_commands(trivy, settings, &image.platform);
    let outcome = runner.output(STEP, &scan)?;
    if !outcome.success {
        bail!(runner.failure(STEP, &scan, &format!("scanner failure on {}", image.platform), &outcome.stderr));
    }
    let json = fs::read_to_string(&report_path).map_err(|err| {
        anyhow::anyhow!(runner.failure(
            STEP,
            &scan,
            &format!("scanner failure on {}: no report ({err})", image.platform),
            &outcome.stderr
        ))
    })?;
    let report = parse_report(&json).with_context(|| format!("scanner failure on {}", image.platform))?;
    check_report_is_for(&report, image)?;
    runner.read(STEP, &sarif)?;
    Ok(PlatformScan {
        platform: image.platform.clone(),
        digest: image.digest.clone(),
        config_digest: image.config_digest.clone(),
        architecture: report.architecture,
        findings: report.findings,
    })
}

fn report(record: &ScanRecord) {
    for scan in &record.platforms {
        let blocking = blocking(&scan.findings, &record.severities).len();
        eprintln!(
            "[{STEP}] {} ({}): {} finding(s), {blocking} at or above {}",
            scan.platform,
            scan.digest,
            scan.findings.len(),
            record.severities.join(",")
        );
    }
    let all: Vec<(String, Finding)> =
        record.platforms.iter().flat_map(|s| s.findings.iter().map(|f| (s.platform.clone(), f.clone()))).collect();
    if !all.is_empty() {
        eprint!("{}", findings_table(&all));
    }
}

pub fn ignore_file(project_dir: &Path) -> Option<String> {
    project_dir.join(".trivyignore").is_file().then(|| ".trivyignore".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{
      "SchemaVersion": 2,
      "ArtifactName": "target/xtask/platforms/linux-arm64",
      "Metadata": {"ImageID": "sha256:cfg", "ImageConfig": {"os": "linux", "architecture": "arm64"}},
      "Results": [
        {"Target": "x (alpine 3.22)", "Vulnerabilities": [
          {"VulnerabilityID": "CVE-2099-0001", "PkgName": "busybox", "InstalledVersion": "1.37.0-r1",
           "FixedVersion": "1.37.0-r99", "Severity": "HIGH", "Title": "overflow"},
          {"VulnerabilityID": "CVE-2099-0002", "PkgName": "zlib", "InstalledVersion": "1.3",
           "Severity": "LOW", "Title": "minor"}]},
        {"Target": "/usr/share/nginx/html/keys.txt", "Class": "secret", "Secrets": [
          {"RuleID": "aws-access-key-id", "Severity": "CRITICAL", "Title": "AWS Access Key ID",
           "StartLine": 3, "Match": "AKIA****************", "Code": {"Lines": [{"Content": "AKIAIOSFODNN7EXAMPLE"}]}}]}
      ]
    }"#;

    fn image() -> PlatformImage {
        PlatformImage {
            platform: "linux/arm64".into(),
            digest: "sha256:man".into(),
            config_digest: "sha256:cfg".into(),
            descriptor: Value::Null,
        }
    }

    #[test]
    fn report_parsing_keeps_what_matters_and_drops_secret_values() {
        let report = parse_report(REPORT).unwrap();
        assert_eq!((report.image_id.as_str(), report.architecture.as_str()), ("sha256:cfg", "arm64"));
        assert_eq!(report.findings.len(), 3);
        assert_eq!(report.findings[0].fixed, "1.37.0-r99");
        let secret = &report.findings[2];
        assert_eq!((secret.kind, secret.id.as_str()), ("secret", "aws-access-key-id"));
        assert_eq!(secret.package, "/usr/share/nginx/html/keys.txt:3");
        assert!(!format!("{report:?}").contains("AKIAIOSFODNN7EXAMPLE"));
    }

    #[test]
    fn threshold_decides_what_blocks() {
        let report = parse_report(REPORT).unwrap();
        let ids = |sev: &[&str]| {
            let sev: Vec<String> = sev.iter().map(|s| s.to_string()).collect();
            blocking(&report.findings, &sev).iter().map(|f| f.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&["CRITICAL", "HIGH"]), ["CVE-2099-0001", "aws-access-key-id"]);
        assert_eq!(ids(&["CRITICAL"]), ["aws-access-key-id"]);
        assert_eq!(ids(&["LOW"]), ["CVE-2099-0002"]);
    }

    #[test]
    fn a_report_for_another_image_is_a_scanner_failure() {
        let report = parse_report(REPORT).unwrap();
        assert!(check_report_is_for(&report, &image()).is_ok());
        let mut amd = image();
        amd.platform = "linux/amd64".into();
        let err = check_report_is_for(&report, &amd).unwrap_err().to_string();
        assert!(err.contains("scanner failure on linux/amd64"), "{err}");
        let mut other = image();
        other.config_digest = "sha256:other".into();
        assert!(check_report_is_for(&report, &other).is_err());
    }

    #[test]
    fn broken_reports_are_errors_not_passes() {
        assert!(parse_report("").is_err());
        assert!(parse_report("{}").is_err());
    }

    #[test]
    fn scan_command_targets_the_platform_view_with_explicit_settings() {
        let settings = ScanSettings {
            severities: vec!["CRITICAL".into(), "HIGH".into()],
            cache_dir: "target/xtask/trivy-cache".into(),
            ignore_file: Some(".trivyignore".into()),
        };
        let [scan, sarif] = scan_commands(&Trivy::Binary, &settings, "linux/arm64");
        let line = scan.display();
        for part in [
            "trivy image --input target/xtask/platforms/linux-arm64 --scanners vuln,secret",
            "--output target/xtask/scan/linux-arm64.json",
            "--cache-dir target/xtask/trivy-cache",
            "--ignorefile=.trivyignore",
            "--skip-version-check --disable-telemetry",
        ] {
            assert!(line.contains(part), "{part} not in {line}");
        }
        assert!(sarif.display().contains("convert --format sarif --output target/xtask/scan/linux-arm64.sarif"));
        let container = Trivy::Container { engine: "docker", project_dir: "/p".into(), image: TRIVY_IMAGE.into() };
        let [scan, _] = scan_commands(&container, &settings, "linux/amd64");
        assert!(scan
            .display()
            .starts_with("docker run --rm -v /p:/src -w /src docker.io/aquasec/trivy:0.68.2 image --input"));
    }

    #[test]
    fn table_lists_each_finding_with_its_platform() {
        let report = parse_report(REPORT).unwrap();
        let rows: Vec<(String, Finding)> =
            report.findings.into_iter().map(|f| ("linux/arm64".to_string(), f)).collect();
        let table = findings_table(&rows);
        assert!(table.lines().nth(1).unwrap().starts_with("linux/arm64  HIGH"), "{table}");
        assert!(table.contains("CVE-2099-0001") && table.contains("1.37.0-r99"), "{table}");
    }

    #[test]
    fn push_needs_a_passing_scan_of_this_exact_image() {
        let layout = ImageLayout { digest: "sha256:idx".into(), platforms: vec![image()] };
        let record = |digest: &str, passed: bool, platform_digest: &str| {
            json!({"image_digest": digest, "passed": passed,
                   "platforms": [{"platform": "linux/arm64", "digest": platform_digest}]})
        };
        assert!(check_record_covers(&record("sha256:idx", true, "sha256:man"), &layout).is_ok());
        assert!(check_record_covers(&record("sha256:old", true, "sha256:man"), &layout).is_err());
        assert!(check_record_covers(&record("sha256:idx", false, "sha256:man"), &layout).is_err());
        assert!(check_record_covers(&record("sha256:idx", true, "sha256:zzz"), &layout).is_err());
    }
}
