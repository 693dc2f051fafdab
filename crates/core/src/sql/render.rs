//! Renders the AST as text for one dialect. Output is laid out for people:
//! one select item per line, joins and clauses on their own lines, nested
//! queries indented, so a steward can review what accord will run.

use std::fmt::Write as _;

use thiserror::Error;

use super::ast::*;
use crate::dialect::{Dialect, LimitStyle};
use crate::masking::MaskKey;
use crate::vocab::Aggregation;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RenderError {
    #[error("{what} is not supported by the {dialect} dialect")]
    Unsupported { what: String, dialect: String },
    #[error("{0}")]
    InvalidLiteral(String),
    #[error("internal: unresolved name `{0}` reached the renderer")]
    Unresolved(String),
    #[error(
        "hashed values cannot be computed: this deployment has no mask key \
         (its operator sets `masking.hmac_key` in accord.yaml or ACCORD_MASK_KEY)"
    )]
    NoMaskKey,
}

/// What `hash` masks are keyed with in the text being rendered.
#[derive(Debug, Clone, Copy)]
enum MaskKeyUse<'k> {
    /// SQL shown to people (`/v1/compile`, `accord compile`): the key would
    /// let its reader test guesses, so placeholders stand in for it.
    Withheld,
    /// SQL sent to the warehouse; `None` refuses `hash` masks.
    Execute(Option<&'k MaskKey>),
}

pub struct Renderer<'d> {
    d: &'d Dialect,
    mask_key: MaskKeyUse<'d>,
}

/// Keywords that must be quoted when used as identifiers in at least one
/// target dialect. Identifiers outside this list with a plain shape are left
/// bare so each engine applies its own case folding, as the author intended.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "any",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "column",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    // Snowflake reads IDENTIFIER as its IDENTIFIER(...) function.
    "identifier",
    "in",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "over",
    "partition",
    "primary",
    "qualify",
    "range",
    "references",
    "right",
    "rows",
    "select",
    "session_user",
    "some",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// Precedence of an expression as it will be written; atoms bind tightest.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Binary { op, .. } => op.precedence(),
        Expr::Unary { op: UnOp::Not, .. } => 3,
        Expr::Unary { op: UnOp::Neg, .. } => 8,
        Expr::InList { .. }
        | Expr::Between { .. }
        | Expr::IsNull { .. }
        | Expr::Like { .. }
        | Expr::Contains { .. }
        | Expr::StartsWith { .. } => 4,
        _ => 10,
    }
}

impl<'d> Renderer<'d> {
    /// A renderer for SQL people read: `hash` masks show placeholders
    /// instead of the mask key.
    pub fn new(d: &'d Dialect) -> Self {
        Renderer {
            d,
            mask_key: MaskKeyUse::Withheld,
        }
    }

    /// A renderer for SQL the warehouse runs: `hash` masks are keyed with
    /// `key`, and refused without one. Its output holds the key: run it,
    /// never show it.
    pub fn for_execution(d: &'d Dialect, key: Option<&'d MaskKey>) -> Self {
        Renderer {
            d,
            mask_key: MaskKeyUse::Execute(key),
        }
    }

    pub fn ident(&self, id: &Ident) -> String {
        if !id.quoted && is_plain(&id.value) {
            id.value.clone()
        } else {
            self.d.quote_ident(&id.value)
        }
    }

    pub fn literal(&self, lit: &Literal) -> Result<String, RenderError> {
        Ok(match lit {
            Literal::Null => "NULL".into(),
            Literal::Bool(true) => self.d.true_literal.clone(),
            Literal::Bool(false) => self.d.false_literal.clone(),
            Literal::Number(n) => n.clone(),
            Literal::String(s) => self
                .d
                .string_literal(s)
                .map_err(RenderError::InvalidLiteral)?,
            Literal::Date(d) => self
                .d
                .date_literal
                .render(&[("value", &d.format("%Y-%m-%d").to_string())]),
            Literal::Timestamp(t) => self
                .d
                .timestamp_literal
                .render(&[("value", &t.format("%Y-%m-%d %H:%M:%S").to_string())]),
        })
    }

    /// Renders `child` as an operand of an operator with precedence `parent`.
    fn operand(&self, child: &Expr, parent: u8, strict: bool) -> Result<String, RenderError> {
        let s = self.expr(child)?;
        let p = precedence(child);
        if p < parent || (strict && p == parent) {
            Ok(format!("({s})"))
        } else {
            Ok(s)
        }
    }

    /// Renders an expression placed into a dialect template.
    fn template_arg(&self, e: &Expr) -> Result<String, RenderError> {
        self.operand(e, 7, false)
    }

    pub fn expr(&self, e: &Expr) -> Result<String, RenderError> {
        Ok(match e {
            Expr::Column { table, name } => match table {
                Some(t) => format!("{}.{}", self.ident(t), self.ident(name)),
                None => self.ident(name),
            },
            Expr::Ref(parts) => {
                let names: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                return Err(RenderError::Unresolved(names.join(".")));
            }
            Expr::Lit(l) => self.literal(l)?,
            Expr::Keyword(k) => (*k).to_string(),
            Expr::TypedNull(ty) if self.d.typed_union_nulls => {
                format!("CAST(NULL AS {})", self.d.type_name(*ty))
            }
            Expr::TypedNull(_) => "NULL".into(),
            Expr::Star => "*".into(),
            Expr::Binary {
                op: BinOp::Concat,
                left,
                right,
            } => self.d.function("concat").render(&[
                ("left", &self.template_arg(left)?),
                ("right", &self.template_arg(right)?),
            ]),
            Expr::Binary { op, left, right } => {
                let p = op.precedence();
                // Left-associative: only the right operand of a
                // non-commutative operator needs parens at equal precedence.
                let strict_right = matches!(op, BinOp::Minus | BinOp::Divide | BinOp::Modulo)
                    || op.is_comparison();
                format!(
                    "{} {} {}",
                    self.operand(left, p, op.is_comparison())?,
                    op.symbol(),
                    self.operand(right, p, strict_right)?
                )
            }
            Expr::Unary {
                op: UnOp::Not,
                expr,
            } => format!("NOT {}", self.operand(expr, 4, false)?),
            Expr::Unary {
                op: UnOp::Neg,
                expr,
            } => format!("-{}", self.operand(expr, 9, false)?),
            Expr::Func {
                name,
                args,
                distinct,
            } => {
                let rendered: Result<Vec<String>, _> = args.iter().map(|a| self.expr(a)).collect();
                format!(
                    "{}({}{})",
                    name,
                    if *distinct { "DISTINCT " } else { "" },
                    rendered?.join(", ")
                )
            }
            Expr::Aggregate { agg, arg } => self.aggregate(*agg, arg.as_deref())?,
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut s = String::from("CASE");
                if let Some(o) = operand {
                    write!(s, " {}", self.expr(o)?).ok();
                }
                for (w, t) in whens {
                    write!(s, " WHEN {} THEN {}", self.expr(w)?, self.expr(t)?).ok();
                }
                if let Some(o) = otherwise {
                    write!(s, " ELSE {}", self.expr(o)?).ok();
                }
                s.push_str(" END");
                s
            }
            Expr::Cast { expr, ty } => {
                format!("CAST({} AS {})", self.expr(expr)?, self.d.type_name(*ty))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Result<Vec<String>, _> = list.iter().map(|a| self.expr(a)).collect();
                format!(
                    "{} {}IN ({})",
                    self.operand(expr, 5, false)?,
                    if *negated { "NOT " } else { "" },
                    items?.join(", ")
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => format!(
                "{} {}BETWEEN {} AND {}",
                self.operand(expr, 5, false)?,
                if *negated { "NOT " } else { "" },
                self.operand(low, 5, false)?,
                self.operand(high, 5, false)?
            ),
            Expr::IsNull { expr, negated } => format!(
                "{} IS {}NULL",
                self.operand(expr, 5, false)?,
                if *negated { "NOT " } else { "" }
            ),
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let s = if *case_insensitive {
                    self.d.function("ilike").render(&[
                        ("expr", &self.template_arg(expr)?),
                        ("pattern", &self.template_arg(pattern)?),
                    ])
                } else {
                    format!(
                        "{} LIKE {}",
                        self.operand(expr, 5, false)?,
                        self.operand(pattern, 5, false)?
                    )
                };
                if *negated { format!("NOT ({s})") } else { s }
            }
            Expr::Contains { expr, needle } => self.d.function("contains").render(&[
                ("expr", &self.template_arg(expr)?),
                ("needle", &self.template_arg(needle)?),
            ]),
            Expr::StartsWith { expr, prefix } => self.d.function("starts_with").render(&[
                ("expr", &self.template_arg(expr)?),
                ("prefix", &self.template_arg(prefix)?),
            ]),
            Expr::DateTrunc { grain, expr } => self
                .d
                .date_trunc(*grain)
                .render(&[("expr", &self.template_arg(expr)?)]),
            Expr::Nested(inner) => format!("({})", self.expr(inner)?),
            Expr::Exists { query, negated } => format!(
                "{}EXISTS (\n{}\n)",
                if *negated { "NOT " } else { "" },
                self.query_at(query, 1)?
            ),
            Expr::Window {
                name,
                args,
                partition_by,
                order_by,
                frame,
            } => {
                let args: Result<Vec<String>, _> = args.iter().map(|a| self.expr(a)).collect();
                let parts: Result<Vec<String>, _> =
                    partition_by.iter().map(|a| self.expr(a)).collect();
                let orders: Result<Vec<String>, _> =
                    order_by.iter().map(|a| self.expr(a)).collect();
                let mut over = Vec::new();
                let parts = parts?;
                let orders = orders?;
                if !parts.is_empty() {
                    over.push(format!("PARTITION BY {}", parts.join(", ")));
                }
                if !orders.is_empty() {
                    over.push(format!("ORDER BY {}", orders.join(", ")));
                }
                if let Some(fr) = frame {
                    over.push(format!(
                        "ROWS BETWEEN {} AND {}",
                        fr.start.sql(),
                        fr.end.sql()
                    ));
                }
                format!("{name}({}) OVER ({})", args?.join(", "), over.join(" "))
            }
            Expr::Mask { mask, expr } => self.mask(*mask, expr)?,
            Expr::AddTime { expr, amount, unit } => {
                let (prim, factor) = unit.primitive();
                let n = amount.checked_mul(factor).ok_or_else(|| {
                    RenderError::InvalidLiteral(format!("time offset {amount} {unit:?} overflows"))
                })?;
                self.d
                    .time_function(prim)
                    .render(&[("expr", &self.template_arg(expr)?), ("n", &n.to_string())])
            }
            Expr::AddTimeBy { expr, amount, unit } => {
                let (prim, factor) = unit.primitive();
                let n = if factor == 1 {
                    self.operand(amount, 7, false)?
                } else {
                    format!("{} * {factor}", self.operand(amount, 7, false)?)
                };
                self.d
                    .time_function(&format!("{prim}_by"))
                    .render(&[("expr", &self.template_arg(expr)?), ("n", &n)])
            }
            Expr::EpochSeconds(expr) => self
                .d
                .time_function("epoch_seconds")
                .render(&[("expr", &self.template_arg(expr)?)]),
            Expr::BinaryText(expr) => self
                .d
                .binary_text
                .render(&[("expr", &self.template_arg(expr)?)]),
            Expr::KeyEqualsText {
                key,
                key_text,
                text,
            } => match &self.d.key_equals_text {
                Some(t) => t.render(&[
                    ("key", &self.template_arg(key)?),
                    ("key_text", &self.template_arg(key_text)?),
                    ("text", &self.template_arg(text)?),
                ]),
                None => self.expr(&Expr::binary(
                    BinOp::Eq,
                    (**key_text).clone(),
                    (**text).clone(),
                ))?,
            },
            Expr::Power { base, exponent } => self
                .d
                .optional_function("power")
                .ok_or_else(|| RenderError::Unsupported {
                    what: "a power function (time-decay weights)".to_string(),
                    dialect: self.d.kind.name().to_string(),
                })?
                .render(&[
                    ("base", &self.expr(base)?),
                    ("exponent", &self.expr(exponent)?),
                ]),
        })
    }

    /// A masked value; NULL stays NULL so masking never invents a group.
    fn mask(&self, mask: crate::vocab::Mask, expr: &Expr) -> Result<String, RenderError> {
        use crate::vocab::Mask;
        let unsupported = |what: &str| RenderError::Unsupported {
            what: what.to_string(),
            dialect: self.d.kind.name().to_string(),
        };
        let x = self.template_arg(expr)?;
        let stars = self
            .d
            .string_literal("***")
            .map_err(RenderError::InvalidLiteral)?;
        let masked = match mask {
            Mask::Hash => {
                let template = self
                    .d
                    .optional_function("hash")
                    .ok_or_else(|| unsupported("a keyed hash (HMAC-SHA256) for masking"))?;
                let [ipad, opad, key] = self.mask_key_literals()?;
                template.render(&[
                    ("expr", &x),
                    ("ipad", &ipad),
                    ("opad", &opad),
                    ("key", &key),
                ])
            }
            Mask::Redact => stars,
            Mask::KeepLast { n } => {
                let right = self
                    .d
                    .optional_function("right")
                    .ok_or_else(|| unsupported("a right(text, n) function for masking"))?
                    .render(&[("expr", &x), ("n", &n.to_string())]);
                self.d
                    .function("concat")
                    .render(&[("left", &stars), ("right", &right)])
            }
        };
        Ok(format!("CASE WHEN {x} IS NULL THEN NULL ELSE {masked} END"))
    }

    /// The inner pad, outer pad and key as string literals of hex (escaped
    /// like any value), or placeholders naming them when withheld.
    fn mask_key_literals(&self) -> Result<[String; 3], RenderError> {
        let texts = match self.mask_key {
            MaskKeyUse::Withheld => [
                "<mask key: inner pad, withheld>".to_string(),
                "<mask key: outer pad, withheld>".to_string(),
                "<mask key, withheld>".to_string(),
            ],
            MaskKeyUse::Execute(None) => return Err(RenderError::NoMaskKey),
            MaskKeyUse::Execute(Some(k)) => [k.ipad_hex(), k.opad_hex(), k.raw_hex()],
        };
        let lit = |t: &String| {
            self.d
                .string_literal(t)
                .map_err(RenderError::InvalidLiteral)
        };
        Ok([lit(&texts[0])?, lit(&texts[1])?, lit(&texts[2])?])
    }

    fn aggregate(&self, agg: Aggregation, arg: Option<&Expr>) -> Result<String, RenderError> {
        let unsupported = |what: &str| RenderError::Unsupported {
            what: what.to_string(),
            dialect: self.d.kind.name().to_string(),
        };
        let template = |name: &str| self.d.aggregate(name).ok_or_else(|| unsupported(name));
        let arg_text = match arg {
            Some(a) => self.expr(a)?,
            None => String::new(),
        };
        Ok(match agg {
            Aggregation::Count if arg.is_none() => template("count_star")?.render(&[]),
            Aggregation::SumBoolean => template("sum")?
                .render(&[("expr", &format!("CASE WHEN {arg_text} THEN 1 ELSE 0 END"))]),
            Aggregation::Percentile { p } => {
                let t = self.d.aggregate("percentile").ok_or_else(|| {
                    unsupported("an exact percentile aggregate (percentile_cont)")
                })?;
                t.render(&[("expr", &arg_text), ("p", &format_p(p))])
            }
            Aggregation::Median => {
                let t = self
                    .d
                    .aggregate("median")
                    .ok_or_else(|| unsupported("an exact median aggregate"))?;
                t.render(&[("expr", &arg_text)])
            }
            other => template(other.name())?.render(&[("expr", &arg_text)]),
        })
    }

    pub fn table_ref(&self, t: &TableRef, indent: usize) -> Result<String, RenderError> {
        Ok(match t {
            TableRef::Table { name, alias } => {
                let parts: Vec<String> = name.iter().map(|p| self.ident(p)).collect();
                format!("{} AS {}", parts.join("."), self.ident(alias))
            }
            TableRef::RawSql { sql, alias } => {
                let pad = "  ".repeat(indent + 1);
                let body: Vec<String> = sql
                    .trim()
                    .lines()
                    .map(|l| format!("{pad}{}", l.trim_end()))
                    .collect();
                format!(
                    "(\n{}\n{}) AS {}",
                    body.join("\n"),
                    "  ".repeat(indent),
                    self.ident(alias)
                )
            }
            TableRef::Subquery { query, alias } => format!(
                "(\n{}\n{}) AS {}",
                self.query_at(query, indent + 1)?,
                "  ".repeat(indent),
                self.ident(alias)
            ),
            TableRef::Named { name, alias } => match alias {
                Some(a) => format!("{} AS {}", self.ident(name), self.ident(a)),
                None => self.ident(name),
            },
        })
    }

    fn select(&self, s: &Select, indent: usize) -> Result<String, RenderError> {
        let pad = "  ".repeat(indent);
        let mut out = format!("{pad}SELECT");
        for (i, item) in s.projection.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            write!(out, "{pad}  {}", self.expr(&item.expr)?).ok();
            if let Some(a) = &item.alias {
                // `x AS x` says nothing; leave it out.
                let same = matches!(&item.expr, Expr::Column { name, .. } if name.value == a.value);
                if !same {
                    write!(out, " AS {}", self.ident(a)).ok();
                }
            }
        }
        if let Some(from) = &s.from {
            write!(out, "\n{pad}FROM {}", self.table_ref(from, indent)?).ok();
        }
        for j in &s.joins {
            let kw = match j.kind {
                JoinKind::Left => "LEFT JOIN",
                JoinKind::Inner => "INNER JOIN",
                JoinKind::Cross => "CROSS JOIN",
            };
            write!(out, "\n{pad}{kw} {}", self.table_ref(&j.table, indent)?).ok();
            if let Some(on) = &j.on {
                write!(out, "\n{pad}  ON {}", self.expr(on)?).ok();
            }
        }
        if let Some(w) = &s.selection {
            write!(out, "\n{pad}WHERE {}", self.expr(w)?).ok();
        }
        if !s.group_by.is_empty() {
            let cols: Vec<String> = s.group_by.iter().map(|i| i.to_string()).collect();
            write!(out, "\n{pad}GROUP BY {}", cols.join(", ")).ok();
        }
        if let Some(h) = &s.having {
            write!(out, "\n{pad}HAVING {}", self.expr(h)?).ok();
        }
        Ok(out)
    }

    fn query_at(&self, q: &Query, indent: usize) -> Result<String, RenderError> {
        let pad = "  ".repeat(indent);
        let mut out = String::new();
        for (i, cte) in q.ctes.iter().enumerate() {
            let lead = if i == 0 {
                format!("{pad}WITH ")
            } else {
                ", ".to_string()
            };
            write!(
                out,
                "{lead}{} AS (\n{}\n{pad})",
                self.ident(&cte.name),
                self.query_at(&cte.query, indent + 1)?
            )
            .ok();
        }
        if !q.ctes.is_empty() {
            out.push('\n');
        }
        match &q.body {
            SetExpr::Select(s) => out.push_str(&self.select(s, indent)?),
            SetExpr::UnionAll(selects) => {
                for (i, s) in selects.iter().enumerate() {
                    if i > 0 {
                        write!(out, "\n{pad}UNION ALL\n").ok();
                    }
                    out.push_str(&self.select(s, indent)?);
                }
            }
        }
        if !q.order_by.is_empty() {
            let mut items = Vec::new();
            for o in &q.order_by {
                let e = self.expr(&o.expr)?;
                let dir = if o.desc { " DESC" } else { "" };
                // NULLs sort last in both directions on every engine, so a
                // result is ordered the same wherever it runs.
                match &self.d.nulls_last {
                    Some(nl) => items.push(format!("{e}{dir} {nl}")),
                    None => {
                        items.push(format!("CASE WHEN {e} IS NULL THEN 1 ELSE 0 END"));
                        items.push(format!("{e}{dir}"));
                    }
                }
            }
            write!(out, "\n{pad}ORDER BY {}", items.join(", ")).ok();
        }
        let limit =
            q.limit
                .map(|l| l.to_string())
                .or_else(|| match (q.offset, &self.d.unbounded_limit) {
                    (Some(_), Some(u)) => Some(u.clone()),
                    _ => None,
                });
        match self.d.limit_style {
            LimitStyle::LimitOffset => {
                if let Some(l) = &limit {
                    write!(out, "\n{pad}LIMIT {l}").ok();
                }
                if let Some(o) = q.offset {
                    write!(out, "\n{pad}OFFSET {o}").ok();
                }
            }
            LimitStyle::OffsetLimit => {
                if let Some(o) = q.offset {
                    write!(out, "\n{pad}OFFSET {o}").ok();
                }
                if let Some(l) = &limit {
                    write!(out, "\n{pad}LIMIT {l}").ok();
                }
            }
        }
        Ok(out)
    }

    pub fn query(&self, q: &Query) -> Result<String, RenderError> {
        if self.d.nulls_last.is_none() && !q.order_by.is_empty() {
            // Without NULLS LAST the order is emulated with an `IS NULL`
            // key, and MySQL refuses an expression over an aggregate's
            // alias; ordering the finished rows from outside avoids that.
            let inner = Query {
                ctes: Vec::new(),
                body: q.body.clone(),
                order_by: Vec::new(),
                limit: None,
                offset: None,
            };
            let outer = Query {
                ctes: q.ctes.clone(),
                body: SetExpr::Select(Box::new(Select {
                    projection: vec![SelectItem {
                        expr: Expr::Star,
                        alias: None,
                    }],
                    from: Some(TableRef::Subquery {
                        query: Box::new(inner),
                        alias: Ident::generated("ordered"),
                    }),
                    joins: Vec::new(),
                    selection: None,
                    group_by: Vec::new(),
                    having: None,
                })),
                order_by: q.order_by.clone(),
                limit: q.limit,
                offset: q.offset,
            };
            return self.query_at(&outer, 0);
        }
        self.query_at(q, 0)
    }
}

/// Formats a percentile fraction without float noise (`0.9`, not `0.9000001`).
fn format_p(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}
