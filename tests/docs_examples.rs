//! Keeps `docs/definitions.md` in step with the loader.
//!
//! Every fenced block in the reference whose info string is
//!
//! - ` ```yaml ` is a complete definitions file and must load;
//! - ` ```yaml invalid ` is a complete file that must fail to load, and the
//!   next fenced block must be ` ```text ` holding the expected output: each
//!   of its lines must appear in the loader's output, and it must list every
//!   error the loader reports;
//! - ` ```yaml fragment ` is an excerpt and is not loaded.
//!
//! Complete examples (valid and invalid) are numbered from 1 in document
//! order and loaded as `docs/definitions.md#example-N`, which is the file
//! name the expected error output shows.

use std::fmt::Write as _;

const DOC: &str = "docs/definitions.md";

#[derive(Debug, PartialEq)]
enum Kind {
    Valid,
    Invalid { expected: String },
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
    line: usize,
    info: String,
    text: String,
}

fn read_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every fenced block, with its info string. Fences are lines starting with
/// three backticks; a block ends at the next line that is only backticks.
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
                        info: info.trim().to_string(),
                        text: String::new(),
                    });
                }
            }
            Some(mut b) => {
                if trimmed.starts_with("```") && trimmed.chars().all(|c| c == '`') {
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
            "yaml invalid" => {
                let next = blocks.get(i + 1);
                let expected = match next {
                    Some(t) if t.info == "text" => t.text.clone(),
                    _ => panic!(
                        "{DOC}:{}: a ```yaml invalid block must be followed by a ```text block with the expected errors",
                        b.line
                    ),
                };
                i += 1;
                Some(Kind::Invalid { expected })
            }
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
    assert!(valid >= 6, "expected at least 6 valid examples, found {valid}");
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
    let mut failures = String::new();
    for ex in examples(&read_doc()) {
        let Kind::Invalid { expected } = &ex.kind else {
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
                "\n{where_}: the documented errors differ from the loader's.\n\
                 documented {documented} error(s), the loader reports {}.\n\
                 missing lines:\n{}\n\
                 actual output (paste into the ```text block):\n{output}\n",
                actual.len(),
                missing.join("\n"),
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
