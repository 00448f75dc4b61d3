//! The reader: INI text to sections and options, with `ConfigParser`'s
//! rules (see the crate documentation for the list).

use std::collections::HashSet;

use crate::grammar::{Grammar, LineKind, py_isspace, split_lines};

/// The name of the section whose options every other section inherits.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// How deep `%(name)s` references may nest, as in Python.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// An error reading an INI document, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A non-comment line appears before the first `[section]` header.
    #[error(
        "line {line}: `{text}` comes before any [section] header; put options inside a section"
    )]
    MissingSectionHeader {
        /// 1-based line number.
        line: usize,
        /// The line's text.
        text: String,
    },
    /// The same section header appears twice.
    #[error("line {line}: section [{section}] appears a second time; merge the two sections")]
    DuplicateSection {
        /// The section's name.
        section: String,
        /// 1-based line number of the second header.
        line: usize,
    },
    /// The same option appears twice in one section (names compared case-insensitively).
    #[error(
        "line {line}: option `{option}` appears a second time in section [{section}]; keep only one"
    )]
    DuplicateOption {
        /// The section's name.
        section: String,
        /// The option's name, lower-cased.
        option: String,
        /// 1-based line number of the second occurrence.
        line: usize,
    },
    /// Lines that are neither a header, an option, a comment nor a continuation.
    #[error("{}", format_bad_lines(lines))]
    Parsing {
        /// Each bad line: its 1-based number and its text.
        lines: Vec<(usize, String)>,
    },
    /// A `%` in a value that is not `%%` or a valid `%(name)s` reference.
    #[error("option `{option}` in section [{section}]: {problem}; write a literal `%` as `%%`")]
    Interpolation {
        /// The section's name.
        section: String,
        /// The option's name.
        option: String,
        /// What is wrong with the value.
        problem: String,
    },
    /// The section asked for does not exist.
    #[error("there is no section [{section}]")]
    NoSection {
        /// The section's name.
        section: String,
    },
}

fn format_bad_lines(lines: &[(usize, String)]) -> String {
    let shown: Vec<String> = lines
        .iter()
        .map(|(number, text)| format!("line {number}: `{text}`"))
        .collect();
    format!(
        "{} is not a [section] header, a `key = value` option or a comment",
        shown.join(", ")
    )
}

/// One section: its name and its options in file order (names lower-cased,
/// values raw, i.e. not interpolated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IniSection {
    /// The section's name, as written.
    pub name: String,
    /// `(option, raw value)` pairs in file order.
    pub options: Vec<(String, String)>,
}

impl IniSection {
    fn get(&self, option: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(name, _)| name == option)
            .map(|(_, value)| value.as_str())
    }
}

/// A parsed INI document with Python `ConfigParser` semantics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IniDocument {
    defaults: IniSection,
    sections: Vec<IniSection>,
}

/// The option a continuation line would extend: where it lives and its value lines.
struct OpenOption {
    section: Option<usize>,
    option: usize,
    lines: Vec<String>,
}

impl IniDocument {
    /// Parse INI text as Python's `ConfigParser().read_string()` does.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut doc = Self {
            defaults: IniSection {
                name: DEFAULT_SECTION.to_string(),
                options: Vec::new(),
            },
            sections: Vec::new(),
        };
        let mut seen_sections: HashSet<String> = HashSet::new();
        let mut seen_options: HashSet<(String, String)> = HashSet::new();
        // `None` before any header, `Some(None)` in [DEFAULT], `Some(Some(i))` in section i.
        let mut current: Option<Option<usize>> = None;
        let mut open: Option<OpenOption> = None;
        let mut bad_lines = Vec::new();
        let mut grammar = Grammar::default();

        for (index, (line, _)) in split_lines(text).into_iter().enumerate() {
            let number = index + 1;
            let (option, value) = match grammar.line(line) {
                // Python keeps blank lines inside a continued value (they are
                // joined as empty lines and trailing ones stripped); comment
                // lines are dropped without ending the value.
                LineKind::Blank => {
                    if let Some(open) = open.as_mut() {
                        open.lines.push(String::new());
                    }
                    continue;
                }
                LineKind::Comment => continue,
                LineKind::Continuation(more) => {
                    if let Some(open) = open.as_mut() {
                        open.lines.push(more.to_string());
                    }
                    continue;
                }
                LineKind::Header(name) => {
                    doc.close_option(open.take());
                    if name == DEFAULT_SECTION {
                        current = Some(None);
                    } else if let Some(existing) = doc.sections.iter().position(|s| s.name == name)
                    {
                        if seen_sections.contains(name) {
                            return Err(Error::DuplicateSection {
                                section: name.to_string(),
                                line: number,
                            });
                        }
                        current = Some(Some(existing));
                    } else {
                        doc.sections.push(IniSection {
                            name: name.to_string(),
                            options: Vec::new(),
                        });
                        seen_sections.insert(name.to_string());
                        current = Some(Some(doc.sections.len() - 1));
                    }
                    continue;
                }
                LineKind::Option { .. } | LineKind::Invalid if current.is_none() => {
                    return Err(Error::MissingSectionHeader {
                        line: number,
                        text: line.to_string(),
                    });
                }
                LineKind::Invalid => {
                    bad_lines.push((number, line.to_string()));
                    continue;
                }
                LineKind::Option { name, value } => (name, value),
            };
            let Some(section) = current else {
                continue;
            };
            if option.is_empty() {
                bad_lines.push((number, line.to_string()));
            }
            doc.close_option(open.take());
            let section_name = match section {
                None => DEFAULT_SECTION.to_string(),
                Some(i) => doc
                    .sections
                    .get(i)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
            };
            if !seen_options.insert((section_name.clone(), option.clone())) {
                return Err(Error::DuplicateOption {
                    section: section_name,
                    option,
                    line: number,
                });
            }
            let target = doc.section_mut(section);
            target.options.push((option, String::new()));
            open = Some(OpenOption {
                section,
                option: target.options.len() - 1,
                lines: vec![value.to_string()],
            });
        }
        doc.close_option(open.take());
        if bad_lines.is_empty() {
            Ok(doc)
        } else {
            Err(Error::Parsing { lines: bad_lines })
        }
    }

    fn section_mut(&mut self, section: Option<usize>) -> &mut IniSection {
        match section.and_then(|i| self.sections.get_mut(i)) {
            Some(found) => found,
            None => &mut self.defaults,
        }
    }

    fn close_option(&mut self, open: Option<OpenOption>) {
        if let Some(open) = open {
            let value = open.lines.join("\n");
            let value = value.trim_end_matches(py_isspace).to_string();
            if let Some(slot) = self.section_mut(open.section).options.get_mut(open.option) {
                slot.1 = value;
            }
        }
    }

    /// The sections in file order, `[DEFAULT]` excluded.
    pub fn sections(&self) -> &[IniSection] {
        &self.sections
    }

    /// The options of `[DEFAULT]`, raw.
    pub fn defaults(&self) -> &IniSection {
        &self.defaults
    }

    /// Whether the document has a section of that name (`[DEFAULT]` excluded, as in Python).
    pub fn has_section(&self, section: &str) -> bool {
        self.section(section).is_some()
    }

    fn section(&self, section: &str) -> Option<&IniSection> {
        self.sections.iter().find(|s| s.name == section)
    }

    /// The raw (not interpolated) value of an option, looked up in the
    /// section and then in `[DEFAULT]`. `option` is matched case-insensitively.
    pub fn get_raw(&self, section: &str, option: &str) -> Option<&str> {
        let option = option.to_lowercase();
        self.section(section)
            .and_then(|s| s.get(&option))
            .or_else(|| self.defaults.get(&option))
    }

    /// Every option visible in `section` (`[DEFAULT]`'s first, then the
    /// section's own, the section winning), interpolated, as Python's
    /// `ConfigParser.items(section)` returns them.
    pub fn items(&self, section: &str) -> Result<Vec<(String, String)>, Error> {
        let own = self.section(section).ok_or_else(|| Error::NoSection {
            section: section.to_string(),
        })?;
        let mut merged: Vec<(String, String)> = self.defaults.options.clone();
        for (name, value) in &own.options {
            match merged.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1.clone_from(value),
                None => merged.push((name.clone(), value.clone())),
            }
        }
        merged
            .iter()
            .map(|(name, raw)| {
                let mut out = String::new();
                interpolate(section, name, raw, &merged, 1, &mut out)?;
                Ok((name.clone(), out))
            })
            .collect()
    }
}

/// Python's `BasicInterpolation`: `%%` and `%(name)s`.
fn interpolate(
    section: &str,
    option: &str,
    mut rest: &str,
    vars: &[(String, String)],
    depth: usize,
    out: &mut String,
) -> Result<(), Error> {
    let fail = |problem: String| Error::Interpolation {
        section: section.to_string(),
        option: option.to_string(),
        problem,
    };
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(fail(format!(
            "references nest deeper than {MAX_INTERPOLATION_DEPTH} levels"
        )));
    }
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("%%") {
            out.push('%');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("%(") {
            let Some(close) = after.find(')').filter(|&i| i > 0) else {
                return Err(fail(format!(
                    "bad interpolation variable reference `{rest}`"
                )));
            };
            let Some(tail) = after[close + 1..].strip_prefix('s') else {
                return Err(fail(format!(
                    "bad interpolation variable reference `{rest}`"
                )));
            };
            let name = after[..close].to_lowercase();
            let Some((_, value)) = vars.iter().find(|(n, _)| *n == name) else {
                return Err(fail(format!(
                    "`%({name})s` refers to an option that is not in this section or in [DEFAULT]"
                )));
            };
            if value.contains('%') {
                interpolate(section, option, value, vars, depth + 1, out)?;
            } else {
                out.push_str(value);
            }
            rest = tail;
        } else {
            return Err(fail(format!(
                "`%` must be followed by `%` or `(`, found `{rest}`"
            )));
        }
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str, section: &str) -> Vec<(String, String)> {
        IniDocument::parse(text).unwrap().items(section).unwrap()
    }

    #[test]
    fn inline_hash_and_semicolon_belong_to_the_value() {
        let got = items("[s]\npassword = pa#ss;word ; remark\n", "s");
        assert_eq!(got, [("password".into(), "pa#ss;word ; remark".into())]);
    }

    #[test]
    fn continuation_lines_and_blank_lines_inside_values() {
        let got = items(
            "[s]\nmulti = first\n   second\n\n   third\n\n\nnext = 1\n",
            "s",
        );
        assert_eq!(
            got,
            [
                ("multi".into(), "first\nsecond\n\nthird".into()),
                ("next".into(), "1".into())
            ]
        );
    }

    #[test]
    fn comment_lines_inside_a_value_are_dropped() {
        let got = items("[s]\nmulti = a\n# comment\n  b\n", "s");
        assert_eq!(got, [("multi".into(), "a\nb".into())]);
    }

    #[test]
    fn keys_are_lower_cased_and_defaults_inherited() {
        let got = items(
            "[DEFAULT]\nRoot = /x\n[s]\nKEY : %(root)s/y\nroot = /z\n",
            "s",
        );
        assert_eq!(
            got,
            [("root".into(), "/z".into()), ("key".into(), "/z/y".into())]
        );
    }

    #[test]
    fn percent_escapes() {
        let got = items("[s]\na = 100%%\n", "s");
        assert_eq!(got, [("a".into(), "100%".into())]);
        let err = IniDocument::parse("[s]\na = 100%\n")
            .unwrap()
            .items("s")
            .unwrap_err();
        assert!(matches!(err, Error::Interpolation { .. }), "{err}");
    }

    #[test]
    fn crlf_and_lone_cr_line_endings() {
        let got = items("[s]\r\na = 1\rb = 2\r\n", "s");
        assert_eq!(got, [("a".into(), "1".into()), ("b".into(), "2".into())]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            IniDocument::parse("a = 1\n[s]\n").unwrap_err(),
            Error::MissingSectionHeader {
                line: 1,
                text: "a = 1".into()
            }
        );
        assert_eq!(
            IniDocument::parse("[s]\na = 1\nA = 2\n").unwrap_err(),
            Error::DuplicateOption {
                section: "s".into(),
                option: "a".into(),
                line: 3
            }
        );
        assert_eq!(
            IniDocument::parse("[s]\n[t]\n[s]\n").unwrap_err(),
            Error::DuplicateSection {
                section: "s".into(),
                line: 3
            }
        );
        assert_eq!(
            IniDocument::parse("[s]\njunk\n").unwrap_err(),
            Error::Parsing {
                lines: vec![(2, "junk".into())]
            }
        );
    }

    #[test]
    fn section_headers_take_up_to_the_last_bracket() {
        let doc = IniDocument::parse("[a] trailing\nx = 1\n[b]c]\ny = 2\n").unwrap();
        let names: Vec<&str> = doc.sections().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b]c"]);
    }

    #[test]
    fn an_indented_header_after_an_option_is_a_continuation() {
        let got = items("[s]\na = 1\n  [t]\n", "s");
        assert_eq!(got, [("a".into(), "1\n[t]".into())]);
    }
}
