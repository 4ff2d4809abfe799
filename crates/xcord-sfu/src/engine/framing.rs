//! RFC 4571 framing: how ICE-TCP carries datagrams (STUN, DTLS, RTP, RTCP) on a byte stream.
//! Each frame is a 2-byte big-endian length followed by that many bytes. The decoder is pure (no
//! I/O): bytes go in as the socket delivers them, whole frames come out.

use bytes::{Buf, BytesMut};

/// Size of the length prefix.
pub const HEADER: usize = 2;

/// A frame the stream cannot carry or the decoder refuses; the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
}

/// Reassembles frames from a stream, refusing frames longer than `max` (the largest datagram
/// the engine reads from UDP) and empty frames: a peer that sends either is not speaking ICE.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max: usize,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(HEADER + max),
            max,
        }
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, `None` until one has arrived completely, or the error that must
    /// close the connection. Checked as soon as the length is known, so an oversized frame is
    /// refused before its body is buffered.
    pub fn next_frame(&mut self) -> Result<Option<BytesMut>, FrameError> {
        let Some(header) = self.buf.get(..HEADER) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if len > self.max {
            return Err(FrameError::TooLong { len, max: self.max });
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        self.buf.advance(HEADER);
        Ok(Some(self.buf.split_to(len)))
    }

    /// Bytes received but not yet returned as a frame.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// `data` as one frame: its length, then the bytes.
pub fn encode(data: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u16::try_from(data.len()).map_err(|_| FrameError::TooLong {
        len: data.len(),
        max: usize::from(u16::MAX),
    })?;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let mut out = Vec::with_capacity(HEADER + data.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = decoder.next_frame().unwrap() {
            out.push(f.to_vec());
        }
        out
    }

    #[test]
    fn a_frame_split_at_every_byte_comes_out_whole_once() {
        let payload: Vec<u8> = (0..200u8).collect();
        let wire = encode(&payload).unwrap();
        for cut in 0..=wire.len() {
            let mut d = FrameDecoder::new(2048);
            d.extend(&wire[..cut]);
            let first = frames_of(&mut d);
            d.extend(&wire[cut..]);
            let second = frames_of(&mut d);
            let all: Vec<_> = first.into_iter().chain(second).collect();
            assert_eq!(all, vec![payload.clone()], "cut at {cut}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn merged_frames_come_out_in_order() {
        let a = vec![1u8; 3];
        let b = vec![2u8; 1500];
        let c = vec![3u8; 1];
        let mut wire = encode(&a).unwrap();
        wire.extend(encode(&b).unwrap());
        wire.extend(encode(&c).unwrap());
        // Delivered in odd chunks that straddle frame boundaries.
        let mut d = FrameDecoder::new(2048);
        let mut got = Vec::new();
        for chunk in wire.chunks(7) {
            d.extend(chunk);
            got.extend(frames_of(&mut d));
        }
        assert_eq!(got, vec![a, b, c]);
    }

    #[test]
    fn an_oversized_frame_is_refused_from_its_header_alone() {
        let mut d = FrameDecoder::new(2048);
        d.extend(&2049u16.to_be_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLong {
                len: 2049,
                max: 2048
            })
        );
        let mut d = FrameDecoder::new(2048);
        d.extend(&encode(&[9; 2048]).unwrap());
        assert_eq!(d.next_frame().unwrap().map(|f| f.len()), Some(2048));
    }

    #[test]
    fn an_empty_frame_is_refused() {
        let mut d = FrameDecoder::new(2048);
        d.extend(&[0, 0, 1, 2]);
        assert_eq!(d.next_frame(), Err(FrameError::Empty));
        assert_eq!(encode(&[]), Err(FrameError::Empty));
    }

    #[test]
    fn encoding_refuses_what_two_bytes_cannot_count() {
        assert!(encode(&vec![0; 65_535]).is_ok());
        assert_eq!(
            encode(&vec![0; 65_536]),
            Err(FrameError::TooLong {
                len: 65_536,
                max: 65_535
            })
        );
        assert_eq!(&encode(&[7; 258]).unwrap()[..2], &[1, 2]);
    }
}
