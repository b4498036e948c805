//! Response bodies: small ones whole, clip downloads streamed from disk in chunks (memory stays flat
//! whatever the clip size, as for uploads), and the dashboard's event stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

pub enum ResponseBody {
    Whole(Option<Bytes>),
    /// Chunks produced by a blocking reader; the stream ends when the sender is dropped. An `Err`
    /// chunk (the file could not be read) aborts the response.
    Streamed {
        chunks: mpsc::Receiver<std::io::Result<Bytes>>,
        /// `None`: sent until the producer stops (server-sent events).
        len: Option<u64>,
    },
}

impl ResponseBody {
    pub fn whole(bytes: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Whole(Some(bytes.into()))
    }

    pub fn empty() -> ResponseBody {
        ResponseBody::Whole(None)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut *self {
            ResponseBody::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Streamed { chunks, .. } => {
                chunks.poll_recv(cx).map(|chunk| chunk.map(|result| result.map(Frame::data)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Whole(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Streamed { len: Some(len), .. } => SizeHint::with_exact(*len),
            ResponseBody::Streamed { len: None, .. } => SizeHint::default(),
        }
    }
}
