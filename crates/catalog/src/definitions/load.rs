//! Reading definition files from disk and parsing them with positions.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::raw::RawFile;
use crate::diagnostics::{Diagnostic, Diagnostics, SourcePos};

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown in diagnostics (relative to the definitions directory's
    /// parent when read from disk).
    pub path: String,
    pub text: String,
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Every YAML file under `dir`, in path order so versions hash the same
/// everywhere.
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, Diagnostics> {
    let err = |msg: String| {
        Diagnostics(vec![Diagnostic::new(
            Some(SourcePos {
                file: Arc::from(dir.display().to_string()),
                line: 0,
                column: 0,
            }),
            "",
            msg,
        )])
    };
    let mut paths = Vec::new();
    collect(dir, &mut paths).map_err(|e| err(format!("cannot read definitions directory: {e}")))?;
    paths.sort();
    if paths.is_empty() {
        return Err(err(
            "no .yml or .yaml files found in the definitions directory".into(),
        ));
    }
    let mut files = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| err(format!("cannot read {}: {e}", p.display())))?;
        files.push(SourceFile {
            path: p.display().to_string(),
            text,
        });
    }
    Ok(files)
}

pub fn content_hash(files: &[SourceFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Parses each file; a file that is not valid YAML of the right shape yields
/// one diagnostic at the first problem, and the other files still load.
pub fn parse_files(files: &[SourceFile]) -> (Vec<(Arc<str>, RawFile)>, Diagnostics) {
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    for f in files {
        let file: Arc<str> = Arc::from(f.path.as_str());
        if f.text.trim().is_empty() {
            continue;
        }
        match serde_saphyr::from_str_with_options::<RawFile>(&f.text, crate::limits::yaml_options())
        {
            Ok(raw) => out.push((file, raw)),
            Err(e) => {
                let pos = e.location().map(|l| SourcePos {
                    file: file.clone(),
                    line: l.line() as u32,
                    column: l.column() as u32,
                });
                let pos = pos.or(Some(SourcePos {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                }));
                diags.push(describe_parse_error(pos, &e.to_string()));
            }
        }
    }
    (out, diags)
}

/// serde's messages name the bad field and the valid ones; add a
/// suggestion for the closest valid field so a typo is one glance to fix.
fn describe_parse_error(pos: Option<SourcePos>, message: &str) -> Diagnostic {
    // serde-saphyr prefixes its own location and may append a source
    // snippet; the diagnostic carries the position, so keep only the text.
    let first = message.lines().next().unwrap_or(message).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match (first.starts_with("line "), first.find(": ")) {
        (true, Some(i)) => &first[i + 2..],
        _ => first,
    };
    let mut d = Diagnostic::new(pos, "", first.to_string());
    if let Some(rest) = first.strip_prefix("unknown field `")
        && let (Some(end), Some(exp)) = (rest.find('`'), first.find("expected one of "))
    {
        let wanted = &rest[..end];
        let expected: Vec<&str> = first[exp + "expected one of ".len()..]
            .split(',')
            .map(|s| s.trim().trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        d = d.with_suggestions(crate::diagnostics::closest(wanted, expected));
    }
    d
}
