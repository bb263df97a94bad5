//! The front end, built by `build.rs` into `OUT_DIR/dist` and embedded here: `index.html`
//! at `/`, Vite's hashed bundles under `/assets/`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/dist");

/// `GET /`: the single page; every view is a `#` route inside it.
pub async fn index() -> Response {
    match DIST.get_file("index.html") {
        // Not cached: it names the current bundles.
        Some(f) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            f.contents(),
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "front end not built").into_response(),
    }
}

/// `GET /assets/{path}`: a bundle; names carry a content hash, so they are immutable.
pub async fn asset(Path(path): Path<String>) -> Response {
    match DIST.get_file(format!("assets/{path}")) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            f.contents(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_front_end_is_embedded() {
        let index = DIST.get_file("index.html").expect("index.html embedded");
        let html = std::str::from_utf8(index.contents()).expect("utf-8");
        assert!(html.contains("/assets/"), "index names its bundles: {html}");
        let bundles = DIST.get_dir("assets").expect("assets dir").files().count();
        assert!(bundles >= 2, "a script and a stylesheet, got {bundles}");
    }
}
