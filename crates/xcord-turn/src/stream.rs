//! Message boundaries of TURN over a byte stream (TCP or TLS, RFC 8656 §11.7): a STUN message
//! is its 20-byte header plus the length in the header; a ChannelData message is its 4-byte
//! header plus the length, padded to a multiple of four. The decoder is pure; the server hands
//! each whole message to the protocol engine and can read its USERNAME first.

/// A stream the decoder refuses; the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("neither STUN nor ChannelData (first byte {0:#04x})")]
    NotTurn(u8),
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
}

const STUN_HEADER: usize = 20;
const CHANNEL_HEADER: usize = 4;

/// Splits a TURN byte stream into whole messages of at most `max` bytes.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl StreamDecoder {
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
        }
    }

    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message (ChannelData with its padding removed), `None` until one has
    /// arrived, or the error that must close the connection.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let Some(&[first, _, hi, lo]) = self.buf.get(..4) else {
            return Ok(None);
        };
        let body = usize::from(u16::from_be_bytes([hi, lo]));
        let (len, padded) = match first {
            0x00..=0x3f => (STUN_HEADER + body, STUN_HEADER + body),
            // Channel numbers are 0x4000 to 0x4FFF (RFC 8656 §12).
            0x40..=0x4f => (CHANNEL_HEADER + body, CHANNEL_HEADER + body.div_ceil(4) * 4),
            _ => return Err(StreamError::NotTurn(first)),
        };
        if padded > self.max {
            return Err(StreamError::TooLong {
                len: padded,
                max: self.max,
            });
        }
        if self.buf.len() < padded {
            return Ok(None);
        }
        let mut msg: Vec<u8> = self.buf.drain(..padded).collect();
        msg.truncate(len);
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(body: usize) -> Vec<u8> {
        let mut m = vec![0x00, 0x01];
        m.extend((body as u16).to_be_bytes());
        m.extend([0x21, 0x12, 0xa4, 0x42]);
        m.extend([7; 12]);
        m.extend(vec![1; body]);
        m
    }

    fn channel(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0x40, 0x01];
        m.extend((data.len() as u16).to_be_bytes());
        m.extend(data);
        m
    }

    fn all(d: &mut StreamDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(m) = d.next_message().unwrap() {
            out.push(m);
        }
        out
    }

    #[test]
    fn split_and_merged_messages_come_out_whole_and_unpadded() {
        let a = stun(8);
        let b = channel(&[9, 9, 9, 9, 9]);
        let c = stun(0);
        let mut wire = a.clone();
        wire.extend(&b);
        wire.extend([0, 0, 0]); // ChannelData padding to four bytes over a stream
        wire.extend(&c);
        for chunk in 1..wire.len() {
            let mut d = StreamDecoder::new(4096);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                d.extend(piece);
                got.extend(all(&mut d));
            }
            assert_eq!(
                got,
                vec![a.clone(), b.clone(), c.clone()],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn oversized_and_foreign_streams_are_refused() {
        let mut d = StreamDecoder::new(100);
        d.extend(&stun(100)[..4]);
        assert_eq!(
            d.next_message(),
            Err(StreamError::TooLong { len: 120, max: 100 })
        );
        let mut d = StreamDecoder::new(100);
        d.extend(b"POST / HTTP/1.1\r\n");
        assert_eq!(d.next_message(), Err(StreamError::NotTurn(b'P')));
        let mut d = StreamDecoder::new(100);
        d.extend(&[0x80, 0, 0, 4]);
        assert_eq!(d.next_message(), Err(StreamError::NotTurn(0x80)));
    }
}
