//! `cargo xtask serve`: a local preview of the site with `hugo server`.

use anyhow::{bail, Result};
use clap::Args;

use crate::runner::{Command, Runner};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port for the preview server.
    #[arg(long, default_value_t = 1313)]
    port: u16,
    /// Address to listen on; 0.0.0.0 makes the preview reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Include draft posts.
    #[arg(long)]
    drafts: bool,
}

impl ServeArgs {
    pub fn run(self, runner: &Runner) -> Result<()> {
        if !runner.sh.path_exists("site/hugo.toml") {
            bail!(
                "step `serve`: site/hugo.toml not found in {}\nhint: run from the blog repository",
                runner.sh.current_dir().display()
            );
        }
        let port = self.port.to_string();
        let drafts = self.drafts.then_some("--buildDrafts");
        let args = [
            "server",
            "--source",
            "site",
            "--bind",
            &self.bind,
            "--port",
            &port,
            "--baseURL",
            "/",
            "--appendPort=false",
        ];
        let cmd = Command::new("hugo", args.into_iter().chain(drafts))
            .changes_state()
            .hint("run `hugo --source site` to see the site's build errors on their own");
        runner.find_tool("serve", "hugo")?;
        println!("Preview at http://{}:{}/ (Ctrl-C to stop)", display_host(&self.bind), self.port);
        runner.run("serve", &cmd)
    }
}

fn display_host(bind: &str) -> &str {
    if bind == "0.0.0.0" || bind == "127.0.0.1" {
        "localhost"
    } else {
        bind
    }
}
