#![doc = include_str!("../README.md")]

use std::fmt::Write as _;

/// At most `max` characters of the start of `text`, followed by `…` when
/// something was cut (so at most `max + 1` characters).
///
/// ```
/// assert_eq!(bouture_text::truncate("abcdef", 3), "abc…");
/// assert_eq!(bouture_text::truncate("abc", 3), "abc");
/// assert_eq!(bouture_text::truncate("été", 1), "é…");
/// ```
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => {
            let mut kept = text.get(..cut).unwrap_or_default().to_owned();
            kept.push('…');
            kept
        }
        None => text.to_owned(),
    }
}

/// [`truncate`] of `text` with every character escaped as Rust's `{:?}`
/// escapes it inside a string (`\n`, `\"`, `\u{1b}`): a key or value
/// echoed from an input, on one line whatever it holds.
///
/// ```
/// assert_eq!(bouture_text::escaped("a\nb", 64), "a\\nb");
/// assert_eq!(bouture_text::escaped("abcdef", 3), "abc…");
/// ```
pub fn escaped(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The end of a program's output (where its error is), as trimmed text: at
/// most `max` bytes, cut at a character boundary and preceded by `…` when
/// something was cut. Bytes that are not UTF-8 become `�`.
///
/// ```
/// assert_eq!(bouture_text::tail(b"  all good \n", 100), "all good");
/// assert_eq!(bouture_text::tail(b"1234567890", 4), "…7890");
/// ```
pub fn tail(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", text.get(start..).unwrap_or_default())
}

/// One word for a POSIX shell: as it is when it holds only characters no
/// shell treats specially (ASCII letters and digits, `_ - . / : = @ , + %`),
/// else in single quotes, a `'` inside becoming `'\''`. The empty word is
/// `''`.
///
/// ```
/// use bouture_text::shell_quote;
/// assert_eq!(shell_quote("gnt-node"), "gnt-node");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// assert_eq!(shell_quote(""), "''");
/// assert_eq!(shell_quote("a b;c"), "'a b;c'");
/// ```
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@,+%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An argument vector as one POSIX shell command line: each word
/// [`shell_quote`]d, separated by a space.
///
/// ```
/// assert_eq!(
///     bouture_text::shell_line(["slapos", "request", "my title"]),
///     "slapos request 'my title'"
/// );
/// ```
pub fn shell_line<I>(argv: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut line = String::new();
    for word in argv {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&shell_quote(word.as_ref()));
    }
    line
}

/// An error and its sources on one line, separated by `: `. A source whose
/// text the line already holds (an error that prints its source itself) is
/// not repeated.
///
/// ```
/// let error = std::io::Error::other("disk full");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, error);
/// assert_eq!(bouture_text::error_chain(&outer), "disk full");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    error_chain_after(error.to_string(), error)
}

/// [`error_chain`] with `message` as the error's own text (the error worded
/// by its caller, e.g. naming a command line's options), then its sources.
pub fn error_chain_after(mut message: String, error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            let _ = write!(message, ": {text}");
        }
        source = cause.source();
    }
    message
}

/// How important a line of a job's log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// Detail for who wants it (`-v`): phase timings, requests sent.
    Debug,
    /// What the run does and why.
    Info,
    /// Something is odd but the run goes on.
    Warning,
    /// Something failed.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapping(&'static str, Option<Box<Wrapping>>);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn error_chains_name_every_source_once() {
        let error = Wrapping(
            "cannot write /x: disk full",
            Some(Box::new(Wrapping(
                "disk full",
                Some(Box::new(Wrapping("quota", None))),
            ))),
        );
        assert_eq!(error_chain(&error), "cannot write /x: disk full: quota");
        assert_eq!(error_chain(&Wrapping("alone", None)), "alone");
    }

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("a", 0), "…");
        assert_eq!(truncate(&"é".repeat(500), 200).chars().count(), 201);
    }

    #[test]
    fn tails_cut_at_a_character_boundary() {
        let text = format!("{}the error", "é".repeat(1000));
        let cut = tail(text.as_bytes(), 12);
        assert!(cut.starts_with('…') && cut.ends_with("the error"), "{cut}");
        assert!(cut.len() <= 12 + '…'.len_utf8());
        assert_eq!(tail(&[0xff, b'x'], 10), "\u{fffd}x");
    }

    #[test]
    fn shell_words_survive_a_real_shell() {
        let words = [
            "plain",
            "",
            "it's",
            "a b",
            "$HOME",
            "`x`",
            "\\",
            "new\nline",
            "*",
        ];
        let script = format!("printf '%s\\0' {}", shell_line(words));
        let output = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(output.status.success());
        let got: Vec<&[u8]> = output.stdout.split(|b| *b == 0).collect();
        let want: Vec<&[u8]> = words
            .iter()
            .map(|w| w.as_bytes())
            .chain([&b""[..]])
            .collect();
        assert_eq!(got, want);
    }
}
