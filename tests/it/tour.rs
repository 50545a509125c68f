//! README.md's tour as a reader runs it: the ```sh blocks of "A short tour" and
//! "Operator CLI", top to bottom in one `bash -euo pipefail`, in the directory of a
//! freshly started `hookgate serve` (embedded mode, with the operator token it
//! generates into `hookgate-data/`), with the built `hookgate` first on PATH. Only the
//! address differs: the README's `http://127.0.0.1:8080` becomes the test server's.
//! "Set up" (`cargo run`) and "Production mode" are not run.

use crate::support::process::{ServerProcess, BIN};
use std::path::Path;
use std::process::Command;

/// The sections whose ```sh blocks make the tour, in the README's order.
const TOUR: [&str; 2] = ["A short tour", "Operator CLI"];
/// The address the README's commands use.
const README_URL: &str = "http://127.0.0.1:8080";
/// Longest the whole tour may take.
const TIMEOUT_S: &str = "120";

/// The ```sh blocks under the `## ` headings named in `sections`, in document order.
fn sh_blocks(markdown: &str, sections: &[&str]) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut in_section = false;
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match &mut block {
            Some(text) if line.trim_end() == "```" => {
                blocks.push(std::mem::take(text));
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None if line.starts_with("## ") => in_section = sections.contains(&&line[3..]),
            None if in_section && line.trim_end() == "```sh" => block = Some(String::new()),
            None => {}
        }
    }
    assert!(block.is_none(), "a ```sh block is not closed");
    blocks
}

/// The status of each HTTP answer the tour printed, in order: curl's `-w` lines
/// (`HTTP 403`) and `curl -i` status lines (`HTTP/1.1 202 Accepted`).
fn statuses(output: &str) -> Vec<u16> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let first = words.next()?;
            (first == "HTTP" || first.starts_with("HTTP/")).then_some(())?;
            words.next()?.parse().ok()
        })
        .collect()
}

#[test]
fn readme_tour_runs_top_to_bottom() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = sh_blocks(&readme, &TOUR);
    assert!(blocks.len() >= 4, "tour blocks not found: {blocks:?}");
    let script = blocks.join("\n");
    assert!(
        script.contains(README_URL),
        "the tour no longer uses {README_URL}"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, bin.path().join("hookgate")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("timeout")
        .args([TIMEOUT_S, "bash", "-euxo", "pipefail", "-c"])
        .arg(script.replace(README_URL, &server.url))
        .current_dir(dir.path())
        .env("PATH", path)
        // Only what the tour itself sets: nothing from the test's environment.
        .env_remove("HG")
        .env_remove("OP")
        .env_remove("KEY")
        .env_remove("HOOKGATE_URL")
        .env_remove("HOOKGATE_TOKEN")
        .env_remove("HOOKGATE_CONFIG")
        .env_remove("HOOKGATE_SIGN_SECRET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the tour failed ({}).\nstdout:\n{stdout}\nstderr (bash -x trace):\n{stderr}",
        output.status
    );

    // The demonstrations the README describes, in its order: an API key minting keys
    // (403), the key on another org (404), the signed webhook with the new secret
    // (202), then with the expired old one (401).
    assert_eq!(statuses(&stdout), [403, 404, 202, 401], "{stdout}");
    assert!(stdout.contains(r#""code":"operator_required""#), "{stdout}");
    assert!(stdout.contains(r#""code":"not_found""#), "{stdout}");
    // `runs list` shows the run that webhook started; `audit` what the operator did.
    assert!(
        stdout
            .lines()
            .any(|line| line.contains(" wf_deploy ") && line.contains(" webhook ")),
        "{stdout}"
    );
    assert!(stdout.contains(" secret_expired "), "{stdout}");
    drop(server);
}

#[test]
fn tour_blocks_are_the_sh_blocks_of_the_named_sections_only() {
    let markdown = "\
# title
## Set up
```sh
cargo run
```
## A short tour
text
```sh
one
two
```
```json
{}
```
## Operator CLI
```sh
three
```
## Production mode
```sh
export X=1
```
";
    assert_eq!(
        sh_blocks(markdown, &TOUR),
        ["one\ntwo\n".to_owned(), "three\n".to_owned()]
    );
}

#[test]
fn statuses_are_read_from_write_out_and_status_lines() {
    let output = "{\"error\":{}}\nHTTP 403\nHTTP/1.1 202 Accepted\ncontent-type: x\n\
                  HTTP/2 401 \nsome HTTP 500 mention\n";
    assert_eq!(statuses(output), [403, 202, 401]);
}
