//! Keeps the SQL shown in the documentation equal to what accord compiles.
//!
//! Every ` ```sql ` block of `README.md` and `docs/*.md` has a marker on the
//! line right above its fence, saying what it is:
//!
//! - `<!-- compiled: dialect=postgres defs=metric_defs query={…} -->`: the
//!   block is the statement the planner compiles, as the operator, for
//!   `query` (a semantic query as `POST /v1/query` takes it: JSON to the end
//!   of the comment, so `query=` comes last) against `defs`, rendered for
//!   `dialect` (default `duckdb`). `defs` is a directory of the repository
//!   (`metric_defs`, a test fixture), or `#anchor`: the one complete
//!   ` ```yaml ` example in the section of the same document whose heading
//!   has that anchor (the anchors the prose links to; a section runs to the
//!   next heading of its level or above).
//! - `select=<alias>` (with `compiled:`) makes the block a fragment: the one
//!   line of the compiled statement ending in `AS "<alias>"` (a trailing
//!   comma dropped), without its indentation. Fragments show one select
//!   item, such as a metric's expression, without the statement around it.
//! - `<!-- not compiled: <why> -->`: the block is not accord's output (the
//!   grammar the Postgres endpoint accepts, …) and is not checked.
//!
//! A ` ```sql ` block without a marker fails, so no new example can claim
//! to be accord's output without being checked.
//!
//! `ACCORD_UPDATE_DOCS=1 cargo test --test docs_sql` rewrites every compiled
//! block with what accord compiles now (review the diff: the prose around
//! it may need to follow). Without it, as in CI, a difference fails and
//! shows both.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::dialect::DialectKind;
use accord::query::SemanticQuery;

const MARKER: &str = "<!-- compiled:";
const NOT_COMPILED: &str = "<!-- not compiled:";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents whose SQL blocks are checked, relative to the repository.
fn documents() -> Vec<String> {
    let mut out = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|e| {
            e.expect("a docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// A fenced block: 0-based lines of its fences, its info string and text.
struct Block {
    open: usize,
    close: usize,
    info: String,
    text: String,
}

/// Every fenced block. A fence is a line starting with three backticks; a
/// block ends at the next line made only of backticks.
fn blocks(doc: &str, name: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Block {
                        open: i,
                        close: i,
                        info: info.trim().to_string(),
                        text: String::new(),
                    });
                }
            }
            Some(mut b) => {
                if trimmed.starts_with("```") && trimmed.chars().all(|c| c == '`') {
                    b.close = i;
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
        panic!("{name}:{}: fenced block is never closed", b.open + 1);
    }
    out
}

/// What a `compiled:` marker asks for.
#[derive(Debug)]
struct Spec {
    dialect: DialectKind,
    defs: String,
    select: Option<String>,
    query: SemanticQuery,
}

/// Reads `key=value` pairs up to `query=`, whose JSON runs to the `-->`.
fn parse_marker(line: &str) -> Result<Spec, String> {
    let body = line
        .trim()
        .strip_prefix(MARKER)
        .and_then(|b| b.strip_suffix("-->"))
        .ok_or("a marker is one line: <!-- compiled: … query={…} -->")?;
    let (head, json) = body
        .split_once("query=")
        .ok_or("the marker has no query={…} (it comes last)")?;
    let mut spec = Spec {
        dialect: DialectKind::Duckdb,
        defs: String::new(),
        select: None,
        query: serde_json::from_str(json.trim())
            .map_err(|e| format!("query= is not a semantic query: {e}"))?,
    };
    for pair in head.split_whitespace() {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not key=value"))?;
        match key {
            "dialect" => {
                spec.dialect = value.parse().map_err(|e| format!("dialect={value}: {e}"))?
            }
            "defs" => spec.defs = value.to_string(),
            "select" => spec.select = Some(value.to_string()),
            other => {
                return Err(format!(
                    "unknown key `{other}` (dialect, defs, select, query)"
                ));
            }
        }
    }
    if spec.defs.is_empty() {
        return Err("the marker has no defs= (a directory, or #anchor of a yaml example)".into());
    }
    Ok(spec)
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation
/// other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The one complete yaml example of the section `#anchor` of `doc`.
fn section_example(doc: &str, blocks: &[Block], wanted: &str) -> Result<String, String> {
    let lines: Vec<&str> = doc.lines().collect();
    let inside: Vec<bool> = {
        let mut in_block = vec![false; lines.len()];
        for b in blocks {
            in_block[b.open..=b.close]
                .iter_mut()
                .for_each(|x| *x = true);
        }
        in_block
    };
    let heading = |i: usize| -> Option<(usize, &str)> {
        let l = lines[i];
        let level = l.chars().take_while(|c| *c == '#').count();
        (!inside[i] && level > 0 && l[level..].starts_with(' ')).then(|| (level, &l[level..]))
    };
    let start = (0..lines.len())
        .find(|&i| heading(i).is_some_and(|(_, h)| anchor(h) == wanted))
        .ok_or_else(|| format!("no heading has the anchor #{wanted}"))?;
    let level = heading(start).map(|(l, _)| l).unwrap_or(1);
    let end = (start + 1..lines.len())
        .find(|&i| heading(i).is_some_and(|(l, _)| l <= level))
        .unwrap_or(lines.len());
    let yaml: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.info == "yaml" && b.open > start && b.close < end)
        .collect();
    match yaml.as_slice() {
        [one] => Ok(one.text.clone()),
        other => Err(format!(
            "section #{wanted} has {} complete ```yaml examples; defs=#anchor needs exactly one",
            other.len()
        )),
    }
}

fn load_defs(
    doc_name: &str,
    doc: &str,
    blocks: &[Block],
    defs: &str,
) -> Result<Arc<Catalog>, String> {
    match defs.strip_prefix('#') {
        Some(wanted) => {
            let text = section_example(doc, blocks, wanted)?;
            accord::definitions::load_str(&format!("{doc_name}{defs}"), &text)
                .map_err(|d| format!("the example of {defs} does not load:\n{d}"))
        }
        None => accord::definitions::load_dir(&repo().join(defs))
            .map_err(|d| format!("defs={defs} does not load:\n{d}")),
    }
}

/// The block's expected text: the statement, or one select item of it.
fn generate(spec: &Spec, catalog: &Catalog) -> Result<String, String> {
    let (_, sql) =
        accord::planner::compile(catalog, &spec.query, &Caller::operator(), spec.dialect)
            .map_err(|e| format!("the query does not compile: {}", e.display_full()))?;
    let Some(alias) = &spec.select else {
        return Ok(sql.trim_end().to_string());
    };
    let endings = [format!("AS \"{alias}\""), format!("AS `{alias}`")];
    let items: Vec<&str> = sql
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| endings.iter().any(|e| l.ends_with(e.as_str())))
        .collect();
    match items.as_slice() {
        [one] => Ok(one.to_string()),
        other => Err(format!(
            "select={alias}: {} lines of the compiled statement end in AS \"{alias}\":\n{sql}",
            other.len()
        )),
    }
}

/// One document: its failures, and its text with compiled blocks replaced.
fn check(name: &str) -> (String, Option<String>) {
    let path = repo().join(name);
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    let lines: Vec<&str> = doc.lines().collect();
    let all = blocks(&doc, name);
    let mut failures = String::new();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    for b in all.iter().filter(|b| b.info.eq_ignore_ascii_case("sql")) {
        let at = format!("{name}:{}", b.open + 1);
        let marker = b.open.checked_sub(1).map(|i| lines[i].trim()).unwrap_or("");
        if marker.starts_with(NOT_COMPILED) {
            continue;
        }
        if !marker.starts_with(MARKER) {
            let _ = writeln!(
                failures,
                "\n{at}: a ```sql block needs a marker on the line above: {MARKER} … --> or {NOT_COMPILED} … --> (see tests/docs_sql.rs)"
            );
            continue;
        }
        let generated = parse_marker(marker)
            .map_err(|e| format!("the marker: {e}"))
            .and_then(|spec| {
                let catalog = load_defs(name, &doc, &all, &spec.defs)?;
                generate(&spec, &catalog)
            });
        match generated {
            Err(e) => {
                let _ = writeln!(failures, "\n{at}: {e}");
            }
            Ok(sql) if sql == b.text.trim_end() => {}
            Ok(sql) => {
                let _ = writeln!(
                    failures,
                    "\n{at}: the block differs from what accord compiles \
                     (ACCORD_UPDATE_DOCS=1 cargo test --test docs_sql rewrites it).\n\
                     documented:\n{}\ncompiled:\n{sql}\n",
                    b.text.trim_end()
                );
                replacements.push((b.open + 1, b.close, sql));
            }
        }
    }
    let rewritten = (!replacements.is_empty()).then(|| replace_lines(&doc, replacements));
    (failures, rewritten)
}

/// `doc` with each 0-based line range `[start, end)` replaced by its text.
fn replace_lines(doc: &str, mut replacements: Vec<(usize, usize, String)>) -> String {
    let mut lines: Vec<&str> = doc.lines().collect();
    replacements.sort_by_key(|(start, ..)| std::cmp::Reverse(*start));
    for (start, end, text) in &replacements {
        lines.splice(*start..*end, text.lines());
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text).expect("write the updated document");
    std::fs::rename(&tmp, path).expect("replace the document");
}

#[test]
fn sql_in_the_docs_is_what_accord_compiles() {
    let update = std::env::var_os("ACCORD_UPDATE_DOCS").is_some_and(|v| v == "1");
    let mut failures = String::new();
    for name in documents() {
        let (failed, rewritten) = check(&name);
        match rewritten {
            Some(text) if update => write(&repo().join(&name), &text),
            _ => failures.push_str(&failed),
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn the_definitions_reference_shows_compiled_sql() {
    // The reference's examples are the reason this test exists; if they
    // lose their markers, the check above would pass vacuously.
    let doc = std::fs::read_to_string(repo().join("docs/definitions.md")).expect("the reference");
    let compiled = doc.lines().filter(|l| l.trim().starts_with(MARKER)).count();
    assert!(
        compiled >= 7,
        "docs/definitions.md has {compiled} compiled SQL blocks"
    );
}

#[test]
fn markers_and_fragments_follow_the_rules() {
    let spec = parse_marker(
        r#"<!-- compiled: dialect=postgres defs=metric_defs select=revenue query={"metrics": ["revenue"]} -->"#,
    )
    .expect("a marker");
    assert_eq!(spec.dialect, DialectKind::Postgres);
    assert_eq!(spec.select.as_deref(), Some("revenue"));
    assert!(parse_marker("<!-- compiled: defs=x -->").is_err());
    assert!(parse_marker(r#"<!-- compiled: query={"metrics": ["revenue"]} -->"#).is_err());
    assert!(parse_marker(r#"<!-- compiled: colour=red defs=x query={} -->"#).is_err());
    assert_eq!(
        anchor("Time: `metric_time` and `agg_time_dimension`"),
        "time-metric_time-and-agg_time_dimension"
    );
    assert_eq!(anchor("Metric inputs"), "metric-inputs");
    let catalog = accord::definitions::load_dir(&repo().join("metric_defs")).expect("demo");
    let item = generate(&spec, &catalog).expect("a fragment");
    assert!(item.ends_with("AS \"revenue\""), "{item}");
    assert!(!item.starts_with(' ') && !item.ends_with(','), "{item}");
}
