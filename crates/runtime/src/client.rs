//! gRPC clients the fleet's way: a lazily connecting channel that replays a request once when the
//! server provably never saw it.
//!
//! A service that drains sends HTTP/2 GOAWAY on its connections; a request that raced it was
//! either refused by the server (GOAWAY's last stream id, `REFUSED_STREAM`) or never left this
//! process (hyper's "connection was not ready"). RFC 9113 §8.7 says such requests are safe to
//! retry whatever they do, so one replay on a fresh connection hides a rolling update from the
//! caller. (grpc-go and grpc-java call this transparent retry; tonic has none.)

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use tonic::body::Body;
use tower::{Service, ServiceExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A channel to one gRPC service, connecting on first use.
pub type Channel = ReplayUnsent<tonic::transport::Channel>;

/// A channel to `url` (e.g. `http://comms-calls:50051`): two seconds to connect, ten per call.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    Ok(ReplayUnsent { inner: channel })
}

/// Replays, once, a request the server never processed. The request's body is buffered to
/// replay it: our requests are single messages (unary and server-streaming calls).
#[derive(Clone)]
pub struct ReplayUnsent<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for ReplayUnsent<S>
where
    S: Service<http::Request<Body>> + Clone + Send + 'static,
    S::Response: Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The ready service takes this call; a clone (polled ready again) takes the replay.
        let replacement = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, replacement);
        let mut spare = self.inner.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            let mut replay = http::Request::new(single(bytes.clone()));
            *replay.method_mut() = parts.method.clone();
            *replay.uri_mut() = parts.uri.clone();
            *replay.version_mut() = parts.version;
            *replay.headers_mut() = parts.headers.clone();
            let first = http::Request::from_parts(parts, single(bytes));
            match ready.call(first).await.map_err(Into::into) {
                Err(error) if never_processed(&*error) => {
                    tracing::debug!(error = %error, uri = %replay.uri(), "replaying a request the server never processed");
                    spare.ready().await.map_err(Into::into)?;
                    spare.call(replay).await.map_err(Into::into)
                }
                outcome => outcome,
            }
        })
    }
}

fn single(bytes: Bytes) -> Body {
    Body::new(Full::new(bytes).map_err(|never| match never {}))
}

/// True when `error` (or what caused it) shows the request never reached the service: not sent
/// at all, refused, or above the last stream id of a graceful GOAWAY.
fn never_processed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return true;
        }
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away()
                    && h2.is_remote()
                    && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        cause = error.source();
    }
    false
}
