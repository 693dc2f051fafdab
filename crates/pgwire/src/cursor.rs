//! SQL cursors: `DECLARE name [BINARY] [[NO] SCROLL] CURSOR [WITH[OUT]
//! HOLD] FOR query`, `FETCH`/`MOVE` in every direction PostgreSQL has, and
//! `CLOSE name | ALL` (psqlODBC's UseDeclareFetch — Tableau, Power BI's
//! ODBC path —, psql's `FETCH_COUNT`, hand-written reports).
//!
//! A cursor holds the answer of its query as it was when declared: the
//! semantic query runs at DECLARE through the same cache, policies and
//! consent as any SELECT (its row limit included), and FETCH pages through
//! that answer. Positions follow PostgreSQL exactly: a cursor sits before
//! the first row (0), on a row (1..=n) or after the last (n + 1).
//!
//! Lifetimes follow PostgreSQL too: a cursor without HOLD needs a
//! transaction block (an explicit BEGIN, or the implicit one of a
//! multi-statement simple query) and closes when it ends; a cursor WITH
//! HOLD outlives COMMIT (a ROLLBACK drops the ones declared in the rolled
//! back block).

use std::collections::BTreeMap;
use std::sync::Mutex;

use sqlparser::ast as sp;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::encode::Field;
use super::error::{STATEMENT_TOO_COMPLEX, SYNTAX_ERROR, SqlError, SqlResult};
use crate::sql::guard::Failure;
use crate::warehouse::Value;

pub const INVALID_CURSOR_NAME: &str = "34000";
pub const DUPLICATE_CURSOR: &str = "42P03";
pub const NO_ACTIVE_TRANSACTION: &str = "25P01";
pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";

/// How many rows a FETCH/MOVE goes, in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `NEXT`, `n`, `FORWARD [n]`, `ALL`, `FORWARD ALL` (`None`: all).
    /// Negative counts go backward, as in PostgreSQL.
    Forward(Option<i64>),
    /// `PRIOR`, `BACKWARD [n]`, `BACKWARD ALL`.
    Backward(Option<i64>),
    /// `FIRST` (1), `LAST` (-1), `ABSOLUTE n`.
    Absolute(i64),
    /// `RELATIVE n`.
    Relative(i64),
}

/// A parsed `FETCH` or `MOVE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub name: String,
    pub direction: Direction,
    /// `MOVE`: position only, no rows.
    pub move_only: bool,
}

/// A parsed `DECLARE … CURSOR FOR query`.
#[derive(Debug, Clone)]
pub struct Declare {
    pub name: String,
    pub hold: bool,
    /// `Some(false)` for NO SCROLL: only forward fetches.
    pub scroll: Option<bool>,
    pub query: Box<sp::Statement>,
}

/// An unquoted identifier folds to lower case, a quoted one is kept.
fn fold(value: &str, quote_style: Option<char>) -> String {
    match quote_style {
        Some(_) => value.to_string(),
        None => value.to_lowercase(),
    }
}

fn ident_name(i: &sp::Ident) -> String {
    fold(&i.value, i.quote_style)
}

/// Parses a `DECLARE` statement (the query is parsed by sqlparser).
pub fn parse_declare(sql: &str) -> SqlResult<Declare> {
    let mut stmts = crate::sql::guard::parse_statements(&PostgreSqlDialect {}, sql, "the query")
        .map_err(|f| match f {
            Failure::TooComplex(m) => SqlError::new(STATEMENT_TOO_COMPLEX, m),
            Failure::Syntax(e) => {
                SqlError::new(SYNTAX_ERROR, format!("syntax error in DECLARE: {e}"))
            }
        })?;
    let Some(sp::Statement::Declare { mut stmts, .. }) = stmts.pop() else {
        return Err(SqlError::new(
            SYNTAX_ERROR,
            "expected DECLARE … CURSOR FOR query",
        ));
    };
    let Some(d) = stmts.pop() else {
        return Err(SqlError::new(
            SYNTAX_ERROR,
            "expected DECLARE … CURSOR FOR query",
        ));
    };
    let (Some(name), Some(query)) = (d.names.first(), d.for_query) else {
        return Err(SqlError::new(
            SYNTAX_ERROR,
            "expected DECLARE name CURSOR FOR query",
        ));
    };
    if d.binary == Some(true) {
        return Err(SqlError::unsupported(
            "BINARY cursors are not supported",
            "declare the cursor without BINARY; binary results are available through the extended protocol's result formats",
        ));
    }
    Ok(Declare {
        name: ident_name(name),
        hold: d.hold == Some(true),
        scroll: d.scroll,
        query: Box::new(sp::Statement::Query(query)),
    })
}

/// The tokens of a statement without whitespace and comments.
fn tokens(sql: &str) -> SqlResult<Vec<Token>> {
    let toks = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| SqlError::new(SYNTAX_ERROR, format!("syntax error: {e}")))?;
    Ok(toks
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
        .collect())
}

fn keyword(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// A signed integer at `toks[i..]`: returns it and the tokens it took.
fn signed(toks: &[Token], i: usize) -> Option<(i64, usize)> {
    match (toks.get(i), toks.get(i + 1)) {
        (Some(Token::Number(n, _)), _) => n.parse().ok().map(|v| (v, 1)),
        (Some(Token::Minus), Some(Token::Number(n, _))) => n.parse::<i64>().ok().map(|v| (-v, 2)),
        (Some(Token::Plus), Some(Token::Number(n, _))) => n.parse().ok().map(|v| (v, 2)),
        _ => None,
    }
}

/// Parses `FETCH|MOVE [direction] [FROM|IN] cursor_name`.
pub fn parse_fetch(sql: &str) -> SqlResult<Fetch> {
    let toks = tokens(sql)?;
    let bad = || {
        SqlError::new(
            SYNTAX_ERROR,
            "expected FETCH|MOVE [NEXT | PRIOR | FIRST | LAST | ABSOLUTE n | RELATIVE n | n | ALL | FORWARD [n | ALL] | BACKWARD [n | ALL]] [FROM | IN] cursor_name",
        )
    };
    let move_only = match toks.first().and_then(keyword).as_deref() {
        Some("fetch") => false,
        Some("move") => true,
        _ => return Err(bad()),
    };
    // The cursor name is the last token; everything between is direction.
    let (name_tok, middle) = match toks[1..].split_last() {
        Some((last, middle)) => (last, middle),
        None => return Err(bad()),
    };
    let name = match name_tok {
        // `FETCH FROM` names no cursor.
        Token::Word(w)
            if !(w.quote_style.is_none()
                && (w.value.eq_ignore_ascii_case("from")
                    || w.value.eq_ignore_ascii_case("in"))) =>
        {
            fold(&w.value, w.quote_style)
        }
        _ => return Err(bad()),
    };
    let middle = match middle.last().and_then(keyword).as_deref() {
        Some("from") | Some("in") => &middle[..middle.len() - 1],
        _ => middle,
    };
    let word = middle.first().and_then(keyword);
    let count_after = |i: usize| -> SqlResult<Option<i64>> {
        if middle.len() == i {
            return Ok(Some(1));
        }
        if middle.len() == i + 1 && middle.get(i).and_then(keyword).as_deref() == Some("all") {
            return Ok(None);
        }
        match signed(middle, i) {
            Some((v, used)) if i + used == middle.len() => Ok(Some(v)),
            _ => Err(bad()),
        }
    };
    let exactly = |i: usize| -> SqlResult<i64> {
        match signed(middle, i) {
            Some((v, used)) if i + used == middle.len() => Ok(v),
            _ => Err(bad()),
        }
    };
    let direction = match word.as_deref() {
        None if middle.is_empty() => Direction::Forward(Some(1)),
        None => Direction::Forward(Some(exactly(0)?)),
        Some("next") if middle.len() == 1 => Direction::Forward(Some(1)),
        Some("prior") if middle.len() == 1 => Direction::Backward(Some(1)),
        Some("first") if middle.len() == 1 => Direction::Absolute(1),
        Some("last") if middle.len() == 1 => Direction::Absolute(-1),
        Some("all") if middle.len() == 1 => Direction::Forward(None),
        Some("absolute") => Direction::Absolute(exactly(1)?),
        Some("relative") => Direction::Relative(exactly(1)?),
        Some("forward") => Direction::Forward(count_after(1)?),
        Some("backward") => Direction::Backward(count_after(1)?),
        _ => return Err(bad()),
    };
    Ok(Fetch {
        name,
        direction,
        move_only,
    })
}

/// Parses `CLOSE name | ALL`: `None` is ALL.
pub fn parse_close(sql: &str) -> SqlResult<Option<String>> {
    let toks = tokens(sql)?;
    let bad = || SqlError::new(SYNTAX_ERROR, "expected CLOSE cursor_name or CLOSE ALL");
    match toks.as_slice() {
        [first, Token::Word(w)] if keyword(first).as_deref() == Some("close") => {
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("all") {
                Ok(None)
            } else {
                Ok(Some(fold(&w.value, w.quote_style)))
            }
        }
        _ => Err(bad()),
    }
}

/// An open cursor.
#[derive(Debug)]
struct Cursor {
    fields: Vec<Field>,
    rows: Vec<Vec<Value>>,
    /// 0: before the first row; 1..=n: on row n; n + 1: after the last.
    pos: usize,
    hold: bool,
    scroll: Option<bool>,
    /// Declared inside the current explicit transaction block.
    in_block: bool,
}

impl Cursor {
    fn after_last(&self) -> usize {
        self.rows.len() + 1
    }

    /// Moves as PostgreSQL's executor does and returns the row indexes
    /// (0-based) fetched, in fetch order.
    fn step(&mut self, direction: Direction) -> SqlResult<Vec<usize>> {
        let n = self.rows.len();
        let backward_refused = |c: &Cursor| -> SqlResult<()> {
            if c.scroll == Some(false) {
                Err(SqlError::new(
                    OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cursor can only scan forward",
                )
                .hint("Declare it with SCROLL option to enable backward scan."))
            } else {
                Ok(())
            }
        };
        let mut out = Vec::new();
        match direction {
            Direction::Forward(Some(0)) | Direction::Backward(Some(0)) | Direction::Relative(0) => {
                if (1..=n).contains(&self.pos) {
                    out.push(self.pos - 1);
                }
            }
            Direction::Forward(Some(k)) if k < 0 => {
                return self.step(Direction::Backward(Some(-k)));
            }
            Direction::Backward(Some(k)) if k < 0 => {
                return self.step(Direction::Forward(Some(-k)));
            }
            Direction::Forward(count) => {
                let mut left = count.map(|k| k as u64);
                while left != Some(0) && self.pos < self.after_last() {
                    self.pos += 1;
                    if self.pos > n {
                        break;
                    }
                    out.push(self.pos - 1);
                    left = left.map(|l| l - 1);
                }
            }
            Direction::Backward(count) => {
                backward_refused(self)?;
                let mut left = count.map(|k| k as u64);
                while left != Some(0) && self.pos > 0 {
                    self.pos -= 1;
                    if self.pos == 0 {
                        break;
                    }
                    out.push(self.pos - 1);
                    left = left.map(|l| l - 1);
                }
            }
            Direction::Absolute(k) => {
                let target = if k > 0 {
                    (k as usize).min(n + 1)
                } else if k < 0 {
                    (n + 1).saturating_sub(k.unsigned_abs() as usize)
                } else {
                    0
                };
                if target < self.pos {
                    backward_refused(self)?;
                }
                self.pos = target;
                if (1..=n).contains(&self.pos) {
                    out.push(self.pos - 1);
                }
            }
            Direction::Relative(k) => {
                let target = if k > 0 {
                    (self.pos + k as usize).min(n + 1)
                } else {
                    backward_refused(self)?;
                    self.pos.saturating_sub(k.unsigned_abs() as usize)
                };
                self.pos = target;
                if (1..=n).contains(&self.pos) {
                    out.push(self.pos - 1);
                }
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct State {
    open: BTreeMap<String, Cursor>,
    /// An explicit transaction block (BEGIN … COMMIT/ROLLBACK).
    explicit: bool,
    /// The implicit block of a multi-statement simple query.
    implicit: bool,
}

/// One session's cursors.
#[derive(Debug, Default)]
pub struct Cursors {
    state: Mutex<State>,
}

fn no_such(name: &str) -> SqlError {
    SqlError::new(
        INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

impl Cursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave a half-made cursor:
        // every change is one map operation.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self) {
        self.lock().explicit = true;
    }

    /// COMMIT: cursors without HOLD close.
    pub fn commit(&self) {
        let mut s = self.lock();
        s.explicit = false;
        s.open.retain(|_, c| c.hold);
        for c in s.open.values_mut() {
            c.in_block = false;
        }
    }

    /// ROLLBACK: cursors without HOLD close, and so do the ones declared in
    /// the rolled back block.
    pub fn rollback(&self) {
        let mut s = self.lock();
        s.explicit = false;
        s.open.retain(|_, c| c.hold && !c.in_block);
    }

    /// A multi-statement simple query starts (its statements share an
    /// implicit transaction block).
    pub fn begin_implicit(&self) {
        self.lock().implicit = true;
    }

    /// The multi-statement simple query ended: outside an explicit block,
    /// cursors without HOLD close.
    pub fn end_implicit(&self) {
        let mut s = self.lock();
        s.implicit = false;
        if !s.explicit {
            s.open.retain(|_, c| c.hold);
        }
    }

    /// Refuses a DECLARE before its query runs: a taken name, or no
    /// transaction block for a cursor without HOLD.
    pub fn check_declare(&self, d: &Declare) -> SqlResult<()> {
        let s = self.lock();
        if s.open.contains_key(&d.name) {
            return Err(SqlError::new(
                DUPLICATE_CURSOR,
                format!("cursor \"{}\" already exists", d.name),
            ));
        }
        if !d.hold && !s.explicit && !s.implicit {
            return Err(SqlError::new(
                NO_ACTIVE_TRANSACTION,
                "DECLARE CURSOR can only be used in transaction blocks",
            )
            .hint("run BEGIN first, or declare the cursor WITH HOLD"));
        }
        Ok(())
    }

    /// Opens a cursor over an answer.
    pub fn declare(&self, d: &Declare, fields: Vec<Field>, rows: Vec<Vec<Value>>) -> SqlResult<()> {
        self.check_declare(d)?;
        let mut s = self.lock();
        let in_block = s.explicit;
        s.open.insert(
            d.name.clone(),
            Cursor {
                fields,
                rows,
                pos: 0,
                hold: d.hold,
                scroll: d.scroll,
                in_block,
            },
        );
        Ok(())
    }

    /// The result columns FETCH from this cursor returns.
    pub fn fields(&self, name: &str) -> SqlResult<Vec<Field>> {
        self.lock()
            .open
            .get(name)
            .map(|c| c.fields.clone())
            .ok_or_else(|| no_such(name))
    }

    /// Runs a FETCH (the rows) or MOVE (no rows; the count is the number
    /// of rows it moved over).
    pub fn fetch(&self, f: &Fetch) -> SqlResult<(Vec<Field>, Vec<Vec<Value>>, usize)> {
        let mut s = self.lock();
        let c = s.open.get_mut(&f.name).ok_or_else(|| no_such(&f.name))?;
        let picked = c.step(f.direction)?;
        let count = picked.len();
        let rows = if f.move_only {
            Vec::new()
        } else {
            picked.into_iter().map(|i| c.rows[i].clone()).collect()
        };
        Ok((c.fields.clone(), rows, count))
    }

    /// CLOSE name, or CLOSE ALL (`None`).
    pub fn close(&self, name: Option<&str>) -> SqlResult<()> {
        let mut s = self.lock();
        match name {
            None => {
                s.open.clear();
                Ok(())
            }
            Some(n) => s.open.remove(n).map(|_| ()).ok_or_else(|| no_such(n)),
        }
    }

    /// `DISCARD ALL` closes every cursor and leaves the block.
    pub fn discard(&self) {
        let mut s = self.lock();
        s.open.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgwire::api::Type;

    fn cursor(n: i64, scroll: Option<bool>) -> (Cursors, Declare) {
        let c = Cursors::default();
        c.begin();
        let mut d = parse_declare("DECLARE c CURSOR FOR SELECT 1").unwrap();
        d.scroll = scroll;
        c.declare(
            &d,
            vec![Field {
                name: "x".into(),
                ty: Type::INT8,
            }],
            (1..=n).map(|i| vec![Value::Int(i)]).collect(),
        )
        .unwrap();
        (c, d)
    }

    fn fetch(c: &Cursors, sql: &str) -> Vec<i64> {
        c.fetch(&parse_fetch(sql).unwrap())
            .unwrap()
            .1
            .into_iter()
            .map(|r| match r[0] {
                Value::Int(i) => i,
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn parses_every_direction() {
        let d = |s: &str| parse_fetch(s).unwrap().direction;
        assert_eq!(d("FETCH c"), Direction::Forward(Some(1)));
        assert_eq!(
            d("fetch 2048 in \"SQL_CUR1\""),
            Direction::Forward(Some(2048))
        );
        assert_eq!(
            d("FETCH FORWARD 100 FROM _psql_cursor"),
            Direction::Forward(Some(100))
        );
        assert_eq!(d("FETCH FORWARD FROM c"), Direction::Forward(Some(1)));
        assert_eq!(d("FETCH BACKWARD ALL IN c"), Direction::Backward(None));
        assert_eq!(d("FETCH ALL c"), Direction::Forward(None));
        assert_eq!(d("FETCH -2 FROM c"), Direction::Forward(Some(-2)));
        assert_eq!(d("FETCH LAST FROM c"), Direction::Absolute(-1));
        assert_eq!(d("FETCH ABSOLUTE -3 c"), Direction::Absolute(-3));
        assert_eq!(d("MOVE RELATIVE 2 IN c"), Direction::Relative(2));
        assert_eq!(parse_fetch("fetch 1 in \"My Cur\"").unwrap().name, "My Cur");
        assert_eq!(parse_fetch("FETCH NEXT FROM MyCur").unwrap().name, "mycur");
        assert!(parse_fetch("FETCH FROM").is_err());
        assert!(parse_fetch("FETCH ABSOLUTE FROM c").is_err());
        assert_eq!(
            parse_close("close \"SQL_CUR1\"").unwrap().as_deref(),
            Some("SQL_CUR1")
        );
        assert_eq!(parse_close("CLOSE ALL").unwrap(), None);
    }

    #[test]
    fn declare_reads_hold_scroll_and_the_query() {
        let d = parse_declare(
            "declare \"SQL_CUR0000000001\" cursor with hold for select status from orders",
        )
        .unwrap();
        assert_eq!(d.name, "SQL_CUR0000000001");
        assert!(d.hold);
        assert!(matches!(*d.query, sp::Statement::Query(_)));
        let d = parse_declare("DECLARE _psql_cursor NO SCROLL CURSOR FOR SELECT 1").unwrap();
        assert_eq!(d.scroll, Some(false));
        assert!(!d.hold);
        assert_eq!(
            parse_declare("DECLARE b BINARY CURSOR FOR SELECT 1")
                .unwrap_err()
                .code,
            super::super::error::FEATURE_NOT_SUPPORTED
        );
    }

    /// Expected positions worked out by hand from PostgreSQL's FETCH
    /// documentation, over a cursor of the rows 1..=5.
    #[test]
    fn moves_like_postgres() {
        let (c, _) = cursor(5, None);
        assert_eq!(fetch(&c, "FETCH 2 FROM c"), vec![1, 2]);
        assert_eq!(fetch(&c, "FETCH 0 FROM c"), vec![2]);
        assert_eq!(fetch(&c, "FETCH PRIOR FROM c"), vec![1]);
        assert_eq!(fetch(&c, "FETCH PRIOR FROM c"), Vec::<i64>::new());
        assert_eq!(fetch(&c, "FETCH NEXT FROM c"), vec![1]);
        assert_eq!(fetch(&c, "FETCH ALL FROM c"), vec![2, 3, 4, 5]);
        assert_eq!(fetch(&c, "FETCH NEXT FROM c"), Vec::<i64>::new());
        assert_eq!(fetch(&c, "FETCH BACKWARD 2 FROM c"), vec![5, 4]);
        assert_eq!(fetch(&c, "FETCH LAST FROM c"), vec![5]);
        assert_eq!(fetch(&c, "FETCH ABSOLUTE -2 FROM c"), vec![4]);
        assert_eq!(fetch(&c, "FETCH RELATIVE -3 FROM c"), vec![1]);
        assert_eq!(fetch(&c, "FETCH RELATIVE -3 FROM c"), Vec::<i64>::new());
        assert_eq!(fetch(&c, "FETCH ABSOLUTE 9 FROM c"), Vec::<i64>::new());
        assert_eq!(fetch(&c, "FETCH -1 FROM c"), vec![5]);
        assert_eq!(fetch(&c, "FETCH FIRST FROM c"), vec![1]);
        assert_eq!(fetch(&c, "FETCH BACKWARD ALL FROM c"), Vec::<i64>::new());
        let (_, _, moved) = c
            .fetch(&parse_fetch("MOVE FORWARD 3 IN c").unwrap())
            .unwrap();
        assert_eq!(moved, 3);
        assert_eq!(fetch(&c, "FETCH 10 FROM c"), vec![4, 5]);
    }

    #[test]
    fn no_scroll_refuses_backward() {
        let (c, _) = cursor(3, Some(false));
        assert_eq!(fetch(&c, "FETCH 2 FROM c"), vec![1, 2]);
        let e = c
            .fetch(&parse_fetch("FETCH PRIOR FROM c").unwrap())
            .unwrap_err();
        assert_eq!(e.code, OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(fetch(&c, "FETCH ABSOLUTE 3 FROM c"), vec![3]);
    }

    #[test]
    fn lifetimes_follow_transactions() {
        let c = Cursors::default();
        let plain = parse_declare("DECLARE p CURSOR FOR SELECT 1").unwrap();
        let held = parse_declare("DECLARE h CURSOR WITH HOLD FOR SELECT 1").unwrap();
        assert_eq!(
            c.check_declare(&plain).unwrap_err().code,
            NO_ACTIVE_TRANSACTION
        );
        c.declare(&held, vec![], vec![]).unwrap();
        assert_eq!(c.check_declare(&held).unwrap_err().code, DUPLICATE_CURSOR);
        c.begin();
        c.declare(&plain, vec![], vec![]).unwrap();
        c.commit();
        assert_eq!(c.fields("p").unwrap_err().code, INVALID_CURSOR_NAME);
        assert!(c.fields("h").is_ok());
        // A held cursor declared in a rolled back block goes with it.
        c.begin();
        let held2 = parse_declare("DECLARE h2 CURSOR WITH HOLD FOR SELECT 1").unwrap();
        c.declare(&held2, vec![], vec![]).unwrap();
        c.rollback();
        assert!(c.fields("h2").is_err());
        assert!(c.fields("h").is_ok());
        // The implicit block of a multi-statement query.
        c.begin_implicit();
        c.declare(&plain, vec![], vec![]).unwrap();
        assert!(c.fields("p").is_ok());
        c.end_implicit();
        assert!(c.fields("p").is_err());
        c.close(Some("h")).unwrap();
        assert_eq!(c.close(Some("h")).unwrap_err().code, INVALID_CURSOR_NAME);
    }
}
