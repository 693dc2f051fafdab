//! The caller's exposed tables themselves: empty DuckDB tables in schema
//! `public`, so a catalog query that reads one gets its columns and no
//! rows.

use super::script::{Script, qi};
use super::types::duck_type;

pub(super) fn tables(s: &mut Script<'_>) {
    for t in &s.exposed.tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", qi(&c.name), duck_type(c.ty)))
            .collect();
        let cols = if cols.is_empty() {
            "\"?\" VARCHAR".to_string()
        } else {
            cols.join(", ")
        };
        s.push(&format!("CREATE TABLE public.{} ({cols})", qi(&t.name)));
    }
}
