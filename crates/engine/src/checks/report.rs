//! `accord check` output: text for people, JSON for programs, JUnit XML for
//! CI systems (one testcase per check; fail and error map to `<failure>`
//! and `<error>`, skipped to `<skipped>`).

use super::run::{CheckRun, Status};

pub fn text(run: &CheckRun, show_sql: bool) -> String {
    let mut out = format!(
        "checks as of {} (definitions {}): {} passed, {} failed, {} skipped, {} errors; {} queries in {:.0} ms\n",
        run.now,
        run.definitions_version,
        run.count(Status::Pass),
        run.count(Status::Fail),
        run.count(Status::Skipped),
        run.count(Status::Error),
        run.queries,
        run.duration_ms
    );
    for c in &run.checks {
        let target = c
            .model
            .as_ref()
            .map(|m| format!("model {m}"))
            .or_else(|| c.metric.as_ref().map(|m| format!("metric {m}")))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{:<7} {} ({}, {target}, {})\n",
            c.status.name().to_ascii_uppercase(),
            c.name,
            c.kind,
            c.severity
        ));
        let observed = c
            .observed
            .map(|o| format!("{o}"))
            .unwrap_or_else(|| "none".into());
        out.push_str(&format!("        observed {observed}"));
        if !c.threshold.is_empty() {
            out.push_str(&format!("; expected {}", c.threshold));
        }
        out.push('\n');
        out.push_str(&format!("        {}\n", c.message));
        if let Some(owner) = &c.owner {
            out.push_str(&format!("        owner {owner}\n"));
        }
        if show_sql && !c.sql.is_empty() {
            for line in c.sql.lines() {
                out.push_str(&format!("        | {line}\n"));
            }
        }
    }
    out
}

pub fn json(run: &CheckRun) -> String {
    serde_json::to_string_pretty(run).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn junit(run: &CheckRun) -> String {
    let failures = run.count(Status::Fail);
    let errors = run.count(Status::Error);
    let skipped = run.count(Status::Skipped);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"accord checks\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        run.checks.len(),
        run.duration_ms / 1e3
    ));
    out.push_str(&format!(
        "  <testsuite name=\"accord checks as of {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{}\">\n",
        xml_escape(&run.now),
        run.checks.len(),
        xml_escape(&run.started_at)
    ));
    for c in &run.checks {
        let class = c
            .model
            .as_ref()
            .map(|m| format!("model.{m}"))
            .or_else(|| c.metric.as_ref().map(|m| format!("metric.{m}")))
            .unwrap_or_default();
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n",
            xml_escape(&class),
            xml_escape(&c.name)
        ));
        let summary = format!(
            "{} ({} severity): observed {}; expected {}: {}",
            c.kind,
            c.severity,
            c.observed
                .map(|o| o.to_string())
                .unwrap_or_else(|| "none".into()),
            c.threshold,
            c.message
        );
        match c.status {
            Status::Pass => {}
            Status::Fail => out.push_str(&format!(
                "      <failure type=\"{}\" message=\"{}\"/>\n",
                xml_escape(c.kind),
                xml_escape(&summary)
            )),
            Status::Error => out.push_str(&format!(
                "      <error type=\"{}\" message=\"{}\"/>\n",
                xml_escape(c.kind),
                xml_escape(&summary)
            )),
            Status::Skipped => out.push_str(&format!(
                "      <skipped message=\"{}\"/>\n",
                xml_escape(&c.message)
            )),
        }
        out.push_str(&format!(
            "      <system-out>{}</system-out>\n",
            xml_escape(&c.sql)
        ));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
