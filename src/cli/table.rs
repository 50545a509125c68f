//! Human-readable output: aligned tables and the cell text for JSON values.
//!
//! Cells are sanitised: a name or reason from the API could hold control characters,
//! and an operator's terminal must not execute what a sender or tenant typed.

use serde_json::Value;
use std::fmt;

/// Rows of cells printed in aligned columns, two spaces apart; each column is as wide
/// as its widest cell. The last column is not padded, so no line ends in spaces.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut table = Self::default();
        table.row(header);
        table
    }

    /// A table without header: `name  value` lines for one object.
    pub fn fields() -> Self {
        Self::default()
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rows
            .push(cells.into_iter().map(|c| clean(c.as_ref())).collect());
        self
    }

    fn widths(&self) -> Vec<usize> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Rows printed one at a time as they arrive (a followed stream), so no column can be
/// sized by its widest cell: each is padded to a fixed width instead, and a wider cell
/// pushes the rest of its line right. Cells are escaped as in a [`Table`]; the last
/// column is not padded.
#[derive(Debug, Clone)]
pub struct Columns {
    widths: Vec<usize>,
}

impl Columns {
    /// Columns at least `widths` wide (the last width is not used).
    pub fn new(widths: &[usize]) -> Self {
        Self {
            widths: widths.to_vec(),
        }
    }

    /// One line of `cells`, ending in a line break.
    pub fn line<I, S>(&self, cells: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| clean(c.as_ref())).collect();
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cells.len() {
                let width = self.widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        format!("{}\n", line.trim_end())
    }
}

/// A tree of labels drawn with box-drawing branches, each label on one line and
/// escaped like a cell:
///
/// ```text
/// root
/// ├─ child
/// │  └─ grandchild
/// └─ last child
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    label: String,
    children: Vec<Tree>,
}

impl Tree {
    pub fn new(label: impl AsRef<str>) -> Self {
        Self {
            label: clean(label.as_ref()),
            children: Vec::new(),
        }
    }

    pub fn child(mut self, child: Tree) -> Self {
        self.children.push(child);
        self
    }

    pub fn children(mut self, children: impl IntoIterator<Item = Tree>) -> Self {
        self.children.extend(children);
        self
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            let (branch, next) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            writeln!(
                f,
                "{}",
                format!("{indent}{branch}{}", child.label).trim_end()
            )?;
            child.write(f, &format!("{indent}{next}"))?;
        }
        Ok(())
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.label.trim_end())?;
        self.write(f, "")
    }
}

/// Free text of many lines (a request body) as it is, line breaks and tabs kept, every
/// other control or bidirectional formatting character escaped as in a cell (a carriage
/// return too: it would let a line overwrite what came before it). Ends with a line
/// break unless empty.
pub fn text(text: &str) -> String {
    let mut shown = text
        .split('\n')
        .map(|line| line.split('\t').map(clean).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n");
    if !shown.is_empty() && !shown.ends_with('\n') {
        shown.push('\n');
    }
    shown
}

/// Control characters (escape sequences, line breaks) and bidirectional formatting
/// characters shown escaped, never interpreted.
pub fn clean(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if needs_escape(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_format(c)
}

/// The embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) reorder the
/// text that follows them, so a cell could make its own text, or the next column's,
/// read differently from what it holds (`evil\u{202e}gpj.exe` displays as
/// `evilexe.jpg`). The marks (U+200E, U+200F, U+061C) are invisible and change how
/// neighbouring neutral characters are ordered; escaping them too means every
/// character that alters display order is visible in the cell.
fn is_bidi_format(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// A JSON value as one cell: strings as they are, arrays joined by commas, objects as
/// compact JSON; null, missing and empty as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Object(fields) if fields.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A count from the API with its noun: `1 delivery`, `0 deliveries`; a missing count
/// as `-`.
pub fn count(n: &Value, one: &str, many: &str) -> String {
    let noun = if n.as_u64() == Some(1) { one } else { many };
    format!("{} {noun}", cell(n))
}

/// A number of seconds from the API in the largest unit that divides it (`90s`, `15m`,
/// `1h`, `7d`); null or missing as `-`.
pub fn seconds(value: &Value) -> String {
    let Some(n) = value.as_u64() else {
        return cell(value);
    };
    let (amount, unit) = [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|(size, _)| n > 0 && n % size == 0)
        .map_or((n, "s"), |(size, unit)| (n / size, unit));
    format!("{amount}{unit}")
}

/// An RFC 3339 timestamp shortened to whole seconds in UTC (`2024-05-01 12:00:00Z`);
/// anything else as [`cell`] shows it.
pub fn time(value: &Value) -> String {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|| cell(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(["ID", "NAME", "ENABLED"]);
        table.row(["src_1", "a-long-name", "true"]);
        table.row(["src_22", "gh", "false"]);
        assert_eq!(
            table.to_string(),
            "ID      NAME         ENABLED\n\
             src_1   a-long-name  true\n\
             src_22  gh           false\n"
        );
    }

    #[test]
    fn header_wider_than_every_cell_sets_the_width() {
        let mut table = Table::new(["FINGERPRINT", "X"]);
        table.row(["ab", "1"]);
        assert_eq!(table.to_string(), "FINGERPRINT  X\nab           1\n");
    }

    #[test]
    fn empty_table_prints_only_its_header() {
        assert_eq!(Table::new(["ID", "NAME"]).to_string(), "ID  NAME\n");
    }

    #[test]
    fn empty_last_cell_leaves_no_trailing_spaces() {
        let mut table = Table::fields();
        table.row(["name", ""]);
        table.row(["workflow", "wf"]);
        assert_eq!(table.to_string(), "name\nworkflow  wf\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::fields();
        table.row(["zoë", "1"]);
        table.row(["abcd", "2"]);
        assert_eq!(table.to_string(), "zoë   1\nabcd  2\n");
    }

    #[test]
    fn control_characters_in_cells_are_escaped_not_printed() {
        let mut table = Table::fields();
        table.row(["name", "evil\u{1b}[2J\nline"]);
        assert_eq!(table.to_string(), "name  evil\\u{1b}[2J\\nline\n");
    }

    #[test]
    fn escapes_bidirectional_overrides() {
        let cases = [
            ("LRE", "a\u{202a}b", "a\\u{202a}b"),
            ("RLE", "a\u{202b}b", "a\\u{202b}b"),
            ("PDF", "a\u{202c}b", "a\\u{202c}b"),
            ("LRO", "a\u{202d}b", "a\\u{202d}b"),
            ("RLO", "evil\u{202e}gpj.exe", "evil\\u{202e}gpj.exe"),
            ("LRI", "a\u{2066}b", "a\\u{2066}b"),
            ("RLI", "a\u{2067}b", "a\\u{2067}b"),
            ("FSI", "a\u{2068}b", "a\\u{2068}b"),
            ("PDI", "a\u{2069}b", "a\\u{2069}b"),
            ("LRM", "a\u{200e}b", "a\\u{200e}b"),
            ("RLM", "a\u{200f}b", "a\\u{200f}b"),
            ("ALM", "a\u{61c}b", "a\\u{61c}b"),
            (
                "override closed by PDF, next to a control character",
                "\u{202e}x\u{202c}\u{1b}",
                "\\u{202e}x\\u{202c}\\u{1b}",
            ),
        ];
        for (name, cell, shown) in cases {
            let mut table = Table::fields();
            table.row(["name", cell]);
            assert_eq!(table.to_string(), format!("name  {shown}\n"), "{name}");
        }
    }

    #[test]
    fn characters_next_to_the_bidirectional_ranges_are_printed_as_they_are() {
        // Neighbours of the escaped ranges, and right-to-left text itself, which needs
        // no formatting character to display correctly.
        let cases = [
            ("zero width joiner U+200D", "a\u{200d}b"),
            ("narrow no-break space U+202F", "a\u{202f}b"),
            ("word joiner U+2060", "a\u{2060}b"),
            ("Arabic comma U+060C", "a\u{60c}b"),
            ("Hebrew text", "שלום"),
            ("Arabic text", "مرحبا"),
        ];
        for (name, cell) in cases {
            let mut table = Table::fields();
            table.row(["name", cell]);
            assert_eq!(table.to_string(), format!("name  {cell}\n"), "{name}");
        }
    }

    #[test]
    fn header_cells_are_escaped_like_rows() {
        assert_eq!(Table::new(["ID\u{202e}"]).to_string(), "ID\\u{202e}\n");
    }

    #[test]
    fn json_cells_show_strings_bare_lists_joined_and_null_as_dash() {
        assert_eq!(cell(&json!("gh")), "gh");
        assert_eq!(cell(&json!(["push", "pull_request"])), "push,pull_request");
        assert_eq!(cell(&json!([])), "-");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&json!(1048576)), "1048576");
        assert_eq!(cell(&json!({})), "-");
        assert_eq!(
            cell(&json!({"grace_period_s": 60})),
            r#"{"grace_period_s":60}"#
        );
    }

    #[test]
    fn counts_take_the_singular_only_for_one() {
        assert_eq!(count(&json!(1), "delivery", "deliveries"), "1 delivery");
        assert_eq!(count(&json!(0), "delivery", "deliveries"), "0 deliveries");
        assert_eq!(count(&json!(12), "delivery", "deliveries"), "12 deliveries");
    }

    #[test]
    fn streamed_columns_pad_to_their_width_and_let_wider_cells_push_right() {
        let columns = Columns::new(&[3, 5, 0]);
        assert_eq!(columns.line(["SEQ", "TYPE", "DATA"]), "SEQ  TYPE   DATA\n");
        assert_eq!(columns.line(["1", "a", "{}"]), "1    a      {}\n");
        assert_eq!(columns.line(["1000", "longer", "x"]), "1000  longer  x\n");
        assert_eq!(columns.line(["2", "b", ""]), "2    b\n");
        assert_eq!(
            columns.line(["3", "e\u{1b}[2J", "\u{202e}x"]),
            "3    e\\u{1b}[2J  \\u{202e}x\n"
        );
    }

    #[test]
    fn trees_draw_branches_and_carry_on_the_parent_line_under_non_last_children() {
        let tree = Tree::new("root")
            .child(Tree::new("a").child(Tree::new("a1")).child(Tree::new("a2")))
            .child(Tree::new("b").child(Tree::new("b1")));
        let lines = [
            "root", //
            "├─ a",
            "│  ├─ a1",
            "│  └─ a2",
            "└─ b",
            "   └─ b1",
        ];
        assert_eq!(tree.to_string(), format!("{}\n", lines.join("\n")));
        assert_eq!(Tree::new("alone").to_string(), "alone\n");
    }

    #[test]
    fn tree_labels_are_escaped_like_cells() {
        let tree = Tree::new("evt\u{1b}[2J").child(Tree::new("a\nb\u{202e}"));
        assert_eq!(tree.to_string(), "evt\\u{1b}[2J\n└─ a\\nb\\u{202e}\n");
    }

    #[test]
    fn text_keeps_line_breaks_and_tabs_and_escapes_the_rest() {
        assert_eq!(text("{\n\t\"a\": 1\n}"), "{\n\t\"a\": 1\n}\n");
        assert_eq!(text("line\n"), "line\n");
        assert_eq!(text(""), "");
        assert_eq!(
            text("ok\u{1b}[31m\r\nevil\u{202e}txt"),
            "ok\\u{1b}[31m\\r\nevil\\u{202e}txt\n"
        );
    }

    #[test]
    fn seconds_use_the_largest_unit_that_divides_them() {
        assert_eq!(seconds(&json!(3600)), "1h");
        assert_eq!(seconds(&json!(5400)), "90m");
        assert_eq!(seconds(&json!(604800)), "7d");
        assert_eq!(seconds(&json!(61)), "61s");
        assert_eq!(seconds(&json!(0)), "0s");
        assert_eq!(seconds(&json!(null)), "-");
    }

    #[test]
    fn times_are_shortened_to_seconds_in_utc() {
        assert_eq!(
            time(&json!("2024-05-01T12:00:00.123456Z")),
            "2024-05-01 12:00:00Z"
        );
        assert_eq!(
            time(&json!("2024-05-01T14:00:00+02:00")),
            "2024-05-01 12:00:00Z"
        );
        assert_eq!(time(&json!(null)), "-");
        assert_eq!(time(&json!("not a time")), "not a time");
    }
}
