//! The one line grammar of `ConfigParser` files, shared by the reader
//! ([`crate::IniDocument`]) and the editor ([`crate::IniEditor`]), so that
//! they always agree on where lines end and what each line is.

/// Split `text` into lines and their endings as Python's universal newlines
/// mode does (`\n`, `\r\n`, `\r`). The ending is `""` for a last line without
/// one; joining every line and its ending gives `text` back.
pub(crate) fn split_lines(text: &str) -> Vec<(&str, &str)> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['\n', '\r']) {
        let end = if rest[at..].starts_with("\r\n") {
            at + 2
        } else {
            at + 1
        };
        lines.push((&rest[..at], &rest[at..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        lines.push((rest, ""));
    }
    lines
}

/// Python's `str.isspace()` for one character.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(text: &str) -> &str {
    text.trim_matches(py_isspace)
}

/// The white space a line starts with.
pub(crate) fn leading_space(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|(_, c)| !py_isspace(*c))
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// What one line is, under `ConfigParser`'s rules, given the lines before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKind<'a> {
    /// A blank line (it may belong to a continued value).
    Blank,
    /// A full-line comment (`#` or `;` after optional white space).
    Comment,
    /// A line indented deeper than the open option's: more of its value
    /// (stripped).
    Continuation(&'a str),
    /// A `[section]` header, with the section's name.
    Header(&'a str),
    /// `key = value` or `key: value`: the option's name (lower-cased; empty
    /// for a line such as `= value`, which Python refuses) and its stripped
    /// value.
    Option {
        /// The option's name, lower-cased.
        name: String,
        /// The value on this line, stripped.
        value: &'a str,
    },
    /// None of the above: Python's `ParsingError` (or, before any header,
    /// `MissingSectionHeaderError`).
    Invalid,
}

/// The state `ConfigParser` carries from line to line: whether a header was
/// seen, whether an option is open for continuation lines, and the
/// indentation of the last line that was not a continuation.
#[derive(Debug, Default)]
pub(crate) struct Grammar {
    in_section: bool,
    option_open: bool,
    indent_level: usize,
}

impl Grammar {
    /// Classify the next line (without its ending).
    pub(crate) fn line<'a>(&mut self, line: &'a str) -> LineKind<'a> {
        let trimmed = py_strip(line);
        if trimmed.is_empty() {
            return LineKind::Blank;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            return LineKind::Comment;
        }
        let indent = line.chars().take_while(|c| py_isspace(*c)).count();
        if self.option_open && self.in_section && indent > self.indent_level {
            return LineKind::Continuation(trimmed);
        }
        self.indent_level = indent;
        if let Some(name) = section_header(trimmed) {
            self.in_section = true;
            self.option_open = false;
            return LineKind::Header(name);
        }
        match option_line(trimmed) {
            Some((name, value)) => {
                self.option_open = true;
                LineKind::Option { name, value }
            }
            None => LineKind::Invalid,
        }
    }
}

/// `\[(?P<header>.+)\]` matched at the start of a stripped line: the text
/// between the opening `[` and the last `]`, at least one character.
fn section_header(trimmed: &str) -> Option<&str> {
    let inner = trimmed.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    (close > 0).then(|| &inner[..close])
}

/// Where the delimiter between an option's name and its value is: the
/// first `=` or `:` of the line.
pub(crate) fn delimiter(line: &str) -> Option<usize> {
    line.find(['=', ':'])
}

/// `(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`: the option (lower-cased,
/// trailing white space removed) and the stripped value.
fn option_line(trimmed: &str) -> Option<(String, &str)> {
    let at = delimiter(trimmed)?;
    let option = trimmed[..at].trim_end_matches(py_isspace).to_lowercase();
    let value = py_strip(&trimmed[at + 1..]);
    Some((option, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_universal_newlines_and_join_back() {
        for (text, expected) in [
            ("a\nb\r\nc\rd", vec!["a", "b", "c", "d"]),
            ("\n\n", vec!["", ""]),
            ("x\r\n\r\n", vec!["x", ""]),
            ("", vec![]),
            ("\r", vec![""]),
            ("end\n", vec!["end"]),
        ] {
            let lines = split_lines(text);
            let texts: Vec<&str> = lines.iter().map(|(line, _)| *line).collect();
            assert_eq!(texts, expected, "{text:?}");
            let joined: String = lines.iter().flat_map(|(l, e)| [*l, *e]).collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn kinds_follow_the_state() {
        let mut grammar = Grammar::default();
        let kinds: Vec<LineKind<'_>> = [
            "# c", "[s]", "A = 1", "  more", "", "; c", "  [t]", "junk", "[u] x", "  b: 2",
        ]
        .into_iter()
        .map(|line| grammar.line(line))
        .collect();
        assert_eq!(
            kinds,
            [
                LineKind::Comment,
                LineKind::Header("s"),
                LineKind::Option {
                    name: "a".into(),
                    value: "1"
                },
                LineKind::Continuation("more"),
                LineKind::Blank,
                LineKind::Comment,
                LineKind::Continuation("[t]"),
                LineKind::Invalid,
                LineKind::Header("u"),
                LineKind::Option {
                    name: "b".into(),
                    value: "2"
                },
            ]
        );
    }
}
