//! The `portcullis.example.v1.Quotes` service of `proto/quotes.proto`, written by
//! hand: the messages derive [`prost::Message`], the server and the client are what
//! `tonic-prost-build` would generate for one unary method, cut down. Building needs
//! no `protoc`; a service with many methods would rather generate this code.
//!
//! - [`GetQuoteRequest`], [`Quote`]: the messages.
//! - [`QuotesServer`]: a Tower service of HTTP requests, routed by method path and
//!   decoded with [`tonic_prost::ProstCodec`], for
//!   [`Server::add_service`](tonic::transport::Server::add_service).
//! - [`QuotesClient`]: a client over a [`Channel`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{IntoRequest, Request, Response, Status};
use tonic_prost::ProstCodec;
use tower::Service;

/// The fully qualified name of the service.
pub const SERVICE: &str = "portcullis.example.v1.Quotes";

/// The HTTP/2 path of `GetQuote`.
pub const GET_QUOTE: &str = "/portcullis.example.v1.Quotes/GetQuote";

/// `GetQuoteRequest`: what to quote.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetQuoteRequest {
    /// The product to price.
    #[prost(string, tag = "1")]
    pub product: String,
}

/// `Quote`: the price of a product for the calling tenant.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Quote {
    /// The tenant of the API key that asked.
    #[prost(string, tag = "1")]
    pub tenant: String,
    /// The plan of that key.
    #[prost(string, tag = "2")]
    pub plan: String,
    /// The product priced.
    #[prost(string, tag = "3")]
    pub product: String,
    /// ISO 4217 currency code.
    #[prost(string, tag = "4")]
    pub currency: String,
    /// The price in cents.
    #[prost(int64, tag = "5")]
    pub amount_cents: i64,
}

/// The server side: answers `GetQuote` with `handler`, every other method of the
/// service with `UNIMPLEMENTED`.
///
/// `handler` is any Tower service from a `tonic::Request<GetQuoteRequest>` to a
/// `tonic::Response<Quote>` failing with a [`Status`]: an `async fn` wrapped in
/// [`tower::service_fn`], say. The request's extensions are the HTTP request's, so
/// the handler reads what layers in front put there (the API key's context).
#[derive(Clone, Debug)]
pub struct QuotesServer<H> {
    handler: H,
}

impl<H> QuotesServer<H> {
    /// A server answering `GetQuote` with `handler`.
    pub fn new(handler: H) -> Self {
        Self { handler }
    }
}

impl<H> NamedService for QuotesServer<H> {
    const NAME: &'static str = SERVICE;
}

impl<H, F> Service<http::Request<Body>> for QuotesServer<H>
where
    H: Service<Request<GetQuoteRequest>, Response = Response<Quote>, Error = Status, Future = F>
        + Clone
        + Send
        + 'static,
    F: Future<Output = Result<Response<Quote>, Status>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The handler is cloned per call and asked for readiness by tonic's `unary`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != GET_QUOTE {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let handler = self.handler.clone();
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<Quote, GetQuoteRequest>::default());
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// The client side of `portcullis.example.v1.Quotes`.
#[derive(Clone, Debug)]
pub struct QuotesClient {
    inner: tonic::client::Grpc<Channel>,
}

impl QuotesClient {
    /// Connects to `endpoint` (`http://127.0.0.1:50051`).
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(endpoint.into())?.connect().await?;
        Ok(Self::new(channel))
    }

    /// A client over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    /// Calls `GetQuote`. Put the API key into the request's metadata
    /// (`x-api-key`) first.
    pub async fn get_quote(
        &mut self,
        request: impl IntoRequest<GetQuoteRequest>,
    ) -> Result<Response<Quote>, Status> {
        self.inner
            .ready()
            .await
            .map_err(|error| Status::unavailable(format!("not connected: {error}")))?;
        let codec = ProstCodec::<GetQuoteRequest, Quote>::default();
        self.inner
            .unary(
                request.into_request(),
                PathAndQuery::from_static(GET_QUOTE),
                codec,
            )
            .await
    }
}
