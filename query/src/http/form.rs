//! The request's form: URL query plus urlencoded POST body, read as Go's `Request.Form` is
//! so that GET and POST requests are interchangeable.

use axum::body::to_bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};
use axum::response::Response;

use super::response::error_response;
use crate::error::QueryError;

/// The request's form values: the urlencoded POST body first, then the URL query, which is
/// the precedence Go's `Request.FormValue` gives.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    #[cfg(test)]
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Params {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `name`, or "" (Go's `FormValue`).
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Go's `ParseForm` limit on urlencoded bodies. Larger than axum's default body limit:
/// selector lists POSTed by dashboards can be long.
const MAX_FORM_BYTES: usize = 10 << 20;

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_owned();
        let is_form = req.method() != Method::GET
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim() == "application/x-www-form-urlencoded");
        let mut pairs = Vec::new();
        if is_form {
            let body = to_bytes(req.into_body(), MAX_FORM_BYTES)
                .await
                .map_err(|_| {
                    error_response(&QueryError::BadData(
                        "error parsing form values: http: POST too large".into(),
                    ))
                })?;
            pairs.extend(
                form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        pairs.extend(
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
        Ok(Params { pairs })
    }
}
