//! The dashboards compiled into the binary, and the one variable they may use.
//!
//! The built-in overview shows Tianshu's own metrics, which the self-scrape appends with
//! `job`/`instance` labels of its own (`--self-scrape.job`, `--self-scrape.instance`). A
//! Prometheus scraping this server may remote-write the same metric names here under
//! other labels; a bare `sum(tianshu_tsdb_head_series)` would then add both readings of
//! one server together. So every selector of a built-in dashboard names the self-scrape
//! series with `{$self}`, which the loader replaces with the configured labels:
//!
//! | written in the JSON           | loaded as (defaults)                                  |
//! |-------------------------------|-------------------------------------------------------|
//! | `up{$self}`                   | `up{job="tianshu", instance="self"}`                  |
//! | `up{$self, code="200"}`       | `up{job="tianshu", instance="self", code="200"}`      |
//!
//! The substitution happens when the built-ins are loaded, not when a dashboard is
//! served: a dashboard saved from the page (an edited overview) keeps the labels it was
//! shown with, as a file a user wrote keeps the queries they wrote.

use super::schema::{Dashboard, PanelKind};
use crate::UiError;

/// Tianshu's own metrics, shown by a fresh server with nothing configured.
const OVERVIEW: &str = include_str!("overview.json");

/// What `$self` stands for in a built-in dashboard's queries.
pub const SELF_VARIABLE: &str = "$self";

/// The labels of the self-scraped series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfScrape {
    /// `--self-scrape.job`.
    pub job: String,
    /// `--self-scrape.instance`.
    pub instance: String,
}

impl Default for SelfScrape {
    /// The command line's defaults.
    fn default() -> SelfScrape {
        SelfScrape {
            job: "tianshu".to_string(),
            instance: "self".to_string(),
        }
    }
}

impl SelfScrape {
    /// The matchers `$self` is replaced with: PromQL string literals, escaped, so that any
    /// label value (quotes, backslashes) gives a valid selector.
    pub fn matchers(&self) -> String {
        format!(
            "job={}, instance={}",
            tianshu_query::parse::quote(&self.job),
            tianshu_query::parse::quote(&self.instance)
        )
    }
}

/// The built-in dashboards, their `$self` replaced by `target`'s labels.
pub fn builtins(target: &SelfScrape) -> Result<Vec<Dashboard>, UiError> {
    let mut overview = Dashboard::from_json(OVERVIEW)?;
    resolve(&mut overview, target);
    Ok(vec![overview])
}

/// Replaces `$self` in every query of `d`.
pub fn resolve(d: &mut Dashboard, target: &SelfScrape) {
    let matchers = target.matchers();
    for p in &mut d.panels {
        match &mut p.kind {
            PanelKind::Timeseries { expr, .. }
            | PanelKind::Stat { expr }
            | PanelKind::HistogramHeatmap { expr } => {
                *expr = expr.replace(SELF_VARIABLE, &matchers)
            }
            PanelKind::EntityHeatmap { tabs, .. } => {
                for t in tabs {
                    t.expr = t.expr.replace(SELF_VARIABLE, &matchers);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::schema::Panel;

    fn queries(p: &Panel) -> Vec<&str> {
        match &p.kind {
            PanelKind::Timeseries { expr, .. }
            | PanelKind::Stat { expr }
            | PanelKind::HistogramHeatmap { expr } => vec![expr.as_str()],
            PanelKind::EntityHeatmap { tabs, .. } => tabs.iter().map(|t| t.expr.as_str()).collect(),
        }
    }

    /// The equality matchers of every selector of `query`, as the parser reads them.
    fn selectors(query: &str) -> Vec<Vec<(String, String)>> {
        let expr = tianshu_query::parse::parse(query)
            .unwrap_or_else(|e| panic!("{query} does not parse: {e}"));
        let mut out = Vec::new();
        collect(&expr, &mut out);
        out
    }

    fn collect(e: &tianshu_query::engine::Expr, out: &mut Vec<Vec<(String, String)>>) {
        use tianshu_query::engine::Expr;
        let mut selector = |ms: &[promql_parser::label::Matcher]| {
            out.push(
                ms.iter()
                    .filter(|m| m.op == promql_parser::label::MatchOp::Equal)
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect(),
            )
        };
        match e {
            Expr::VectorSelector(v) => selector(&v.matchers.matchers),
            Expr::MatrixSelector(m) => selector(&m.vs.matchers.matchers),
            Expr::Aggregate(a) => collect(&a.expr, out),
            Expr::Binary(b) => {
                collect(&b.lhs, out);
                collect(&b.rhs, out);
            }
            Expr::Paren(p) => collect(&p.expr, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, out)),
            Expr::Unary(u) => collect(&u.expr, out),
            Expr::Subquery(s) => collect(&s.expr, out),
            _ => {}
        }
    }

    fn has(sel: &[(String, String)], name: &str, value: &str) -> bool {
        sel.iter().any(|(n, v)| n == name && v == value)
    }

    #[test]
    fn the_overview_selects_the_self_scrape_series_only() {
        let d = builtins(&SelfScrape::default()).expect("valid").remove(0);
        let mut n = 0;
        for p in &d.panels {
            for q in queries(p) {
                assert!(!q.contains('$'), "{:?}: {q}", p.title);
                let sels = selectors(q);
                assert!(!sels.is_empty(), "{q}");
                for s in sels {
                    n += 1;
                    assert!(
                        has(&s, "job", "tianshu") && has(&s, "instance", "self"),
                        "{:?}: selector {s:?} of {q} would also sum a remote-written copy",
                        p.title
                    );
                }
            }
        }
        assert!(n >= d.panels.len(), "{n} selectors");
    }

    #[test]
    fn the_configured_labels_are_substituted_escaped() {
        let target = SelfScrape {
            job: "tsdb".to_string(),
            instance: r#"odd "one" \ here"#.to_string(),
        };
        let d = builtins(&target).expect("valid").remove(0);
        for p in &d.panels {
            for q in queries(p) {
                for s in selectors(q) {
                    assert!(has(&s, "job", "tsdb"), "{s:?}");
                    assert!(has(&s, "instance", r#"odd "one" \ here"#), "{s:?}");
                }
            }
        }
    }
}
