//! The response body of a layer that may answer by itself.
//!
//! A rejection must have the same body type as the inner service's responses. Like
//! `tower-http`'s limit layer, Portcullis layers wrap the inner body in
//! [`ResponseBody`], whose other variant holds the bytes of a response the layer wrote
//! itself (a problem+json document, a preflight answer).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http_body::Body;
//! use http_body_util::Full;
//! use portcullis_core::body::ResponseBody;
//!
//! let passed: ResponseBody<Full<Bytes>> = ResponseBody::inner(Full::new(Bytes::from("hi")));
//! let answered: ResponseBody<Full<Bytes>> = ResponseBody::full(Bytes::from("{}"));
//! assert_eq!(passed.size_hint().exact(), Some(2));
//! assert_eq!(answered.size_hint().exact(), Some(2));
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// Either the inner service's body or bytes the layer produced itself.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { bytes: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps the inner service's body.
    pub fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body of exactly these bytes (none when empty).
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            kind: Kind::Full {
                bytes: (!bytes.is_empty()).then_some(bytes),
            },
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Full { bytes: None },
        }
    }
}

impl<B: Default> Default for ResponseBody<B> {
    fn default() -> Self {
        Self::inner(B::default())
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};

    #[tokio::test]
    async fn full_body_yields_its_bytes_once() {
        let body: ResponseBody<Empty<Bytes>> = ResponseBody::full("problem");
        assert!(!body.is_end_stream());
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, Bytes::from("problem"));
    }

    #[tokio::test]
    async fn empty_body_ends_immediately() {
        let body: ResponseBody<Empty<Bytes>> = ResponseBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert!(body.collect().await.unwrap().to_bytes().is_empty());
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body = ResponseBody::inner(http_body_util::Full::new(Bytes::from("inner")));
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from("inner")
        );
    }
}
