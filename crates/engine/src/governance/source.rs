//! Where definitions come from and where each part of them is written.
//!
//! - [`Definitions`]: a definitions directory on disk, or the same path at a
//!   git revision (`git ls-tree` / `git show`), read into [`SourceFile`]s.
//! - [`SourceIndex`]: the file, line and column of every model member and
//!   metric field, read back from the YAML with spans, so governance
//!   findings point where the definition is written (the catalog keeps
//!   positions only for models, entities and metrics).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_saphyr::Location;

use crate::definitions::raw::{RawFile, S};
use crate::definitions::{SourceFile, read_dir};
use crate::diagnostics::{Diagnostics, SourcePos};

/// Where one side of a comparison was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Directory(PathBuf),
    /// A git revision of `repo`, with the definitions under `path`.
    Git {
        repo: PathBuf,
        rev: String,
        commit: String,
        path: String,
    },
}

impl Origin {
    /// How reports name this side: the directory, or `REV (abc1234)`.
    pub fn label(&self) -> String {
        match self {
            Origin::Directory(p) => p.display().to_string(),
            Origin::Git { rev, commit, .. } => {
                let short: String = commit.chars().take(12).collect();
                if rev.starts_with(&short) {
                    short
                } else {
                    format!("{rev} ({short})")
                }
            }
        }
    }
}

/// Definition files read from a directory or a git revision.
#[derive(Debug, Clone)]
pub struct Definitions {
    pub origin: Origin,
    pub files: Vec<SourceFile>,
}

/// Why definitions could not be read: a usage mistake (exit code 2) or
/// unreadable files.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    Usage(String),
    Definitions(Diagnostics),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Usage(m) => f.write_str(m),
            ReadError::Definitions(d) => write!(f, "{d}"),
        }
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The commit a revision names in `repo`, if it names one (anything
/// `git rev-parse --verify REV^{commit}` accepts).
pub fn resolve_revision(repo: &Path, rev: &str) -> Option<String> {
    if rev.starts_with('-') {
        return None;
    }
    let spec = format!("{rev}^{{commit}}");
    git(repo, &["rev-parse", "--verify", "--quiet", &spec])
        .ok()
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .filter(|c| !c.is_empty())
}

fn is_definitions_file(path: &str) -> bool {
    let hidden = path.split('/').any(|part| part.starts_with('.'));
    !hidden && (path.ends_with(".yml") || path.ends_with(".yaml"))
}

impl Definitions {
    /// Reads every definitions file under a directory.
    pub fn from_dir(dir: &Path) -> Result<Definitions, ReadError> {
        let files = read_dir(dir).map_err(ReadError::Definitions)?;
        Ok(Definitions {
            origin: Origin::Directory(dir.to_path_buf()),
            files,
        })
    }

    /// Reads the definitions under `defs` (relative to `repo`, which may be
    /// a subdirectory of the repository) at revision `rev`.
    pub fn from_git(repo: &Path, rev: &str, defs: &Path) -> Result<Definitions, ReadError> {
        let commit = resolve_revision(repo, rev).ok_or_else(|| {
            ReadError::Usage(format!(
                "`{rev}` is not a git revision of {}",
                repo.display()
            ))
        })?;
        // Paths inside the tree are relative to the repository root; the
        // definitions path is relative to where we stand in it.
        let prefix = git(repo, &["rev-parse", "--show-prefix"]).map_err(ReadError::Usage)?;
        let prefix = String::from_utf8_lossy(&prefix).trim().to_string();
        let rel = defs.to_string_lossy().replace('\\', "/");
        let rel = rel.trim_start_matches("./").trim_end_matches('/');
        let full = format!("{prefix}{rel}");
        let listing = git(
            repo,
            &[
                "ls-tree",
                "-r",
                "--full-tree",
                "--name-only",
                "-z",
                &commit,
                "--",
                &full,
            ],
        )
        .map_err(ReadError::Usage)?;
        let mut paths: Vec<String> = listing
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| is_definitions_file(p.strip_prefix(&full).unwrap_or(p)))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(ReadError::Usage(format!(
                "no .yml or .yaml files under `{full}` at {rev}; pass the definitions path with --defs"
            )));
        }
        let mut files = Vec::new();
        for p in paths {
            let blob = git(repo, &["show", &format!("{commit}:{p}")]).map_err(ReadError::Usage)?;
            // Name files as on disk (relative to where the command runs), so
            // positions match the working tree.
            let shown = match p.strip_prefix(&prefix) {
                Some(rest) if !prefix.is_empty() => rest.to_string(),
                _ => p.clone(),
            };
            files.push(SourceFile {
                path: shown,
                text: String::from_utf8_lossy(&blob).into_owned(),
            });
        }
        Ok(Definitions {
            origin: Origin::Git {
                repo: repo.to_path_buf(),
                rev: rev.to_string(),
                commit,
                path: full,
            },
            files,
        })
    }

    /// A directory if `spec` is one, else a git revision of `repo`.
    pub fn open(spec: &str, repo: &Path, defs: &Path) -> Result<Definitions, ReadError> {
        let as_path = Path::new(spec);
        if as_path.is_dir() {
            return Definitions::from_dir(as_path);
        }
        if resolve_revision(repo, spec).is_some() {
            return Definitions::from_git(repo, spec, defs);
        }
        Err(ReadError::Usage(format!(
            "`{spec}` is neither a definitions directory nor a git revision of {}",
            repo.display()
        )))
    }
}

/// Positions of one model member (entity, dimension or measure).
#[derive(Debug, Clone)]
pub struct MemberSpans {
    /// The list item (`- name: ...`).
    pub item: SourcePos,
    pub name: SourcePos,
    /// The `expr` value, when one is written.
    pub expr: Option<SourcePos>,
}

#[derive(Debug, Clone)]
pub struct ModelSpans {
    pub item: SourcePos,
    pub name: SourcePos,
    pub source: SourcePos,
    pub table: Option<SourcePos>,
    pub sql: Option<SourcePos>,
    pub entities: BTreeMap<String, MemberSpans>,
    pub dimensions: BTreeMap<String, MemberSpans>,
    pub measures: BTreeMap<String, MemberSpans>,
}

#[derive(Debug, Clone)]
pub struct MetricSpans {
    pub item: SourcePos,
    pub name: SourcePos,
    /// Positions of the spanned fields that are written (`filter`,
    /// `measure`, `status`, `sunset_on`, ...).
    pub fields: BTreeMap<&'static str, SourcePos>,
}

/// Where each definition is written. The first definition of a name wins,
/// as in validation (duplicates are errors there).
#[derive(Debug, Clone, Default)]
pub struct SourceIndex {
    pub models: BTreeMap<String, ModelSpans>,
    pub metrics: BTreeMap<(String, u32), MetricSpans>,
}

/// A member of a model: what [`SourceIndex::member`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Entity,
    Dimension,
    Measure,
}

impl MemberKind {
    /// The YAML section (`entities`, `dimensions`, `measures`).
    pub fn section(self) -> &'static str {
        match self {
            MemberKind::Entity => "entities",
            MemberKind::Dimension => "dimensions",
            MemberKind::Measure => "measures",
        }
    }
}

impl SourceIndex {
    /// Parses each file again, with spans. Files that do not parse are
    /// skipped: loading them reports that already.
    pub fn build(files: &[SourceFile]) -> SourceIndex {
        let mut index = SourceIndex::default();
        for f in files {
            let Ok(raw) = serde_saphyr::from_str_with_options::<RawFile>(
                &f.text,
                crate::limits::yaml_options(),
            ) else {
                continue;
            };
            let file: Arc<str> = Arc::from(f.path.as_str());
            let pos = |loc: &Location| SourcePos {
                file: file.clone(),
                line: loc.line() as u32,
                column: loc.column() as u32,
            };
            let spanned = |s: &Option<S<String>>| s.as_ref().map(|s| pos(&s.referenced));
            for m in &raw.models {
                let rm = &m.value;
                let member =
                    |item: &Location, name: &Location, expr: Option<SourcePos>| MemberSpans {
                        item: pos(item),
                        name: pos(name),
                        expr,
                    };
                let spans = ModelSpans {
                    item: pos(&m.referenced),
                    name: pos(&rm.name.referenced),
                    source: pos(&rm.source.referenced),
                    table: spanned(&rm.source.value.table),
                    sql: spanned(&rm.source.value.sql),
                    entities: rm
                        .entities
                        .iter()
                        .map(|e| {
                            let expr = e.value.expr.as_ref().map(|x| pos(&x.referenced));
                            (
                                e.value.name.value.clone(),
                                member(&e.referenced, &e.value.name.referenced, expr),
                            )
                        })
                        .collect(),
                    dimensions: rm
                        .dimensions
                        .iter()
                        .map(|d| {
                            (
                                d.value.name.value.clone(),
                                member(
                                    &d.referenced,
                                    &d.value.name.referenced,
                                    spanned(&d.value.expr),
                                ),
                            )
                        })
                        .collect(),
                    measures: rm
                        .measures
                        .iter()
                        .map(|x| {
                            (
                                x.value.name.value.clone(),
                                member(
                                    &x.referenced,
                                    &x.value.name.referenced,
                                    spanned(&x.value.expr),
                                ),
                            )
                        })
                        .collect(),
                };
                index.models.entry(rm.name.value.clone()).or_insert(spans);
            }
            for m in &raw.metrics {
                let rm = &m.value;
                let version = rm.version.as_ref().map(|v| v.value).unwrap_or(1);
                let mut fields: BTreeMap<&'static str, SourcePos> = BTreeMap::new();
                let mut put = |k: &'static str, p: Option<SourcePos>| {
                    if let Some(p) = p {
                        fields.insert(k, p);
                    }
                };
                put("type", Some(pos(&rm.kind.referenced)));
                put("version", rm.version.as_ref().map(|v| pos(&v.referenced)));
                put("status", spanned(&rm.status));
                put("filter", spanned(&rm.filter));
                put("measure", spanned(&rm.measure));
                put(
                    "numerator",
                    rm.numerator.as_ref().map(|v| pos(&v.referenced)),
                );
                put(
                    "denominator",
                    rm.denominator.as_ref().map(|v| pos(&v.referenced)),
                );
                put("expr", spanned(&rm.expr));
                put("deprecated_on", spanned(&rm.deprecated_on));
                put("sunset_on", spanned(&rm.sunset_on));
                put("replaced_by", spanned(&rm.replaced_by));
                index
                    .metrics
                    .entry((rm.name.value.clone(), version))
                    .or_insert(MetricSpans {
                        item: pos(&m.referenced),
                        name: pos(&rm.name.referenced),
                        fields,
                    });
            }
        }
        index
    }

    /// Where a model member is written: its `expr` if `want_expr` and one is
    /// written, else its list item; the model's item if the member is not
    /// found.
    pub fn member(
        &self,
        model: &str,
        kind: MemberKind,
        name: &str,
        want_expr: bool,
    ) -> Option<SourcePos> {
        let m = self.models.get(model)?;
        let list = match kind {
            MemberKind::Entity => &m.entities,
            MemberKind::Dimension => &m.dimensions,
            MemberKind::Measure => &m.measures,
        };
        match list.get(name) {
            Some(s) if want_expr => Some(s.expr.clone().unwrap_or_else(|| s.item.clone())),
            Some(s) => Some(s.item.clone()),
            None => Some(m.item.clone()),
        }
    }

    /// Where a metric field is written, else the metric's item.
    pub fn metric_field(&self, name: &str, version: u32, field: &str) -> Option<SourcePos> {
        let m = self.metrics.get(&(name.to_string(), version))?;
        if field == "name" {
            return Some(m.name.clone());
        }
        Some(
            m.fields
                .get(field)
                .cloned()
                .unwrap_or_else(|| m.item.clone()),
        )
    }
}
