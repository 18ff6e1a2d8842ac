//! `POST /api/v1/read`: remote read with the samples response (upstream
//! `storage/remote/read_handler.go`). Reads local storage only, never the remote-read
//! endpoints of this server's own config, as upstream does.
//! FIXME(#9): no streamed XOR chunks response.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promlite_storage::{MatchOp, Matcher};

use super::text_error;
use crate::AppState;
use crate::prompb::{self, ReadRequest, ReadResponse};

/// Most samples one remote-read request may return (upstream `--storage.remote.read-sample-limit`).
const READ_SAMPLE_LIMIT: usize = 50_000_000;

/// `POST /api/v1/read`: every query answered from the head, external labels added to the
/// series and matchers on them dropped, as upstream's read handler does.
pub(crate) async fn read(State(state): State<AppState>, body: Bytes) -> Response {
    let request: ReadRequest = match prompb::decode_snappy(&body) {
        Ok(request) => request,
        Err(err) => return text_error(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    if !request.accepted_response_types.is_empty()
        && !request.accepted_response_types.contains(&prompb::RESPONSE_TYPE_SAMPLES)
    {
        // FIXME(#9): the streamed XOR chunks response is not implemented.
        let msg = format!(
            "server does not support any of the requested response types: {:?}; supported: [SAMPLES]",
            request.accepted_response_types
        );
        return text_error(StatusCode::BAD_REQUEST, &msg);
    }
    let external: Vec<(String, String)> = state.external_labels.read().expect("external labels lock").clone();
    let db = state.db.clone();
    let answer = tokio::task::spawn_blocking(move || answer_read(&db, &request, &external)).await;
    match answer {
        Ok(Ok(response)) => {
            let mut out = prompb::encode_snappy(&response).into_response();
            let headers = out.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(prompb::CONTENT_TYPE));
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
            out
        }
        Ok(Err(msg)) => text_error(StatusCode::BAD_REQUEST, &msg),
        Err(err) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("remote read: {err}")),
    }
}

fn answer_read(
    db: &promlite_storage::Db,
    request: &ReadRequest,
    external: &[(String, String)],
) -> Result<ReadResponse, String> {
    let mut results = Vec::with_capacity(request.queries.len());
    let mut samples_total = 0usize;
    for query in &request.queries {
        let mut matchers = Vec::with_capacity(query.matchers.len());
        for m in &query.matchers {
            let op = match m.r#type {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::Regex,
                3 => MatchOp::NotRegex,
                other => return Err(format!("invalid matcher type {other}")),
            };
            let matcher = Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|err| err.to_string())?;
            // A matcher on an external label that the external value satisfies says nothing
            // about local series, which do not carry the label.
            if let Some((_, value)) = external.iter().find(|(name, _)| *name == m.name)
                && matcher.matches(value)
            {
                continue;
            }
            matchers.push(matcher);
        }
        let mut timeseries = Vec::new();
        for series in db.querier(query.start_timestamp_ms, query.end_timestamp_ms).select(&matchers) {
            samples_total += series.samples.len();
            if samples_total > READ_SAMPLE_LIMIT {
                return Err(format!("exceeded sample limit ({READ_SAMPLE_LIMIT})"));
            }
            let mut labels: Vec<prompb::Label> =
                series.labels.iter().map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() }).collect();
            for (name, value) in external {
                if !series.labels.has(name) {
                    labels.push(prompb::Label { name: name.clone(), value: value.clone() });
                }
            }
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let samples = series.samples.iter().map(|s| prompb::Sample { value: s.v, timestamp: s.t }).collect();
            timeseries.push(prompb::TimeSeries { labels, samples, exemplars: vec![], histograms: vec![] });
        }
        results.push(prompb::QueryResult { timeseries });
    }
    Ok(ReadResponse { results })
}
