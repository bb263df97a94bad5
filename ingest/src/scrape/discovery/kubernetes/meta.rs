//! Label helpers shared by the roles: the `__meta_kubernetes_` prefix, label-name
//! sanitising and an object's name, labels and annotations as meta labels.

use std::collections::BTreeMap;

use super::objects::ObjectMeta;

/// A label set, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

pub const META_PREFIX: &str = "__meta_kubernetes_";
pub const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";
pub const ADDRESS_LABEL: &str = "__address__";
pub const INSTANCE_LABEL: &str = "instance";
/// The value of every `…present_…` label.
pub const PRESENT: &str = "true";

/// Prometheus's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]`
/// becomes `_` (a leading digit is kept: the name always follows a prefix).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Prometheus's `addObjectMetaLabels`: `<role>_name`, then `<role>_label_<k>` and
/// `<role>_labelpresent_<k>` per label, `<role>_annotation_<k>` and
/// `<role>_annotationpresent_<k>` per annotation, names sanitised.
pub fn add_object_meta(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    let p = format!("{META_PREFIX}{role}");
    ls.insert(format!("{p}_name"), meta.name.clone());
    for (k, v) in &meta.labels {
        let k = sanitize(k);
        ls.insert(format!("{p}_label_{k}"), v.clone());
        ls.insert(format!("{p}_labelpresent_{k}"), PRESENT.to_string());
    }
    for (k, v) in &meta.annotations {
        let k = sanitize(k);
        ls.insert(format!("{p}_annotation_{k}"), v.clone());
        ls.insert(format!("{p}_annotationpresent_{k}"), PRESENT.to_string());
    }
}

/// Go's `net.JoinHostPort`: IPv6 literals (anything with a colon) get brackets.
pub fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `namespace/name`, the key of namespaced objects in the stores.
pub fn ns_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_like_prometheus() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("a-b_c9"), "a_b_c9");
        assert_eq!(sanitize("ünï"), "_n_");
    }

    #[test]
    fn joins_ipv6_with_brackets() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("2001:db8::1", 9100), "[2001:db8::1]:9100");
    }
}
