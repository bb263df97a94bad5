use proptest::prelude::*;
use regex::Regex;

use super::*;
use crate::error::Error;

fn re(pattern: &str) -> Matcher {
    Matcher::new(MatchOp::RegexMatch, "l", pattern).unwrap()
}

/// Prometheus 3.x's definition: the pattern spliced into `^(?s:...)$`.
fn reference(pattern: &str) -> Regex {
    Regex::new(&format!("^(?s:{pattern})$")).unwrap()
}

/// Fast-path shapes, and inputs that probe their edges.
const PATTERNS: &[&str] = &[
    ".*",
    ".+",
    ".*?",
    "(.*)",
    ".*.*",
    ".+.+",
    "foo",
    "",
    "foo|bar|baz",
    "foo|foobar",
    "a|",
    "(a|b)c",
    "[ab]c?",
    "x{2,3}",
    "foo.*",
    "foo.+",
    ".*foo",
    ".+foo",
    ".*foo.*",
    ".+foo.+",
    ".*foo.*bar.*",
    "foo.*bar",
    "a.*a",
    "(?i)foo",
    "(?i)kubernetes.*",
    ".*(?i:error).*",
    "(?i)foo|bar.*",
    "ab.|c",
    "é.*€",
    "prefix.*|prefix2",
    "api-[0-9]+",
    "a.{2}b",
    "foo.*|.*bar",
    "\\.",
    "(?-s:.*)",
    "(?-s:a.b)",
    "a\\nb",
    "(?m)^a$",
];

const INPUTS: &[&str] = &[
    "",
    "foo",
    "Foo",
    "FOO",
    "bar",
    "baz",
    "foobar",
    "xfoo",
    "xfoox",
    "fo",
    "a",
    "aa",
    "ac",
    "bc",
    "b",
    "xx",
    "xxx",
    "xxxx",
    "foo\nbar",
    "\n",
    "foo\n",
    "\nfoo",
    "a\nb",
    "KUBERNETES-api",
    "kubernetes",
    "an ERROR here",
    "é€",
    "éx€",
    "prefix",
    "prefix2",
    "prefixes",
    "api-42",
    "api-",
    "a..b",
    "a\n\nb",
    ".",
    "abc",
];

#[test]
fn fast_paths_agree_with_the_regex_engine() {
    for p in PATTERNS {
        let m = re(p);
        let r = reference(p);
        for s in INPUTS {
            assert_eq!(m.matches(s), r.is_match(s), "{p:?} on {s:?}");
        }
        assert_eq!(m.matches_empty(), r.is_match(""), "{p:?} on empty");
    }
}

#[test]
fn common_shapes_avoid_the_regex_engine() {
    for p in [
        ".*",
        ".+",
        "foo",
        "a|b|c",
        "foo.*",
        "foo.+",
        ".*foo",
        ".*foo.*",
        "(?i)foo",
        "(?i)kubernetes",
        "(?i).*error.*",
        "api-.*|web-.*",
    ] {
        assert!(!re(p).uses_regex_engine(), "{p:?}");
    }
    assert!(re("api-[0-9]+").uses_regex_engine());
}

#[test]
fn exposes_sets_and_prefixes() {
    assert_eq!(
        re("foo|bar|baz").set_matches(),
        Some(&["bar".to_string(), "baz".to_string(), "foo".to_string()][..])
    );
    assert_eq!(
        re("a|").set_matches(),
        Some(&[String::new(), "a".to_string()][..])
    );
    // `k` folds to `k`, `K` and the Kelvin sign.
    assert_eq!(re("(?i)ok").set_matches().map(<[String]>::len), Some(6));
    assert_eq!(re("foo.*").set_matches(), None);
    assert_eq!(re("foo.*").prefix(), Some("foo"));
    assert_eq!(re("foo.+").prefix(), Some("foo"));
    assert_eq!(re("api-[0-9]+").prefix(), Some("api-"));
    assert_eq!(re("abc.*|abd.*").prefix(), Some("ab"));
    assert_eq!(re(".*foo").prefix(), None);
    assert_eq!(re("(?i)foo.*").prefix(), None);
    assert!(re(".*").regex_matches_all());
    assert!(re(".+").regex_matches_non_empty());
    assert!(!re(".+").regex_matches_all());
    assert!(Matcher::new(MatchOp::Equal, "l", "x")
        .unwrap()
        .prefix()
        .is_none());
}

#[test]
fn regexes_are_fully_anchored() {
    assert!(!re("foo").matches("foobar"));
    assert!(!re("bar").matches("foobar"));
    assert!(!re("o+").matches("foo"));
    assert!(re("f.o").matches("foo"));
    // The anchors wrap the whole alternation, not its first and last branch.
    assert!(!re("a|b").matches("ab"));
    assert!(!re("a[0-9]|b").matches("a1b"));
}

#[test]
fn dot_matches_newline() {
    assert!(re(".*").matches("a\nb"));
    assert!(re("a.b").matches("a\nb"));
    assert!(re("a.+b").matches("a\n\nb"));
    assert!(!re("(?-s:a.b)").matches("a\nb"));
}

#[test]
fn operators() {
    let eq = Matcher::new(MatchOp::Equal, "job", "api").unwrap();
    let ne = Matcher::new(MatchOp::NotEqual, "job", "api").unwrap();
    let nre = Matcher::new(MatchOp::RegexNoMatch, "job", "a.*").unwrap();
    assert!(eq.matches("api") && !eq.matches("apis") && !eq.matches(""));
    assert!(!ne.matches("api") && ne.matches("") && ne.matches("web"));
    assert!(!nre.matches("api") && nre.matches("web") && nre.matches(""));
    // A regex value with metacharacters is literal for `=`.
    assert!(Matcher::new(MatchOp::Equal, "l", "a.*")
        .unwrap()
        .matches("a.*"));
    assert!(!Matcher::new(MatchOp::Equal, "l", "a.*")
        .unwrap()
        .matches("ab"));
}

#[test]
fn matches_empty_per_operator() {
    let cases = [
        (MatchOp::Equal, "", true),
        (MatchOp::Equal, "a", false),
        (MatchOp::NotEqual, "", false),
        (MatchOp::NotEqual, "a", true),
        (MatchOp::RegexMatch, ".*", true),
        (MatchOp::RegexMatch, ".+", false),
        (MatchOp::RegexMatch, "a|", true),
        (MatchOp::RegexMatch, "a", false),
        (MatchOp::RegexNoMatch, "a", true),
        (MatchOp::RegexNoMatch, ".*", false),
        (MatchOp::RegexNoMatch, ".+", true),
    ];
    for (op, v, want) in cases {
        let m = Matcher::new(op, "l", v).unwrap();
        assert_eq!(m.matches_empty(), want, "{m}");
        assert_eq!(m.matches_empty(), m.matches(""), "{m}");
    }
}

#[test]
fn invalid_regex_is_an_error() {
    for p in ["(", "a)|(b", "[z-a]", "*a", "\\", "(?P<x"] {
        match Matcher::new(MatchOp::RegexMatch, "l", p) {
            Err(Error::InvalidRegex { pattern, reason }) => {
                assert_eq!(pattern, p);
                assert!(!reason.is_empty() && !reason.contains('\n'), "{reason:?}");
            }
            other => panic!("{p:?}: expected InvalidRegex, got {other:?}"),
        }
    }
    assert!(Matcher::new(MatchOp::RegexNoMatch, "l", "(").is_err());
    // `=` never parses its value.
    assert!(Matcher::new(MatchOp::Equal, "l", "(").is_ok());
}

#[test]
fn wrapper_cannot_be_escaped_by_the_pattern() {
    // A comment in verbose mode would swallow a textual `)$` suffix.
    let m = re("(?x)a b #c");
    assert!(m.matches("ab"));
    assert!(!m.matches("abc"));
    assert!(!m.matches("abx"));
}

#[test]
fn huge_repetitions_stay_bounded() {
    let m = re("a{0,300}");
    assert!(m.matches("aaa"));
    assert!(!m.matches("b"));
    let long = "a".repeat(1000);
    assert!(re("a{1000}").matches(&long));
    assert!(!re("a{1000}").matches(&long[1..]));
    assert!(re("(a{100}){10}b?").matches(&long));
    assert!(re("a{2000}").matches(&"a".repeat(2000)));
    let m = re("(a|b|c|d){8}");
    assert!(m.matches("abcdabcd"));
    assert!(!m.matches("abcdabc"));
}

#[test]
fn display_and_clone() {
    let m = re("a|b");
    let c = m.clone();
    assert_eq!(m, c);
    assert_eq!(m.to_string(), r#"l=~"a|b""#);
    assert_eq!(format!("{m:?}"), r#"Matcher(l=~"a|b")"#);
    assert!(c.matches("b"));
}

fn pattern_strategy() -> impl Strategy<Value = String> {
    // Fragments that recombine into every fast-path shape and into regexes that need the
    // engine, over a small alphabet so that random inputs hit the literals.
    let atom = prop::sample::select(vec![
        "a", "b", "ab", "é", ".*", ".+", ".", "[ab]", "(?i:a)", "(?i:é)", "\\n", "x?", "(a|b)",
        "a{2}", ".{2}", "(?i:ab)", "[^a]", "(?-s:.)", "a*", "(a|.*)", "(.+|b)", "(?:)",
    ]);
    prop::collection::vec(atom, 0..5)
        .prop_flat_map(|atoms| {
            let joined = atoms.concat();
            prop_oneof![
                Just(joined.clone()),
                Just(format!("{joined}|b")),
                Just(format!("({joined})|a.*")),
            ]
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_strings_agree_with_the_full_regex(
        pattern in pattern_strategy(),
        inputs in prop::collection::vec("[abAÉé\n]{0,6}", 1..16),
    ) {
        let m = re(&pattern);
        let r = reference(&pattern);
        for s in &inputs {
            prop_assert_eq!(m.matches(s), r.is_match(s), "{:?} on {:?}", pattern, s);
            let not = Matcher::new(MatchOp::RegexNoMatch, "l", pattern.as_str()).unwrap();
            prop_assert_eq!(not.matches(s), !r.is_match(s));
        }
        prop_assert_eq!(m.matches_empty(), r.is_match(""));
    }
}

#[test]
fn perl_classes_and_word_boundaries_are_ascii_as_in_go() {
    assert!(re("\\d+").matches("0129"));
    assert!(
        !re("\\d+").matches("١٢٣"),
        "Arabic-Indic digits are not \\d in RE2"
    );
    assert!(re("\\D").matches("٣"));
    assert!(re("[^\\d]").matches("٣"));
    assert!(!re("[\\d]").matches("٣"));
    assert!(re("\\w+").matches("Az_09"));
    assert!(!re("\\w").matches("é"));
    assert!(!re("[\\w.]+").matches("é.x"));
    assert!(re("[\\W]").matches("é"));
    assert!(re("\\s").matches("\t") && re("\\s").matches(" ") && re("\\s").matches("\n"));
    assert!(
        !re("\\s").matches("\u{0B}"),
        "RE2's \\s has no vertical tab"
    );
    assert!(!re("\\s").matches("\u{A0}"));
    assert!(re("\\S").matches("\u{A0}"));
    // `é` is not an ASCII word character, so there is a boundary before `foo`.
    assert!(re(".*\\bfoo").matches("éfoo"));
    assert!(!re(".*\\Bfoo").matches("éfoo"));
    assert!(re(".*\\Bfoo").matches("xfoo"));
}
