//! `accord validate` output: text for people, JSON for tools, and GitHub
//! workflow commands (`::error file=…,line=…,col=…::…`) that annotate the
//! definitions in a pull request.

use serde::Serialize;

use super::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Github,
}

/// The result of one `accord validate` run.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    /// No errors (warnings allowed).
    pub ok: bool,
    /// The definitions version, when the definitions loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub models: usize,
    pub metrics: usize,
    /// The warehouse checked against (password redacted), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl ValidateReport {
    pub fn new(
        version: Option<String>,
        models: usize,
        metrics: usize,
        warehouse: Option<String>,
        mut findings: Vec<Finding>,
    ) -> ValidateReport {
        super::sort_findings(&mut findings);
        let (errors, warnings): (Vec<Finding>, Vec<Finding>) = findings
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
        ValidateReport {
            ok: errors.is_empty(),
            version,
            models,
            metrics,
            warehouse,
            errors,
            warnings,
        }
    }

    /// The process exit code: 0 without errors, 1 with.
    pub fn exit_code(&self) -> u8 {
        if self.ok { 0 } else { 1 }
    }

    fn summary(&self) -> String {
        let checked = match &self.warehouse {
            Some(w) => format!(" against {w}"),
            None => String::new(),
        };
        let warnings = match self.warnings.len() {
            0 => String::new(),
            n => format!(", {n} warning(s)"),
        };
        match (&self.version, self.ok) {
            (Some(v), true) => format!(
                "ok: {} models, {} metrics (definitions version {v}){checked}{warnings}",
                self.models, self.metrics
            ),
            _ => format!("{} error(s){warnings}", self.errors.len()),
        }
    }

    /// Findings one per line (`error: file:line:col: field: message`),
    /// then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in self.errors.iter().chain(&self.warnings) {
            let label = match f.severity {
                Severity::Error => "error".to_string(),
                Severity::Warning => "warning".to_string(),
            };
            let rule = match f.check.as_str() {
                "definitions" | "warehouse" => String::new(),
                r => format!(" [{r}]"),
            };
            out.push_str(&format!("{label}: {}{rule}\n", f.text()));
        }
        out.push_str(&self.summary());
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// One workflow command per finding, then the summary as a notice.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for f in self.errors.iter().chain(&self.warnings) {
            out.push_str(&github_command(f));
            out.push('\n');
        }
        let level = if self.ok { "notice" } else { "error" };
        out.push_str(&format!(
            "::{level} title=accord validate::{}",
            escape_data(&self.summary())
        ));
        out
    }

    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Text => self.text(),
            ReportFormat::Json => self.json(),
            ReportFormat::Github => self.github(),
        }
    }
}

/// Escapes a workflow command's message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,col=C,title=accord (check)::field: message`
pub fn github_command(f: &Finding) -> String {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = Vec::new();
    if let Some(p) = &f.diagnostic.pos {
        props.push(format!("file={}", escape_property(&p.file)));
        if p.line > 0 {
            props.push(format!("line={}", p.line));
            props.push(format!("col={}", p.column));
        }
    }
    props.push(format!(
        "title={}",
        escape_property(&format!("accord {}", f.check))
    ));
    // The position is in the properties; the message carries the rest.
    let mut d = f.diagnostic.clone();
    d.pos = None;
    format!(
        "::{level} {}::{}",
        props.join(","),
        escape_data(&d.to_string())
    )
}
