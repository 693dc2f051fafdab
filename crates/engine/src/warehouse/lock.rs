//! DuckDB's refusal to open a file another process has locked, turned into
//! advice. DuckDB lets one process open a file for writing, or any number
//! open it read-only, never both: its refusal reads
//! `IO Error: Could not set lock on file "F": Conflicting lock is held in
//! PROGRAM (PID N) by user U. ...` (with ". However, you would be able to
//! open this database in read-only mode" when the holder only reads).
//! This module reads that text (no DuckDB needed, so it is tested in every
//! build) and says which file, who holds it and for what, and what to do.

use std::path::Path;

use super::FileAccess;

/// The process holding the lock, as DuckDB names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The program's path (or name); `None` when DuckDB could not tell.
    pub program: Option<String>,
    pub pid: Option<u32>,
    pub user: Option<String>,
    /// The holder writes (else it only reads, and we wanted to write).
    pub writes: bool,
    /// DuckDB found the lock held by this very process.
    pub this_process: bool,
}

/// Reads DuckDB's lock refusal; `None` when `text` is another error.
pub fn holder(text: &str, wanted: FileAccess) -> Option<Holder> {
    const SAME: &str = "Lock is already held in current process";
    const HELD: &str = "Conflicting lock is held in ";
    if !text.contains("Could not set lock on file") && !text.contains(HELD) {
        return None;
    }
    // Asking for a write lock, DuckDB tries a read lock too and says so
    // when that would work: the holder only reads.
    let writes = wanted == FileAccess::ReadOnly || !text.contains("read-only mode");
    if text.contains(SAME) {
        return Some(Holder {
            program: None,
            pid: Some(std::process::id()),
            user: None,
            writes,
            this_process: true,
        });
    }
    let rest = text.split(HELD).nth(1).unwrap_or("");
    let (program, after) = match rest.find(" (PID ") {
        Some(i) => (Some(rest[..i].to_string()), &rest[i + " (PID ".len()..]),
        None => (None, rest.strip_prefix("PID ").unwrap_or(rest)),
    };
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    let user = after.split(" by user ").nth(1).map(|u| {
        u.split(|c: char| c.is_whitespace() || c == '.')
            .next()
            .unwrap_or("")
            .to_string()
    });
    Some(Holder {
        program,
        pid: digits.parse().ok(),
        user: user.filter(|u| !u.is_empty()),
        writes,
        this_process: false,
    })
}

impl Holder {
    /// `/usr/bin/python3 (PID 4242, user ana)`.
    fn describe(&self) -> String {
        let mut ids = Vec::new();
        if let Some(p) = self.pid {
            ids.push(format!("PID {p}"));
        }
        if let Some(u) = &self.user {
            ids.push(format!("user {u}"));
        }
        let ids = ids.join(", ");
        match &self.program {
            Some(p) => format!("{p} ({ids})"),
            None => format!("a process ({ids})"),
        }
    }

    /// What an accord holder is probably doing.
    fn accord_role(&self) -> Option<&'static str> {
        let program = self.program.as_deref()?;
        let name = Path::new(program).file_name()?.to_str()?;
        (name == "accord" || name.starts_with("accord ")).then_some(if self.writes {
            "another accord writing to it: `accord demo init`, `accord identity build` or \
             `accord identity exclude` (or an `accord serve` older than read-only serving)"
        } else {
            "another accord reading it: `accord serve` keeps it open while it runs, \
             `accord query` and `accord check` while they run"
        })
    }
}

/// The message for a lock refusal of `path`, opened for `wanted`.
pub fn message(path: &Path, wanted: FileAccess, h: &Holder) -> String {
    let file = path.display();
    if h.this_process {
        return format!(
            "the DuckDB file {file} is already open in this process (another DuckDB instance \
             holds its lock); open it once and share that connection"
        );
    }
    let how = if h.writes {
        "for writing"
    } else {
        "for reading"
    };
    let role = h
        .accord_role()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let why = match (wanted, h.writes) {
        (FileAccess::ReadOnly, _) => {
            "accord only reads here and can share the file with other readers, but not with a writer"
        }
        (FileAccess::ReadWrite, true) => {
            "accord writes here, and DuckDB lets only one process write to a file"
        }
        (FileAccess::ReadWrite, false) => {
            "accord writes here, and DuckDB lets no process write to a file others have open"
        }
    };
    let copy = path.with_file_name(format!(
        "{}-copy.duckdb",
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("warehouse")
    ));
    format!(
        "cannot open the DuckDB file {file}: {holder} has it open {how}{role}; {why}. \
         Close the file in that program (or stop it), or point accord at a copy: \
         cp {file} {copy} and --warehouse duckdb://{copy}",
        holder = h.describe(),
        copy = copy.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITER: &str = "IO Error: Could not set lock on file \"/data/shop.duckdb\": \
        Conflicting lock is held in /usr/bin/python3.12 (PID 4242) by user ana. \
        See also https://duckdb.org/docs/stable/connect/concurrency";
    const READER: &str = "IO Error: Could not set lock on file \"/data/shop.duckdb\": \
        Conflicting lock is held in /opt/accord/bin/accord (PID 77). However, you would be \
        able to open this database in read-only mode, e.g. by using the -readonly parameter \
        in the CLI. See also https://duckdb.org/docs/stable/connect/concurrency";

    #[test]
    fn reads_the_holder_of_a_write_lock() {
        let h = holder(WRITER, FileAccess::ReadOnly).expect("a lock refusal");
        assert_eq!(h.program.as_deref(), Some("/usr/bin/python3.12"));
        assert_eq!(
            (h.pid, h.user.as_deref(), h.writes),
            (Some(4242), Some("ana"), true)
        );
        let m = message(Path::new("/data/shop.duckdb"), FileAccess::ReadOnly, &h);
        assert!(
            m.starts_with(
                "cannot open the DuckDB file /data/shop.duckdb: /usr/bin/python3.12 (PID 4242, \
                 user ana) has it open for writing; accord only reads here"
            ),
            "{m}"
        );
        assert!(
            m.contains("cp /data/shop.duckdb /data/shop-copy.duckdb"),
            "{m}"
        );
    }

    #[test]
    fn a_reader_blocks_only_writers_and_accord_is_named() {
        let h = holder(READER, FileAccess::ReadWrite).expect("a lock refusal");
        assert_eq!((h.pid, h.user.clone(), h.writes), (Some(77), None, false));
        let m = message(Path::new("/data/shop.duckdb"), FileAccess::ReadWrite, &h);
        assert!(
            m.contains(
                "(PID 77) has it open for reading (another accord reading it: `accord serve`"
            ),
            "{m}"
        );
        assert!(m.contains("accord writes here"), "{m}");
    }

    #[test]
    fn other_errors_are_not_lock_refusals() {
        assert_eq!(
            holder(
                "IO Error: Cannot open file \"x\": Permission denied",
                FileAccess::ReadOnly
            ),
            None
        );
    }
}
