//! Downloads over HTTP(S): streamed into a [`Sink`], resumed with a `Range` request after a
//! dropped connection, started over when the server can't resume or the file changed.

use std::time::Duration;

use distribox_domain::image::Digest;
use futures::StreamExt;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use reqwest::StatusCode;

use super::progress::Tracker;
use super::sink::Sink;
use super::ImportFailure;

/// Attempts after the first one, for a transfer that keeps dropping.
const RETRIES: u32 = 5;
/// Largest checksum file read: real ones are a few KiB.
const MAX_CHECKSUM_FILE: usize = 1 << 20;

/// The HTTP client imports use: system roots for HTTPS, bounded waits, a name servers can log.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("Distribox/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .build()
        .expect("the HTTP client's settings are valid")
}

/// The last segment of a URL's path: the name checksum files list it under.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Reads the vendor's checksum file at `checksum_url` and finds `url`'s digest in it.
pub async fn expected_digest(
    client: &reqwest::Client,
    checksum_url: &str,
    url: &str,
) -> Result<Digest, ImportFailure> {
    let fail = |e: reqwest::Error| {
        ImportFailure::Failed(format!("cannot read the checksum file {checksum_url}: {e}"))
    };
    let mut response = client
        .get(checksum_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(fail)?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_CHECKSUM_FILE {
            return Err(ImportFailure::Failed(format!(
                "the checksum file {checksum_url} is larger than 1 MiB"
            )));
        }
    }
    let text = String::from_utf8_lossy(&body);
    crate::images::checksum::find(&text, &file_name(url))
        .map_err(|e| ImportFailure::Failed(format!("{e} ({checksum_url})")))
}

/// What identifies the version of the file being downloaded, for `If-Range`.
fn validator(response: &reqwest::Response) -> Option<String> {
    let headers = response.headers();
    headers
        .get(ETAG)
        .filter(|etag| !etag.as_bytes().starts_with(b"W/"))
        .or_else(|| headers.get(LAST_MODIFIED))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Content-Range: bytes a-b/total` (or `bytes */total`) as its first byte and the whole
/// file's size.
fn content_range(response: &reqwest::Response) -> (Option<u64>, Option<u64>) {
    response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or((None, None), parse_content_range)
}

fn parse_content_range(value: &str) -> (Option<u64>, Option<u64>) {
    let (range, total) = value
        .trim_start_matches("bytes ")
        .split_once('/')
        .unwrap_or((value, ""));
    let start = range.split('-').next().and_then(|s| s.parse().ok());
    (start, total.parse().ok())
}

/// Downloads `url` into `sink`, continuing after whatever `sink` already holds.
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    sink: &mut Sink,
    tracker: &mut Tracker,
) -> Result<(), ImportFailure> {
    let mut validator_seen: Option<String> = None;
    let mut attempt = 0;
    loop {
        let offset = sink.written();
        let mut request = client.get(url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
            if let Some(v) = &validator_seen {
                request = request.header(IF_RANGE, v);
            }
        }
        let before = sink.written();
        let outcome = match request.send().await {
            Ok(response) => receive(response, offset, sink, tracker, &mut validator_seen).await,
            Err(err) => Err(Stop::Interrupted(err.to_string())),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(Stop::Failed(failure)) => return Err(failure),
            Err(Stop::Interrupted(cause)) if attempt < RETRIES => {
                // Only attempts that got nowhere count: a long download over a link that drops
                // now and then keeps going.
                attempt = if sink.written() > before {
                    1
                } else {
                    attempt + 1
                };
                sink.flush().await?;
                tracing::info!(%url, attempt, received = sink.written(), %cause, "download interrupted; resuming");
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            Err(Stop::Interrupted(cause)) => {
                return Err(ImportFailure::Failed(format!(
                    "the download kept failing ({} attempts): {cause}",
                    RETRIES + 1
                )))
            }
        }
    }
}

/// Why a transfer stopped.
enum Stop {
    /// For reasons worth another try (network, server hiccup).
    Interrupted(String),
    /// For good.
    Failed(ImportFailure),
}

impl From<ImportFailure> for Stop {
    fn from(failure: ImportFailure) -> Self {
        Stop::Failed(failure)
    }
}

async fn receive(
    response: reqwest::Response,
    offset: u64,
    sink: &mut Sink,
    tracker: &mut Tracker,
    validator_seen: &mut Option<String>,
) -> Result<(), Stop> {
    let status = response.status();
    let (range_start, range_total) = content_range(&response);
    let total = match status {
        StatusCode::PARTIAL_CONTENT if offset > 0 && range_start == Some(offset) => range_total,
        // Nothing left to send: the file was whole already (a restart right after the last byte).
        StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 && range_total == Some(offset) => {
            return Ok(())
        }
        StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
            // Not the range asked for, or the file shrank: start over.
            sink.restart().await?;
            tracker.reset_to(0);
            return Err(Stop::Interrupted(format!(
                "the server answered {status} to a resume at byte {offset}"
            )));
        }
        StatusCode::OK => {
            if offset > 0 {
                // The server ignored the range (or the file changed): start over.
                sink.restart().await?;
                tracker.reset_to(0);
            }
            response.content_length()
        }
        status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            return Err(Stop::Interrupted(format!("the server answered {status}")));
        }
        status => {
            return Err(ImportFailure::Failed(format!("the server answered {status}")).into())
        }
    };
    if validator_seen.is_none() {
        *validator_seen = validator(&response);
    }
    tracker.set_total(total);
    if let Some(total) = total {
        sink.expect(total.saturating_sub(sink.written()))?;
    }
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Stop::Interrupted(e.to_string()))?;
        sink.write(&chunk).await?;
        tracker.advance(chunk.len() as u64);
    }
    match total {
        Some(total) if sink.written() < total => Err(Stop::Interrupted(format!(
            "the connection closed after {} of {total} bytes",
            sink.written()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_the_last_path_segment() {
        assert_eq!(
            file_name("https://a.example/x/y/debian.qcow2?sig=1#top"),
            "debian.qcow2"
        );
        assert_eq!(file_name("https://a.example/"), "");
    }

    #[test]
    fn content_ranges_give_their_start_and_total() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            (Some(100), Some(200))
        );
        assert_eq!(parse_content_range("bytes */200"), (None, Some(200)));
        assert_eq!(parse_content_range("bytes 0-9/*"), (Some(0), None));
    }
}
