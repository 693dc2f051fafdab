//! `{name}` templates from the dialect files, checked when loaded so a
//! misspelt placeholder fails the build's tests rather than a query.

#[derive(Debug, Clone)]
enum Segment {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`, allowing only the placeholders in `vars`. `{{` and `}}`
    /// write literal braces.
    pub fn parse(text: &str, vars: &[&str]) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut buf = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    buf.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    buf.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => name.push(ch),
                            None => return Err(format!("unclosed `{{` in template `{text}`")),
                        }
                    }
                    if !vars.contains(&name.as_str()) {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}` in `{text}`; allowed: {}",
                            vars.join(", ")
                        ));
                    }
                    if !buf.is_empty() {
                        segments.push(Segment::Text(std::mem::take(&mut buf)));
                    }
                    segments.push(Segment::Var(name));
                }
                c => buf.push(c),
            }
        }
        if !buf.is_empty() {
            segments.push(Segment::Text(buf));
        }
        Ok(Template { segments })
    }

    /// Fills the placeholders in one pass, so a value that itself contains
    /// `{expr}` is never expanded again.
    pub fn render(&self, values: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Var(v) => {
                    if let Some((_, val)) = values.iter().find(|(k, _)| k == v) {
                        out.push_str(val);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once() {
        let t = Template::parse("f({expr}, {p})", &["expr", "p"]).unwrap();
        assert_eq!(t.render(&[("expr", "{p}"), ("p", "0.5")]), "f({p}, 0.5)");
        assert!(Template::parse("f({exp})", &["expr"]).is_err());
    }
}
