//! Errors of Kubernetes discovery. None reaches an HTTP answer: they are logged, and the
//! watcher that met one retries with backoff.

use std::path::PathBuf;

use crate::scrape::client::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The settings cannot make a client (missing in-cluster environment, bad kubeconfig).
    #[error("{0}")]
    Config(String),

    #[error("unable to read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("unable to parse kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },

    #[error("{0}")]
    Tls(String),

    /// A kubeconfig exec plugin failed or gave an unusable credential.
    #[error("{0}")]
    Exec(String),

    /// Shown with its causes: the TLS verdict (`invalid peer certificate: UnknownIssuer`)
    /// is only in the chain.
    #[error("GET {url}: {}", error_chain(source))]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// A non-2xx answer, with the `Status` message when the body had one.
    #[error("GET {url}: {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },

    #[error("GET {url}: decoding the answer: {source}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },

    /// The watched version is older than the API server keeps: list again.
    #[error("resource version {0} is too old")]
    Gone(String),

    /// No data on a watch for longer than the server's own timeout allows.
    #[error("GET {0}: watch stalled")]
    Stalled(String),
}
