//! Pipeline settings shared by `build`, `scan`, `login`, `push` and `publish`, and their
//! validation: every input is checked before anything is built.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
};

use anyhow::{bail, Result};
use clap::Args;

pub const TTL_SH: &str = "ttl.sh";
pub const WORK_DIR: &str = "target/xtask";
pub const LAYOUT_DIR: &str = "target/xtask/image";
pub const METADATA_FILE: &str = "target/xtask/build-metadata.json";
pub const SCAN_DIR: &str = "target/xtask/scan";
pub const SCAN_RECORD: &str = "target/xtask/scan/record.json";
pub const SUMMARY_FILE: &str = "target/xtask/summary.json";
/// Per-platform views of the layout: one manifest each, sharing the layout's blobs.
pub const PLATFORMS_DIR: &str = "target/xtask/platforms";

#[derive(Args, Debug, Clone)]
pub struct ImageArgs {
    /// Registry host (and port). ttl.sh: anonymous, images expire after 24 h.
    #[arg(long, env = "REGISTRY", default_value = TTL_SH)]
    pub registry: String,
    /// Repository path in the registry [default: <username>/blog, or blog-<random> on ttl.sh].
    #[arg(long, env = "IMAGE_REPOSITORY")]
    pub repository: Option<String>,
    /// Registry user name.
    #[arg(long, env = "REGISTRY_USERNAME")]
    pub username: Option<String>,
}

impl ImageArgs {
    /// `registry/repository`, validated, with ttl.sh's random name when no repository is given.
    pub fn image(&self, default_name: &str) -> Result<String> {
        validate_registry(&self.registry)?;
        let repository = match (&self.repository, &self.username) {
            (Some(repository), _) => repository.clone(),
            (None, _) if self.is_ttl_sh() => format!("{default_name}-{}", random_suffix()),
            (None, Some(user)) => format!("{}/{default_name}", user.to_lowercase()),
            (None, None) => default_name.to_string(),
        };
        validate_repository(&repository)?;
        Ok(format!("{}/{repository}", self.registry))
    }

    pub fn is_ttl_sh(&self) -> bool {
        self.registry == TTL_SH
    }
}

fn random_suffix() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:08x}", hasher.finish() as u32)
}

/// `os/arch[/variant]` with the platforms BuildKit and trivy know.
pub fn validate_platform(platform: &str) -> Result<()> {
    const OS: &[&str] = &["linux", "windows", "freebsd"];
    const ARCH: &[&str] = &["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"];
    let parts: Vec<&str> = platform.split('/').collect();
    let valid = match parts[..] {
        [os, arch] => OS.contains(&os) && ARCH.contains(&arch),
        [os, arch, variant] => OS.contains(&os) && ARCH.contains(&arch) && ["v6", "v7", "v8"].contains(&variant),
        _ => false,
    };
    if !valid {
        bail!(
            "invalid platform `{platform}`: expected os/arch[/variant] such as linux/amd64 or linux/arm64 \
             (known architectures: {})",
            ARCH.join(", ")
        );
    }
    Ok(())
}

pub fn parse_platforms(list: &str) -> Result<Vec<String>> {
    let platforms: Vec<String> = list.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    if platforms.is_empty() {
        bail!("no platform given: use e.g. --platform linux/amd64,linux/arm64");
    }
    for platform in &platforms {
        validate_platform(platform)?;
    }
    Ok(platforms)
}

/// A registry host: `host[:port]`, no scheme, no path.
pub fn validate_registry(registry: &str) -> Result<()> {
    let (host, port) = registry.rsplit_once(':').map_or((registry, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !host_ok || !port_ok {
        bail!("invalid registry `{registry}`: expected a host with an optional port, e.g. ghcr.io or localhost:5000 (no https://, no path)");
    }
    Ok(())
}

/// The distribution spec's repository grammar: lowercase path components separated by `/`.
pub fn validate_repository(repository: &str) -> Result<()> {
    let component_ok = |component: &str| {
        let bytes = component.as_bytes();
        !component.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && component.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && !component.contains("..")
    };
    if repository.len() > 255 || !repository.split('/').all(component_ok) {
        bail!(
            "invalid image repository `{repository}`: use lowercase letters, digits and . _ - in \
             components separated by /, e.g. myname/blog"
        );
    }
    Ok(())
}

pub const SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

pub fn parse_severities(list: &str) -> Result<Vec<String>> {
    let severities: Vec<String> = list.split(',').map(|s| s.trim().to_uppercase()).filter(|s| !s.is_empty()).collect();
    if severities.is_empty() || severities.iter().any(|s| !SEVERITIES.contains(&s.as_str())) {
        bail!("invalid severity list `{list}`: use a comma-separated subset of {}", SEVERITIES.join(","));
    }
    Ok(severities)
}

/// A directory name for a platform: `linux/arm64/v8` -> `linux-arm64-v8`.
pub fn platform_dir_name(platform: &str) -> String {
    platform.replace('/', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert!(parse_platforms("linux/amd64,linux/arm64").is_ok());
        assert!(parse_platforms("linux/arm/v7").is_ok());
        for bad in ["linux/amd65", "foo", "linux", "linux/amd64/x", "", ","] {
            assert!(parse_platforms(bad).is_err(), "{bad}");
        }
        let err = parse_platforms("linux/amd64,linux/amd65").unwrap_err().to_string();
        assert!(err.contains("`linux/amd65`"), "{err}");
    }

    #[test]
    fn registries() {
        for good in ["ttl.sh", "ghcr.io", "localhost:5000", "127.0.0.1:5443", "registry-1.docker.io"] {
            assert!(validate_registry(good).is_ok(), "{good}");
        }
        for bad in ["https://ghcr.io", "ghcr.io/me", "", "host:99999", "host:", "-bad.io", "a b"] {
            assert!(validate_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories() {
        for good in ["blog", "me/blog", "me/my-blog_2", "a.b/c"] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
        for bad in ["Me/blog", "my blog", "blog/", "/blog", "-blog", "blog..x", ""] {
            assert!(validate_repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_names() {
        let args = |registry: &str, repository: Option<&str>, user: Option<&str>| ImageArgs {
            registry: registry.to_string(),
            repository: repository.map(str::to_string),
            username: user.map(str::to_string),
        };
        assert_eq!(args("ghcr.io", None, Some("Octo")).image("blog").unwrap(), "ghcr.io/octo/blog");
        assert_eq!(args("ghcr.io", Some("me/site"), Some("x")).image("blog").unwrap(), "ghcr.io/me/site");
        let ttl = args(TTL_SH, None, None).image("blog").unwrap();
        assert!(ttl.starts_with("ttl.sh/blog-") && ttl.len() == "ttl.sh/blog-".len() + 8, "{ttl}");
        assert_ne!(ttl, args(TTL_SH, None, None).image("blog").unwrap(), "random per run");
        assert!(args("ghcr.io", Some("Me/Blog"), None).image("blog").is_err());
    }

    #[test]
    fn severities() {
        assert_eq!(parse_severities("critical,HIGH").unwrap(), ["CRITICAL", "HIGH"]);
        assert!(parse_severities("HIGH,SEVERE").is_err());
        assert!(parse_severities("").is_err());
    }
}
