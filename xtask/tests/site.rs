//! The blog itself: it builds with the real Hugo, and the Dockerfile and nginx configuration
//! keep the promises the README makes.

mod common;

use std::{fs, process::Command};

use common::{repo_root, require_tool, TempDir};

/// The Hugo binaries to build with: the one on PATH (Debian's 0.111 in CI) and a current
/// release from `$HUGO_CURRENT` (required in CI, where .ci/run installs one).
fn hugo_binaries() -> Vec<String> {
    let mut binaries = Vec::new();
    if require_tool("hugo") {
        binaries.push("hugo".to_string());
    }
    match std::env::var("HUGO_CURRENT") {
        Ok(current) => binaries.push(current),
        Err(_) if std::env::var_os("CI").is_some() => panic!("HUGO_CURRENT (a current Hugo binary) is required in CI"),
        Err(_) => common::skipped("HUGO_CURRENT not set: the site is not built with a current Hugo release"),
    }
    binaries
}

#[test]
fn site_builds_with_hugo_without_warnings() {
    for hugo in hugo_binaries() {
        let out = TempDir::new("public");
        let output = Command::new(&hugo)
            .args(["--minify", "--source"])
            .arg(repo_root().join("site"))
            .arg("--destination")
            .arg(out.path())
            .env("HUGO_CACHEDIR", out.path().join(".cache"))
            .output()
            .unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{hugo} failed:\n{log}");
        assert!(!log.contains("WARN") && !log.contains("ERROR"), "{hugo} printed warnings:\n{log}");
        for file in ["index.html", "404.html", "index.xml", "sitemap.xml", "about/index.html"] {
            assert!(out.path().join(file).is_file(), "{hugo}: {file} missing from the built site");
        }
        let home = fs::read_to_string(out.path().join("index.html")).unwrap();
        assert!(home.contains("Field Notes") && home.contains("How this blog ships itself"), "{home}");
        for attribute in ["src=", "rel=stylesheet href="] {
            for (at, _) in home.match_indices(attribute) {
                let value = home[at + attribute.len()..].trim_start_matches('"');
                assert!(value.starts_with('/'), "remote or odd asset at {}", &home[at..at + 60]);
            }
        }
        assert!(home.contains("rel=stylesheet href=/css/"), "the theme's stylesheet is local");
        assert!(!home.contains("style=") && !home.contains("<script"), "CSP forbids inline styles and scripts");
        let posts =
            fs::read_dir(out.path().join("posts")).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
        assert!(posts >= 3, "at least three posts, found {posts}");
    }
}

/// The stages of the Dockerfile, each as its list of instructions (keyword, rest).
fn dockerfile_stages() -> Vec<Vec<(String, String)>> {
    let text = fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let mut stages: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.replace("\\\n", " ").lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
        if keyword.eq_ignore_ascii_case("FROM") {
            stages.push(Vec::new());
        }
        stages.last_mut().unwrap().push((keyword.to_uppercase(), rest.trim().to_string()));
    }
    stages
}

#[test]
fn dockerfile_hugo_runs_natively_and_final_stage_is_unprivileged_without_run() {
    let stages = dockerfile_stages();
    let build_args: Vec<&str> = stages[0].iter().map(|(_, rest)| rest.split('=').next().unwrap()).collect();
    assert!(build_args.contains(&"HUGO_IMAGE") && build_args.contains(&"NGINX_IMAGE"), "{build_args:?}");
    let hugo = &stages[1];
    assert!(hugo[0].1.starts_with("--platform=$BUILDPLATFORM "), "{:?}", hugo[0]);
    for arg in ["BASE_URL", "VERSION", "GIT_SHA", "SOURCE_DATE_EPOCH"] {
        assert!(hugo.iter().any(|(k, rest)| k == "ARG" && rest.starts_with(arg)), "build arg {arg} missing");
    }
    let last = stages.last().unwrap();
    assert!(last[0].1.starts_with("--platform=$TARGETPLATFORM "), "{:?}", last[0]);
    assert!(last.iter().all(|(k, _)| k != "RUN"), "the final stage must have no RUN");
    assert!(last.iter().filter(|(k, _)| k == "COPY").all(|(_, rest)| rest.starts_with("--link")));
    let user = last.iter().rev().find(|(k, _)| k == "USER").map(|(_, u)| u.as_str());
    assert!(matches!(user, Some(u) if u != "root" && u != "0"), "final USER must be non-root: {user:?}");
    assert!(last.iter().any(|(k, rest)| k == "EXPOSE" && rest == "8080"));
}

#[test]
fn nginx_applies_security_headers_in_every_location() {
    let conf = fs::read_to_string(repo_root().join("site/nginx/default.conf")).unwrap();
    let headers = fs::read_to_string(repo_root().join("site/nginx/security-headers.conf")).unwrap();
    for header in ["Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy"] {
        assert!(headers.contains(header), "{header} missing");
    }
    let locations: Vec<&str> = conf.split("location ").skip(1).collect();
    assert!(locations.len() >= 4, "{conf}");
    for location in locations {
        let block = &location[..location.find("\n    }").unwrap()];
        assert!(block.contains("include /etc/nginx/snippets/security-headers.conf;"), "missing headers in: {block}");
    }
    for directive in
        ["listen 8080;", "server_tokens off;", "gzip on;", "error_page 404 /404.html;", "location = /healthz"]
    {
        assert!(conf.contains(directive), "{directive} missing");
    }
}
