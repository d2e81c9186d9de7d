//! The smoke test: the built image, run for this machine's platform, must answer `/healthz`,
//! serve the site, serve the site's own 404 page, and send the security headers. The container
//! is removed afterwards, whatever happened.

use std::{
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{
    engine::{native_platform, Engine},
    layout::{self, ImageLayout},
    runner::{Command, Runner},
    scan::scan_paths,
    settings::LAYOUT_DIR,
};

const STEP: &str = "smoke";
pub const SECURITY_HEADERS: [&str; 4] =
    ["content-security-policy", "x-content-type-options", "referrer-policy", "permissions-policy"];
const MISSING_PAGE: &str = "/xtask-smoke-test/no-such-page/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub fn parse_response(raw: &str) -> Option<Response> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
        .collect();
    Some(Response { status, headers, body: body.to_string() })
}

fn get(port: u16, path: &str) -> std::io::Result<Response> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&String::from_utf8_lossy(&raw)).ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

/// What is wrong with a page, if anything.
pub fn page_problems(what: &str, response: &Response, status: u16, title: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if response.status != status {
        problems.push(format!("{what}: status {} (expected {status})", response.status));
    }
    if !response.body.contains(title) {
        problems.push(format!("{what}: the page does not contain the site title `{title}`"));
    }
    for header in SECURITY_HEADERS {
        if response.header(header).is_none() {
            problems.push(format!("{what}: header {header} missing"));
        }
    }
    if response.header("server").is_some_and(|server| server.contains('/')) {
        problems.push(format!("{what}: the Server header shows a version (server_tokens off?)"));
    }
    problems
}

/// The site's title, from `title = "..."` at the top of site/hugo.toml.
pub fn site_title(hugo_toml: &str) -> Option<String> {
    hugo_toml
        .lines()
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == "title")
        .map(|(_, value)| value.trim().trim_matches(['"', '\'']).to_string())
}

/// `127.0.0.1:49153` (or `0.0.0.0:49153`, `[::]:49153`) from `<engine> port`, as a port.
pub fn published_port(port_output: &str) -> Option<u16> {
    port_output.lines().find_map(|line| line.trim().rsplit_once(':')?.1.parse().ok())
}

fn wait_until_healthy(port: u16, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let last = match get(port, "/healthz") {
            Ok(response) if response.status == 200 => return Ok(()),
            Ok(response) => format!("status {}", response.status),
            Err(err) => err.to_string(),
        };
        if started.elapsed() > timeout {
            bail!("step `{STEP}`: /healthz did not answer 200 within {}s (last: {last})", timeout.as_secs());
        }
        thread::sleep(Duration::from_millis(250));
    }
}

fn check_site(port: u16, title: &str, timeout: Duration) -> Result<()> {
    wait_until_healthy(port, timeout)?;
    let home = get(port, "/").context("step `smoke`: GET / failed")?;
    let missing = get(port, MISSING_PAGE).context("step `smoke`: GET of a missing page failed")?;
    let mut problems = page_problems("GET /", &home, 200, title);
    problems.extend(page_problems(&format!("GET {MISSING_PAGE}"), &missing, 404, title));
    if !problems.is_empty() {
        bail!("step `smoke`: the image does not serve the site as it should:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// Runs the native platform's image and checks it; `None` for `built` means a dry run.
pub fn smoke(runner: &Runner, engine: Engine, built: Option<&ImageLayout>, timeout: Duration) -> Result<()> {
    let native = native_platform();
    if built.is_some_and(|image| !image.platforms.iter().any(|p| p.platform == native)) {
        eprintln!("[{STEP}] skipped: no {native} image was built, and only the native platform can run here");
        return Ok(());
    }
    let root = runner.sh.current_dir();
    let title_source = fs::read_to_string(root.join("site/hugo.toml")).unwrap_or_default();
    let title = site_title(&title_source).context("step `smoke`: no `title` in site/hugo.toml to look for")?;
    let view = scan_paths(&native).view;
    if let Some(image) = built.and_then(|image| image.platforms.iter().find(|p| p.platform == native)) {
        layout::write_platform_view(&root.join(LAYOUT_DIR), &root.join(&view), image)?;
    }
    let tool = engine.tool();
    let image = match engine {
        Engine::Podman => format!("oci:{view}"),
        Engine::Docker => {
            let copy =
                Command::new("skopeo", ["copy", &format!("oci:{view}"), "docker-daemon:blog-xtask-smoke:latest"])
                    .changes_state()
                    .hint("the smoke test loads the image into the Docker engine; is it running?");
            runner.read(STEP, &copy)?;
            "blog-xtask-smoke:latest".to_string()
        }
    };
    let run = Command::new(tool, ["run", "--detach", "--rm", "--publish", "127.0.0.1::8080", &image])
        .changes_state()
        .hint("the image could not start; run it by hand to see why");
    let started = runner.read(STEP, &run)?;
    let Some(id) = started.lines().map(str::trim).rfind(|l| !l.is_empty()).map(str::to_string) else {
        if runner.dry_run {
            runner.run(STEP, &Command::new(tool, ["port", "<container>", "8080/tcp"]).changes_state())?;
            return runner.run(STEP, &Command::new(tool, ["rm", "--force", "<container>"]).changes_state());
        }
        bail!("step `smoke`: `{tool} run` printed no container id");
    };
    let result = runner
        .read(STEP, &Command::new(tool, ["port", &id, "8080/tcp"]))
        .and_then(|out| {
            published_port(&out).with_context(|| format!("step `smoke`: no published port in `{}`", out.trim()))
        })
        .and_then(|port| check_site(port, &title, timeout));
    let removed = runner.output(STEP, &Command::new(tool, ["rm", "--force", &id]).changes_state());
    if !matches!(removed, Ok(ref outcome) if outcome.success) {
        eprintln!("[{STEP}] warning: could not remove container {id}: remove it with `{tool} rm --force {id}`");
    }
    result?;
    eprintln!("[{STEP}] {native}: /healthz, / and the 404 page answer as they should, with the security headers");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Security-Policy: default-src 'none'\r\n\
        X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nPermissions-Policy: camera=()\r\n\r\n\
        <title>Field Notes</title>";

    #[test]
    fn responses_are_parsed() {
        let response = parse_response(OK).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert!(response.body.contains("Field Notes"));
        assert_eq!(parse_response("garbage"), None);
    }

    #[test]
    fn page_checks_name_each_problem() {
        let good = parse_response(OK).unwrap();
        assert!(page_problems("GET /", &good, 200, "Field Notes").is_empty());
        let bad =
            parse_response("HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\n\r\n<h1>404 Not Found</h1>").unwrap();
        let problems = page_problems("GET /", &bad, 200, "Field Notes");
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("status 404 (expected 200)"));
        assert!(problems.iter().any(|p| p.contains("content-security-policy missing")));
        assert!(problems.iter().any(|p| p.contains("shows a version")));
    }

    #[test]
    fn title_comes_from_the_top_of_hugo_toml() {
        let toml = "baseURL = \"/\"\ntitle = \"Field Notes\"\n[params]\ntitle = \"other\"\n";
        assert_eq!(site_title(toml).as_deref(), Some("Field Notes"));
        assert_eq!(site_title("[params]\ntitle = 'x'\n"), None);
    }

    #[test]
    fn ports_from_engine_output() {
        assert_eq!(published_port("127.0.0.1:49153\n"), Some(49153));
        assert_eq!(published_port("0.0.0.0:80\n[::]:80\n"), Some(80));
        assert_eq!(published_port(""), None);
    }
}
