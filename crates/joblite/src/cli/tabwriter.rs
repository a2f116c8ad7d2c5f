//! Go's `text/tabwriter`, which kubectl uses for tables and describe output.
//!
//! kubectl's alignment comes from tabwriter's column blocks (consecutive
//! lines that share a tab-terminated cell), not from one width per column,
//! so reproducing the algorithm is what makes the output match byte for
//! byte. Port of `Writer.format` in Go's `src/text/tabwriter/tabwriter.go`
//! (flags 0, padding with spaces).

/// Settings of a Go tabwriter.
#[derive(Debug, Clone, Copy)]
pub struct TabWriter {
    pub minwidth: usize,
    pub padding: usize,
}

/// `printers.GetNewTabWriter`: the settings of `kubectl get`.
pub const GET: TabWriter = TabWriter {
    minwidth: 6,
    padding: 3,
};

/// `describe.tabbedString`: the settings of `kubectl describe`.
pub const DESCRIBE: TabWriter = TabWriter {
    minwidth: 0,
    padding: 2,
};

impl TabWriter {
    /// Aligns `text`, whose cells are separated by `\t` and lines by `\n`.
    pub fn format(&self, text: &str) -> String {
        let mut lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
        // A trailing newline leaves one empty line that is not output.
        let trailing_newline = text.ends_with('\n');
        if trailing_newline {
            lines.pop();
        }
        let mut out = String::new();
        let mut widths = Vec::new();
        self.block(&lines, 0, lines.len(), &mut widths, &mut out);
        if !trailing_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn block(
        &self,
        lines: &[Vec<&str>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                let w = display_width(lines[this][column]) + self.padding;
                width = width.max(w);
                this += 1;
            }
            widths.push(width);
            self.block(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, line0, line1, widths, out);
    }
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() {
                let pad = widths[j].saturating_sub(display_width(cell));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
}

/// Width in characters (Go counts runes).
fn display_width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_table_layout() {
        let text = "NAME\tSTATUS\tCOMPLETIONS\tDURATION\tAGE\npi\tComplete\t1/1\t2s\t4s\n";
        assert_eq!(
            GET.format(text),
            "NAME   STATUS     COMPLETIONS   DURATION   AGE\npi     Complete   1/1           2s         4s\n"
        );
    }

    #[test]
    fn describe_blocks_break_on_lines_without_tabs() {
        let text = "Name:\tpi\nNamespace:\tdefault\nPod Template:\n  Labels:\tx\n";
        assert_eq!(
            DESCRIBE.format(text),
            "Name:       pi\nNamespace:  default\nPod Template:\n  Labels:  x\n"
        );
    }

    #[test]
    fn nested_columns() {
        let text = "a\tb\tc\naaaa\tb\n";
        assert_eq!(DESCRIBE.format(text), "a     b  c\naaaa  b\n");
    }
}
