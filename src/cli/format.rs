//! Printing results for a terminal: a readable table, CSV or JSON.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::warehouse::{ColumnType, ResultSet};

pub fn table(rs: &ResultSet) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(rs.columns.iter().map(|c| Cell::new(&c.name)));
    for row in &rs.rows {
        t.add_row(row.iter().zip(&rs.columns).map(|(v, c)| {
            let cell = Cell::new(v.to_text());
            match c.ty {
                ColumnType::Integer | ColumnType::Decimal | ColumnType::Float => {
                    cell.set_alignment(CellAlignment::Right)
                }
                _ => cell,
            }
        }));
    }
    let mut out = t.to_string();
    out.push_str(&format!(
        "\n({} row{}{})",
        rs.rows.len(),
        if rs.rows.len() == 1 { "" } else { "s" },
        if rs.truncated { ", truncated" } else { "" }
    ));
    out
}

/// RFC 4180 CSV with a header row.
pub fn csv(rs: &ResultSet) -> String {
    crate::encode::csv(rs)
}

pub fn json(rs: &ResultSet) -> String {
    serde_json::to_string_pretty(rs).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
