//! Shell-like splitting of the `*Opts` strings of a profile, and the reverse (quoting an argv for
//! display).
//!
//! The rules are the POSIX shell's word splitting and quote removal, without any expansion:
//!
//! * runs of ASCII whitespace (space, tab, newline, ...) separate arguments and never produce an
//!   empty argument;
//! * `'...'` keeps everything literally up to the next `'`;
//! * `"..."` keeps everything literally except that a backslash escapes `"`, `\`, `$` and `` ` ``
//!   (and a backslash-newline is removed); before any other character the backslash is kept;
//! * outside quotes a backslash makes the next character literal; a backslash-newline is removed;
//! * quoted parts and unquoted parts next to each other form one argument (`-t'[a b]'`), and an
//!   explicitly quoted empty string (`''`, `""`) is an (empty) argument, as in a shell;
//! * no variables, globs, comments or command substitution: `$`, `*`, `#`, `~` are ordinary
//!   characters.

use std::fmt;

/// Why an options string cannot be split. Positions are 1-based character positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// A `'` without its closing `'`.
    UnterminatedSingleQuote { position: usize },
    /// A `"` without its closing `"`.
    UnterminatedDoubleQuote { position: usize },
    /// The text ends with a backslash that escapes nothing.
    TrailingBackslash { position: usize },
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnterminatedSingleQuote { position } => {
                write!(f, "unterminated single quote (') at character {position}")
            }
            SplitError::UnterminatedDoubleQuote { position } => {
                write!(f, "unterminated double quote (\") at character {position}")
            }
            SplitError::TrailingBackslash { position } => {
                write!(f, "trailing backslash at character {position} escapes nothing")
            }
        }
    }
}

impl std::error::Error for SplitError {}

/// Splits `text` into arguments like a shell would (see the module documentation).
pub fn split_options(text: &str) -> Result<Vec<String>, SplitError> {
    let mut args = Vec::new();
    let mut current = String::new();
    // Whether `current` is an argument (it may be empty after `''`).
    let mut in_word = false;
    let mut chars = text.chars().enumerate().map(|(i, c)| (i + 1, c));
    while let Some((position, c)) = chars.next() {
        match c {
            c if c.is_ascii_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, escaped)) => {
                    current.push(escaped);
                    in_word = true;
                }
                None => return Err(SplitError::TrailingBackslash { position }),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, other)) => current.push(other),
                        None => return Err(SplitError::UnterminatedSingleQuote { position }),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped @ ('"' | '\\' | '$' | '`'))) => current.push(escaped),
                            Some((_, '\n')) => {}
                            Some((_, other)) => {
                                current.push('\\');
                                current.push(other);
                            }
                            None => return Err(SplitError::UnterminatedDoubleQuote { position }),
                        },
                        Some((_, other)) => current.push(other),
                        None => return Err(SplitError::UnterminatedDoubleQuote { position }),
                    }
                }
            }
            other => {
                current.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

/// Quotes one argument so that a shell (and [`split_options`]) reads it back unchanged: plain
/// arguments stay as they are, anything else is put in single quotes.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if plain {
        return arg.to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Joins an argv into one shell-readable line (each argument [`quote`]d).
pub fn join(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &str) -> Vec<String> {
        split_options(text).unwrap()
    }

    #[test]
    fn whitespace_separates_and_never_makes_empty_arguments() {
        assert_eq!(split(""), Vec::<String>::new());
        assert_eq!(split(" "), Vec::<String>::new());
        assert_eq!(split(" \t\n "), Vec::<String>::new());
        assert_eq!(split("-2  -s\t-i   eth0 \n"), vec!["-2", "-s", "-i", "eth0"]);
        assert_eq!(split("  -a -r -r -n 24  "), vec!["-a", "-r", "-r", "-n", "24"]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(split("-t '[a b]'"), vec!["-t", "[a b]"]);
        assert_eq!(split(r#"'a\b "c"'"#), vec![r#"a\b "c""#]);
        assert_eq!(split("'$HOME'"), vec!["$HOME"]);
    }

    #[test]
    fn double_quotes_escape_only_special_characters() {
        assert_eq!(split(r#"-t "[x y]""#), vec!["-t", "[x y]"]);
        assert_eq!(split(r#""a\"b""#), vec![r#"a"b"#]);
        assert_eq!(split(r#""a\\b""#), vec![r"a\b"]);
        assert_eq!(split(r#""a\nb""#), vec![r"a\nb"]);
        assert_eq!(split(r#""it's""#), vec!["it's"]);
        assert_eq!(split("\"a\\\nb\""), vec!["ab"]);
    }

    #[test]
    fn backslash_outside_quotes_escapes_the_next_character() {
        assert_eq!(split(r"a\ b c"), vec!["a b", "c"]);
        assert_eq!(split(r"\'x"), vec!["'x"]);
        assert_eq!(split("a\\\nb"), vec!["ab"]);
        assert_eq!(split(r"a\\"), vec![r"a\"]);
    }

    #[test]
    fn adjacent_parts_form_one_argument() {
        assert_eq!(split(r#"-t'[a b]'"c d"e"#), vec!["-t[a b]c de"]);
        assert_eq!(split("--message_tag='[x]' -m"), vec!["--message_tag=[x]", "-m"]);
    }

    #[test]
    fn explicit_empty_quotes_are_arguments() {
        assert_eq!(split("-t ''"), vec!["-t", ""]);
        assert_eq!(split(r#""" a"#), vec!["", "a"]);
        assert_eq!(split("''x"), vec!["x"]);
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(split("$X * ~ #c"), vec!["$X", "*", "~", "#c"]);
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(split_options("-t 'abc"), Err(SplitError::UnterminatedSingleQuote { position: 4 }));
        assert_eq!(split_options(r#"a "b"#), Err(SplitError::UnterminatedDoubleQuote { position: 3 }));
        assert_eq!(split_options("\"a\\"), Err(SplitError::UnterminatedDoubleQuote { position: 1 }));
        assert_eq!(split_options(r"ab\"), Err(SplitError::TrailingBackslash { position: 3 }));
        assert_eq!(
            SplitError::UnterminatedSingleQuote { position: 4 }.to_string(),
            "unterminated single quote (') at character 4"
        );
        assert!(SplitError::TrailingBackslash { position: 1 }.to_string().contains("backslash"));
    }

    #[test]
    fn quote_leaves_plain_arguments_alone() {
        assert_eq!(quote("-f"), "-f");
        assert_eq!(quote("/var/run/ptp4l.0.socket"), "/var/run/ptp4l.0.socket");
        assert_eq!(quote("[ptp4l.0.config]"), "'[ptp4l.0.config]'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(join(&["-t".into(), "a b".into()]), "-t 'a b'");
    }

    proptest! {
        #[test]
        fn join_then_split_round_trips(args in proptest::collection::vec(".*", 0..6)) {
            prop_assert_eq!(split_options(&join(&args)).unwrap(), args);
        }

        #[test]
        fn split_never_panics_and_unquoted_words_are_not_empty(text in "[ a-z'\"\\\\\t]*") {
            if let Ok(args) = split_options(&text)
                && !text.contains(['\'', '"'])
            {
                prop_assert!(args.iter().all(|a| !a.is_empty()));
            }
        }
    }
}
