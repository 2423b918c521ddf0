//! How glibc's `getopt_long` reads an argv the way the linuxptp programs call it, so the agent
//! sees the options a program would see:
//!
//! * `--` ends the options; a lone `-` and any other word not starting with `-` is an operand,
//!   skipped (glibc permutes operands to the end and keeps scanning);
//! * `-abc` is a cluster of short options; an option that takes a value (`f:` in the optstring)
//!   takes the rest of the cluster (`-ffile`, `-2mffile`) or, when the cluster ends there, the
//!   next word whatever it looks like (`-f -m` gives `-f` the value `-m`);
//! * `--name=value` and `--name value` are long options; every long option of linuxptp (each
//!   configuration key) requires a value, so `--name` takes the next word. glibc also accepts
//!   any unambiguous prefix of a long option's name (`--uds=/x` is `--uds_address=/x`;
//!   linuxptp 3.1 even takes the first match of an ambiguous prefix), so the name is kept as
//!   written and callers match prefixes;
//! * an unknown short option is read as a flag without value: the programs exit on it anyway,
//!   and scanning on can only find more options, never hide one.

/// One option as getopt hands it to the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt<'a> {
    /// `-x`, with its value when the optstring says it takes one (`None` when the argv ends
    /// first). `word` is the argv word it appears in (`-2mf` for `f`).
    Short { flag: char, value: Option<&'a str>, word: &'a str },
    /// `--name[=value]`: `name` as written, possibly a prefix of the real option name.
    Long { name: &'a str, value: Option<&'a str>, word: &'a str },
}

impl Opt<'_> {
    /// The argv word the option was written in.
    pub fn word(&self) -> &str {
        match self {
            Opt::Short { word, .. } | Opt::Long { word, .. } => word,
        }
    }
}

/// Whether short option `flag` takes a value in `optstring` (`f:`).
pub fn takes_value(optstring: &str, flag: char) -> bool {
    optstring.char_indices().any(|(i, c)| c == flag && c != ':' && optstring[i + c.len_utf8()..].starts_with(':'))
}

/// Every option of `args`, in order, read with `optstring` (see the module documentation).
pub fn scan<'a>(args: &'a [String], optstring: &str) -> Vec<Opt<'a>> {
    let mut found = Vec::new();
    let mut words = args.iter().map(String::as_str);
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, words.next()),
            };
            found.push(Opt::Long { name, value, word });
            continue;
        }
        let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) else {
            continue;
        };
        for (i, flag) in cluster.char_indices() {
            if takes_value(optstring, flag) {
                let rest = &cluster[i + flag.len_utf8()..];
                let value = if rest.is_empty() { words.next() } else { Some(rest) };
                found.push(Opt::Short { flag, value, word });
                break;
            }
            found.push(Opt::Short { flag, value: None, word });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHC2SYS: &str = "arc:d:f:s:E:P:I:S:F:R:N:O:L:M:D:i:u:wn:xz:l:t:mqvh";

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(std::string::ToString::to_string).collect()
    }

    fn short(flag: char, value: Option<&'static str>, word: &'static str) -> Opt<'static> {
        Opt::Short { flag, value, word }
    }

    #[test]
    fn clusters_values_and_operands() {
        let a = args(&["-arm", "-n", "24", "operand", "-s-m", "-fconf", "-z", "-t", "-", "-2mf", "x"]);
        assert_eq!(
            scan(&a, PHC2SYS),
            vec![
                short('a', None, "-arm"),
                short('r', None, "-arm"),
                short('m', None, "-arm"),
                short('n', Some("24"), "-n"),
                short('s', Some("-m"), "-s-m"),
                short('f', Some("conf"), "-fconf"),
                short('z', Some("-t"), "-z"),
                short('2', None, "-2mf"),
                short('m', None, "-2mf"),
                short('f', Some("x"), "-2mf"),
            ]
        );
    }

    #[test]
    fn long_options_take_the_next_word_unless_they_have_an_equals_sign() {
        let a = args(&["--summary_interval", "-f", "--uds=/x", "--message_tag=", "--verbose"]);
        assert_eq!(
            scan(&a, PHC2SYS),
            vec![
                Opt::Long { name: "summary_interval", value: Some("-f"), word: "--summary_interval" },
                Opt::Long { name: "uds", value: Some("/x"), word: "--uds=/x" },
                Opt::Long { name: "message_tag", value: Some(""), word: "--message_tag=" },
                Opt::Long { name: "verbose", value: None, word: "--verbose" },
            ]
        );
    }

    #[test]
    fn double_dash_ends_the_options_and_a_value_may_be_double_dash() {
        assert_eq!(scan(&args(&["-m", "--", "-f", "x"]), PHC2SYS), vec![short('m', None, "-m")]);
        assert_eq!(
            scan(&args(&["-f", "--", "-q"]), PHC2SYS),
            vec![short('f', Some("--"), "-f"), short('q', None, "-q")]
        );
        assert_eq!(scan(&args(&["-f"]), PHC2SYS), vec![short('f', None, "-f")]);
        assert!(scan(&[], PHC2SYS).is_empty());
    }

    #[test]
    fn unknown_flags_do_not_take_values_and_colon_is_no_option() {
        assert_eq!(scan(&args(&["-y", "-f", "x"]), "f:"), vec![short('y', None, "-y"), short('f', Some("x"), "-f")]);
        assert!(!takes_value("f:", ':'));
        assert!(takes_value(PHC2SYS, 'z') && !takes_value(PHC2SYS, 'm') && !takes_value(PHC2SYS, 'y'));
    }
}
