//! Parses SQL a caller (or a definition) wrote with bounded size and
//! recursion, then bounds the tree before anything else walks it: every
//! AND/OR chain becomes a balanced tree (so 1,000 alternatives are 10
//! levels, not 1,000), and anything nested deeper than
//! [`MAX_DEPTH`](crate::limits::MAX_DEPTH) is refused. sqlparser's own
//! parse, visit and print protect themselves (they grow the stack), but
//! its Clone and Drop and all of accord's passes recurse plainly; after
//! [`bound`] they see a shallow tree.

use std::ops::ControlFlow;

use sqlparser::ast::{self as sp, VisitMut, VisitorMut};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::limits::{MAX_DEPTH, MAX_SQL_BYTES, MAX_TOKENS, PARSER_RECURSION_LIMIT, too_complex};

/// Why text was not parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Beyond a size or depth limit (SQLSTATE 54001, `query_too_complex`).
    TooComplex(String),
    /// Not SQL accord reads.
    Syntax(ParserError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::TooComplex(m) => f.write_str(m),
            Failure::Syntax(e) => write!(f, "{e}"),
        }
    }
}

/// A parser over `text`, refusing text that is too large or whose
/// brackets nest too deep before a tree is built.
pub fn parser<'d>(dialect: &'d dyn Dialect, text: &str, what: &str) -> Result<Parser<'d>, Failure> {
    if text.len() > MAX_SQL_BYTES {
        return Err(Failure::TooComplex(too_complex(what)));
    }
    let tokens = Tokenizer::new(dialect, text)
        .tokenize_with_location()
        .map_err(|e| Failure::Syntax(e.into()))?;
    let (mut count, mut open, mut prefixes) = (0usize, 0usize, 0usize);
    for t in &tokens {
        // CASE … END nests like a bracket; sqlparser, on reaching its
        // limit inside one, stops early and reports a stray `WHEN`.
        match &t.token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket | Token::LBrace => open += 1,
            Token::Word(w) if w.keyword == Keyword::CASE => open += 1,
            Token::RParen | Token::RBracket | Token::RBrace => open = open.saturating_sub(1),
            Token::Word(w) if w.keyword == Keyword::END => open = open.saturating_sub(1),
            _ => {}
        }
        // A run of prefix operators (`NOT NOT …`, `- - …`) nests one level
        // each. Counted here because sqlparser, on reaching its recursion
        // limit inside one, retries `NOT` as a name and reports a syntax
        // error instead of the limit.
        let prefix = match &t.token {
            Token::Word(w) => w.keyword == Keyword::NOT,
            tok => matches!(tok, Token::Minus | Token::Plus | Token::Tilde),
        };
        prefixes = if prefix { prefixes + 1 } else { 0 };
        count += 1;
        if count > MAX_TOKENS || open > MAX_DEPTH || prefixes > MAX_DEPTH {
            return Err(Failure::TooComplex(too_complex(what)));
        }
    }
    Ok(Parser::new(dialect)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .with_tokens_with_locations(tokens))
}

/// sqlparser's error, with its recursion limit reported as too complex.
pub fn parse_error(e: ParserError, what: &str) -> Failure {
    match e {
        ParserError::RecursionLimitExceeded => Failure::TooComplex(too_complex(what)),
        other => Failure::Syntax(other),
    }
}

/// Parses statements and bounds each (see [`bound`]).
pub fn parse_statements(
    dialect: &dyn Dialect,
    text: &str,
    what: &str,
) -> Result<Vec<sp::Statement>, Failure> {
    let mut stmts = parser(dialect, text, what)?
        .parse_statements()
        .map_err(|e| parse_error(e, what))?;
    for s in &mut stmts {
        bound(s, what)?;
    }
    Ok(stmts)
}

/// Rebalances every AND/OR chain of `node` and refuses nesting deeper than
/// [`MAX_DEPTH`]; a refused tree is taken apart without recursion.
pub fn bound<T: VisitMut>(node: &mut T, what: &str) -> Result<(), Failure> {
    let mut b = Bound::default();
    match node.visit(&mut b) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Failure::TooComplex(too_complex(what))),
    }
}

/// Depth bookkeeping of the visit: what each open node added.
#[derive(Default)]
struct Bound {
    depth: usize,
    added: Vec<usize>,
}

impl Bound {
    fn enter(&mut self, n: usize) -> ControlFlow<()> {
        self.depth += n;
        self.added.push(n);
        if self.depth > MAX_DEPTH {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.depth -= self.added.pop().unwrap_or(0);
        ControlFlow::Continue(())
    }
}

impl VisitorMut for Bound {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut sp::Query) -> ControlFlow<()> {
        // A chain of UNIONs is a left-deep tree the parser builds in a loop.
        let flow = self.enter(1 + set_operation_depth(&q.body));
        if flow.is_break() {
            dismantle_set(std::mem::replace(&mut q.body, Box::new(empty_set())));
        }
        flow
    }

    fn post_visit_query(&mut self, _: &mut sp::Query) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_expr(&mut self, e: &mut sp::Expr) -> ControlFlow<()> {
        let flow = if let Some(op) = chain_op(e) {
            balance(e, op);
            self.enter(0)
        } else {
            self.enter(1)
        };
        if flow.is_break() {
            dismantle(std::mem::replace(e, placeholder()));
        }
        flow
    }

    fn post_visit_expr(&mut self, _: &mut sp::Expr) -> ControlFlow<()> {
        self.leave()
    }
}

fn placeholder() -> sp::Expr {
    sp::Expr::value(sp::Value::Null)
}

/// AND or OR at the top of `e`: associative, so any grouping means the same.
fn chain_op(e: &sp::Expr) -> Option<sp::BinaryOperator> {
    match e {
        sp::Expr::BinaryOp {
            op: op @ (sp::BinaryOperator::And | sp::BinaryOperator::Or),
            ..
        } => Some(op.clone()),
        _ => None,
    }
}

/// Regroups the chain of `op` at the top of `e` into a balanced tree.
fn balance(e: &mut sp::Expr, op: sp::BinaryOperator) {
    let mut terms = Vec::new();
    let mut stack = vec![std::mem::replace(e, placeholder())];
    while let Some(x) = stack.pop() {
        match x {
            sp::Expr::BinaryOp { left, op: o, right } if o == op => {
                stack.push(*right);
                stack.push(*left);
            }
            other => terms.push(other),
        }
    }
    *e = balanced(terms, &op);
}

/// `terms` joined by `op`, halves first: log2(n) levels of recursion.
fn balanced(mut terms: Vec<sp::Expr>, op: &sp::BinaryOperator) -> sp::Expr {
    if terms.len() <= 1 {
        return terms.pop().unwrap_or_else(placeholder);
    }
    let right = terms.split_off(terms.len() / 2);
    sp::Expr::BinaryOp {
        left: Box::new(balanced(terms, op)),
        op: op.clone(),
        right: Box::new(balanced(right, op)),
    }
}

/// Drops a refused tree with an explicit stack: the chains the parser
/// builds in loops (operators, postfix tests, casts) are taken apart here;
/// anything else hangs below a node the parser reached by recursion, so
/// at most its recursion limit deep.
fn dismantle(e: sp::Expr) {
    let mut stack = vec![e];
    while let Some(mut e) = stack.pop() {
        for child in spine_children(&mut e) {
            stack.push(std::mem::replace(child, placeholder()));
        }
    }
}

fn spine_children(e: &mut sp::Expr) -> Vec<&mut sp::Expr> {
    use sp::Expr as E;
    match e {
        E::BinaryOp { left, right, .. }
        | E::AnyOp { left, right, .. }
        | E::AllOp { left, right, .. }
        | E::IsDistinctFrom(left, right)
        | E::IsNotDistinctFrom(left, right)
        | E::AtTimeZone {
            timestamp: left,
            time_zone: right,
        }
        | E::Like {
            expr: left,
            pattern: right,
            ..
        }
        | E::ILike {
            expr: left,
            pattern: right,
            ..
        }
        | E::SimilarTo {
            expr: left,
            pattern: right,
            ..
        }
        | E::RLike {
            expr: left,
            pattern: right,
            ..
        } => vec![&mut **left, &mut **right],
        E::Between {
            expr, low, high, ..
        } => vec![&mut **expr, &mut **low, &mut **high],
        E::In { expr, target, .. } => {
            let mut v = vec![&mut **expr];
            if let sp::InTarget::List(list) = target {
                v.extend(list.iter_mut());
            }
            v
        }
        E::IsNull(x)
        | E::IsNotNull(x)
        | E::IsTrue(x)
        | E::IsNotTrue(x)
        | E::IsFalse(x)
        | E::IsNotFalse(x)
        | E::IsUnknown(x)
        | E::IsNotUnknown(x)
        | E::Nested(x)
        | E::UnaryOp { expr: x, .. }
        | E::Cast { expr: x, .. }
        | E::Collate { expr: x, .. }
        | E::JsonAccess { value: x, .. }
        | E::CompoundFieldAccess { root: x, .. } => vec![&mut **x],
        _ => Vec::new(),
    }
}

/// Longest chain of set operations (UNION, EXCEPT, INTERSECT) in `body`.
fn set_operation_depth(body: &sp::SetExpr) -> usize {
    let mut max = 0;
    let mut stack = vec![(body, 0usize)];
    while let Some((s, d)) = stack.pop() {
        max = max.max(d);
        if let sp::SetExpr::SetOperation { left, right, .. } = s {
            stack.push((left, d + 1));
            stack.push((right, d + 1));
        }
    }
    max
}

fn empty_set() -> sp::SetExpr {
    sp::SetExpr::Values(sp::Values {
        explicit_row: false,
        value_keyword: false,
        rows: Vec::new(),
    })
}

fn dismantle_set(s: Box<sp::SetExpr>) {
    let mut stack = vec![s];
    while let Some(mut s) = stack.pop() {
        if let sp::SetExpr::SetOperation { left, right, .. } = &mut *s {
            stack.push(std::mem::replace(left, Box::new(empty_set())));
            stack.push(std::mem::replace(right, Box::new(empty_set())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;

    fn parse(text: &str) -> Result<Vec<sp::Statement>, Failure> {
        parse_statements(&PostgreSqlDialect {}, text, "the statement")
    }

    fn too_complex(r: Result<Vec<sp::Statement>, Failure>) -> bool {
        matches!(r, Err(Failure::TooComplex(_)))
    }

    #[test]
    fn long_or_chains_become_shallow_and_print_the_same() {
        let terms: Vec<String> = (0..1000).map(|i| format!("a = {i}")).collect();
        let text = format!("SELECT 1 WHERE {}", terms.join(" OR "));
        let stmts = parse(&text).unwrap();
        // Printing a balanced tree gives the same flat text back.
        assert_eq!(stmts[0].to_string(), text);
        // A clone recurses plainly: fine on a small stack once balanced.
        let s = stmts[0].clone();
        let ok = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || s.clone().to_string().len())
            .unwrap()
            .join();
        assert!(ok.is_ok());
    }

    #[test]
    fn refuses_deep_nesting_of_every_kind() {
        let minus = format!("SELECT {}", vec!["1"; 200].join(" - "));
        assert!(too_complex(parse(&minus)));
        let parens = format!("SELECT {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(too_complex(parse(&parens)));
        let nots = format!("SELECT {}true", "NOT ".repeat(200));
        assert!(too_complex(parse(&nots)));
        let unions = vec!["SELECT 1"; 200].join(" UNION ALL ");
        assert!(too_complex(parse(&unions)));
        let casts = format!("SELECT 1{}", "::int".repeat(200));
        assert!(too_complex(parse(&casts)));
        let long = format!("SELECT {}", vec!["1"; MAX_TOKENS].join(","));
        assert!(too_complex(parse(&long)));
        // Within the limits: fine.
        assert!(parse(&format!("SELECT {}", vec!["1"; 40].join(" - "))).is_ok());
    }

    #[test]
    fn a_refused_deep_chain_is_dropped_without_recursion() {
        // 16,000 levels would need ~2 MiB to drop recursively.
        let text = format!("SELECT {}", vec!["1"; 16_000].join("-"));
        let ok = std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(move || too_complex(parse(&text)))
            .unwrap()
            .join();
        assert_eq!(ok.ok(), Some(true));
    }
}
