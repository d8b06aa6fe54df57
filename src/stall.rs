//! A connection whose client stops taking its answer is closed.
//!
//! Hyper writes an answer as fast as the client reads it, and waits
//! without limit when the client reads nothing: a client that asks for
//! answers and never takes them held a connection (its place among
//! `api.max_connections`, a task, the answer's buffers) for as long as it
//! liked. [`WriteDeadline`] fails a write that has made no progress for
//! `api.answer_write_seconds`, which ends the connection, or the WebSocket
//! it became.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `S` whose writes fail with `TimedOut` once they have waited `within`
/// without the client taking a byte. Any progress starts the wait afresh:
/// a slow client is served, one that stopped reading is not waited for.
pub struct WriteDeadline<S> {
    inner: S,
    within: Duration,
    /// Running while a write waits for the client.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, within: Duration) -> Self {
        Self {
            inner,
            within,
            waiting: None,
        }
    }

    /// What a write that `inner` left pending answers: still pending, or
    /// failed once it has waited too long.
    fn waited<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let within = self.within;
        let sleep = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(within)));
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took none of its answer within api.answer_write_seconds",
            ))),
        }
    }

    /// `polled` as it came, the wait dropped if it made progress.
    fn written<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => self.waited(cx),
            ready => {
                self.waiting = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.written(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.written(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.written(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.written(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A pure unit test over an in-process pipe: the write that waits on a
    /// reader who never reads fails at the deadline, and one whose reader
    /// keeps taking bytes, however slowly, does not.
    #[tokio::test(start_paused = true)]
    async fn a_write_no_one_takes_fails_at_the_deadline_and_a_slow_one_goes_through() {
        let (ours, theirs) = tokio::io::duplex(16);
        let mut ours = WriteDeadline::new(ours, Duration::from_secs(5));
        let started = tokio::time::Instant::now();
        let stuck = ours.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(stuck.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        let (ours, mut slow) = tokio::io::duplex(16);
        let mut ours = WriteDeadline::new(ours, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut byte = [0; 8];
            while taken.len() < 64 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let n = slow.read(&mut byte).await.unwrap();
                taken.extend_from_slice(&byte[..n]);
            }
            taken.len()
        });
        ours.write_all(&[1; 64]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 64);
        // Held to the end: a reader gone would fail the first write at
        // once, not at its deadline.
        drop(theirs);
    }
}
