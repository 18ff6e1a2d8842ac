//! Request parameters as Prometheus reads them: form body values first, then the URL query, with
//! repeated keys (`match[]`) kept. `axum::Form` keeps one value per key, so it will not do.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};

use super::ApiError;

/// All parameters of a request, in Go's `r.Form` order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The first value of `name`, as Go's `FormValue`; `None` when absent or empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Params, ApiError> {
        let query: Vec<(String, String)> =
            req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut pairs = Vec::new();
        if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) && is_form {
            let body = bytes::Bytes::from_request(req, state)
                .await
                .map_err(|err| ApiError::BadData(format!("error parsing form body: {err}")))?;
            pairs.extend(form_urlencoded::parse(&body).into_owned());
        }
        pairs.extend(query);
        Ok(Params(pairs))
    }
}
