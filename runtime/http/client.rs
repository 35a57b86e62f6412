//! The connector for hyper-util's pooled `Client` (feature `client`):
//! [`Connector`] opens runtime `TcpStream`s (and, with feature `tls`,
//! rustls sessions over them), where hyper-util's `HttpConnector` would
//! open tokio ones and panic on a runtime worker.
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn f() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use runtime::http::client::Connector;
//! use runtime::io::compat::{HyperExecutor, HyperTimer};
//!
//! let client: Client<Connector, Empty<Bytes>> = Client::builder(HyperExecutor)
//!     .pool_timer(HyperTimer)
//!     .build(Connector::new());
//! let res = client.get("http://127.0.0.1:3000/".parse()?).await?;
//! let body = res.into_body().collect().await?.to_bytes();
//! # Ok(())
//! # }
//! ```
//!
//! The client is `Send + Sync` and may be shared by every worker; each
//! pooled connection lives on the worker that opened it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};

use crate::net::TcpStream;

/// Opens connections for hyper-util's `Client`: plain TCP for `http://`,
/// TLS for `https://` once [`Connector::tls`] gave it a configuration.
/// Sets `TCP_NODELAY`, as hyper-util's `HttpConnector` does by default for
/// request/response traffic.
#[derive(Clone, Debug, Default)]
pub struct Connector {
    /// The rustls configuration for `https://`.
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Connector {
    /// A connector for `http://` URIs.
    pub fn new() -> Self {
        Connector::default()
    }

    /// Also connects `https://` URIs with `config` (put `h2` and
    /// `http/1.1` in `config.alpn_protocols` for HTTP/2 by ALPN).
    /// Feature `tls`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }
}

/// A connection [`Connector`] opened: TCP, or TLS over TCP.
#[derive(Debug)]
pub struct ClientConnection {
    /// The stream.
    inner: Inner,
}

/// See [`ClientConnection`].
#[derive(Debug)]
enum Inner {
    /// `http://`.
    Plain(TcpStream),
    /// `https://` (boxed: a rustls session is large).
    #[cfg(feature = "tls")]
    Tls(Box<super::tls_io::TlsIo<tokio_rustls::client::TlsStream<TcpStream>>>),
}

/// The error of a URI the connector cannot reach.
fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl tower_service::Service<Uri> for Connector {
    type Response = ClientConnection;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<ClientConnection>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let https = match uri.scheme_str() {
                Some("http") | None => false,
                Some("https") => true,
                Some(_) => return Err(invalid("the connector speaks http:// and https:// only")),
            };
            let host = uri.host().ok_or_else(|| invalid("the URI has no host"))?;
            // `[::1]` in a URI is `::1` to the resolver.
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let stream = TcpStream::connect((host.clone(), port)).await?;
            let _ = stream.set_nodelay(true);
            if !https {
                return Ok(ClientConnection {
                    inner: Inner::Plain(stream),
                });
            }
            this.handshake(host, stream).await
        })
    }
}

impl Connector {
    /// The TLS handshake of an `https://` connection.
    #[cfg(feature = "tls")]
    async fn handshake(self, host: String, stream: TcpStream) -> io::Result<ClientConnection> {
        let config = self
            .tls
            .ok_or_else(|| invalid("https:// needs Connector::tls(config)"))?;
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| invalid("the host is not a valid TLS server name"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await?;
        Ok(ClientConnection {
            inner: Inner::Tls(Box::new(super::tls_io::TlsIo::new(tls))),
        })
    }

    /// Without feature `tls`, `https://` is an error.
    #[cfg(not(feature = "tls"))]
    async fn handshake(self, _host: String, _stream: TcpStream) -> io::Result<ClientConnection> {
        Err(invalid("https:// needs runtime's `tls` feature"))
    }
}

impl Connection for ClientConnection {
    fn connected(&self) -> Connected {
        match &self.inner {
            Inner::Plain(_) => Connected::new(),
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => {
                let (_, session) = tls.get_ref().get_ref();
                if session.alpn_protocol() == Some(b"h2") {
                    Connected::new().negotiated_h2()
                } else {
                    Connected::new()
                }
            }
        }
    }
}

impl hyper::rt::Read for ClientConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for ClientConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Plain(s) => hyper::rt::Write::poll_write(Pin::new(s), cx, buf),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Plain(s) => hyper::rt::Write::poll_write_vectored(Pin::new(s), cx, bufs),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Plain(s) => hyper::rt::Write::is_write_vectored(s),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => hyper::rt::Write::poll_flush(Pin::new(s), cx),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => hyper::rt::Write::poll_shutdown(Pin::new(s), cx),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}
