//! The dashboard file format. One dashboard per `<id>.json` file; `README.md` documents
//! it field by field. Unknown fields are kept out (not round-tripped): the page edits
//! only what the schema knows.

use serde::{Deserialize, Serialize};

use crate::UiError;

/// One dashboard: a title and a grid of panels laid out left to right in 12 columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// The file name without `.json`: 1–64 of `[A-Za-z0-9_-]`, so that it is a safe
    /// path component and a URL segment as it is.
    pub id: String,
    pub title: String,
    /// Time range shown on open, a Prometheus duration (`5m`, `1h`).
    #[serde(default = "default_range")]
    pub range: String,
    pub panels: Vec<Panel>,
}

/// One panel of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    pub title: String,
    /// Columns out of 12 the panel spans (1–12).
    #[serde(default = "default_width")]
    pub width: u8,
    /// How values are printed: `""` (plain), `"bytes"`, `"seconds"`, `"percent"`, `"ops"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    #[serde(flatten)]
    pub kind: PanelKind,
}

/// What a panel shows, tagged by `"type"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PanelKind {
    /// Lines over time, one per series, with a legend.
    Timeseries {
        expr: String,
        /// Legend template, `{{label}}` replaced by the series' value of `label`; the
        /// series' label set when empty.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        legend: String,
    },
    /// The newest value of the first series, large.
    Stat { expr: String },
    /// Classic histogram over time: `expr` yields cumulative `le` buckets (e.g.
    /// `sum by (le) (rate(x_bucket[1m]))`); the page de-accumulates them per bucket.
    HistogramHeatmap { expr: String },
    /// One cell per series coloured by its newest value; tabs switch the metric while the
    /// cells stay where they are.
    EntityHeatmap {
        /// At least one tab.
        tabs: Vec<Tab>,
        /// Label whose values group the cells into rows of their own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_by: Option<String>,
        /// Label the cells are ordered by inside a group (label set order when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sort_by: Option<String>,
    },
}

/// One metric of an entity heatmap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tab {
    pub name: String,
    pub expr: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

fn default_range() -> String {
    "15m".to_string()
}

fn default_width() -> u8 {
    6
}

/// Whether `id` can name a dashboard file.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Dashboard {
    /// Parses and checks a dashboard; the error names what is wrong.
    pub fn from_json(text: &str) -> Result<Dashboard, UiError> {
        let d: Dashboard = serde_json::from_str(text)
            .map_err(|e| UiError::BadData(format!("invalid dashboard JSON: {e}")))?;
        d.check()?;
        Ok(d)
    }

    /// Structural checks. Queries are not parsed here: a panel with a bad query is saved
    /// and shows its error on the panel, as a query typed in the explorer does.
    pub fn check(&self) -> Result<(), UiError> {
        if !valid_id(&self.id) {
            return Err(UiError::BadData(format!(
                "invalid dashboard id {:?}: use 1 to 64 of A-Z a-z 0-9 _ -",
                self.id
            )));
        }
        for (i, p) in self.panels.iter().enumerate() {
            if !(1..=12).contains(&p.width) {
                return Err(UiError::BadData(format!(
                    "panel {i} ({:?}): width must be 1 to 12, got {}",
                    p.title, p.width
                )));
            }
            if let PanelKind::EntityHeatmap { tabs, .. } = &p.kind {
                if tabs.is_empty() {
                    return Err(UiError::BadData(format!(
                        "panel {i} ({:?}): an entity heatmap needs at least one tab",
                        p.title
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_are_tagged_by_type_and_round_trip() {
        let text = r#"{"id":"k8s","title":"Pods","panels":[
            {"type":"timeseries","title":"cpu","expr":"rate(x[1m])","legend":"{{pod}}","width":12},
            {"type":"stat","title":"n","expr":"count(up)","unit":"ops"},
            {"type":"histogram_heatmap","title":"lat","expr":"sum by (le) (rate(h_bucket[1m]))"},
            {"type":"entity_heatmap","title":"pods","tabs":[{"name":"cpu","expr":"a"},{"name":"mem","expr":"b","unit":"bytes"}],"group_by":"node"}
        ]}"#;
        let d = Dashboard::from_json(text).expect("valid");
        assert_eq!(d.range, "15m");
        assert_eq!(d.panels[1].width, 6);
        assert!(
            matches!(&d.panels[3].kind, PanelKind::EntityHeatmap { tabs, group_by: Some(g), sort_by: None } if tabs.len() == 2 && g == "node")
        );
        let again =
            Dashboard::from_json(&serde_json::to_string(&d).expect("ser")).expect("re-read");
        assert_eq!(again, d);
    }

    #[test]
    fn bad_dashboards_are_refused_with_the_reason() {
        let cases = [
            (
                r#"{"id":"../x","title":"t","panels":[]}"#,
                "invalid dashboard id",
            ),
            (
                r#"{"id":"a","title":"t","panels":[{"type":"pie","title":"p"}]}"#,
                "unknown variant",
            ),
            (
                r#"{"id":"a","title":"t","panels":[{"type":"stat","title":"p","expr":"1","width":13}]}"#,
                "width must be 1 to 12",
            ),
            (
                r#"{"id":"a","title":"t","panels":[{"type":"entity_heatmap","title":"p","tabs":[]}]}"#,
                "at least one tab",
            ),
        ];
        for (text, want) in cases {
            let err = Dashboard::from_json(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
