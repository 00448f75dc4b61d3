//! The editor: INI text changed option by option, every other line kept
//! byte for byte.
//!
//! Python's `ConfigParser.write` (and the `configparser` crate) rewrite the
//! whole file and lose every comment. [`IniEditor`] instead keeps the file as
//! its lines and changes only the lines of the options it sets or removes:
//! comments, blank lines, order, key case, other sections, multi-line values,
//! `%%` escapes, inline `#` text, the newline style (LF, CRLF or CR) and a
//! missing final newline all survive. Which lines belong to an option is
//! decided by the same grammar as the reader's.

use crate::grammar::{self, Grammar, leading_space, py_isspace, split_lines};
use crate::{Error, IniDocument};

/// What one line is to the editor (from [`grammar::LineKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Blank or a full-line comment.
    Trivia,
    /// A `[section]` header.
    Header(String),
    /// The first line of an option: its section and its lower-cased name.
    Option { section: String, name: String },
    /// A line that continues the previous option's value.
    Continuation,
}

#[derive(Debug, Clone)]
struct Line {
    text: String,
    /// `"\n"`, `"\r\n"`, `"\r"`, or `""` for a last line without newline.
    ending: String,
    kind: Role,
}

/// Whether [`IniEditor::set`] replaced an existing option or added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetOutcome {
    /// The option existed in the section and its value was replaced in place.
    Replaced,
    /// The option was added after the last option of the section.
    Added,
    /// The section does not exist; nothing was changed.
    NoSuchSection,
}

/// An INI file as lines, edited without disturbing the lines it does not change.
#[derive(Debug, Clone)]
pub struct IniEditor {
    lines: Vec<Line>,
    /// The newline of the first line that has one (`"\n"` if none does).
    newline: String,
}

impl IniEditor {
    /// Read `text`, which must be valid for Python's `ConfigParser` (it is
    /// parsed with [`IniDocument::parse`] first, and its error returned).
    pub fn parse(text: &str) -> Result<Self, Error> {
        IniDocument::parse(text)?;
        let mut lines: Vec<Line> = split_lines(text)
            .into_iter()
            .map(|(text, ending)| Line {
                text: text.to_string(),
                ending: ending.to_string(),
                kind: Role::Trivia,
            })
            .collect();
        classify(&mut lines);
        let newline = lines
            .iter()
            .map(|line| line.ending.as_str())
            .find(|ending| !ending.is_empty())
            .unwrap_or("\n")
            .to_string();
        Ok(Self { lines, newline })
    }

    /// The edited text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.text);
            out.push_str(&line.ending);
        }
        out
    }

    /// Whether `section` has its own line for `option` (`[DEFAULT]` is a
    /// section here like any other; `option` is matched case-insensitively).
    pub fn contains(&self, section: &str, option: &str) -> bool {
        self.find(section, option).is_some()
    }

    /// Set `option` of `section` to `raw_value` (written as is: escape `%`
    /// as `%%` first when the value must be read literally).
    ///
    /// An existing option keeps its line, its key spelling and its spacing
    /// around the delimiter; only the value changes (continuation lines of
    /// an old multi-line value go). A missing option is added after the
    /// section's last option, with that option's indentation, as
    /// `option = raw_value`. A multi-line `raw_value` is written with its
    /// continuation lines indented by two spaces more than the option.
    pub fn set(&mut self, section: &str, option: &str, raw_value: &str) -> SetOutcome {
        if let Some((start, end)) = self.find(section, option) {
            let ending = self
                .lines
                .get(end)
                .map(|line| line.ending.clone())
                .unwrap_or_default();
            let Some(first) = self.lines.get(start) else {
                return SetOutcome::NoSuchSection;
            };
            let prefix = value_prefix(&first.text);
            let indent = leading_space(&first.text).to_string();
            let mut replacement = value_lines(&prefix, &indent, raw_value, &self.newline);
            if let Some(last) = replacement.last_mut() {
                last.1 = ending;
            }
            self.splice(start, end + 1, replacement);
            return SetOutcome::Replaced;
        }
        let Some(header) = self
            .lines
            .iter()
            .position(|line| line.kind == Role::Header(section.to_string()))
        else {
            return SetOutcome::NoSuchSection;
        };
        // After the last line of the section's last option, else after the header.
        let mut after = header;
        let mut indent = String::new();
        for (index, line) in self.lines.iter().enumerate().skip(header + 1) {
            match &line.kind {
                Role::Header(_) => break,
                Role::Option { .. } => {
                    after = index;
                    indent = leading_space(&line.text).to_string();
                }
                Role::Continuation => after = index,
                Role::Trivia => {}
            }
        }
        let newline = self
            .lines
            .get(after)
            .map(|line| line.ending.clone())
            .filter(|ending| !ending.is_empty())
            .unwrap_or_else(|| self.newline.clone());
        let prefix = format!("{indent}{option} = ");
        let mut inserted = value_lines(&prefix, &indent, raw_value, &newline);
        let at_end = after + 1 == self.lines.len();
        if let Some(previous) = self.lines.get_mut(after)
            && previous.ending.is_empty()
            && at_end
        {
            // The file had no final newline: keep it that way.
            previous.ending.clone_from(&newline);
            if let Some(last) = inserted.last_mut() {
                last.1 = String::new();
            }
        }
        self.splice(after + 1, after + 1, inserted);
        SetOutcome::Added
    }

    /// Remove `option` from `section` (its line, its continuation lines and
    /// the blank or comment lines between them); returns whether it was there.
    pub fn remove(&mut self, section: &str, option: &str) -> bool {
        let Some((start, end)) = self.find(section, option) else {
            return false;
        };
        let removed_last_ending = self
            .lines
            .get(end)
            .is_some_and(|line| line.ending.is_empty());
        self.splice(start, end + 1, Vec::new());
        if removed_last_ending && let Some(last) = self.lines.last_mut() {
            last.ending = String::new();
        }
        true
    }

    /// The first and last line index of `option` in `section`.
    fn find(&self, section: &str, option: &str) -> Option<(usize, usize)> {
        let name = option.to_lowercase();
        let start = self.lines.iter().position(|line| {
            matches!(&line.kind, Role::Option { section: s, name: n } if s == section && *n == name)
        })?;
        let mut end = start;
        for (index, line) in self.lines.iter().enumerate().skip(start + 1) {
            match line.kind {
                Role::Continuation => end = index,
                Role::Trivia => {}
                _ => break,
            }
        }
        Some((start, end))
    }

    fn splice(&mut self, from: usize, to: usize, lines: Vec<(String, String)>) {
        let new = lines.into_iter().map(|(text, ending)| Line {
            text,
            ending,
            kind: Role::Trivia,
        });
        self.lines.splice(from..to, new);
        classify(&mut self.lines);
    }
}

/// `prefix` + the first line of `value`, then its other lines indented.
fn value_lines(prefix: &str, indent: &str, value: &str, newline: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (index, part) in value.split('\n').enumerate() {
        let text = if index == 0 {
            format!("{prefix}{part}")
        } else {
            format!("{indent}  {part}")
        };
        out.push((text, newline.to_string()));
    }
    out
}

/// The option line up to where its value starts: the key, the delimiter and
/// the white space after it (one space is added when there is none).
fn value_prefix(text: &str) -> String {
    let Some(at) = grammar::delimiter(text) else {
        return format!("{text} = ");
    };
    let after = &text[at + 1..];
    let value_start = after
        .char_indices()
        .find(|(_, c)| !py_isspace(*c))
        .map_or(after.len(), |(i, _)| i);
    let spacing = &after[..value_start];
    let no_value = value_start == after.len();
    if spacing.is_empty() && no_value && text[..at].ends_with(py_isspace) {
        // `key =` with no value: the spacing before the delimiter, mirrored.
        format!("{} ", &text[..=at])
    } else {
        // `key=value` stays tight, `key = value` spaced: as the file wrote it.
        format!("{}{spacing}", &text[..=at])
    }
}

/// Give every line its role, with the grammar of the reader.
fn classify(lines: &mut [Line]) {
    let mut grammar = Grammar::default();
    let mut section: Option<String> = None;
    for line in lines.iter_mut() {
        line.kind = match grammar.line(&line.text) {
            grammar::LineKind::Continuation(_) => Role::Continuation,
            grammar::LineKind::Header(name) => {
                section = Some(name.to_string());
                Role::Header(name.to_string())
            }
            grammar::LineKind::Option { name, .. } => match &section {
                Some(section) => Role::Option {
                    section: section.clone(),
                    name,
                },
                // Not reached for a document the reader accepted.
                None => Role::Trivia,
            },
            grammar::LineKind::Blank | grammar::LineKind::Comment | grammar::LineKind::Invalid => {
                Role::Trivia
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, f: impl FnOnce(&mut IniEditor)) -> String {
        let mut editor = IniEditor::parse(text).unwrap();
        f(&mut editor);
        editor.render()
    }

    #[test]
    fn unchanged_text_renders_byte_for_byte() {
        let text = "# c\r\n[s]\r\n  a = 1 # not a comment\r\n  \tmore\r\n\r\n; x\r\n[t]\nb: 2";
        assert_eq!(edit(text, |_| {}), text);
    }

    #[test]
    fn replace_keeps_key_case_and_spacing() {
        let got = edit("[s]\nMaster_URL:\thttp://a # c\nx = 1\n", |e| {
            assert_eq!(e.set("s", "master_url", "http://b"), SetOutcome::Replaced);
        });
        assert_eq!(got, "[s]\nMaster_URL:\thttp://b\nx = 1\n");
        let got = edit("[s]\nurl =\nx = 1\n", |e| {
            e.set("s", "URL", "v");
        });
        assert_eq!(got, "[s]\nurl = v\nx = 1\n");
    }

    #[test]
    fn replace_keeps_the_spacing_the_line_has_around_its_delimiter() {
        for (line, want) in [
            ("master_url=x", "master_url=http://b"),
            ("master_url = x", "master_url = http://b"),
            ("master_url =x", "master_url =http://b"),
            ("master_url=  x", "master_url=  http://b"),
            ("master_url:x", "master_url:http://b"),
            ("master_url =", "master_url = http://b"),
            ("master_url=", "master_url=http://b"),
        ] {
            let got = edit(&format!("[s]\n{line}\n"), |e| {
                assert_eq!(e.set("s", "master_url", "http://b"), SetOutcome::Replaced);
            });
            assert_eq!(got, format!("[s]\n{want}\n"), "{line:?}");
        }
    }

    #[test]
    fn replace_drops_old_continuation_lines() {
        let got = edit(
            "[s]\nurl = a\n  b\n# inside\n\n  c\n\n# after\nx = 1\n",
            |e| {
                e.set("s", "url", "z");
            },
        );
        assert_eq!(got, "[s]\nurl = z\n\n# after\nx = 1\n");
    }

    #[test]
    fn add_goes_after_the_last_option_with_its_indent() {
        let got = edit("[s]\n  a = 1\n    cont\n\n# c\n  [t]\nb = 2\n", |e| {
            assert_eq!(e.set("s", "url", "v"), SetOutcome::Added);
        });
        assert_eq!(
            got,
            "[s]\n  a = 1\n    cont\n  url = v\n\n# c\n  [t]\nb = 2\n"
        );
        let got = edit("[s]\n# only a comment\n[t]\n", |e| {
            e.set("s", "url", "v");
        });
        assert_eq!(got, "[s]\nurl = v\n# only a comment\n[t]\n");
        assert_eq!(
            IniEditor::parse("[s]\n").unwrap().set("t", "a", "b"),
            SetOutcome::NoSuchSection
        );
    }

    #[test]
    fn a_missing_final_newline_stays_missing() {
        let got = edit("[s]\r\na = 1", |e| {
            e.set("s", "url", "v");
        });
        assert_eq!(got, "[s]\r\na = 1\r\nurl = v");
        let got = edit("[s]\na = 1\nb = 2", |e| {
            e.remove("s", "b");
        });
        assert_eq!(got, "[s]\na = 1");
        let got = edit("[s]\na = 1\nb = 2\n  more", |e| {
            e.set("s", "b", "3");
        });
        assert_eq!(got, "[s]\na = 1\nb = 3");
    }

    #[test]
    fn remove_takes_the_option_and_its_continuations_only() {
        let got = edit("[s]\n# k\nKEY_file = a\n  b\n\n# next\nc = 1\n", |e| {
            assert!(e.remove("s", "key_file"));
            assert!(!e.remove("s", "key_file"));
            assert!(!e.remove("t", "c"));
        });
        assert_eq!(got, "[s]\n# k\n\n# next\nc = 1\n");
    }

    #[test]
    fn sections_are_case_sensitive_and_default_is_a_section() {
        let text = "[DEFAULT]\nk = 1\n[S]\nk = 2\n[s]\nk = 3\n";
        let got = edit(text, |e| {
            assert!(e.remove("DEFAULT", "k"));
            assert!(e.remove("s", "K"));
        });
        assert_eq!(got, "[DEFAULT]\n[S]\nk = 2\n[s]\n");
    }

    #[test]
    fn invalid_input_is_refused() {
        assert!(IniEditor::parse("a = 1\n").is_err());
    }
}
