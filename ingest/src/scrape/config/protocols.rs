//! `scrape_protocols` (global and per job): the exposition protocols a scrape asks for,
//! best first, from which the `Accept` header is built.
//!
//! Checks and texts are Prometheus's `validateAcceptScrapeProtocols`: a list may not be
//! empty, a protocol may not repeat (compared case-insensitively) and must be one of the
//! known names (compared exactly). `PrometheusProto` is a known name that Tianshu refuses
//! at load time: the protobuf exposition is what carries native histograms, which the
//! storage does not hold yet, so asking targets for it would only fail every scrape.

use std::collections::HashSet;

use crate::scrape::parse::{ScrapeProtocol, DEFAULT_SCRAPE_PROTOCOLS};

/// Known names, sorted, as Prometheus lists them in its error.
const SUPPORTED: &str =
    "[OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]";

/// Checks a list as written; `Err` is the text before Prometheus's " for ..." suffix.
pub(crate) fn parse(names: &[String]) -> Result<Vec<ScrapeProtocol>, String> {
    if names.is_empty() {
        return Err("scrape_protocols cannot be empty".into());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if !seen.insert(name.to_lowercase()) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                names.join(" ")
            ));
        }
        let p = ScrapeProtocol::from_name(name).ok_or_else(|| {
            format!("scrape_protocols: unknown scrape protocol {name}, supported: {SUPPORTED}")
        })?;
        if p == ScrapeProtocol::PrometheusProto {
            return Err(
                "scrape_protocols: PrometheusProto is not supported by Tianshu yet (the protobuf \
                 exposition carries native histograms, which Tianshu does not store); list text \
                 protocols only"
                    .into(),
            );
        }
        out.push(p);
    }
    Ok(out)
}

/// The global list: Prometheus's default when absent.
pub(crate) fn global(names: Option<Vec<String>>) -> Result<Vec<ScrapeProtocol>, String> {
    match names {
        None => Ok(DEFAULT_SCRAPE_PROTOCOLS.to_vec()),
        Some(n) => parse(&n).map_err(|e| format!("{e} for global config")),
    }
}

/// A job's list: the global one when absent or empty, as in Prometheus.
pub(crate) fn job(
    names: Option<Vec<String>>,
    global: &[ScrapeProtocol],
    job_name: &str,
) -> Result<Vec<ScrapeProtocol>, String> {
    match names {
        Some(n) if !n.is_empty() => {
            parse(&n).map_err(|e| format!("{e} for scrape config with job name {job_name:?}"))
        }
        _ => Ok(global.to_vec()),
    }
}

/// Serialises a list by its configuration names.
pub(crate) fn serialize<S: serde::Serializer>(
    list: &[ScrapeProtocol],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(|p| p.name()))
}

/// `true` for Prometheus's default list, which the configuration endpoint leaves out so
/// that its output matches Prometheus versions that predate the field.
pub(crate) fn is_default(list: &[ScrapeProtocol]) -> bool {
    list == DEFAULT_SCRAPE_PROTOCOLS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prometheus_checks_and_texts() {
        assert_eq!(
            parse(&names(&["PrometheusText0.0.4", "OpenMetricsText1.0.0"])),
            Ok(vec![
                ScrapeProtocol::PrometheusText0_0_4,
                ScrapeProtocol::OpenMetricsText1_0_0
            ])
        );
        assert_eq!(
            job(Some(names(&["prometheusproto"])), &[], "node"),
            Err(format!(
                "scrape_protocols: unknown scrape protocol prometheusproto, supported: {SUPPORTED} for scrape config with job name \"node\""
            ))
        );
        assert_eq!(
            job(
                Some(names(&["OpenMetricsText1.0.0", "PrometheusText0.0.4", "openmetricstext1.0.0"])),
                &[],
                "node"
            ),
            Err("duplicated protocol in scrape_protocols, got [OpenMetricsText1.0.0 PrometheusText0.0.4 openmetricstext1.0.0] for scrape config with job name \"node\"".into())
        );
        assert_eq!(
            global(Some(vec![])),
            Err("scrape_protocols cannot be empty for global config".into())
        );
        let proto = global(Some(names(&["PrometheusProto"]))).unwrap_err();
        assert!(
            proto.contains("PrometheusProto is not supported by Tianshu yet")
                && proto.ends_with("for global config"),
            "{proto}"
        );
        // Absent or empty at job level: the global list.
        let g = [ScrapeProtocol::PrometheusText0_0_4];
        assert_eq!(job(None, &g, "j"), Ok(g.to_vec()));
        assert_eq!(job(Some(vec![]), &g, "j"), Ok(g.to_vec()));
        assert_eq!(global(None), Ok(DEFAULT_SCRAPE_PROTOCOLS.to_vec()));
    }
}
