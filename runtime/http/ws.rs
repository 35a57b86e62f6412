//! WebSocket upgrades in axum routes (feature `websocket`): the
//! [`WebSocketUpgrade`] extractor answers the handshake and runs the
//! callback as a task on the current worker with a [`WebSocket`]
//! (tokio-tungstenite's stream: a `Stream` of [`Message`]s and a `Sink` of
//! them). axum's own `WebSocketUpgrade` spawns with `tokio::spawn` and
//! panics on a runtime worker; this one is served by
//! [`serve`](super::serve), which keeps connections upgradable.
//!
//! ```no_run
//! # #[cfg(feature = "websocket")]
//! # mod app {
//! use axum::{response::Response, routing::get, Router};
//! use futures_util::{SinkExt, StreamExt};
//! use runtime::http::ws::WebSocketUpgrade;
//!
//! async fn echo(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(|mut socket| async move {
//!         while let Some(Ok(msg)) = socket.next().await {
//!             if socket.send(msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//!
//! fn app() -> Router {
//!     Router::new().route("/ws", get(echo))
//! }
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::extract::FromRequestParts;
use axum_core::response::Response;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

pub use tokio_tungstenite::tungstenite::{Error, Message};

/// A server-side WebSocket over an upgraded connection: a `Stream` of
/// `Result<Message, Error>` and a `Sink<Message>` (`futures_util`'s
/// `StreamExt`/`SinkExt` add `next` and `send`).
pub type WebSocket = tokio_tungstenite::WebSocketStream<Upgraded>;

/// An upgraded HTTP connection as tokio's `AsyncRead`/`AsyncWrite`, which
/// tungstenite speaks.
#[derive(Debug)]
pub struct Upgraded {
    /// hyper's upgraded connection (`rt::Read`/`rt::Write`).
    inner: hyper::upgrade::Upgraded,
}

/// Extracts a WebSocket handshake request; [`on_upgrade`](Self::on_upgrade)
/// answers it. Rejects other requests with `400 Bad Request` (or `426
/// Upgrade Required` for an HTTP request that asks for no upgrade).
#[derive(Debug)]
pub struct WebSocketUpgrade {
    /// Resolves to the connection once the 101 response went out.
    on_upgrade: hyper::upgrade::OnUpgrade,
    /// The client's `Sec-WebSocket-Key`.
    key: HeaderValue,
}

/// Whether `headers[name]` lists `token` (comma-separated, any case).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let h = &parts.headers;
        if !lists(h, header::UPGRADE, "websocket") || !lists(h, header::CONNECTION, "upgrade") {
            return Err((
                StatusCode::UPGRADE_REQUIRED,
                "a WebSocket upgrade is required",
            ));
        }
        if parts.method != Method::GET {
            return Err((StatusCode::BAD_REQUEST, "a WebSocket handshake is a GET"));
        }
        if h.get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            != Some(b"13")
        {
            return Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13"));
        }
        let Some(key) = h.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing"));
        };
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return Err((
                StatusCode::BAD_REQUEST,
                "this connection cannot be upgraded (serve it with runtime::http::serve)",
            ));
        };
        Ok(WebSocketUpgrade { on_upgrade, key })
    }
}

impl WebSocketUpgrade {
    /// Answers the handshake (`101 Switching Protocols`) and, once the
    /// response is out, runs `callback` with the socket as a task on the
    /// current worker (so its future need not be `Send`). If the upgrade
    /// fails (the client left), `callback` is not called.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`spawn`](crate::spawn) does; a handler served
    /// by [`serve`](super::serve) always runs on one.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let on_upgrade = self.on_upgrade;
        drop(crate::spawn(async move {
            let Ok(inner) = on_upgrade.await else {
                return;
            };
            let io = Upgraded { inner };
            let socket = WebSocket::from_raw_socket(io, Role::Server, None).await;
            callback(socket).await;
        }));
        let accept = derive_accept_key(self.key.as_bytes());
        let mut res = Response::new(axum_core::body::Body::empty());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = res.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        res
    }
}

impl tokio::io::AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        // SAFETY: hyper's `ReadBuf` over tokio's unfilled part only writes
        // bytes and reports how many it filled, which are then initialised.
        let n = unsafe {
            let mut tail = hyper::rt::ReadBuf::uninit(buf.unfilled_mut());
            match hyper::rt::Read::poll_read(Pin::new(&mut self.inner), cx, tail.unfilled()) {
                Poll::Ready(Ok(())) => tail.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the read above initialised the `n` bytes after `before`.
        unsafe { buf.assume_init(n) };
        buf.set_filled(before + n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.inner), cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write_vectored(Pin::new(&mut self.inner), cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.inner)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.inner), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.inner), cx)
    }
}
