//! The end of a publish: what was shipped, as JSON, as text for people, and as Markdown for
//! the GitHub job summary. Pure formatting.

use std::time::Duration;

use serde_json::{json, Value};

use crate::scan::{blocking, ScanRecord};

pub struct Summary {
    pub image: String,
    pub tags: Vec<String>,
    pub digest: String,
    pub revision: String,
    pub version: String,
    pub scan: ScanRecord,
    pub timings: Vec<(String, Duration)>,
    pub expires: Option<&'static str>,
}

impl Summary {
    pub fn to_json(&self) -> Value {
        json!({
            "image": self.image,
            "tags": self.tags,
            "references": self.tags.iter().map(|t| format!("{}:{t}", self.image)).collect::<Vec<_>>(),
            "digest": self.digest,
            "pinned": format!("{}@{}", self.image, self.digest),
            "revision": self.revision,
            "version": self.version,
            "severity_threshold": self.scan.severities,
            "platforms": self.scan.platforms.iter().map(|p| json!({
                "platform": p.platform,
                "digest": p.digest,
                "findings": p.findings.len(),
                "blocking": blocking(&p.findings, &self.scan.severities).len(),
            })).collect::<Vec<_>>(),
            "timings_seconds": self.timings.iter().map(|(step, t)| json!({"step": step, "seconds": round(t)})).collect::<Vec<_>>(),
            "expires": self.expires,
        })
    }

    pub fn human(&self) -> String {
        let mut text = format!("published {}@{}\n", self.image, self.digest);
        text.push_str(&format!("  tags       {}\n", self.tags.join(", ")));
        text.push_str(&format!("  version    {} ({})\n", self.version, self.revision));
        for p in &self.scan.platforms {
            let findings = p.findings.len();
            text.push_str(&format!(
                "  {:<12} {}  {findings} finding(s) below {}\n",
                p.platform,
                p.digest,
                self.scan.severities.join(",")
            ));
        }
        let steps: Vec<String> =
            self.timings.iter().map(|(step, t)| format!("{step} {:.1}s", t.as_secs_f64())).collect();
        text.push_str(&format!("  timings    {}\n", steps.join(", ")));
        if let Some(expires) = self.expires {
            text.push_str(&format!("  note       {expires}\n"));
        }
        text
    }

    pub fn markdown(&self) -> String {
        let mut md = format!("### Published `{}`\n\n", self.image);
        md.push_str(&format!("Digest: `{}`  \nVersion: `{}` (`{}`)\n\n", self.digest, self.version, self.revision));
        md.push_str(&format!("Tags: {}\n\n", self.tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" ")));
        md.push_str("| platform | digest | findings |\n|---|---|---|\n");
        for p in &self.scan.platforms {
            md.push_str(&format!("| {} | `{}` | {} |\n", p.platform, p.digest, p.findings.len()));
        }
        md.push_str("\n| step | seconds |\n|---|---|\n");
        for (step, t) in &self.timings {
            md.push_str(&format!("| {step} | {:.1} |\n", t.as_secs_f64()));
        }
        if let Some(expires) = self.expires {
            md.push_str(&format!("\n{expires}\n"));
        }
        md
    }
}

fn round(duration: &Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Finding, PlatformScan};

    fn summary() -> Summary {
        let finding = Finding {
            kind: "vulnerability",
            id: "CVE-1".into(),
            package: "zlib".into(),
            installed: "1".into(),
            fixed: String::new(),
            severity: "LOW".into(),
            title: String::new(),
        };
        Summary {
            image: "ghcr.io/me/blog".into(),
            tags: vec!["1.2.3".into(), "latest".into()],
            digest: "sha256:idx".into(),
            revision: "abc".into(),
            version: "1.2.3".into(),
            scan: ScanRecord {
                image_digest: "sha256:idx".into(),
                severities: vec!["CRITICAL".into(), "HIGH".into()],
                platforms: vec![PlatformScan {
                    platform: "linux/amd64".into(),
                    digest: "sha256:a".into(),
                    config_digest: "sha256:c".into(),
                    architecture: "amd64".into(),
                    findings: vec![finding],
                }],
            },
            timings: vec![("build".into(), Duration::from_millis(1500))],
            expires: None,
        }
    }

    #[test]
    fn json_has_references_digests_and_timings() {
        let json = summary().to_json();
        assert_eq!(json["references"][1], "ghcr.io/me/blog:latest");
        assert_eq!(json["pinned"], "ghcr.io/me/blog@sha256:idx");
        assert_eq!(json["platforms"][0]["findings"], 1);
        assert_eq!(json["platforms"][0]["blocking"], 0);
        assert_eq!(json["timings_seconds"][0]["seconds"], 1.5);
    }

    #[test]
    fn human_and_markdown_name_the_image_and_platforms() {
        let s = summary();
        assert!(s.human().contains("published ghcr.io/me/blog@sha256:idx"));
        assert!(s.human().contains("build 1.5s"));
        assert!(s.markdown().contains("| linux/amd64 | `sha256:a` | 1 |"));
    }
}
