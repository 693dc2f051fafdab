//! `accord diff` over every catalog section: roles (members, masks, row
//! filters, limits, purposes), consent, funnels, retention, attribution,
//! identity and checks, each change classified breaking, widening_access or
//! non_breaking. The cases are data: tests/fixtures/diff/cases.yml edits
//! the demo definitions and names the expected changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use accord::definitions::{SourceFile, load_files, read_dir};
use accord::governance::diff::{Class, diff};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Deserialize)]
struct Replace {
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    case: String,
    replace: Vec<Replace>,
    expect: Vec<[String; 4]>,
    #[serde(default)]
    details: Vec<String>,
}

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn demo_files() -> Vec<SourceFile> {
    read_dir(&repo_path("metric_defs")).unwrap()
}

fn demo_catalog() -> std::sync::Arc<accord::catalog::Catalog> {
    load_files(&demo_files()).unwrap()
}

/// The demo definitions with each `from` (found exactly once) replaced.
fn edited(case: &str, replace: &[Replace]) -> Vec<SourceFile> {
    let mut files = demo_files();
    for r in replace {
        let hits: usize = files.iter().map(|f| f.text.matches(&r.from).count()).sum();
        assert_eq!(hits, 1, "{case}: `{}` must occur exactly once", r.from);
        for f in files.iter_mut() {
            f.text = f.text.replace(&r.from, &r.to);
        }
    }
    files
}

fn name(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_section_is_classified() {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/diff/cases.yml")).unwrap();
    let cases: Vec<Case> = serde_saphyr::from_str(&text).unwrap();
    assert!(cases.len() >= 20);
    let base = load_files(&demo_files()).unwrap();
    for c in &cases {
        let head = load_files(&edited(&c.case, &c.replace))
            .unwrap_or_else(|d| panic!("{}: the edited definitions do not validate:\n{d}", c.case));
        let changes = diff(&base, &head);
        let got: Vec<[String; 4]> = changes
            .iter()
            .map(|x| [name(&x.kind), name(&x.item), x.name.clone(), name(&x.class)])
            .collect();
        assert_eq!(got, c.expect, "{}: {changes:#?}", c.case);
        let lines: Vec<String> = changes
            .iter()
            .flat_map(|x| x.details.iter().map(|d| d.text()))
            .collect();
        for d in &c.details {
            assert!(
                lines.contains(d),
                "{}: no detail `{d}` in {lines:#?}",
                c.case
            );
        }
        // The flags agree with the class.
        for x in &changes {
            assert_eq!(
                x.widening_access,
                x.class == Class::WideningAccess,
                "{}",
                c.case
            );
        }
    }
}

#[test]
fn no_change_no_report() {
    let base = demo_catalog();
    assert!(diff(&base, &base).is_empty());
}

#[test]
fn removing_every_role_lifts_access_control() {
    let base = demo_catalog();
    let mut files = demo_files();
    for f in files.iter_mut().filter(|f| f.text.contains("\nroles:\n")) {
        let start = f.text.find("\nroles:\n").unwrap();
        let end = f.text.find("\nconsent:\n").unwrap();
        f.text.replace_range(start..end, "");
    }
    let head = load_files(&files).unwrap();
    let changes = diff(&base, &head);
    assert!(!changes.is_empty());
    for c in &changes {
        assert_eq!(name(&c.item), "role");
        assert_eq!(c.class, Class::WideningAccess, "{c:#?}");
        assert_eq!(
            c.details[0].text(),
            "access control: restricted by roles → unrestricted (no roles defined)"
        );
    }
}

#[test]
fn impact_names_what_a_policy_change_reaches() {
    let base = demo_catalog();
    let head = load_files(&edited(
        "widened",
        &[Replace {
            from: "filter: \"region = 'EU'\"".into(),
            to: "filter: \"region IN ('EU', 'NA')\"".into(),
        }],
    ))
    .unwrap();
    let changes = diff(&base, &head);
    let imp = &changes[0].impact;
    // Orders reach customers: revenue is filtered by the role's row filter.
    assert!(imp.metrics.iter().any(|m| m == "revenue@1"), "{imp:#?}");
    assert!(
        imp.definitions
            .iter()
            .any(|d| d == "funnel checkout_funnel"),
        "{imp:#?}"
    );
}

fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

fn write_defs(dir: &Path, files: &[SourceFile]) {
    let root = repo_path("metric_defs");
    for f in files {
        let rel = Path::new(&f.path)
            .strip_prefix(&root)
            .unwrap_or(Path::new(&f.path));
        let rel = rel.strip_prefix("metric_defs").unwrap_or(rel);
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.text).unwrap();
    }
}

/// Text, Markdown and JSON flag an access change for review, and
/// `--fail-on widening-access` fails on it while the default does not.
#[test]
fn access_review_in_every_format_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let head = tmp.path().join("head");
    write_defs(
        &head,
        &edited(
            "removed_mask",
            &[Replace {
                from: "    mask:\n      - dimension: customers.email\n        method: hash\n"
                    .into(),
                to: String::new(),
            }],
        ),
    );
    let base = repo_path("metric_defs");
    let (base, head) = (base.to_str().unwrap(), head.to_str().unwrap());
    let out = accord().args(["diff", base, head]).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "0 breaking change(s), 0 non-breaking, 1 widening access (needs an access review)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("NEEDS ACCESS REVIEW (widens access)\n  modified        role `analyst`\n                  + mask customers.email: hash → (none)\n"),
        "{stdout}"
    );
    assert!(stderr.contains("1 change(s) widen access"), "{stderr}");

    let out = accord()
        .args(["diff", base, head, "--fail-on", "widening-access"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let out = accord()
        .args(["diff", base, head, "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("**:lock: 1 change(s) widen access**"), "{md}");
    assert!(
        md.contains("### Access changes (need an access reviewer)\n\n| Change | Item | Details | Impact |\n|---|---|---|---|\n| modified | role `analyst` | mask customers.email: `hash` → _none_ **(widens access)** |"),
        "{md}"
    );

    let out = accord()
        .args(["diff", base, head, "--format", "json"])
        .output()
        .unwrap();
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["needs_access_review"], true);
    assert_eq!(v["widening_access"], 1);
    assert_eq!(v["breaking"], 0);
    assert_eq!(v["changes"][0]["class"], "widening_access");
    assert_eq!(v["changes"][0]["widening_access"], true);
    assert_eq!(v["changes"][0]["details"][0]["class"], "widening_access");
}
