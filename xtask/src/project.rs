//! What this blog is called and how it is described: the one place to edit when adapting the
//! repository to another blog. Everything else is derived from git and the command line.

pub struct Project {
    /// Default image repository name: `<registry>/<username>/<name>`, or `ttl.sh/<name>-<random>`.
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub licenses: &'static str,
    pub url: &'static str,
}

pub const PROJECT: Project = Project {
    name: "blog",
    title: "Field Notes",
    description: "A Hugo blog that builds, scans and publishes its own container image",
    licenses: "MIT",
    url: "https://blog.example.org/",
};
