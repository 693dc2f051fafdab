//! Keeps `docs/definitions.md` in step with the loader.
//!
//! Every fenced block in the reference whose info string is
//!
//! - ` ```yaml ` is a complete definitions file and must load;
//! - ` ```yaml invalid ` is a complete file that must fail to load, and the
//!   next fenced block must be ` ```text ` holding the expected output: each
//!   of its lines must appear in the loader's output, and it must show every
//!   error the loader reports;
//! - ` ```yaml fragment ` is an excerpt and is not loaded;
//! - ` ```json ` is a semantic query, planned against the demo definitions
//!   in `metric_defs/`.
//!
//! Complete examples (valid and invalid) are numbered from 1 in document
//! order and loaded as `docs/definitions.md#example-N`, the file name the
//! expected output shows. After adding, removing or changing examples,
//! `ACCORD_UPDATE_DOCS=1 cargo test --test docs_examples` rewrites every
//! expected-output block with what the loader reports now; review the diff.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

const DOC: &str = "docs/definitions.md";

#[derive(Debug, PartialEq)]
enum Kind {
    Valid,
    Invalid {
        expected: String,
        /// 0-based lines holding the expected output (between its fences).
        expected_lines: Range<usize>,
    },
}

#[derive(Debug)]
struct Example {
    /// 1-based, over complete examples in document order.
    number: usize,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
    kind: Kind,
}

impl Example {
    fn name(&self) -> String {
        format!("{DOC}#example-{}", self.number)
    }
}

struct Block {
    /// 1-based line of the opening fence, which is also the 0-based line of
    /// the block's first content line.
    line: usize,
    /// 0-based line of the closing fence.
    end: usize,
    info: String,
    text: String,
}

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(DOC)
}

fn read_doc() -> String {
    let path = doc_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every fenced block with its info string. A fence is a line starting with
/// three backticks; a block ends at the next line made only of backticks.
fn blocks(doc: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Block {
                        line: i + 1,
                        end: i,
                        info: info.trim().to_string(),
                        text: String::new(),
                    });
                }
            }
            Some(mut b) => {
                if trimmed.starts_with("```") && trimmed.chars().all(|c| c == '`') {
                    b.end = i;
                    out.push(b);
                } else {
                    b.text.push_str(line);
                    b.text.push('\n');
                    open = Some(b);
                }
            }
        }
    }
    if let Some(b) = open {
        panic!("{DOC}:{}: fenced block is never closed", b.line);
    }
    out
}

fn examples(doc: &str) -> Vec<Example> {
    let blocks = blocks(doc);
    let mut out = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let b = &blocks[i];
        let kind = match b.info.as_str() {
            "yaml" => Some(Kind::Valid),
            "yaml invalid" => match blocks.get(i + 1) {
                Some(t) if t.info == "text" => {
                    i += 1;
                    Some(Kind::Invalid {
                        expected: t.text.clone(),
                        expected_lines: t.line..t.end,
                    })
                }
                _ => panic!(
                    "{DOC}:{}: a ```yaml invalid block must be followed by a ```text block with the expected errors",
                    b.line
                ),
            },
            "yaml fragment" => None,
            other => {
                let lower = other.to_ascii_lowercase();
                assert!(
                    !(lower.starts_with("yaml") || lower.starts_with("yml")),
                    "{DOC}:{}: unknown info string ```{other}; use ```yaml, ```yaml invalid or ```yaml fragment",
                    b.line
                );
                None
            }
        };
        if let Some(kind) = kind {
            out.push(Example {
                number: out.len() + 1,
                line: b.line,
                text: b.text.clone(),
                kind,
            });
        }
        i += 1;
    }
    out
}

#[test]
fn the_reference_has_enough_examples() {
    let all = examples(&read_doc());
    let valid = all.iter().filter(|e| e.kind == Kind::Valid).count();
    let invalid = all.len() - valid;
    assert!(
        valid >= 6,
        "expected at least 6 valid examples, found {valid}"
    );
    assert!(
        invalid >= 3,
        "expected at least 3 invalid examples, found {invalid}"
    );
}

#[test]
fn valid_examples_load() {
    let mut failures = String::new();
    for ex in examples(&read_doc()) {
        if ex.kind != Kind::Valid {
            continue;
        }
        if let Err(d) = accord::definitions::load_str(&ex.name(), &ex.text) {
            let _ = writeln!(
                failures,
                "\n{DOC}:{} (example {}) does not load:\n{d}\n",
                ex.line, ex.number
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn invalid_examples_fail_with_the_documented_errors() {
    let doc = read_doc();
    let update = std::env::var_os("ACCORD_UPDATE_DOCS").is_some_and(|v| v == "1");
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut failures = String::new();
    for ex in examples(&doc) {
        let Kind::Invalid {
            expected,
            expected_lines,
        } = &ex.kind
        else {
            continue;
        };
        let where_ = format!("{DOC}:{} (example {})", ex.line, ex.number);
        let actual = match accord::definitions::load_str(&ex.name(), &ex.text) {
            Ok(_) => {
                let _ = writeln!(failures, "\n{where_} loads, but is documented as invalid\n");
                continue;
            }
            Err(d) => d,
        };
        let output = actual.to_string();
        if update {
            replacements.push((expected_lines.clone(), output));
            continue;
        }
        let wanted: Vec<&str> = expected
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|l| !output.contains(l))
            .collect();
        let documented = wanted.iter().filter(|l| l.starts_with("error: ")).count();
        if wanted.is_empty() || !missing.is_empty() || documented != actual.len() {
            let _ = writeln!(
                failures,
                "\n{where_}: the documented errors differ from the loader's \
                 (documented {documented}, reported {}).\n\
                 missing lines:\n{}\n\
                 actual output (for the ```text block, or run with ACCORD_UPDATE_DOCS=1):\n{output}\n",
                actual.len(),
                missing.join("\n"),
            );
        }
    }
    if update {
        rewrite_expected(&doc, replacements);
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn query_examples_plan_against_the_demo_definitions() {
    let defs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs");
    let catalog = accord::definitions::load_dir(&defs)
        .unwrap_or_else(|d| panic!("the demo definitions do not load:\n{d}"));
    let doc = read_doc();
    let queries: Vec<Block> = blocks(&doc)
        .into_iter()
        .filter(|b| b.info == "json")
        .collect();
    assert!(!queries.is_empty(), "{DOC} has no ```json query example");
    for b in queries {
        let query: accord::query::SemanticQuery = serde_json::from_str(&b.text)
            .unwrap_or_else(|e| panic!("{DOC}:{}: not a semantic query: {e}", b.line));
        if let Err(e) = accord::planner::plan(&catalog, &query, &accord::access::Caller::operator())
        {
            panic!(
                "{DOC}:{}: the query does not plan: {}",
                b.line,
                e.display_full()
            );
        }
    }
}

/// Replaces the given line ranges of the reference and writes it back.
fn rewrite_expected(doc: &str, mut replacements: Vec<(Range<usize>, String)>) {
    let mut lines: Vec<&str> = doc.lines().collect();
    replacements.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    for (range, text) in &replacements {
        lines.splice(range.clone(), text.lines());
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let path = doc_path();
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, out).expect("write the updated reference");
    std::fs::rename(&tmp, &path).expect("replace the reference");
}
