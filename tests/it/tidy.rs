//! Tidy tests, after rust-analyzer's: the layering of ARCHITECTURE.md (Code map, and the
//! last Invariant: which modules do I/O), enforced by reading the sources under `src/`.
//!
//! Each rule is a row: the files it covers, the names those files must not mention, and
//! an allow-list whose every entry says why. A failure prints every offending
//! `file:line`, the rule and the code, so what to fix is plain.
//!
//! What is read (see [`scan`]): code only. Comments (line, block, doc) and the contents
//! of string and char literals are blanked, so prose or a message naming `Utc::now` does
//! not count. Test code may read the clock and do I/O, so it is left out too: a
//! `#[cfg(test)] mod … { … }` block, and the file or folder of a `#[cfg(test)] mod …;`
//! declaration (`src/verify/tests/`, `src/config/tests.rs`). A `use` statement is read
//! as the paths it imports, on its first line: `use crate::{queue, store::NewRun};`
//! reads as `use crate::queue; use crate::store::NewRun;`, and `super::`/`self::` are
//! also resolved against the file's module (`use super::embedded` in
//! `src/store/postgres/mod.rs` also reads as `use crate::store::embedded`).
//!
//! Names match on identifier boundaries: `deadpool` does not match `deadpool_postgres`
//! (listed apart), `crate::queue` matches `crate::queue::Queue` but not `crate::queues`.

use std::fmt;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------

/// The modules ARCHITECTURE.md calls pure: no I/O, no clock (time is an argument).
const PURE: &[&str] = &[
    "src/verify/",
    "src/delivery/",
    "src/storable.rs",
    "src/trace.rs",
    "src/runs/",
    "src/cidr.rs",
    "src/duration.rs",
    "src/run_events.rs",
    "src/crypto/",
    "src/auth/",
    "src/secrets.rs",
];

/// `delivery/client.rs` is the delivery's one I/O module by design (one shared reqwest
/// client and `attempt()`, which also reads the clock to time the attempt).
const PURE_EXCEPT: &[&str] = &["src/delivery/client.rs"];

const PURE_IO: Rule = Rule {
    name: "pure modules do no I/O",
    scope: PURE,
    except: PURE_EXCEPT,
    forbidden: &[
        // Files, sockets, processes.
        Needle::Path("std::fs"),
        Needle::Path("tokio::fs"),
        Needle::Path("tokio::net"),
        Needle::Path("TcpStream"),
        Needle::Path("TcpListener"),
        Needle::Path("UdpSocket"),
        Needle::Path("std::process"),
        Needle::Path("tokio::process"),
        // Crates that talk to the network or a database.
        Needle::Path("reqwest"),
        Needle::Path("hyper"),
        Needle::Path("axum"),
        Needle::Path("tokio_postgres"),
        Needle::Path("deadpool"),
        Needle::Path("deadpool_postgres"),
        Needle::Path("rusqlite"),
        Needle::Path("lapin"),
        // This crate's I/O modules (`ingress`, `bootstrap` and `cli` too: ingress drives
        // the store, bootstrap writes the data dir, the CLI makes HTTP calls).
        Needle::Path("crate::queue"),
        Needle::Path("crate::http"),
        Needle::Path("crate::dispatch"),
        Needle::Path("crate::relay"),
        Needle::Path("crate::server"),
        Needle::Path("crate::ingress"),
        Needle::Path("crate::bootstrap"),
        Needle::Path("crate::cli"),
        Needle::Path("super::client"),
        // The store's backends and its I/O traits (`Store`, `OrgStore`, …, whatever
        // their number). Its model types (`OrgSlug`, `NewRun`, `StoredSecret`, …) are
        // values and stay allowed.
        Needle::Path("PostgresStore"),
        Needle::Path("EmbeddedStore"),
        Needle::Path("store::postgres"),
        Needle::Path("store::embedded"),
        Needle::Path("migrate_postgres"),
        Needle::StoreTrait,
    ],
    allowed: &[
        Allowed {
            file: "src/delivery/outcome.rs",
            exempt: Exempt::Fragment("reqwest::Error"),
            why: "`classify_error` reads the error class from a reqwest error's source \
                  chain (ARCHITECTURE: part of delivery's pure core); naming the error \
                  type does no I/O",
        },
        Allowed {
            file: "src/delivery/ssrf.rs",
            exempt: Exempt::Fragment("reqwest::Url"),
            why: "`SsrfPolicy::check_url` reads the host of a URL; `reqwest::Url` is the \
                  `url` crate's value type, re-exported",
        },
        Allowed {
            file: "src/delivery/ssrf.rs",
            exempt: Exempt::Fragment("reqwest::dns"),
            why: "the import of reqwest's `Resolve` trait and its types, which \
                  `GuardedResolver` implements (the block exempted below)",
        },
        Allowed {
            file: "src/delivery/ssrf.rs",
            exempt: Exempt::Block("impl Resolve for GuardedResolver"),
            why: "the SSRF resolver: system DNS (`tokio::net::lookup_host`), then the \
                  policy. ARCHITECTURE's last Invariant names `delivery/client.rs` and \
                  its resolver as I/O. Only this impl block is exempt: the policy, the \
                  ranges and `check_url` in the same file stay checked",
        },
    ],
};

const PURE_CLOCK: Rule = Rule {
    name: "pure modules read no clock",
    scope: PURE,
    except: PURE_EXCEPT,
    forbidden: &[
        Needle::Path("Utc::now"),
        Needle::Path("SystemTime::now"),
        Needle::Path("Instant::now"),
        Needle::Path("chrono::Local"),
        // `id::new_id` reads the wall clock (an id is a ULID: time, then randomness).
        Needle::Path("new_id"),
    ],
    allowed: &[
        Allowed {
            file: "src/secrets.rs",
            exempt: Exempt::Fragment("new_id"),
            why: "`seal` mints the secret's id (`sec_…`, time-ordered, so it reads the \
                  clock in id.rs): ARCHITECTURE's \"except where an id … is minted\"",
        },
        Allowed {
            file: "src/run_events.rs",
            exempt: Exempt::Fragment("new_id"),
            why: "`IncomingRunEvent::validate` mints the event id (`evt_…`) when the \
                  sender gave none: ARCHITECTURE's \"except where an id … is minted\"",
        },
    ],
};

const HTTP_BACKENDS: Rule = Rule {
    name: "http/ never names a store backend (it holds an `Arc<dyn Store>`)",
    scope: &["src/http/"],
    except: &[],
    forbidden: &[
        Needle::Path("PostgresStore"),
        Needle::Path("EmbeddedStore"),
        Needle::Path("store::postgres"),
        Needle::Path("store::embedded"),
        Needle::Path("migrate_postgres"),
        Needle::Path("tokio_postgres"),
        Needle::Path("rusqlite"),
    ],
    allowed: &[],
};

const POSTGRES_NOT_EMBEDDED: Rule = Rule {
    name: "the PostgreSQL backend does not import the embedded one",
    scope: &["src/store/postgres/"],
    except: &[],
    forbidden: &[
        Needle::Path("super::embedded"),
        Needle::Path("crate::store::embedded"),
        Needle::Path("EmbeddedStore"),
    ],
    allowed: &[],
};

const EMBEDDED_NOT_POSTGRES: Rule = Rule {
    name: "the embedded backend does not import the PostgreSQL one",
    scope: &["src/store/embedded/"],
    except: &[],
    forbidden: &[
        Needle::Path("super::postgres"),
        Needle::Path("crate::store::postgres"),
        Needle::Path("PostgresStore"),
        Needle::Path("migrate_postgres"),
    ],
    allowed: &[],
};

const NO_CONFIG: Rule = Rule {
    name: "config depends on the modules it configures, never the reverse",
    scope: &["src/"],
    except: &["src/config/", "src/server.rs", "src/main.rs", "src/cli/"],
    forbidden: &[
        Needle::Path("crate::config"),
        Needle::Path("hookgate::config"),
    ],
    allowed: &[],
};

#[test]
fn pure_modules_do_no_io_and_read_no_clock() {
    assert_clean(&[PURE_IO, PURE_CLOCK]);
}

#[test]
fn http_never_names_a_store_backend() {
    assert_clean(&[HTTP_BACKENDS]);
}

#[test]
fn store_backends_do_not_import_each_other() {
    assert_clean(&[POSTGRES_NOT_EMBEDDED, EMBEDDED_NOT_POSTGRES]);
}

#[test]
fn domain_modules_do_not_import_config() {
    assert_clean(&[NO_CONFIG]);
}

/// The scanner's own check: what it must skip is skipped, the same name in code is not.
#[test]
fn tidy_scanner_skips_comments_literals_and_test_modules_only() {
    const SAMPLE: &str = r##"//! Reads no clock: `Utc::now` is the caller's.
use crate::{queue::Queue, store::NewRun};
/// Never `Utc::now()`.
fn stamp() -> i64 {
    /* Utc::now() in a block /* nested */ comment */
    let label = "Utc::now() // in a string, \" escaped";
    let raw = r#"Utc::now() "quoted""#;
    let quote = '"';
    let brace = '{';
    Utc::now().timestamp()
}
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::net::TcpStream;
    fn now() { let _ = Utc::now(); let _ = '}'; let _ = "}"; }
}
fn after_tests<'a>(x: &'a str) -> Instant { Instant::now() }
impl Resolve for Guard {
    fn resolve(&self) { tokio::net::lookup_host("x"); }
}
fn masked() -> reqwest::Url { tokio::net::lookup_host("y") }
#[cfg(test)]
mod more_tests;
"##;
    let rule = Rule {
        name: "sample",
        scope: &["src/sample.rs"],
        except: &[],
        forbidden: &[
            Needle::Path("Utc::now"),
            Needle::Path("Instant::now"),
            Needle::Path("crate::queue"),
            Needle::Path("TcpStream"),
            Needle::Path("tokio::net"),
            Needle::Path("reqwest"),
        ],
        allowed: &[
            Allowed {
                file: "src/sample.rs",
                exempt: Exempt::Block("impl Resolve for Guard"),
                why: "the sample's resolver",
            },
            Allowed {
                file: "src/sample.rs",
                exempt: Exempt::Fragment("reqwest::Url"),
                why: "the sample's URL type",
            },
        ],
    };
    let (lines, test_modules) = scan("src/sample.rs", SAMPLE);
    assert_eq!(test_modules, ["more_tests"]);
    let found: Vec<(usize, String)> = check(&rule, &lines)
        .into_iter()
        .map(|finding| (finding.line, finding.what))
        .collect();
    assert_eq!(
        found,
        [
            (2, "names `crate::queue`".to_owned()),
            (10, "names `Utc::now`".to_owned()),
            (18, "names `Instant::now`".to_owned()),
            // The fragment is masked, the rest of the line still read.
            (22, "names `tokio::net`".to_owned()),
        ],
        "{lines:#?}"
    );

    // A `use` is read as the paths it imports, `super::` resolved, across lines.
    let (lines, _) = scan(
        "src/store/postgres/orgs.rs",
        "use super::super::{\n    embedded::{self, Thing},\n    model::OrgSlug,\n};\n",
    );
    assert_eq!(
        lines[0].code.trim(),
        "use super::super::embedded; use crate::store::embedded; \
         use super::super::embedded::Thing; use crate::store::embedded::Thing; \
         use super::super::model::OrgSlug; use crate::store::model::OrgSlug;"
    );
    let found: Vec<usize> = check(&POSTGRES_NOT_EMBEDDED, &lines)
        .iter()
        .map(|finding| finding.line)
        .collect();
    assert_eq!(found, [1, 1], "super::embedded and crate::store::embedded");

    // Identifier boundaries, and a trait object or impl of any store trait.
    assert!(Needle::Path("deadpool").matches("use deadpool::managed::Pool;"));
    assert!(!Needle::Path("deadpool").matches("use deadpool_postgres::Pool;"));
    assert!(!Needle::Path("crate::queue").matches("use crate::queues::X;"));
    assert!(Needle::StoreTrait.matches("store: Arc<dyn Store>,"));
    assert!(Needle::StoreTrait.matches("fn f(s: &dyn crate::store::DeliveryStore) {}"));
    assert!(Needle::StoreTrait.matches("fn f(s: &impl RunStore) {}"));
    assert!(Needle::StoreTrait.matches("use crate::store::SecretStore;"));
    assert!(!Needle::StoreTrait.matches("fn f(e: StoreError) -> Box<dyn Error> {}"));
    assert!(!Needle::StoreTrait.matches("use crate::store::StoreError;"));
    assert!(!Needle::StoreTrait.matches("use crate::store::PostgresStore;"));
}

/// On the real sources: the code the rules read has balanced brackets in every file, so
/// no string, char literal or comment was misread (which would hide or invent code).
#[test]
fn tidy_scanner_reads_every_source_file_with_balanced_brackets() {
    let lines = code_lines("src");
    let mut unbalanced = Vec::new();
    let mut files: Vec<&str> = lines.iter().map(|line| line.file.as_str()).collect();
    files.dedup();
    for file in files {
        let mut depth = [0i64; 3];
        for line in lines.iter().filter(|line| line.file == file) {
            for c in line.code.chars() {
                match c {
                    '{' => depth[0] += 1,
                    '}' => depth[0] -= 1,
                    '(' => depth[1] += 1,
                    ')' => depth[1] -= 1,
                    '[' => depth[2] += 1,
                    ']' => depth[2] -= 1,
                    _ => {}
                }
            }
        }
        if depth != [0; 3] {
            unbalanced.push(format!("{file}: {{}} () [] off by {depth:?}"));
        }
    }
    assert!(unbalanced.is_empty(), "{}", unbalanced.join("\n"));
}

// ---------------------------------------------------------------------------------
// Rules, checked
// ---------------------------------------------------------------------------------

struct Rule {
    /// What the rule keeps; printed with each violation.
    name: &'static str,
    /// The files it covers: each entry is a file or a folder (ending in `/`)...
    scope: &'static [&'static str],
    /// ...less these.
    except: &'static [&'static str],
    forbidden: &'static [Needle],
    allowed: &'static [Allowed],
}

/// A known, reasoned exception to a rule. An entry that no longer matches anything is
/// itself reported, so the list cannot outlive what it excuses.
struct Allowed {
    file: &'static str,
    exempt: Exempt,
    why: &'static str,
}

enum Exempt {
    /// This text is masked on every line of the file before the rule reads it.
    Fragment(&'static str),
    /// The brace block whose first line contains this text (the header, up to its
    /// matching `}`) is not read.
    Block(&'static str),
}

#[derive(Clone, Copy)]
enum Needle {
    /// A name or path, matched on identifier boundaries.
    Path(&'static str),
    /// A store trait (`Store`, `OrgStore`, …; a name ending in `Store` other than a
    /// backend's): imported (`store::…Store`), as a trait object (`dyn …Store`) or a
    /// bound (`impl …Store`).
    StoreTrait,
}

impl Needle {
    fn matches(self, code: &str) -> bool {
        match self {
            Needle::Path(name) => occurs(code, name),
            Needle::StoreTrait => ["dyn", "impl", "store::"].iter().any(|lead| {
                positions(code, lead).any(|at| {
                    let path: String = code[at + lead.len()..]
                        .trim_start()
                        .chars()
                        .take_while(|&c| is_ident(c) || c == ':')
                        .collect();
                    path.rsplit("::").next().is_some_and(|name| {
                        name.ends_with("Store") && !BACKEND_TYPES.contains(&name)
                    })
                })
            }),
        }
    }
}

/// Named by needles of their own; not store traits.
const BACKEND_TYPES: &[&str] = &["PostgresStore", "EmbeddedStore"];

impl fmt::Display for Needle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Needle::Path(name) => write!(f, "`{name}`"),
            Needle::StoreTrait => {
                f.write_str("a store trait (`store::…Store`, `dyn …Store`, `impl …Store`)")
            }
        }
    }
}

struct Finding {
    file: String,
    /// 0 for a finding about the rule itself (stale allow-list entry, empty scope).
    line: usize,
    rule: &'static str,
    what: String,
    code: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: [{}] {}", self.file, self.rule, self.what)
        } else {
            write!(
                f,
                "{}:{}: [{}] {}: {}",
                self.file, self.line, self.rule, self.what, self.code
            )
        }
    }
}

fn assert_clean(rules: &[Rule]) {
    let lines = code_lines("src");
    let findings: Vec<String> = rules
        .iter()
        .flat_map(|rule| check(rule, &lines))
        .map(|finding| finding.to_string())
        .collect();
    assert!(
        findings.is_empty(),
        "{} layering violation(s) (see ARCHITECTURE.md, Code map and Invariants):\n  {}\n",
        findings.len(),
        findings.join("\n  ")
    );
}

fn check(rule: &Rule, lines: &[Line]) -> Vec<Finding> {
    let in_scope = |file: &str| {
        rule.scope.iter().any(|s| file.starts_with(s))
            && !rule.except.iter().any(|s| file.starts_with(s))
    };
    let mut findings = Vec::new();
    // A rule whose scope matches nothing (a file moved) would pass for nothing.
    for entry in rule.scope.iter().chain(rule.except) {
        if !lines.iter().any(|line| line.file.starts_with(entry)) {
            findings.push(Finding {
                file: (*entry).to_owned(),
                line: 0,
                rule: rule.name,
                what: "no file matches this scope entry any more; update the rule".into(),
                code: String::new(),
            });
        }
    }
    let mut used = vec![false; rule.allowed.len()];
    let blocks: Vec<Option<(&str, usize, usize)>> = rule
        .allowed
        .iter()
        .map(|allowed| match allowed.exempt {
            Exempt::Block(header) => block_span(lines, allowed.file, header)
                .map(|(first, last)| (allowed.file, first, last)),
            Exempt::Fragment(_) => None,
        })
        .collect();
    for line in lines.iter().filter(|line| in_scope(&line.file)) {
        let in_block = blocks.iter().enumerate().find_map(|(k, block)| {
            block
                .filter(|&(file, first, last)| {
                    file == line.file && (first..=last).contains(&line.number)
                })
                .map(|_| k)
        });
        if let Some(k) = in_block {
            used[k] = true;
            continue;
        }
        let mut code = line.code.clone();
        for (k, allowed) in rule.allowed.iter().enumerate() {
            if let Exempt::Fragment(fragment) = allowed.exempt {
                if allowed.file == line.file && code.contains(fragment) {
                    used[k] = true;
                    code = code.replace(fragment, &" ".repeat(fragment.len()));
                }
            }
        }
        for needle in rule.forbidden {
            if needle.matches(&code) {
                findings.push(Finding {
                    file: line.file.clone(),
                    line: line.number,
                    rule: rule.name,
                    what: format!("names {needle}"),
                    code: line.code.trim().to_owned(),
                });
            }
        }
    }
    for (allowed, used) in rule.allowed.iter().zip(used) {
        if !used {
            let what = match allowed.exempt {
                Exempt::Fragment(fragment) => format!("`{fragment}`"),
                Exempt::Block(header) => format!("the block `{header} {{ … }}`"),
            };
            findings.push(Finding {
                file: allowed.file.to_owned(),
                line: 0,
                rule: rule.name,
                what: format!(
                    "stale allow-list entry: {what} is no longer found; remove it \
                     (it excused: {})",
                    allowed.why
                ),
                code: String::new(),
            });
        }
    }
    findings
}

/// First and last line of the brace block opened on the first line of `file` that
/// contains `header`.
fn block_span(lines: &[Line], file: &str, header: &str) -> Option<(usize, usize)> {
    let mut lines = lines.iter().filter(|line| line.file == file);
    let first = lines.by_ref().find(|line| line.code.contains(header))?;
    let mut depth = 0usize;
    let mut opened = false;
    for line in std::iter::once(first).chain(lines) {
        for c in line.code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if opened && depth == 0 {
                return Some((first.number, line.number));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------

/// One line of code as the rules read it (see the module doc).
#[derive(Debug, Clone)]
struct Line {
    /// Relative to the package root, with `/`: `src/delivery/ssrf.rs`.
    file: String,
    /// 1-based.
    number: usize,
    code: String,
}

/// Every line of code of every `.rs` file under `dir` (relative to the package root),
/// in path order, test-only files and blocks left out.
fn code_lines(dir: &str) -> Vec<Line> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join(dir), &mut files);
    files.sort();
    let mut lines = Vec::new();
    let mut test_only: Vec<String> = Vec::new();
    for path in files {
        let file = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let source = std::fs::read_to_string(&path).unwrap();
        let (file_lines, test_modules) = scan(&file, &source);
        let module_dir = match file.rsplit_once('/') {
            Some((parent, "mod.rs" | "lib.rs" | "main.rs")) => parent.to_owned(),
            _ => file.trim_end_matches(".rs").to_owned(),
        };
        for name in test_modules {
            test_only.push(format!("{module_dir}/{name}.rs"));
            test_only.push(format!("{module_dir}/{name}/"));
        }
        lines.extend(file_lines);
    }
    lines.retain(|line| !test_only.iter().any(|t| line.file.starts_with(t)));
    lines
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The lines of code of one file, and the names of the test modules it declares in
/// files of their own (`#[cfg(test)] mod tests;`).
fn scan(file: &str, source: &str) -> (Vec<Line>, Vec<String>) {
    let mut chars = blank_comments_and_literals(source);
    let test_modules = blank_test_modules(&mut chars);
    let code: String = chars.into_iter().collect();
    let mut codes: Vec<String> = code.split('\n').map(str::to_owned).collect();
    flatten_uses(file, &mut codes);
    let lines = codes
        .into_iter()
        .enumerate()
        .map(|(i, code)| Line {
            file: file.to_owned(),
            number: i + 1,
            code,
        })
        .collect();
    (lines, test_modules)
}

/// Comments and the contents of string and char literals become spaces; line breaks
/// stay, so line numbers do.
fn blank_comments_and_literals(source: &str) -> Vec<char> {
    let s: Vec<char> = source.chars().collect();
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize| s.get(i).copied();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '/' && at(i + 1) == Some('/') {
            while i < s.len() && s[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.extend([' ', ' ']);
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.extend([' ', ' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(s[i]));
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < s.len() {
                    out.push(blank(s[i]));
                    i += 1;
                }
            }
            if i < s.len() {
                out.push('"');
                i += 1;
            }
        } else if let Some(hashes) = raw_string_hashes(&s, i) {
            // r#"…"#: up to the quote followed by as many hashes.
            let opening = 1 + hashes + 1;
            out.extend(s[i..i + opening].iter());
            i += opening;
            let closes = |j: usize| s[j] == '"' && (1..=hashes).all(|h| at(j + h) == Some('#'));
            while i < s.len() && !closes(i) {
                out.push(blank(s[i]));
                i += 1;
            }
            let end = (i + 1 + hashes).min(s.len());
            out.extend(s[i..end].iter());
            i = end;
        } else if c == '\'' && at(i + 1) == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            let mut j = i + 3;
            while j < s.len() && s[j] != '\'' {
                j += 1;
            }
            out.push('\'');
            out.extend(std::iter::repeat_n(' ', j.min(s.len()) - i - 1));
            if j < s.len() {
                out.push('\'');
            }
            i = j + 1;
        } else if c == '\'' && at(i + 2) == Some('\'') {
            out.extend(['\'', ' ', '\'']);
            i += 3;
        } else {
            // Anything else, a lifetime's quote included.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// How many `#` open the raw string (`r"`, `br#"`, …) starting at `i`, if one does.
fn raw_string_hashes(s: &[char], i: usize) -> Option<usize> {
    let starts_token = |j: usize| j == 0 || !is_ident(s[j - 1]);
    let prefixed = starts_token(i) || (i >= 1 && s[i - 1] == 'b' && starts_token(i - 1));
    if s[i] != 'r' || !prefixed {
        return None;
    }
    let hashes = s[i + 1..].iter().take_while(|&&c| c == '#').count();
    (s.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Blanks every `#[cfg(test)] mod name { … }` (other attributes and `pub` may sit
/// between), and `#[cfg(test)] mod name;`, whose name it returns.
fn blank_test_modules(s: &mut [char]) -> Vec<String> {
    const CFG_TEST: &str = "#[cfg(test)]";
    let mut declared = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if !starts_with_at(s, i, CFG_TEST) {
            i += 1;
            continue;
        }
        let mut j = skip_space(s, i + CFG_TEST.len());
        while starts_with_at(s, j, "#[") {
            j = skip_space(s, matching(s, j + 1) + 1);
        }
        if starts_with_at(s, j, "pub") {
            j = skip_space(s, j + 3);
            if s.get(j) == Some(&'(') {
                j = skip_space(s, matching(s, j) + 1);
            }
        }
        if !(starts_with_at(s, j, "mod") && s.get(j + 3).is_some_and(|c| c.is_whitespace())) {
            i += CFG_TEST.len();
            continue;
        }
        j = skip_space(s, j + 3);
        let name: String = s[j..].iter().take_while(|&&c| is_ident(c)).collect();
        j = skip_space(s, j + name.len());
        let end = match s.get(j) {
            Some('{') => matching(s, j),
            Some(';') => {
                declared.push(name);
                j
            }
            _ => {
                i += CFG_TEST.len();
                continue;
            }
        };
        for c in &mut s[i..=end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end + 1;
    }
    declared
}

/// The index of the bracket closing the one at `open` (or the last index).
fn matching(s: &[char], open: usize) -> usize {
    let (up, down) = match s[open] {
        '[' => ('[', ']'),
        '(' => ('(', ')'),
        _ => ('{', '}'),
    };
    let mut depth = 0usize;
    for (j, &c) in s.iter().enumerate().skip(open) {
        if c == up {
            depth += 1;
        } else if c == down {
            depth -= 1;
            if depth == 0 {
                return j;
            }
        }
    }
    s.len() - 1
}

fn skip_space(s: &[char], mut i: usize) -> usize {
    while s.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

fn starts_with_at(s: &[char], i: usize, pattern: &str) -> bool {
    pattern
        .chars()
        .enumerate()
        .all(|(k, p)| s.get(i + k) == Some(&p))
}

/// Rewrites each `use` statement onto its first line as the paths it imports (the
/// lines it continued on become empty): `use a::{b, c::d as e};` reads
/// `use a::b; use a::c::d;`, plus, for a path through `super::`/`self::`, the same
/// path from `crate::`.
fn flatten_uses(file: &str, codes: &mut [String]) {
    let module = module_path(file);
    let mut i = 0;
    while i < codes.len() {
        let Some(tree) = use_tree(&codes[i]) else {
            i += 1;
            continue;
        };
        let mut tree = tree.to_owned();
        let mut last = i;
        while !tree.contains(';') && last + 1 < codes.len() {
            last += 1;
            tree.push(' ');
            tree.push_str(&codes[last]);
        }
        let tree = tree.split(';').next().unwrap_or_default();
        let mut paths = Vec::new();
        expand_use("", tree, &mut paths);
        let mut flat = Vec::new();
        for path in paths {
            let absolute = absolute_path(&module, &path);
            flat.push(format!("use {path};"));
            if let Some(absolute) = absolute {
                flat.push(format!("use {absolute};"));
            }
        }
        let indent: String = codes[i].chars().take_while(|c| c.is_whitespace()).collect();
        codes[i] = format!("{indent}{}", flat.join(" "));
        for code in &mut codes[i + 1..=last] {
            code.clear();
        }
        i = last + 1;
    }
}

/// The tree of a `use` (or `pub use`, `pub(crate) use`) statement starting this line.
fn use_tree(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        let after = after.trim_start();
        rest = match after.strip_prefix('(') {
            Some(restricted) => restricted.split_once(')')?.1.trim_start(),
            None => after,
        };
    }
    rest.strip_prefix("use ")
}

fn expand_use(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let close = tree.rfind('}').unwrap_or(tree.len()).max(open + 1);
        let head = format!("{prefix}{}", tree[..open].trim());
        let mut depth = 0usize;
        let mut start = open + 1;
        for (k, c) in tree.char_indices().take(close).skip(open + 1) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_use(&head, &tree[start..k], out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand_use(&head, &tree[start..close], out);
    } else {
        let leaf = tree.split(" as ").next().unwrap_or_default().trim();
        if !leaf.is_empty() {
            let path = format!("{prefix}{leaf}");
            out.push(path.strip_suffix("::self").unwrap_or(&path).to_owned());
        }
    }
}

/// The module a file is: `src/store/postgres/mod.rs` → `["store", "postgres"]`,
/// `src/verify/mac.rs` → `["verify", "mac"]`, `src/lib.rs` → `[]`.
fn module_path(file: &str) -> Vec<String> {
    let inner = file.strip_prefix("src/").unwrap_or(file);
    let inner = inner.strip_suffix(".rs").unwrap_or(inner);
    let mut module: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if matches!(
        module.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        module.pop();
    }
    module
}

/// `path` from `crate::` when it starts with `super::` or `self::`.
fn absolute_path(module: &[String], path: &str) -> Option<String> {
    let mut module = module.to_vec();
    let mut rest = path;
    let mut relative = false;
    loop {
        if let Some(after) = rest.strip_prefix("super::") {
            module.pop()?;
            rest = after;
        } else if let Some(after) = rest.strip_prefix("self::") {
            rest = after;
        } else {
            break;
        }
        relative = true;
    }
    relative.then(|| {
        let mut segments = vec!["crate".to_owned()];
        segments.extend(module);
        segments.push(rest.to_owned());
        segments.join("::")
    })
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `name` occurs in `code` as a whole name: not inside a longer identifier.
fn positions<'a>(code: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(name)
        .map(|(at, _)| at)
        .filter(move |&at| {
            let before = code[..at].chars().next_back();
            let after = code[at + name.len()..].chars().next();
            let starts = name.chars().next().is_some_and(is_ident);
            let ends = name.chars().next_back().is_some_and(is_ident);
            let glued_before = starts && before.is_some_and(is_ident);
            let glued_after = ends && after.is_some_and(is_ident);
            !glued_before && !glued_after
        })
}

fn occurs(code: &str, name: &str) -> bool {
    positions(code, name).next().is_some()
}
