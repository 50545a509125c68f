//! Records the commit being built, when the source is a git checkout, for
//! `hookgate --version` and `hookgate_build_info{commit}` (`unknown` otherwise).

use std::process::Command;

fn main() {
    // A new commit rewrites the branch's ref file, not HEAD: watch both.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(reference) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=.git/{reference}");
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    match &commit {
        Some(commit) => {
            println!("cargo:rustc-env=HOOKGATE_COMMIT={commit}");
            println!("cargo:rustc-env=HOOKGATE_VERSION={version} ({commit})");
        }
        None => println!("cargo:rustc-env=HOOKGATE_VERSION={version}"),
    }
}
