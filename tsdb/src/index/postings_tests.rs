use proptest::prelude::*;

use super::*;
use crate::index::MatchOp;

/// Series 0..=6 of a small fixed set.
const SERIES: &[&[(&str, &str)]] = &[
    &[("__name__", "up"), ("job", "api"), ("env", "prod")],
    &[("__name__", "up"), ("job", "web"), ("env", "dev")],
    &[("__name__", "up"), ("job", "db")],
    &[
        ("__name__", "http_requests"),
        ("job", "api"),
        ("code", "200"),
    ],
    &[
        ("__name__", "http_requests"),
        ("job", "api"),
        ("code", "500"),
    ],
    &[("__name__", "http_requests"), ("job", "web"), ("code", "")],
    &[("__name__", "foo\nbar")],
];

fn fixture() -> MemPostings {
    let mut p = MemPostings::default();
    for (id, labels) in SERIES.iter().enumerate() {
        p.add(id as u32, &Labels::from_pairs(labels.iter().copied()));
    }
    p
}

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn ids(b: &RoaringBitmap) -> Vec<u32> {
    b.iter().collect()
}

use MatchOp::{Equal as EQ, NotEqual as NE, RegexMatch as RE, RegexNoMatch as NRE};

#[test]
fn select_single_matchers() {
    let p = fixture();
    let cases: &[(MatchOp, &str, &str, &[u32])] = &[
        (EQ, "job", "api", &[0, 3, 4]),
        (EQ, "job", "nope", &[]),
        (EQ, "env", "", &[2, 3, 4, 5, 6]),
        (EQ, "code", "", &[0, 1, 2, 5, 6]),
        (NE, "job", "api", &[1, 2, 5, 6]),
        (NE, "env", "", &[0, 1]),
        (NE, "job", "nope", &[0, 1, 2, 3, 4, 5, 6]),
        (RE, "job", "api|web", &[0, 1, 3, 4, 5]),
        (RE, "job", "a.*", &[0, 3, 4]),
        (RE, "job", ".*b", &[1, 2, 5]),
        (RE, "job", ".*", &[0, 1, 2, 3, 4, 5, 6]),
        (RE, "job", ".+", &[0, 1, 2, 3, 4, 5]),
        (RE, "env", "prod|", &[0, 2, 3, 4, 5, 6]),
        (RE, "env", "", &[2, 3, 4, 5, 6]),
        (RE, "code", "[0-9]+", &[3, 4]),
        (RE, "code", "5..", &[4]),
        (RE, "__name__", "foo.bar", &[6]),
        (RE, "__name__", "(?i)UP", &[0, 1, 2]),
        (NRE, "job", "api|web", &[2, 6]),
        (NRE, "job", ".*", &[]),
        (NRE, "job", ".+", &[6]),
        (NRE, "env", "prod", &[1, 2, 3, 4, 5, 6]),
        (NRE, "env", "", &[0, 1]),
        (NRE, "job", "a.*", &[1, 2, 5, 6]),
        (RE, "nolabel", ".*", &[0, 1, 2, 3, 4, 5, 6]),
        (RE, "nolabel", ".+", &[]),
        (EQ, "nolabel", "", &[0, 1, 2, 3, 4, 5, 6]),
        (EQ, "nolabel", "x", &[]),
        (NE, "nolabel", "x", &[0, 1, 2, 3, 4, 5, 6]),
        (NE, "nolabel", "", &[]),
        (NRE, "nolabel", "x", &[0, 1, 2, 3, 4, 5, 6]),
    ];
    for (op, name, value, want) in cases {
        let matcher = m(*op, name, value);
        assert_eq!(
            ids(&p.select(std::slice::from_ref(&matcher))),
            *want,
            "{matcher}"
        );
    }
}

/// A matcher as `(op, name, value)`.
type Spec<'a> = (MatchOp, &'a str, &'a str);

#[test]
fn select_several_matchers() {
    let p = fixture();
    let cases: &[(&[Spec], &[u32])] = &[
        (&[(EQ, "__name__", "up"), (EQ, "job", "api")], &[0]),
        (&[(EQ, "__name__", "up"), (NE, "job", "api")], &[1, 2]),
        (&[(EQ, "__name__", "up"), (EQ, "env", "")], &[2]),
        (
            &[(EQ, "__name__", "http_requests"), (RE, "code", "2..|")],
            &[3, 5],
        ),
        (&[(RE, "job", ".+"), (NE, "job", "api")], &[1, 2, 5]),
        (&[(NE, "job", "api"), (NE, "job", "web")], &[2, 6]),
        (&[(EQ, "env", ""), (EQ, "code", "")], &[2, 5, 6]),
        (&[(EQ, "job", "api"), (EQ, "job", "web")], &[]),
        (&[(EQ, "job", "api"), (EQ, "nolabel", "x")], &[]),
        (&[(EQ, "job", "api"), (RE, "nolabel", ".*")], &[0, 3, 4]),
        (&[(RE, "job", "a.*"), (NRE, "code", "5.*")], &[0, 3]),
        (&[(NRE, "__name__", "up"), (NRE, "job", "web")], &[3, 4, 6]),
    ];
    for (ms, want) in cases {
        let ms: Vec<Matcher> = ms.iter().map(|(o, n, v)| m(*o, n, v)).collect();
        assert_eq!(ids(&p.select(&ms)), *want, "{ms:?}");
    }
}

#[test]
fn no_matchers_select_nothing() {
    assert!(fixture().select(&[]).is_empty());
}

#[test]
fn empty_index() {
    let p = MemPostings::default();
    assert!(p.select(&[m(RE, "a", ".*")]).is_empty());
    assert!(p.select(&[m(EQ, "a", "")]).is_empty());
    assert!(p.label_names(None).is_empty());
    assert!(p.label_values("a", None).is_empty());
}

#[test]
fn labels_with_empty_values_are_absent() {
    let p = fixture();
    // Series 5 has code="" and so is not indexed under `code`.
    assert_eq!(ids(p.series_with_label("code").unwrap()), [3, 4]);
    assert_eq!(p.label_values("code", None).len(), 2);
}

fn strs(v: Vec<Arc<str>>) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn label_names_and_values() {
    let p = fixture();
    assert_eq!(
        strs(p.label_names(None)),
        ["__name__", "code", "env", "job"]
    );
    let up = p.select(&[m(EQ, "__name__", "up")]);
    assert_eq!(strs(p.label_names(Some(&up))), ["__name__", "env", "job"]);
    assert_eq!(strs(p.label_values("job", None)), ["api", "db", "web"]);
    assert_eq!(strs(p.label_values("job", Some(&up))), ["api", "db", "web"]);
    let http = p.select(&[m(EQ, "__name__", "http_requests")]);
    assert_eq!(strs(p.label_values("job", Some(&http))), ["api", "web"]);
    assert!(p.label_values("env", Some(&http)).is_empty());
    assert!(p.label_values("nolabel", None).is_empty());
    assert!(p.label_names(Some(&RoaringBitmap::new())).is_empty());
    assert_eq!(
        strs(p.label_values_matching("job", &m(RE, "x", "a.*|d.*"))),
        ["api", "db"]
    );
}

#[test]
fn remove_forgets_series_and_empty_entries() {
    let mut p = fixture();
    let labels = |id: usize| Labels::from_pairs(SERIES[id].iter().copied());
    p.remove(1, &labels(1));
    assert_eq!(ids(p.all()), [0, 2, 3, 4, 5, 6]);
    assert!(p.postings("env", "dev").is_none());
    assert_eq!(strs(p.label_values("env", None)), ["prod"]);
    p.remove(0, &labels(0));
    assert!(!p.label_names(None).iter().any(|n| &**n == "env"));
    assert_eq!(ids(&p.select(&[m(EQ, "env", "")])), [2, 3, 4, 5, 6]);
    assert_eq!(ids(&p.select(&[m(EQ, "job", "api")])), [3, 4]);
    // Removing an unknown series changes nothing.
    p.remove(42, &labels(3));
    assert_eq!(ids(&p.select(&[m(EQ, "job", "api")])), [3, 4]);
}

/// The definition `select` must agree with.
fn brute_force(series: &[Labels], ms: &[Matcher]) -> Vec<u32> {
    if ms.is_empty() {
        return Vec::new();
    }
    (0..series.len() as u32)
        .filter(|&i| {
            ms.iter()
                .all(|m| m.matches(series[i as usize].get(&m.name).unwrap_or("")))
        })
        .collect()
}

fn series_strategy() -> impl Strategy<Value = Vec<Labels>> {
    let value = prop::sample::select(vec!["", "a", "b", "ab", "ba", "abc", "A"]);
    let labels = prop::collection::vec((prop::sample::select(vec!["x", "y", "z"]), value), 0..4)
        .prop_map(Labels::from_pairs);
    prop::collection::vec(labels, 0..24)
}

fn matcher_strategy() -> impl Strategy<Value = Matcher> {
    let op = prop::sample::select(vec![EQ, NE, RE, NRE]);
    let name = prop::sample::select(vec!["x", "y", "z", "w"]);
    let value = prop::sample::select(vec![
        "", "a", "ab", ".*", ".+", "a.*", "a.+", ".*b", ".*b.*", "a|b", "a|", "(?i)a", "[ab]+",
        "a?b?", ".",
    ]);
    (op, name, value).prop_map(|(op, n, v)| Matcher::new(op, n, v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn select_agrees_with_brute_force(
        series in series_strategy(),
        ms in prop::collection::vec(matcher_strategy(), 0..4),
        removed in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let mut p = MemPostings::default();
        for (i, l) in series.iter().enumerate() {
            p.add(i as u32, l);
        }
        prop_assert_eq!(ids(&p.select(&ms)), brute_force(&series, &ms));

        // Removal leaves the index as if the series had never been added.
        let mut kept: Vec<Option<&Labels>> = series.iter().map(Some).collect();
        if !series.is_empty() {
            for r in &removed {
                let i = r.index(series.len());
                if kept[i].take().is_some() {
                    p.remove(i as u32, &series[i]);
                }
            }
        }
        let want: Vec<u32> = brute_force(&series, &ms)
            .into_iter()
            .filter(|&i| kept[i as usize].is_some())
            .collect();
        prop_assert_eq!(ids(&p.select(&ms)), want);
        let mut names: Vec<&str> = kept
            .iter()
            .flatten()
            .flat_map(|l| l.iter().filter(|l| !l.value.is_empty()).map(|l| &*l.name))
            .collect();
        names.sort_unstable();
        names.dedup();
        let got = p.label_names(None);
        prop_assert_eq!(got.iter().map(|n| &**n).collect::<Vec<_>>(), names);

        // `within` restricts names and values to the series of the selection.
        let selected = p.select(&ms);
        let in_selection: Vec<&Labels> = selected.iter().map(|i| &series[i as usize]).collect();
        for name in ["x", "y", "z"] {
            let mut values: Vec<&str> = in_selection
                .iter()
                .filter_map(|l| l.get(name))
                .filter(|v| !v.is_empty())
                .collect();
            values.sort_unstable();
            values.dedup();
            let got = p.label_values(name, Some(&selected));
            prop_assert_eq!(got.iter().map(|v| &**v).collect::<Vec<_>>(), values.clone());
            let has_name = p.label_names(Some(&selected)).iter().any(|n| &**n == name);
            prop_assert_eq!(has_name, !values.is_empty());
        }
    }
}
