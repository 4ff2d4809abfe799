//! A publisher's synthetic sources: Opus audio at 50 packets a second and, optionally, VP8
//! simulcast layers (q/h/f at 15/20/30 fps) with a keyframe every two seconds and on request
//! (PLI/FIR from the SFU). Each writes due packets straight into its str0m send stream
//! (RTP mode); the caller drains the `Rtc` once per wake-up.

use std::time::{Duration, Instant};

use serde::Serialize;
use str0m::Rtc;
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{RtpWrite, SeqNo};

use crate::pacing::Pacer;
use crate::payload::{self, Trailer};

/// Audio packets per second (20 ms Opus frames).
pub const AUDIO_PPS: u32 = 50;
/// Bytes of each audio payload (≈ 26 kbps of payload at 50 packets/s).
pub const AUDIO_PAYLOAD: usize = 64;
/// Keyframe interval of every video layer.
const KEYFRAME_EVERY: Duration = Duration::from_secs(2);
/// Keyframe requests closer than this to the last keyframe are ignored.
const KEYFRAME_REQUEST_SPACING: Duration = Duration::from_millis(200);

/// One simulcast layer's shape.
#[derive(Debug, Clone, Copy)]
pub struct LayerSpec {
    pub rid: &'static str,
    pub quality: livekit_protocol::VideoQuality,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub kbps: u32,
}

/// Layers, low to high; `--video N` publishes the first N.
pub const LAYERS: [LayerSpec; 3] = [
    LayerSpec {
        rid: "q",
        quality: livekit_protocol::VideoQuality::Low,
        width: 320,
        height: 180,
        fps: 15,
        kbps: 150,
    },
    LayerSpec {
        rid: "h",
        quality: livekit_protocol::VideoQuality::Medium,
        width: 640,
        height: 360,
        fps: 20,
        kbps: 500,
    },
    LayerSpec {
        rid: "f",
        quality: livekit_protocol::VideoQuality::High,
        width: 1280,
        height: 720,
        fps: 30,
        kbps: 1700,
    },
];

/// What one source sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sent {
    pub track: u16,
    pub layer: u8,
    pub packets: u64,
    pub bytes: u64,
    /// Trailer sequence number of the last packet sent.
    pub last_seq: Option<u32>,
    pub keyframes: u64,
    pub keyframes_requested: u64,
    /// Packet slots skipped because this process fell behind.
    pub skipped: u64,
}

pub struct AudioSource {
    mid: Mid,
    pt: Pt,
    pacer: Pacer,
    rtp_seq: u64,
    pub sent: Sent,
}

impl AudioSource {
    pub fn new(track: u16, mid: Mid, pt: Pt, start: Instant) -> Self {
        Self {
            mid,
            pt,
            pacer: Pacer::per_second(start, AUDIO_PPS),
            rtp_seq: u64::from(rand_u16()),
            sent: Sent {
                track,
                ..Default::default()
            },
        }
    }

    pub fn next_due(&self) -> Instant {
        self.pacer.next_due()
    }

    /// Writes the packets due at `now`; returns how many.
    pub fn write_due(&mut self, rtc: &mut Rtc, now: Instant) -> u64 {
        let n = self.pacer.take_due(now);
        self.sent.skipped = self.pacer.skipped();
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(self.mid, None) else {
            return 0;
        };
        for _ in 0..n {
            let seq = self.sent.last_seq.map_or(0, |s| s + 1);
            let trailer = Trailer {
                track: self.sent.track,
                layer: 0,
                video: false,
                keyframe: false,
                seq,
                sent_ns: payload::ns_at(Instant::now()),
            };
            let data = payload::opus(&trailer, AUDIO_PAYLOAD);
            self.sent.bytes += data.len() as u64;
            let ts = (self.rtp_seq as u32).wrapping_mul(960);
            tx.write_rtp(RtpWrite::new(
                self.pt,
                SeqNo::from(self.rtp_seq),
                ts,
                now,
                data,
            ));
            self.rtp_seq += 1;
            self.sent.last_seq = Some(seq);
            self.sent.packets += 1;
        }
        n
    }
}

pub struct VideoLayerSource {
    mid: Mid,
    /// `None` without simulcast.
    rid: Option<Rid>,
    pt: Pt,
    spec: LayerSpec,
    pacer: Pacer,
    rtp_seq: u64,
    frame: u64,
    picture_id: u16,
    last_keyframe: Option<Instant>,
    keyframe_requested: bool,
    pub sent: Sent,
}

impl VideoLayerSource {
    pub fn new(track: u16, layer: u8, simulcast: bool, mid: Mid, pt: Pt, start: Instant) -> Self {
        let spec = LAYERS[usize::from(layer).min(LAYERS.len() - 1)];
        Self {
            mid,
            rid: simulcast.then(|| Rid::from(spec.rid)),
            pt,
            spec,
            pacer: Pacer::per_second(start, spec.fps),
            rtp_seq: u64::from(rand_u16()),
            frame: 0,
            picture_id: rand_u16() & 0x7fff,
            last_keyframe: None,
            keyframe_requested: false,
            sent: Sent {
                track,
                layer,
                ..Default::default()
            },
        }
    }

    pub fn rid(&self) -> Option<Rid> {
        self.rid
    }

    pub fn next_due(&self) -> Instant {
        self.pacer.next_due()
    }

    /// A PLI/FIR arrived for this layer: the next frame is a keyframe (unless one just went).
    pub fn request_keyframe(&mut self, now: Instant) {
        self.sent.keyframes_requested += 1;
        let recent = self
            .last_keyframe
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_SPACING);
        if !recent {
            self.keyframe_requested = true;
        }
    }

    /// Writes the frames due at `now`; returns the packets written.
    pub fn write_due(&mut self, rtc: &mut Rtc, now: Instant) -> u64 {
        let frames = self.pacer.take_due(now);
        self.sent.skipped = self.pacer.skipped();
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(self.mid, self.rid) else {
            return 0;
        };
        let mut packets = 0;
        for _ in 0..frames {
            let keyframe = self.keyframe_requested
                || self
                    .last_keyframe
                    .is_none_or(|t| now.saturating_duration_since(t) >= KEYFRAME_EVERY);
            if keyframe {
                self.keyframe_requested = false;
                self.last_keyframe = Some(now);
                self.sent.keyframes += 1;
            }
            let delta_bytes = (self.spec.kbps as usize * 1000 / 8) / self.spec.fps as usize;
            let bytes = if keyframe {
                delta_bytes * 3
            } else {
                delta_bytes
            };
            let first_seq = self.sent.last_seq.map_or(0, |s| s + 1);
            let sent_ns = payload::ns_at(Instant::now());
            let (track, layer) = (self.sent.track, self.sent.layer);
            let frame_packets = payload::vp8_frame(self.picture_id, keyframe, bytes, |i| Trailer {
                track,
                layer,
                video: true,
                keyframe,
                seq: first_seq + i as u32,
                sent_ns,
            });
            let ts = (self.frame * 90_000 / u64::from(self.spec.fps)) as u32;
            let count = frame_packets.len();
            for (i, data) in frame_packets.into_iter().enumerate() {
                self.sent.bytes += data.len() as u64;
                tx.write_rtp(
                    RtpWrite::new(self.pt, SeqNo::from(self.rtp_seq), ts, now, data)
                        .marker(i + 1 == count)
                        .nackable(true),
                );
                self.rtp_seq += 1;
            }
            self.sent.last_seq = Some(first_seq + count as u32 - 1);
            self.sent.packets += count as u64;
            packets += count as u64;
            self.frame += 1;
            self.picture_id = (self.picture_id + 1) & 0x7fff;
        }
        packets
    }
}

/// A random start for RTP sequence numbers (RFC 3550 §5.1), from the clock.
fn rand_u16() -> u16 {
    (payload::now_ns() ^ (payload::now_ns() >> 17)) as u16
}
