//! The OCI image layout the build writes under target/: which image index it holds, and each
//! platform's manifest in it. Read with serde_json; nothing here runs a tool.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::settings::LAYOUT_DIR;

pub const INDEX_MEDIA_TYPES: [&str; 2] =
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/// One platform's image in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformImage {
    pub platform: String,
    /// Digest of the platform's manifest: what is scanned, pushed and verified.
    pub digest: String,
    pub config_digest: String,
    pub descriptor: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayout {
    /// Digest of the top-level index (or of the single manifest for a one-platform build).
    pub digest: String,
    pub platforms: Vec<PlatformImage>,
}

pub fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    layout.join("blobs").join(algorithm).join(hex)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn str_field<'a>(value: &'a Value, pointer: &str, what: &str) -> Result<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).with_context(|| format!("{what}: `{pointer}` missing"))
}

/// `os/arch[/variant]` of a manifest descriptor, or `None` for attestations and unknowns.
pub fn descriptor_platform(descriptor: &Value) -> Option<String> {
    let platform = descriptor.get("platform")?;
    let os = platform.get("os")?.as_str()?;
    let arch = platform.get("architecture")?.as_str()?;
    let attestation = descriptor.pointer("/annotations/vnd.docker.reference.type").and_then(Value::as_str)
        == Some("attestation-manifest");
    if os == "unknown" || arch == "unknown" || attestation {
        return None;
    }
    Some(match platform.get("variant").and_then(Value::as_str) {
        Some(variant) => format!("{os}/{arch}/{variant}"),
        None => format!("{os}/{arch}"),
    })
}

pub fn read(layout: &Path) -> Result<ImageLayout> {
    let what = format!("OCI layout {}", layout.display());
    let index = read_json(&layout.join("index.json")).with_context(|| format!("{what} is missing or unreadable"))?;
    let top = match index.get("manifests").and_then(Value::as_array).map(Vec::as_slice) {
        Some([top]) => top,
        _ => bail!("{what}: index.json must list exactly one image (found another count)"),
    };
    let digest = str_field(top, "/digest", &what)?.to_string();
    let media_type = str_field(top, "/mediaType", &what)?;
    let descriptors = if INDEX_MEDIA_TYPES.contains(&media_type) {
        let image_index = read_json(&blob_path(layout, &digest))?;
        image_index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default()
    } else {
        vec![top.clone()]
    };
    let mut platforms = Vec::new();
    for descriptor in descriptors {
        let manifest_digest = str_field(&descriptor, "/digest", &what)?.to_string();
        let manifest = read_json(&blob_path(layout, &manifest_digest))?;
        let config_digest = str_field(&manifest, "/config/digest", &what)?.to_string();
        let platform = match descriptor_platform(&descriptor) {
            Some(platform) => platform,
            None if descriptor.get("platform").is_none() => platform_from_config(layout, &config_digest)?,
            None => continue,
        };
        platforms.push(PlatformImage { platform, digest: manifest_digest, config_digest, descriptor });
    }
    if platforms.is_empty() {
        bail!("{what} holds no platform image");
    }
    Ok(ImageLayout { digest, platforms })
}

/// The image the last build wrote, with errors that say what to run.
pub fn read_built(project_dir: &Path, step: &str) -> Result<ImageLayout> {
    let dir = project_dir.join(LAYOUT_DIR);
    if !dir.join("index.json").is_file() {
        bail!("step `{step}`: no built image in {LAYOUT_DIR}\nhint: run `cargo xtask build` first");
    }
    read(&dir).map_err(|err| {
        anyhow!("step `{step}`: the built image in {LAYOUT_DIR} is unreadable ({err:#})\nhint: rebuild it with `cargo xtask build`")
    })
}

/// A lone manifest's descriptor has no platform: read it from the image config.
fn platform_from_config(layout: &Path, config_digest: &str) -> Result<String> {
    let config = read_json(&blob_path(layout, config_digest))?;
    let os = str_field(&config, "/os", "image config")?;
    let arch = str_field(&config, "/architecture", "image config")?;
    Ok(match config.get("variant").and_then(Value::as_str) {
        Some(variant) => format!("{os}/{arch}/{variant}"),
        None => format!("{os}/{arch}"),
    })
}

impl ImageLayout {
    /// Every requested platform must be in the layout, and nothing else.
    pub fn check_platforms(&self, requested: &[String]) -> Result<()> {
        let mut built: Vec<&str> = self.platforms.iter().map(|p| p.platform.as_str()).collect();
        let mut wanted: Vec<&str> = requested.iter().map(String::as_str).collect();
        built.sort_unstable();
        wanted.sort_unstable();
        if built != wanted {
            bail!("the built image has platforms {built:?}, but {wanted:?} were requested: rebuild with `cargo xtask build`");
        }
        Ok(())
    }
}

/// The image index with its platform manifests in the order of `platforms`, serialized one
/// fixed way (serde_json sorts keys). podman lists platforms in the order their builds finish,
/// so the same build can give indexes that differ only in order, and so in digest.
pub fn canonical_index(index: &Value, platforms: &[String]) -> String {
    let mut index = index.clone();
    if let Some(manifests) = index.get_mut("manifests").and_then(Value::as_array_mut) {
        let rank = |descriptor: &Value| {
            let platform = descriptor_platform(descriptor).unwrap_or_default();
            platforms.iter().position(|p| *p == platform).unwrap_or(platforms.len())
        };
        manifests.sort_by_key(rank);
    }
    index.to_string()
}

/// The layout's top-level image index, read for rewriting: (digest, parsed index).
pub fn top_index(layout: &Path) -> Result<(String, Value)> {
    let image = read(layout)?;
    let index = read_json(&blob_path(layout, &image.digest))?;
    Ok((image.digest, index))
}

/// Replaces the layout's top-level index by `bytes`, whose digest is `digest`.
pub fn replace_index(layout: &Path, old_digest: &str, bytes: &str, digest: &str) -> Result<()> {
    fs::write(blob_path(layout, digest), bytes)?;
    if old_digest != digest {
        fs::remove_file(blob_path(layout, old_digest))?;
    }
    let descriptor = json!({"mediaType": INDEX_MEDIA_TYPES[0], "digest": digest, "size": bytes.len()});
    let index = json!({"schemaVersion": 2, "manifests": [descriptor]});
    fs::write(layout.join("index.json"), index.to_string()).context("cannot rewrite the layout's index.json")
}

/// A layout of its own for one platform (its manifest alone), sharing the full layout's blobs
/// through a symlink, so a scanner sees exactly that manifest and nothing else.
pub fn write_platform_view(layout: &Path, view: &Path, image: &PlatformImage) -> Result<()> {
    if view.exists() {
        fs::remove_dir_all(view).with_context(|| format!("cannot clear {}", view.display()))?;
    }
    fs::create_dir_all(view).with_context(|| format!("cannot create {}", view.display()))?;
    fs::write(view.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({ "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPES[0], "manifests": [image.descriptor] });
    fs::write(view.join("index.json"), index.to_string())?;
    let blobs = relative_path(view, &layout.join("blobs"));
    std::os::unix::fs::symlink(&blobs, view.join("blobs"))
        .with_context(|| format!("cannot link {} to {}", view.join("blobs").display(), blobs.display()))?;
    Ok(())
}

/// `to` relative to the directory `from` (both under the same project directory).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    to[common..].iter().for_each(|c| path.push(c));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestations_and_unknown_platforms_are_skipped() {
        let amd = json!({"platform": {"os": "linux", "architecture": "amd64"}});
        let arm = json!({"platform": {"os": "linux", "architecture": "arm", "variant": "v7"}});
        let attestation = json!({"platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"}});
        assert_eq!(descriptor_platform(&amd).as_deref(), Some("linux/amd64"));
        assert_eq!(descriptor_platform(&arm).as_deref(), Some("linux/arm/v7"));
        assert_eq!(descriptor_platform(&attestation), None);
    }

    #[test]
    fn canonical_index_orders_platforms_as_requested_whatever_the_build_order() {
        let amd = json!({"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}});
        let arm = json!({"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64"}});
        let platforms = ["linux/amd64".to_string(), "linux/arm64".to_string()];
        let one =
            json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPES[0], "manifests": [amd.clone(), arm.clone()]});
        let other = json!({"manifests": [arm, amd], "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPES[0]});
        assert_eq!(canonical_index(&one, &platforms), canonical_index(&other, &platforms));
        assert!(
            canonical_index(&other, &platforms).find("sha256:a") < canonical_index(&other, &platforms).find("sha256:b")
        );
    }

    #[test]
    fn relative_paths() {
        let rel =
            relative_path(Path::new("/p/target/xtask/platforms/linux-amd64"), Path::new("/p/target/xtask/image/blobs"));
        assert_eq!(rel, Path::new("../../image/blobs"));
    }

    #[test]
    fn platform_check_names_the_difference() {
        let image = |platform: &str| PlatformImage {
            platform: platform.to_string(),
            digest: String::new(),
            config_digest: String::new(),
            descriptor: Value::Null,
        };
        let layout =
            ImageLayout { digest: "sha256:x".into(), platforms: vec![image("linux/amd64"), image("linux/arm64")] };
        assert!(layout.check_platforms(&["linux/arm64".into(), "linux/amd64".into()]).is_ok());
        assert!(layout.check_platforms(&["linux/amd64".into()]).is_err());
    }
}
