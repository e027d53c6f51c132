//! Cancel requests that wait for the server: tokio-postgres sends a cancel request and returns
//! at once, but the server acts on it whenever it gets to it. The engine waits until the server
//! closes the request's connection (by then it has signalled the session), so a cancel can never
//! land on a later statement.

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::NoTls;

/// Where cancel requests go: the server the pool connects to.
pub struct CancelEndpoint {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

/// Send a cancel request for `token`'s session and wait until the server has acted on it
/// (it closes the request's connection after signalling the session). False when that could
/// not be confirmed: the request may still land on a later statement.
pub async fn cancel_and_wait(
    token: &tokio_postgres::CancelToken,
    endpoint: &CancelEndpoint,
) -> bool {
    let request = async {
        if endpoint.host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{}", endpoint.host, endpoint.port);
            let stream = UnixStream::connect(path).await.ok()?;
            token
                .cancel_query_raw(DrainOnShutdown::new(stream), NoTls)
                .await
                .ok()
        } else {
            let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .ok()?;
            token
                .cancel_query_raw(DrainOnShutdown::new(stream), NoTls)
                .await
                .ok()
        }
    };
    matches!(
        tokio::time::timeout(endpoint.timeout, request).await,
        Ok(Some(()))
    )
}

/// A stream whose shutdown also waits for the peer to close its side: tokio-postgres shuts a
/// cancel connection down after writing the request, and this makes that wait for the server.
struct DrainOnShutdown<S> {
    inner: S,
    write_closed: bool,
}

impl<S> DrainOnShutdown<S> {
    fn new(inner: S) -> Self {
        DrainOnShutdown {
            inner,
            write_closed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DrainOnShutdown<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for DrainOnShutdown<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.write_closed {
            ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
            self.write_closed = true;
        }
        let mut scratch = [0u8; 64];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
            if buf.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }
}
