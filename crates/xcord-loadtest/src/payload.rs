//! Synthetic media payloads. The SFU never decodes media, so a payload only needs the codec
//! header the SFU reads (an Opus TOC byte; a VP8 payload descriptor and, on a frame's first
//! packet, the VP8 frame tag that says keyframe or not), filler to a realistic size, and a
//! trailer at its end that the receiving side of this process reads back: a magic, the
//! publisher's track and layer, a per-(track, layer) sequence number and the send time in
//! nanoseconds of this process's monotonic clock (sender and receiver share the process).

use std::sync::OnceLock;
use std::time::Instant;

/// `XCLT`: marks a payload written by this load generator.
pub const MAGIC: u32 = 0x5843_4c54;
/// Bytes of the trailer at the end of every payload.
pub const TRAILER_LEN: usize = 20;
/// Largest VP8 RTP payload written (well under a 1200 B path MTU with SRTP and headers).
pub const MAX_VIDEO_PAYLOAD: usize = 1100;
/// Opus TOC byte: config 31 (CELT fullband, 20 ms), mono, one frame.
pub const OPUS_TOC: u8 = 0xF8;

const FLAG_KEYFRAME: u8 = 0x01;
const FLAG_VIDEO: u8 = 0x02;

/// What a payload's trailer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Index of the publisher's track across the whole run.
    pub track: u16,
    /// Simulcast layer (0 = q, 1 = h, 2 = f); 0 for audio.
    pub layer: u8,
    /// A video packet (else audio).
    pub video: bool,
    /// The packet belongs to a keyframe.
    pub keyframe: bool,
    /// Sequence number of this packet within its (track, layer).
    pub seq: u32,
    /// Send time, nanoseconds of [`now_ns`].
    pub sent_ns: u64,
}

impl Trailer {
    /// Appends the trailer to `buf`.
    pub fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.extend_from_slice(&self.track.to_be_bytes());
        buf.push(self.layer);
        let mut flags = 0;
        if self.keyframe {
            flags |= FLAG_KEYFRAME;
        }
        if self.video {
            flags |= FLAG_VIDEO;
        }
        buf.push(flags);
        buf.extend_from_slice(&self.seq.to_be_bytes());
        buf.extend_from_slice(&self.sent_ns.to_be_bytes());
    }

    /// Reads the trailer at the end of `payload`; `None` if it carries none.
    pub fn read(payload: &[u8]) -> Option<Trailer> {
        let start = payload.len().checked_sub(TRAILER_LEN)?;
        let t = payload.get(start..)?;
        let magic = u32::from_be_bytes([t[0], t[1], t[2], t[3]]);
        if magic != MAGIC {
            return None;
        }
        Some(Trailer {
            track: u16::from_be_bytes([t[4], t[5]]),
            layer: t[6],
            video: t[7] & FLAG_VIDEO != 0,
            keyframe: t[7] & FLAG_KEYFRAME != 0,
            seq: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
            sent_ns: u64::from_be_bytes([t[12], t[13], t[14], t[15], t[16], t[17], t[18], t[19]]),
        })
    }
}

/// Nanoseconds since the first call in this process (monotonic).
pub fn now_ns() -> u64 {
    ns_at(Instant::now())
}

/// Nanoseconds of `at` on the [`now_ns`] clock.
pub fn ns_at(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// One Opus packet of `size` bytes in total (at least the TOC byte and the trailer).
pub fn opus(trailer: &Trailer, size: usize) -> Vec<u8> {
    let size = size.max(1 + TRAILER_LEN);
    let mut buf = Vec::with_capacity(size);
    buf.push(OPUS_TOC);
    buf.resize(size - TRAILER_LEN, 0x55);
    trailer.write(&mut buf);
    buf
}

/// One VP8 frame of about `frame_bytes`, split into RTP payloads of at most
/// [`MAX_VIDEO_PAYLOAD`] bytes. `trailer_for(i)` gives the trailer of packet `i` (its sequence
/// number); every packet gets the payload descriptor with the 15-bit `picture_id`, the first
/// one the S bit and the frame tag (keyframe: P = 0, the start code and the 16×16 size).
pub fn vp8_frame(
    picture_id: u16,
    keyframe: bool,
    frame_bytes: usize,
    mut trailer_for: impl FnMut(usize) -> Trailer,
) -> Vec<Vec<u8>> {
    const DESCRIPTOR: usize = 4;
    let per_packet = MAX_VIDEO_PAYLOAD - DESCRIPTOR - TRAILER_LEN;
    let count = frame_bytes.div_ceil(per_packet).max(1);
    let mut packets = Vec::with_capacity(count);
    let mut left = frame_bytes.max(10);
    for i in 0..count {
        let body = left.min(per_packet);
        left = left.saturating_sub(body);
        let mut p = Vec::with_capacity(DESCRIPTOR + body + TRAILER_LEN);
        // X=1 (extension present), S on the first packet, partition id 0.
        p.push(0x80 | if i == 0 { 0x10 } else { 0 });
        // I=1: a picture id follows, 15 bits (M=1).
        p.push(0x80);
        p.push(0x80 | ((picture_id >> 8) & 0x7f) as u8);
        p.push((picture_id & 0xff) as u8);
        if i == 0 {
            // Frame tag: P bit (0 = keyframe), version 0, show_frame 1, first partition size.
            let tag: u32 = u32::from(!keyframe) | (1 << 4) | (1 << 5);
            p.extend_from_slice(&tag.to_le_bytes()[..3]);
            if keyframe {
                p.extend_from_slice(&[0x9d, 0x01, 0x2a, 16, 0, 16, 0]);
            }
        }
        let fill = DESCRIPTOR + body;
        if p.len() < fill {
            p.resize(fill, 0x33);
        }
        trailer_for(i).write(&mut p);
        packets.push(p);
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer(seq: u32) -> Trailer {
        Trailer {
            track: 7,
            layer: 2,
            video: true,
            keyframe: true,
            seq,
            sent_ns: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn trailer_round_trips() {
        let mut buf = vec![1, 2, 3];
        trailer(42).write(&mut buf);
        assert_eq!(buf.len(), 3 + TRAILER_LEN);
        assert_eq!(Trailer::read(&buf), Some(trailer(42)));
    }

    #[test]
    fn foreign_or_short_payloads_have_no_trailer() {
        assert_eq!(Trailer::read(&[]), None);
        assert_eq!(Trailer::read(&[0u8; TRAILER_LEN - 1]), None);
        let mut buf = opus(&trailer(1), 64);
        let n = buf.len();
        buf[n - TRAILER_LEN] ^= 0xff; // break the magic
        assert_eq!(Trailer::read(&buf), None);
    }

    #[test]
    fn opus_packet_has_toc_size_and_trailer() {
        let p = opus(&trailer(9), 64);
        assert_eq!(p.len(), 64);
        assert_eq!(p[0], OPUS_TOC);
        assert_eq!(Trailer::read(&p).map(|t| t.seq), Some(9));
        // too small a size still leaves room for the header and trailer
        assert_eq!(opus(&trailer(9), 3).len(), 1 + TRAILER_LEN);
    }

    #[test]
    fn vp8_keyframe_is_split_and_marked() {
        let mut next = 100;
        let packets = vp8_frame(300, true, 3000, |_| {
            next += 1;
            trailer(next)
        });
        assert_eq!(packets.len(), 3);
        assert!(packets.iter().all(|p| p.len() <= MAX_VIDEO_PAYLOAD));
        let first = &packets[0];
        assert_eq!(first[0], 0x90, "X and S bits");
        assert_eq!(u16::from_be_bytes([first[2], first[3]]) & 0x7fff, 300);
        assert_eq!(first[4] & 0x01, 0, "P bit clear: keyframe");
        assert_eq!(&first[7..10], &[0x9d, 0x01, 0x2a]);
        assert_eq!(packets[1][0], 0x80, "no S bit after the first packet");
        let seqs: Vec<u32> = packets
            .iter()
            .filter_map(|p| Trailer::read(p).map(|t| t.seq))
            .collect();
        assert_eq!(seqs, vec![101, 102, 103]);
    }

    #[test]
    fn vp8_delta_frame_has_p_bit() {
        let packets = vp8_frame(1, false, 500, |_| trailer(0));
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0][4] & 0x01, 1);
    }

    #[test]
    fn clock_is_monotonic() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
    }
}
