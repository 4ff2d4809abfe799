//! RFC 2198 redundant audio (RED), as browsers send Opus with it (`audio/red`, fmtp `111/111`):
//! reading a RED payload into its blocks without copying, and reducing a RED stream to plain
//! Opus packets for subscribers that did not negotiate RED, restoring packets the publisher's
//! uplink lost from the redundancy the next packet carries.
//!
//! Pure: no I/O, no clock. A payload is `N` redundant block headers (4 bytes each: F=1, 7-bit
//! payload type, 14-bit timestamp offset, 10-bit length), one primary header (1 byte: F=0,
//! payload type), then the blocks' bytes in the same order, the primary's last.
//!
//! Which earlier packet a redundant block stands for: the blocks are the previous packets'
//! encodings, oldest first, so the last redundant block is the packet one sequence number back,
//! the one before it two back, and so on (the sender adds one encoding per packet it sends; DTX
//! silence sends no packets and so uses no sequence numbers). Its timestamp is the primary's
//! minus the block's offset.

/// At most this many redundant blocks are read from one payload; browsers send one or two.
/// Bounds the work a hostile payload can cause (a 4-byte header per block).
pub const MAX_REDUNDANT_BLOCKS: usize = 8;

/// Why a payload is not RED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    #[error("empty RED payload")]
    Empty,
    #[error("RED block header cut short")]
    TruncatedHeader,
    #[error("more than {MAX_REDUNDANT_BLOCKS} redundant blocks")]
    TooManyBlocks,
    #[error("redundant block lengths exceed the payload")]
    BlocksOverrun,
}

/// One block of a RED payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// The payload type of the encoding inside (Opus's).
    pub pt: u8,
    /// Primary timestamp minus this block's timestamp (0 for the primary).
    pub ts_offset: u32,
    pub payload: &'a [u8],
}

/// A parsed RED payload: offsets into the original bytes, nothing copied.
#[derive(Debug, Clone, Copy)]
pub struct RedPayload<'a> {
    data: &'a [u8],
    /// Number of redundant blocks.
    redundant: usize,
    /// Where the block bytes start (after every header).
    body: usize,
}

/// Reads a RED payload.
pub fn parse(data: &[u8]) -> Result<RedPayload<'_>, RedError> {
    if data.is_empty() {
        return Err(RedError::Empty);
    }
    let mut at = 0;
    let mut redundant = 0;
    let mut lengths = 0usize;
    loop {
        let Some(&first) = data.get(at) else {
            return Err(RedError::TruncatedHeader);
        };
        if first & 0x80 == 0 {
            at += 1;
            break;
        }
        if redundant == MAX_REDUNDANT_BLOCKS {
            return Err(RedError::TooManyBlocks);
        }
        let header = data.get(at..at + 4).ok_or(RedError::TruncatedHeader)?;
        lengths += (usize::from(header[2] & 0x03) << 8) | usize::from(header[3]);
        redundant += 1;
        at += 4;
    }
    if at + lengths > data.len() {
        return Err(RedError::BlocksOverrun);
    }
    Ok(RedPayload {
        data,
        redundant,
        body: at,
    })
}

impl<'a> RedPayload<'a> {
    /// The current packet's own encoding.
    pub fn primary(&self) -> Block<'a> {
        let header = 4 * self.redundant;
        let start = self.body + self.redundant_lengths();
        Block {
            pt: self.data[header] & 0x7f,
            ts_offset: 0,
            payload: &self.data[start..],
        }
    }

    /// The redundant blocks, oldest first.
    pub fn redundant(&self) -> impl Iterator<Item = Block<'a>> + use<'a> {
        let data = self.data;
        let mut start = self.body;
        (0..self.redundant).map(move |i| {
            let h = &data[4 * i..4 * i + 4];
            let len = (usize::from(h[2] & 0x03) << 8) | usize::from(h[3]);
            let block = Block {
                pt: h[0] & 0x7f,
                ts_offset: (u32::from(h[1]) << 6) | u32::from(h[2] >> 2),
                payload: &data[start..start + len],
            };
            start += len;
            block
        })
    }

    /// The redundant block carrying the packet `distance` sequence numbers before this one
    /// (1: the previous packet), if it is usable: same payload type as the primary and not
    /// empty, in a payload whose offsets are consistent (every block before the primary, each
    /// older than the next).
    pub fn earlier(&self, distance: usize) -> Option<Block<'a>> {
        let index = self.redundant.checked_sub(distance)?;
        let mut wanted = None;
        let mut older_offset = u32::MAX;
        for (i, b) in self.redundant().enumerate() {
            if b.ts_offset == 0 || b.ts_offset >= older_offset {
                return None;
            }
            older_offset = b.ts_offset;
            if i == index {
                wanted = Some(b);
            }
        }
        let primary_pt = self.primary().pt;
        wanted.filter(|b| b.pt == primary_pt && !b.payload.is_empty())
    }

    /// Number of redundant blocks.
    pub fn redundant_count(&self) -> usize {
        self.redundant
    }

    fn redundant_lengths(&self) -> usize {
        self.redundant().map(|b| b.payload.len()).sum()
    }
}

/// A copy of a RED payload whose blocks all carry payload type `pt`: the subscriber's Opus
/// payload type when it differs from the publisher's. `None` if `data` is not RED.
pub fn with_block_pt(data: &[u8], pt: u8) -> Option<Vec<u8>> {
    let red = parse(data).ok()?;
    let mut out = data.to_vec();
    for i in 0..red.redundant {
        out[4 * i] = 0x80 | (pt & 0x7f);
    }
    out[4 * red.redundant] = pt & 0x7f;
    Some(out)
}

/// Follows a RED stream's incoming sequence numbers to tell which packets never arrived.
#[derive(Debug, Default)]
pub struct GapTracker {
    last: Option<u64>,
}

impl GapTracker {
    /// Notes the arrival of extended sequence number `seq`; returns how many packets right
    /// before it are missing: 0 for the first packet, the next one in order, and late or
    /// repeated ones. DTX silence is no gap: it sends no packets and uses no numbers.
    pub fn arrive(&mut self, seq: u64) -> u64 {
        match self.last {
            Some(last) if seq <= last => 0,
            Some(last) => {
                self.last = Some(seq);
                seq - last - 1
            }
            None => {
                self.last = Some(seq);
                0
            }
        }
    }
}

/// One plain (non-RED) packet that a RED packet stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plain<'a> {
    pub seq: u64,
    pub ts: u32,
    pub payload: &'a [u8],
    /// Restored from redundancy (a packet the publisher's uplink lost).
    pub recovered: bool,
}

/// The plain packets the RED packet `red` at (`seq`, `ts`) stands for, in order: the `missing`
/// packets right before it that its redundancy restores (oldest first), then its primary.
pub fn reduce<'a>(
    red: &RedPayload<'a>,
    seq: u64,
    ts: u32,
    missing: u64,
    mut emit: impl FnMut(Plain<'a>),
) {
    let depth = usize::try_from(missing)
        .unwrap_or(usize::MAX)
        .min(red.redundant_count());
    for distance in (1..=depth).rev() {
        let Some(earlier_seq) = seq.checked_sub(distance as u64) else {
            continue;
        };
        if let Some(b) = red.earlier(distance) {
            emit(Plain {
                seq: earlier_seq,
                ts: ts.wrapping_sub(b.ts_offset),
                payload: b.payload,
                recovered: true,
            });
        }
    }
    emit(Plain {
        seq,
        ts,
        payload: red.primary().payload,
        recovered: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPUS: u8 = 111;

    /// A RED payload: `redundant` as (pt, ts offset, bytes), oldest first, then the primary.
    fn red(redundant: &[(u8, u32, &[u8])], primary_pt: u8, primary: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (pt, offset, bytes) in redundant {
            let len = bytes.len() as u32;
            let word = 0x8000_0000 | (u32::from(*pt) << 24) | (offset << 10) | len;
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.push(primary_pt);
        for (_, _, bytes) in redundant {
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(primary);
        out
    }

    fn plain_packets(data: &[u8], seq: u64, ts: u32, missing: u64) -> Vec<(u64, u32, Vec<u8>)> {
        let red = parse(data).unwrap();
        let mut out = Vec::new();
        reduce(&red, seq, ts, missing, |p| {
            out.push((p.seq, p.ts, p.payload.to_vec()))
        });
        out
    }

    #[test]
    fn reads_a_primary_only_payload() {
        let r = parse(&[OPUS, 1, 2, 3]).unwrap();
        assert_eq!(r.redundant_count(), 0);
        assert_eq!(
            r.primary(),
            Block {
                pt: OPUS,
                ts_offset: 0,
                payload: &[1, 2, 3]
            }
        );
        assert_eq!(r.earlier(1), None);
    }

    #[test]
    fn reads_redundant_blocks_oldest_first() {
        let data = red(&[(OPUS, 1920, b"old"), (OPUS, 960, b"prev!")], OPUS, b"now");
        let r = parse(&data).unwrap();
        let blocks: Vec<Block> = r.redundant().collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            (blocks[0].ts_offset, blocks[0].payload),
            (1920, &b"old"[..])
        );
        assert_eq!(
            (blocks[1].ts_offset, blocks[1].payload),
            (960, &b"prev!"[..])
        );
        assert_eq!(r.primary().payload, b"now");
        assert_eq!(r.earlier(1).map(|b| b.payload), Some(&b"prev!"[..]));
        assert_eq!(r.earlier(2).map(|b| b.payload), Some(&b"old"[..]));
        assert_eq!(r.earlier(3), None);
    }

    #[test]
    fn agrees_with_str0m_s_encoder() {
        use str0m::rtp::{RedEncoder, RedundantBlock};
        let prev = RedundantBlock {
            pt: OPUS,
            timestamp_offset: 960,
            payload: vec![7; 300],
        };
        let data = RedEncoder::encode(OPUS, &[9; 40], &[prev]);
        let r = parse(&data).unwrap();
        assert_eq!(r.primary().payload, &[9; 40][..]);
        let b = r.earlier(1).unwrap();
        assert_eq!((b.pt, b.ts_offset, b.payload.len()), (OPUS, 960, 300));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert_eq!(parse(&[]).err(), Some(RedError::Empty));
        assert_eq!(
            parse(&[0x80 | OPUS, 0, 0]).err(),
            Some(RedError::TruncatedHeader)
        );
        // A redundant header and no primary header.
        let only_redundant = red(&[(OPUS, 960, b"")], OPUS, b"")[..4].to_vec();
        assert_eq!(
            parse(&only_redundant).err(),
            Some(RedError::TruncatedHeader)
        );
        let mut overrun = red(&[(OPUS, 960, b"abcd")], OPUS, b"");
        overrun.truncate(overrun.len() - 1);
        assert_eq!(parse(&overrun).err(), Some(RedError::BlocksOverrun));
        let many: Vec<(u8, u32, &[u8])> = (0..=MAX_REDUNDANT_BLOCKS as u32)
            .map(|i| (OPUS, 960 * (20 - i), &b"x"[..]))
            .collect();
        assert_eq!(
            parse(&red(&many, OPUS, b"p")).err(),
            Some(RedError::TooManyBlocks)
        );
    }

    #[test]
    fn unusable_blocks_are_not_restored() {
        // Another codec's block, an empty block, offsets out of order, a zero offset.
        let other_pt = red(&[(0, 960, b"pcmu")], OPUS, b"now");
        assert_eq!(parse(&other_pt).unwrap().earlier(1), None);
        let empty = red(&[(OPUS, 960, b"")], OPUS, b"now");
        assert_eq!(parse(&empty).unwrap().earlier(1), None);
        let disordered = red(&[(OPUS, 960, b"a"), (OPUS, 1920, b"b")], OPUS, b"now");
        assert_eq!(parse(&disordered).unwrap().earlier(1), None);
        let zero = red(&[(OPUS, 0, b"a")], OPUS, b"now");
        assert_eq!(parse(&zero).unwrap().earlier(1), None);
    }

    #[test]
    fn gaps_are_missing_sequence_numbers_only() {
        let mut g = GapTracker::default();
        assert_eq!(g.arrive(100), 0, "first packet");
        assert_eq!(g.arrive(101), 0, "in order");
        assert_eq!(g.arrive(104), 2, "102 and 103 lost");
        assert_eq!(g.arrive(103), 0, "late");
        assert_eq!(g.arrive(104), 0, "repeated");
        // DTX: seconds of silence send no packets; the next packet's number follows on.
        assert_eq!(g.arrive(105), 0, "after DTX silence");
    }

    #[test]
    fn a_lost_packet_is_restored_before_the_current_one() {
        let data = red(&[(OPUS, 960, b"p41")], OPUS, b"p42");
        assert_eq!(
            plain_packets(&data, 42, 42 * 960, 1),
            vec![
                (41, 41 * 960, b"p41".to_vec()),
                (42, 42 * 960, b"p42".to_vec())
            ]
        );
        // Nothing missing: the primary only.
        assert_eq!(
            plain_packets(&data, 42, 42 * 960, 0),
            vec![(42, 42 * 960, b"p42".to_vec())]
        );
    }

    #[test]
    fn restores_as_deep_as_the_redundancy_goes() {
        let two = red(&[(OPUS, 1920, b"p40"), (OPUS, 960, b"p41")], OPUS, b"p42");
        let got = plain_packets(&two, 42, 100_000, 3);
        let seqs: Vec<(u64, u32)> = got.iter().map(|(s, t, _)| (*s, *t)).collect();
        assert_eq!(
            seqs,
            vec![(40, 100_000 - 1920), (41, 100_000 - 960), (42, 100_000)]
        );
        // One level of redundancy after two losses: only the previous packet comes back.
        let one = red(&[(OPUS, 960, b"p41")], OPUS, b"p42");
        let got = plain_packets(&one, 42, 0, 2);
        let seqs: Vec<(u64, u32)> = got.iter().map(|(s, t, _)| (*s, *t)).collect();
        assert_eq!(seqs, vec![(41, 0u32.wrapping_sub(960)), (42, 0)]);
    }

    #[test]
    fn after_dtx_the_offset_is_the_real_time_distance() {
        // The previous packet went out 2 s earlier (silence in between): its block's offset
        // says so, and the restored packet keeps that timestamp.
        let data = red(&[(OPUS, 96_00, b"before")], OPUS, b"after");
        assert_eq!(
            plain_packets(&data, 7, 200_000, 1)[0],
            (6, 200_000 - 9600, b"before".to_vec())
        );
    }

    #[test]
    fn block_payload_types_can_be_rewritten() {
        let data = red(&[(109, 960, b"a")], 109, b"b");
        let out = with_block_pt(&data, OPUS).unwrap();
        let r = parse(&out).unwrap();
        assert_eq!(r.primary().pt, OPUS);
        assert_eq!(
            r.earlier(1).map(|b| (b.pt, b.payload)),
            Some((OPUS, &b"a"[..]))
        );
        assert_eq!(with_block_pt(&[], OPUS), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data: Vec<u8>) {
            // The fuzz entry: sequence number, timestamp and gap from the first 16 bytes.
            crate::engine::fuzzing::red(&data);
            let mut headed = vec![0xff; 16];
            headed.extend_from_slice(&data);
            crate::engine::fuzzing::red(&headed);
        }

        #[test]
        fn well_formed_payloads_round_trip(
            blocks in proptest::collection::vec(
                (1u32..16_000, proptest::collection::vec(proptest::num::u8::ANY, 1..50)), 0..4),
            primary in proptest::collection::vec(proptest::num::u8::ANY, 0..100),
        ) {
            let mut blocks = blocks;
            blocks.sort_by_key(|b| std::cmp::Reverse(b.0));
            blocks.dedup_by_key(|b| b.0);
            let spec: Vec<(u8, u32, &[u8])> =
                blocks.iter().map(|(o, b)| (OPUS, *o, b.as_slice())).collect();
            let data = red(&spec, OPUS, &primary);
            let r = parse(&data).unwrap();
            proptest::prop_assert_eq!(r.primary().payload, primary.as_slice());
            for (i, (offset, bytes)) in blocks.iter().enumerate() {
                let b = r.earlier(blocks.len() - i).unwrap();
                proptest::prop_assert_eq!((b.ts_offset, b.payload), (*offset, bytes.as_slice()));
            }
        }
    }
}
