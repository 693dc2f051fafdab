//! The SQL AST accord generates. It is deliberately small: only what the
//! planner emits and what definitions may contain. Rendering it is the job of
//! [`crate::sql::render`], which consults a [`crate::dialect::Dialect`].

use chrono::{NaiveDate, NaiveDateTime};

use crate::vocab::{Aggregation, Grain};

/// An identifier as written. `quoted` identifiers keep their case everywhere;
/// unquoted ones are emitted bare when the dialect allows it so that engines
/// that fold case (Snowflake upper-cases) resolve them as the author meant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub value: String,
    pub quoted: bool,
}

impl Ident {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            quoted: false,
        }
    }

    /// An identifier accord invents (aliases, CTE names): always quoted so its
    /// case and spelling survive every engine.
    pub fn generated(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            quoted: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// Kept as text so decimals are never rounded through a float.
    Number(String),
    String(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Plus => "+",
            BinOp::Minus => "-",
            BinOp::Multiply => "*",
            BinOp::Divide => "/",
            BinOp::Modulo => "%",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Concat => "||",
        }
    }

    /// Binding strength, used to parenthesise only where needed.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => 4,
            BinOp::Plus | BinOp::Minus | BinOp::Concat => 6,
            BinOp::Multiply | BinOp::Divide | BinOp::Modulo => 7,
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

/// Portable type names; each dialect maps them to its own spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SqlType {
    Double,
    BigInt,
    Text,
    Date,
    Timestamp,
    Boolean,
    Decimal,
}

impl SqlType {
    pub fn key(self) -> &'static str {
        match self {
            SqlType::Double => "double",
            SqlType::BigInt => "bigint",
            SqlType::Text => "text",
            SqlType::Date => "date",
            SqlType::Timestamp => "timestamp",
            SqlType::Boolean => "boolean",
            SqlType::Decimal => "decimal",
        }
    }

    pub fn parse(name: &str) -> Option<SqlType> {
        let lower = name.to_ascii_lowercase();
        let base = lower.split('(').next().unwrap_or("").trim();
        Some(match base {
            "double" | "double precision" | "float" | "float8" | "float64" | "real" => {
                SqlType::Double
            }
            "bigint" | "int" | "integer" | "int8" | "int64" | "smallint" => SqlType::BigInt,
            "text" | "varchar" | "string" | "char" | "character varying" => SqlType::Text,
            "date" => SqlType::Date,
            "timestamp" | "datetime" | "timestamp without time zone" => SqlType::Timestamp,
            "boolean" | "bool" => SqlType::Boolean,
            "decimal" | "numeric" => SqlType::Decimal,
            _ => return None,
        })
    }
}

/// An expression. `Ref` is a name not yet resolved (a dimension in a filter, a
/// metric in a derived expression); the planner replaces every `Ref` before
/// rendering, so the renderer refuses one.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column {
        table: Option<Ident>,
        name: Ident,
    },
    Ref(Vec<Ident>),
    Lit(Literal),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Func {
        name: String,
        args: Vec<Expr>,
        distinct: bool,
    },
    /// `COUNT(*)`-style star argument inside a function.
    Star,
    Aggregate {
        agg: Aggregation,
        arg: Option<Box<Expr>>,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        ty: SqlType,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    /// Substring test, rendered with the dialect's position function.
    Contains {
        expr: Box<Expr>,
        needle: Box<Expr>,
    },
    StartsWith {
        expr: Box<Expr>,
        prefix: Box<Expr>,
    },
    DateTrunc {
        grain: Grain,
        expr: Box<Expr>,
    },
    Nested(Box<Expr>),
    /// A niladic SQL keyword such as `CURRENT_DATE`, written without parens.
    Keyword(&'static str),
    /// A NULL standing in for a value of a type: some engines (PostgreSQL,
    /// Redshift) type a UNION column from its first branches, so a column
    /// that is NULL there must say what it will hold.
    TypedNull(SqlType),
    /// `[NOT] EXISTS (subquery)`.
    Exists {
        query: Box<Query>,
        negated: bool,
    },
    /// A window function: `name(args) OVER (PARTITION BY .. ORDER BY ..
    /// [frame])`. `name` may be an aggregate (`SUM`) for running totals.
    Window {
        name: String,
        args: Vec<Expr>,
        partition_by: Vec<Expr>,
        order_by: Vec<Expr>,
        frame: Option<WindowFrame>,
    },
    /// `expr` shifted by a whole number of `unit`s, rendered with the
    /// dialect's interval arithmetic (`time.add_*` in the dialect file).
    AddTime {
        expr: Box<Expr>,
        amount: i64,
        unit: TimeUnit,
    },
    /// `expr` shifted by `amount` (an integer SQL expression, e.g. a row
    /// number of a generated series) times `unit` (`time.add_*_by`).
    AddTimeBy {
        expr: Box<Expr>,
        amount: Box<Expr>,
        unit: TimeUnit,
    },
    /// Whole seconds since 1970-01-01 00:00:00 of a (naive, UTC) timestamp,
    /// as an integer: differences of two are exact durations on every engine.
    EpochSeconds(Box<Expr>),
    /// Text that compares, groups and sorts bytewise whatever the column's
    /// collation (`tables.binary_text` in the dialect file): identifiers
    /// must match exactly on every engine.
    BinaryText(Box<Expr>),
    /// A typed key column equal to a text value (an identity map's
    /// canonical id); `key_text` is the key spelt as that text is. Rendered
    /// by `tables.key_equals_text` (`{key}`, `{key_text}`, `{text}`), by
    /// default `{key_text} = {text}`: engines that join by nested loops
    /// compare the raw column instead, so its index still serves the join.
    KeyEqualsText {
        key: Box<Expr>,
        key_text: Box<Expr>,
        text: Box<Expr>,
    },
    /// `base` raised to `exponent`, both as doubles, with the dialect's
    /// optional `power` function; refused where the engine has none.
    Power {
        base: Box<Expr>,
        exponent: Box<Expr>,
    },
    /// A policy mask over a dimension, rendered per dialect.
    Mask {
        mask: crate::vocab::Mask,
        expr: Box<Expr>,
    },
}

impl Expr {
    pub fn col(table: &str, name: &str) -> Expr {
        Expr::Column {
            table: Some(Ident::generated(table)),
            name: Ident::generated(name),
        }
    }

    pub fn bare(name: &str) -> Expr {
        Expr::Column {
            table: None,
            name: Ident::generated(name),
        }
    }

    pub fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    pub fn and_all(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs
            .into_iter()
            .reduce(|a, b| Expr::binary(BinOp::And, a, b))
    }

    pub fn string(s: impl Into<String>) -> Expr {
        Expr::Lit(Literal::String(s.into()))
    }

    /// A numeric literal (planner-generated numbers only).
    pub fn num(n: impl ToString) -> Expr {
        Expr::Lit(Literal::Number(n.to_string()))
    }

    /// `agg(arg)`; `None` is `COUNT(*)`-style (no argument).
    pub fn agg(agg: crate::vocab::Aggregation, arg: Option<Expr>) -> Expr {
        Expr::Aggregate {
            agg,
            arg: arg.map(Box::new),
        }
    }

    /// `CASE WHEN .. THEN .. [ELSE ..] END`.
    pub fn case(whens: Vec<(Expr, Expr)>, otherwise: Option<Expr>) -> Expr {
        Expr::Case {
            operand: None,
            whens,
            otherwise: otherwise.map(Box::new),
        }
    }

    /// `expr IS [NOT] NULL`.
    pub fn is_null(expr: Expr, negated: bool) -> Expr {
        Expr::IsNull {
            expr: Box::new(expr),
            negated,
        }
    }

    /// `(expr)`.
    pub fn nested(expr: Expr) -> Expr {
        Expr::Nested(Box::new(expr))
    }

    /// `a = b`, true also when both are NULL (group keys may be NULL).
    pub fn null_safe_eq(a: Expr, b: Expr) -> Expr {
        Expr::nested(Expr::binary(
            BinOp::Or,
            Expr::binary(BinOp::Eq, a.clone(), b.clone()),
            Expr::binary(BinOp::And, Expr::is_null(a, false), Expr::is_null(b, false)),
        ))
    }

    /// `CAST(expr AS ty)`.
    pub fn cast(expr: Expr, ty: SqlType) -> Expr {
        Expr::Cast {
            expr: Box::new(expr),
            ty,
        }
    }

    /// `a OR b` parenthesised, to be joined into an AND.
    pub fn paren_or(self) -> Expr {
        match self {
            Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(self)),
            other => other,
        }
    }

    /// `self` in brackets when it is an AND or OR, so it can stand as one
    /// operand of another AND or OR whatever the renderer's precedence.
    pub fn paren_logic(self) -> Expr {
        match self {
            Expr::Binary {
                op: BinOp::Or | BinOp::And,
                ..
            } => Expr::Nested(Box::new(self)),
            other => other,
        }
    }

    /// A model expression with its bare columns qualified by `alias`.
    pub fn qualified(&self, alias: &str) -> Expr {
        self.clone()
            .try_transform::<()>(&mut |e| match e {
                Expr::Column { table: None, name } => Ok(Expr::Column {
                    table: Some(Ident::generated(alias)),
                    name,
                }),
                other => Ok(other),
            })
            .unwrap_or_else(|_| self.clone())
    }

    /// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)`.
    pub fn row_number(partition_by: Vec<Expr>, order_by: Vec<Expr>) -> Expr {
        Expr::Window {
            name: "ROW_NUMBER".into(),
            args: Vec::new(),
            partition_by,
            order_by,
            frame: None,
        }
    }

    /// The top-level AND terms, appended to `out`.
    pub fn conjuncts_into(self, out: &mut Vec<Expr>) {
        match self {
            Expr::Binary {
                op: BinOp::And,
                left,
                right,
            } => {
                left.conjuncts_into(out);
                right.conjuncts_into(out);
            }
            Expr::Nested(inner) if matches!(*inner, Expr::Binary { op: BinOp::And, .. }) => {
                inner.conjuncts_into(out)
            }
            other => out.push(other),
        }
    }

    /// Applies `f` to every node bottom-up, letting it replace the node.
    pub fn try_transform<E>(self, f: &mut impl FnMut(Expr) -> Result<Expr, E>) -> Result<Expr, E> {
        self.transform_dyn(f)
    }

    // One non-generic-closure body: recursing through `impl FnMut` would
    // instantiate a new closure type per level without end.
    fn transform_dyn<E>(self, f: &mut dyn FnMut(Expr) -> Result<Expr, E>) -> Result<Expr, E> {
        // Takes the Box the AST holds, so call sites stay `boxed(field, f)`.
        #[allow(clippy::boxed_local)]
        fn boxed<E>(
            e: Box<Expr>,
            f: &mut dyn FnMut(Expr) -> Result<Expr, E>,
        ) -> Result<Box<Expr>, E> {
            e.transform_dyn(f).map(Box::new)
        }
        let node = match self {
            Expr::Binary { op, left, right } => Expr::Binary {
                op,
                left: boxed(left, f)?,
                right: boxed(right, f)?,
            },
            Expr::Unary { op, expr } => Expr::Unary {
                op,
                expr: boxed(expr, f)?,
            },
            Expr::Func {
                name,
                args,
                distinct,
            } => Expr::Func {
                name,
                args: args
                    .into_iter()
                    .map(|a| a.transform_dyn(f))
                    .collect::<Result<_, _>>()?,
                distinct,
            },
            Expr::Aggregate { agg, arg } => Expr::Aggregate {
                agg,
                arg: match arg {
                    Some(a) => Some(boxed(a, f)?),
                    None => None,
                },
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => Expr::Case {
                operand: match operand {
                    Some(o) => Some(boxed(o, f)?),
                    None => None,
                },
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((w.transform_dyn(f)?, t.transform_dyn(f)?)))
                    .collect::<Result<_, E>>()?,
                otherwise: match otherwise {
                    Some(o) => Some(boxed(o, f)?),
                    None => None,
                },
            },
            Expr::Cast { expr, ty } => Expr::Cast {
                expr: boxed(expr, f)?,
                ty,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: boxed(expr, f)?,
                list: list
                    .into_iter()
                    .map(|a| a.transform_dyn(f))
                    .collect::<Result<_, _>>()?,
                negated,
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Expr::Between {
                expr: boxed(expr, f)?,
                low: boxed(low, f)?,
                high: boxed(high, f)?,
                negated,
            },
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: boxed(expr, f)?,
                negated,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Expr::Like {
                expr: boxed(expr, f)?,
                pattern: boxed(pattern, f)?,
                negated,
                case_insensitive,
            },
            Expr::Contains { expr, needle } => Expr::Contains {
                expr: boxed(expr, f)?,
                needle: boxed(needle, f)?,
            },
            Expr::StartsWith { expr, prefix } => Expr::StartsWith {
                expr: boxed(expr, f)?,
                prefix: boxed(prefix, f)?,
            },
            Expr::DateTrunc { grain, expr } => Expr::DateTrunc {
                grain,
                expr: boxed(expr, f)?,
            },
            Expr::Nested(e) => Expr::Nested(boxed(e, f)?),
            Expr::AddTime { expr, amount, unit } => Expr::AddTime {
                expr: boxed(expr, f)?,
                amount,
                unit,
            },
            Expr::AddTimeBy { expr, amount, unit } => Expr::AddTimeBy {
                expr: boxed(expr, f)?,
                amount: boxed(amount, f)?,
                unit,
            },
            Expr::EpochSeconds(e) => Expr::EpochSeconds(boxed(e, f)?),
            Expr::BinaryText(e) => Expr::BinaryText(boxed(e, f)?),
            Expr::KeyEqualsText {
                key,
                key_text,
                text,
            } => Expr::KeyEqualsText {
                key: boxed(key, f)?,
                key_text: boxed(key_text, f)?,
                text: boxed(text, f)?,
            },
            Expr::Power { base, exponent } => Expr::Power {
                base: boxed(base, f)?,
                exponent: boxed(exponent, f)?,
            },
            Expr::Mask { mask, expr } => Expr::Mask {
                mask,
                expr: boxed(expr, f)?,
            },
            // Subqueries and windows are built by the planner after
            // resolution; transforms do not descend into them.
            leaf @ (Expr::Exists { .. } | Expr::Window { .. }) => leaf,
            leaf @ (Expr::Column { .. }
            | Expr::Ref(_)
            | Expr::Lit(_)
            | Expr::Star
            | Expr::Keyword(_)
            | Expr::TypedNull(_)) => leaf,
        };
        f(node)
    }

    /// Visits every node top-down.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Binary { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Unary { expr, .. }
            | Expr::Cast { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::DateTrunc { expr, .. }
            | Expr::Mask { expr, .. }
            | Expr::AddTime { expr, .. }
            | Expr::EpochSeconds(expr)
            | Expr::BinaryText(expr)
            | Expr::Nested(expr) => expr.walk(f),
            Expr::Func { args, .. } => args.iter().for_each(|a| a.walk(f)),
            Expr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    a.walk(f)
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(o) = otherwise {
                    o.walk(f);
                }
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|a| a.walk(f));
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            Expr::KeyEqualsText {
                key,
                key_text,
                text,
            } => {
                key.walk(f);
                key_text.walk(f);
                text.walk(f);
            }
            Expr::AddTimeBy { expr, amount, .. } => {
                expr.walk(f);
                amount.walk(f);
            }
            Expr::Power { base, exponent } => {
                base.walk(f);
                exponent.walk(f);
            }
            Expr::Contains {
                expr,
                needle: other,
            }
            | Expr::StartsWith {
                expr,
                prefix: other,
            } => {
                expr.walk(f);
                other.walk(f);
            }
            Expr::Column { .. }
            | Expr::Ref(_)
            | Expr::Lit(_)
            | Expr::Star
            | Expr::Keyword(_)
            | Expr::TypedNull(_)
            | Expr::Exists { .. }
            | Expr::Window { .. } => {}
        }
    }

    pub fn contains_aggregate(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let Expr::Aggregate { .. } = e {
                found = true;
            }
            if let Expr::Func { name, .. } = e
                && is_aggregate_function(name)
            {
                found = true;
            }
        });
        found
    }
}

/// Aggregate functions a definition might write by hand inside an expression.
/// Dimension expressions must not contain them (they would change the grain).
pub fn is_aggregate_function(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "sum"
            | "count"
            | "avg"
            | "min"
            | "max"
            | "median"
            | "percentile_cont"
            | "quantile_cont"
            | "stddev"
            | "variance"
            | "array_agg"
            | "string_agg"
            | "listagg"
            | "group_concat"
            | "any_value"
            | "bool_and"
            | "bool_or"
    )
}

/// Units for [`Expr::AddTime`]. Weeks are 7 days and years 12 months, so
/// each dialect needs only seconds, days and months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeUnit {
    /// The dialect primitive (`seconds`, `days` or `months`) and the factor
    /// that converts an amount of `self` into it.
    pub fn primitive(self) -> (&'static str, i64) {
        match self {
            TimeUnit::Second => ("seconds", 1),
            TimeUnit::Minute => ("seconds", 60),
            TimeUnit::Hour => ("seconds", 3600),
            TimeUnit::Day => ("days", 1),
            TimeUnit::Week => ("days", 7),
            TimeUnit::Month => ("months", 1),
            TimeUnit::Quarter => ("months", 3),
            TimeUnit::Year => ("months", 12),
        }
    }
}

/// `ROWS BETWEEN start AND end` of a window. Only row frames: `RANGE` with
/// intervals differs across engines, and time windows are built on a dense
/// spine where one row is one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowFrame {
    pub start: FrameBound,
    pub end: FrameBound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

impl FrameBound {
    pub fn sql(self) -> String {
        match self {
            FrameBound::UnboundedPreceding => "UNBOUNDED PRECEDING".into(),
            FrameBound::Preceding(n) => format!("{n} PRECEDING"),
            FrameBound::CurrentRow => "CURRENT ROW".into(),
            FrameBound::Following(n) => format!("{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => "UNBOUNDED FOLLOWING".into(),
        }
    }
}

/// A relation in a FROM clause.
#[derive(Debug, Clone, PartialEq)]
pub enum TableRef {
    /// A warehouse table; each part is quoted only if it must be.
    Table {
        name: Vec<Ident>,
        alias: Ident,
    },
    /// A model defined by SQL text, which is the steward's warehouse-native SQL
    /// and therefore emitted verbatim.
    RawSql {
        sql: String,
        alias: Ident,
    },
    Subquery {
        query: Box<Query>,
        alias: Ident,
    },
    /// A CTE defined earlier in the same statement.
    Named {
        name: Ident,
        alias: Option<Ident>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Left,
    Inner,
    Cross,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub table: TableRef,
    pub on: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<Ident>,
}

impl SelectItem {
    /// `expr AS alias`, the alias being a planner-generated name.
    pub fn aliased(expr: Expr, alias: &str) -> SelectItem {
        SelectItem {
            expr,
            alias: Some(Ident::generated(alias)),
        }
    }

    /// `name AS name`: a column of the relation read, passed through.
    pub fn bare(name: &str) -> SelectItem {
        SelectItem::aliased(Expr::bare(name), name)
    }
}

impl TableRef {
    /// A CTE of the same statement, by name, optionally aliased.
    pub fn named(name: &str, alias: Option<&str>) -> TableRef {
        TableRef::Named {
            name: Ident::generated(name),
            alias: alias.map(Ident::generated),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub projection: Vec<SelectItem>,
    pub from: Option<TableRef>,
    pub joins: Vec<Join>,
    pub selection: Option<Expr>,
    /// 1-based positions in the projection (every target dialect accepts
    /// `GROUP BY 1, 2`, and it keeps long expressions written once).
    pub group_by: Vec<usize>,
    pub having: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetExpr {
    Select(Box<Select>),
    UnionAll(Vec<Select>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub expr: Expr,
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    pub name: Ident,
    pub query: Query,
}

impl Cte {
    pub fn new(name: &str, query: Query) -> Cte {
        Cte {
            name: Ident::generated(name),
            query,
        }
    }
}

impl Select {
    /// `SELECT projection FROM from`, nothing else yet.
    pub fn from(projection: Vec<SelectItem>, from: TableRef) -> Select {
        Select {
            projection,
            from: Some(from),
            joins: Vec::new(),
            selection: None,
            group_by: Vec::new(),
            having: None,
        }
    }

    /// The same SELECT with `selection` as its WHERE.
    pub fn with_selection(mut self, selection: Option<Expr>) -> Select {
        self.selection = selection;
        self
    }

    /// Adds a condition to WHERE (ANDed with what is there).
    pub fn and_where(&mut self, c: Expr) {
        self.selection = Some(match self.selection.take() {
            Some(w) => Expr::binary(BinOp::And, w, c),
            None => c,
        });
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub ctes: Vec<Cte>,
    pub body: SetExpr,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl Query {
    /// `branch UNION ALL branch …`.
    pub fn union_all(branches: Vec<Select>) -> Query {
        Query {
            ctes: Vec::new(),
            body: SetExpr::UnionAll(branches),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    pub fn select(select: Select) -> Query {
        Query {
            ctes: Vec::new(),
            body: SetExpr::Select(Box::new(select)),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }
}
