//! One simulated participant: its signal connection, its peer connections (v0: a publisher
//! `Rtc` it offers, a subscriber `Rtc` that answers the server), its synthetic sources and its
//! receive statistics, all driven by one task. Nothing is shared per packet: the task keeps its
//! own statistics and only bumps a few atomic counters for the progress line.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Simulcast, SimulcastLayer};
use str0m::{Candidate, Event, Rtc};
use tokio::sync::watch;

use crate::error::LoadError;
use crate::media::{AudioSource, LAYERS, Sent, VideoLayerSource};
use crate::payload::{self, Trailer};
use crate::peer::{Peer, recv_opt};
use crate::signal::{Protocol, SignalClient};
use crate::stats::{SeqTracker, latency_histogram};

/// Longest wait for the signal connection and the JoinResponse.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Signal ping interval when the server names none.
const DEFAULT_PING: Duration = Duration::from_secs(5);

/// Where a run is; participants watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Run,
    /// Publishers stop sending; everyone stays connected so the last packets arrive.
    StopMedia,
    Leave,
}

/// Counters shared by all participants, read by the progress line and the cost window.
#[derive(Debug, Default)]
pub struct Live {
    pub joined: AtomicU64,
    pub publishing: AtomicU64,
    /// Subscribers that received media from every expected track.
    pub complete: AtomicU64,
    pub failed: AtomicU64,
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    /// Signalled whenever `joined`, `publishing`, `complete` or `failed` moves (the run waits
    /// on it for everyone to settle).
    pub settled: tokio::sync::Notify,
}

impl Live {
    /// Adds one to a settle counter and wakes the run.
    pub fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.settled.notify_one();
    }
}

/// What one participant does.
#[derive(Debug, Clone)]
pub struct Spec {
    pub identity: String,
    pub token: String,
    pub base_url: String,
    pub protocol: Protocol,
    pub local_ip: IpAddr,
    pub publish: Option<Publish>,
    pub subscribe: bool,
    /// Tracks a subscriber should receive.
    pub expected_tracks: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Publish {
    pub audio_track: u16,
    /// Video track index and number of simulcast layers.
    pub video: Option<(u16, u8)>,
}

/// What one track looked like at one subscriber.
#[derive(Debug, Clone, Default)]
pub struct TrackRx {
    pub video: bool,
    pub layers: BTreeMap<u8, SeqTracker>,
    pub current_layer: u8,
    pub layer_switches: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
}

/// Everything a participant measured.
pub struct Outcome {
    pub identity: String,
    pub publisher: bool,
    pub subscriber: bool,
    pub expected_tracks: usize,
    pub error: Option<String>,
    /// Signal connect → JoinResponse.
    pub join_response: Option<Duration>,
    /// Signal connect → the (first) peer connection connected.
    pub connected: Option<Duration>,
    /// Signal connect → first media packet received from every expected track (subscribers).
    pub all_media: Option<Duration>,
    /// Signal connect → first media packet received.
    pub first_media: Option<Duration>,
    pub tracks: HashMap<u16, TrackRx>,
    pub sent: Vec<Sent>,
    pub audio_latency: Histogram<u64>,
    pub video_latency: Histogram<u64>,
    /// How late this task woke up for its timers (this process's own scheduling delay).
    pub wake_late: Histogram<u64>,
    pub send_drops: u64,
}

impl Outcome {
    fn new(spec: &Spec) -> Self {
        Self {
            identity: spec.identity.clone(),
            publisher: spec.publish.is_some(),
            subscriber: spec.subscribe,
            expected_tracks: spec.expected_tracks,
            error: None,
            join_response: None,
            connected: None,
            all_media: None,
            first_media: None,
            tracks: HashMap::new(),
            sent: Vec::new(),
            audio_latency: latency_histogram(),
            video_latency: latency_histogram(),
            wake_late: latency_histogram(),
            send_drops: 0,
        }
    }
}

/// Runs one participant until the run says leave (or it fails).
pub async fn run(spec: Spec, live: Arc<Live>, phase: watch::Receiver<Phase>) -> Outcome {
    let mut p = Participant {
        start: Instant::now(),
        out: Outcome::new(&spec),
        spec,
        live,
        publisher: None,
        subscriber: None,
        pending_offer: None,
        sub_pending: None,
        sections_wanted: None,
        offer_id: 0,
        mids: Vec::new(),
        published: 0,
        to_publish: 0,
        audio: None,
        video: Vec::new(),
        media_on: false,
        phase: Phase::Run,
    };
    if let Err(e) = p.drive(phase).await {
        p.live.bump(&p.live.failed);
        p.out.error = Some(e.to_string());
    }
    if let Some(a) = p.audio.take() {
        p.out.sent.push(a.sent);
    }
    p.out.sent.extend(p.video.drain(..).map(|v| v.sent));
    p.out.send_drops = [&p.publisher, &p.subscriber]
        .iter()
        .filter_map(|x| x.as_ref().map(|x| x.send_drops))
        .sum();
    p.out
}

struct Participant {
    spec: Spec,
    live: Arc<Live>,
    start: Instant,
    out: Outcome,
    publisher: Option<Peer>,
    subscriber: Option<Peer>,
    pending_offer: Option<SdpPendingOffer>,
    /// v1 subscriber: the offer of receive-only sections awaiting its answer.
    sub_pending: Option<SdpPendingOffer>,
    /// v1 subscriber: sections the server asked for while an offer was out ([audio, video]),
    /// and whether it asked for a re-offer.
    sections_wanted: Option<[u32; 2]>,
    /// Id of this client's latest offer.
    offer_id: u32,
    /// The publisher's send m-lines.
    mids: Vec<(Mid, MediaKind)>,
    published: usize,
    to_publish: usize,
    audio: Option<AudioSource>,
    video: Vec<VideoLayerSource>,
    media_on: bool,
    phase: Phase,
}

impl Participant {
    async fn drive(&mut self, mut phase: watch::Receiver<Phase>) -> Result<(), LoadError> {
        let v1 = self.spec.protocol == Protocol::V1;
        let join_request = if v1 { Some(self.v1_join()?) } else { None };
        let mut signal = tokio::time::timeout(
            JOIN_TIMEOUT,
            SignalClient::connect(
                &self.spec.base_url,
                &self.spec.token,
                self.spec.subscribe,
                self.spec.protocol,
                join_request,
            ),
        )
        .await
        .map_err(|_| LoadError::Timeout("signal connect"))??;
        let join = tokio::time::timeout(JOIN_TIMEOUT, async {
            loop {
                match signal.recv().await? {
                    Resp::Join(j) => return Ok(j),
                    Resp::Leave(l) => {
                        return Err(LoadError::Closed(format!("leave at join: {:?}", l.reason)));
                    }
                    _ => {}
                }
            }
        })
        .await
        .map_err(|_| LoadError::Timeout("JoinResponse"))??;
        self.out.join_response = Some(self.start.elapsed());
        self.live.bump(&self.live.joined);
        let ping_every = match join.ping_interval {
            n if n > 0 => Duration::from_secs(u64::from(n.unsigned_abs())),
            _ => DEFAULT_PING,
        };
        let mut next_ping = Instant::now() + ping_every;

        if let (Some(publish), false) = (self.spec.publish, v1) {
            self.publisher = Some(Peer::new(self.spec.local_ip, Instant::now())?);
            self.to_publish = 1 + usize::from(publish.video.is_some());
            for request in add_track_requests(publish) {
                signal.send(Req::AddTrack(request)).await?;
            }
        }

        let mut pub_buf = vec![0u8; 2048];
        let mut sub_buf = vec![0u8; 2048];
        loop {
            let wake = self.next_wake(next_ping);
            tokio::select! {
                msg = signal.recv() => {
                    let msg = msg?;
                    if let Some(reply) = self.on_signal(msg)? {
                        signal.send(reply).await?;
                    }
                }
                r = recv_opt(self.publisher.as_ref().map(|p| &p.socket), &mut pub_buf) => {
                    let (n, from) = r?;
                    let now = Instant::now();
                    if let Some(peer) = self.publisher.as_mut() {
                        peer.receive(now, from, &pub_buf[..n]);
                    }
                    self.drain_publisher(now)?;
                }
                r = recv_opt(self.subscriber.as_ref().map(|p| &p.socket), &mut sub_buf) => {
                    let (n, from) = r?;
                    let now = Instant::now();
                    if let Some(peer) = self.subscriber.as_mut() {
                        peer.receive(now, from, &sub_buf[..n]);
                    }
                    self.drain_subscriber(now)?;
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    let late = now.saturating_duration_since(wake);
                    let _ = self.out.wake_late.record(u64::try_from(late.as_nanos()).unwrap_or(u64::MAX).max(1));
                    self.on_wake(now)?;
                    if now >= next_ping {
                        next_ping = now + ping_every;
                        let ts = i64::try_from(payload::now_ns() / 1_000_000).unwrap_or(0);
                        signal.send(Req::PingReq(proto::Ping { timestamp: ts, rtt: 0 })).await?;
                    }
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        self.phase = Phase::Leave;
                    } else {
                        self.phase = *phase.borrow_and_update();
                    }
                    if self.phase == Phase::Leave {
                        let _ = signal.send(Req::Leave(proto::LeaveRequest {
                            reason: proto::DisconnectReason::ClientInitiated as i32,
                            ..Default::default()
                        })).await;
                        signal.close().await;
                        return Ok(());
                    }
                }
            }
        }
    }

    fn next_wake(&self, next_ping: Instant) -> Instant {
        let mut wake = next_ping;
        for peer in [&self.publisher, &self.subscriber].into_iter().flatten() {
            wake = wake.min(peer.deadline);
        }
        if self.media_on && self.phase == Phase::Run {
            if let Some(a) = &self.audio {
                wake = wake.min(a.next_due());
            }
            for v in &self.video {
                wake = wake.min(v.next_due());
            }
        }
        wake
    }

    fn on_wake(&mut self, now: Instant) -> Result<(), LoadError> {
        if let Some(peer) = self.publisher.as_mut() {
            let mut written = 0;
            if self.media_on && self.phase == Phase::Run {
                if let Some(a) = self.audio.as_mut() {
                    written += a.write_due(&mut peer.rtc, now);
                }
                for v in &mut self.video {
                    written += v.write_due(&mut peer.rtc, now);
                }
            }
            if written > 0 {
                self.live.tx_packets.fetch_add(written, Ordering::Relaxed);
            }
            if written > 0 || peer.deadline <= now {
                peer.timeout(now)?;
                self.drain_publisher(now)?;
            }
        }
        if let Some(peer) = self.subscriber.as_mut()
            && peer.deadline <= now
        {
            peer.timeout(now)?;
            self.drain_subscriber(now)?;
        }
        Ok(())
    }

    fn on_signal(&mut self, msg: Resp) -> Result<Option<Req>, LoadError> {
        match msg {
            Resp::TrackPublished(_) => {
                self.published += 1;
                // v1 offered its tracks with the join request already.
                if self.published == self.to_publish && self.spec.protocol == Protocol::V0 {
                    return self.publisher_offer().map(Some);
                }
            }
            Resp::Answer(sd) => {
                let answer = SdpAnswer::from_sdp_string(&sd.sdp)
                    .map_err(|e| LoadError::Sdp(e.to_string()))?;
                if let (Some(peer), Some(pending)) =
                    (self.publisher.as_mut(), self.pending_offer.take())
                {
                    peer.rtc.sdp_api().accept_answer(pending, answer)?;
                    self.drain_publisher(Instant::now())?;
                } else if let (Some(peer), Some(pending)) =
                    (self.subscriber.as_mut(), self.sub_pending.take())
                {
                    peer.rtc.sdp_api().accept_answer(pending, answer)?;
                    self.drain_subscriber(Instant::now())?;
                    if let Some([audio, video]) = self.sections_wanted.take() {
                        return self.subscriber_offer(audio, video).map(Some);
                    }
                }
            }
            Resp::MediaSectionsRequirement(r) if self.subscriber.is_some() => {
                if self.sub_pending.is_some() {
                    let [a, v] = self.sections_wanted.get_or_insert([0, 0]);
                    *a += r.num_audios;
                    *v += r.num_videos;
                } else {
                    return self.subscriber_offer(r.num_audios, r.num_videos).map(Some);
                }
            }
            Resp::Offer(sd) => {
                let offer = SdpOffer::from_sdp_string(&sd.sdp)
                    .map_err(|e| LoadError::Sdp(e.to_string()))?;
                if self.subscriber.is_none() {
                    self.subscriber = Some(Peer::new(self.spec.local_ip, Instant::now())?);
                }
                let Some(peer) = self.subscriber.as_mut() else {
                    return Ok(None);
                };
                let answer = peer.rtc.sdp_api().accept_offer(offer)?;
                self.drain_subscriber(Instant::now())?;
                return Ok(Some(Req::Answer(proto::SessionDescription {
                    r#type: "answer".into(),
                    sdp: answer.to_sdp_string(),
                    id: sd.id,
                    ..Default::default()
                })));
            }
            Resp::Trickle(t) => {
                // v1 has one peer connection (every trickle says PUBLISHER).
                let target = if self.spec.protocol == Protocol::V1 {
                    self.publisher.as_mut().or(self.subscriber.as_mut())
                } else if t.target == proto::SignalTarget::Subscriber as i32 {
                    self.subscriber.as_mut()
                } else {
                    self.publisher.as_mut()
                };
                if let (Some(peer), Some(c)) = (target, trickle_candidate(&t.candidate_init)) {
                    peer.rtc.add_remote_candidate(c);
                }
            }
            Resp::Leave(l) => {
                return Err(LoadError::Closed(format!(
                    "server sent leave: {:?}",
                    l.reason
                )));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Adds the send-only m-lines for the published tracks and offers them.
    fn publisher_offer(&mut self) -> Result<Req, LoadError> {
        let (Some(publish), Some(peer)) = (self.spec.publish, self.publisher.as_mut()) else {
            return Err(LoadError::Sdp("no publisher".into()));
        };
        let mut api = peer.rtc.sdp_api();
        let stream = format!("{}-stream", self.spec.identity);
        let audio_mid = api.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some(stream.clone()),
            Some(format!("audio-{}", publish.audio_track)),
            None,
        );
        if let Some((track, layers)) = publish.video {
            let simulcast = (layers > 1).then(|| {
                let mut s = Simulcast::new();
                for l in LAYERS.iter().take(usize::from(layers)) {
                    s.add_send_layer(SimulcastLayer::new(l.rid));
                }
                s
            });
            let mid = api.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some(stream),
                Some(format!("video-{track}")),
                simulcast,
            );
            self.mids.push((mid, MediaKind::Video));
        }
        self.mids.insert(0, (audio_mid, MediaKind::Audio));
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| LoadError::Sdp("nothing to offer".into()))?;
        self.pending_offer = Some(pending);
        self.offer_id += 1;
        Ok(Req::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp: offer.to_sdp_string(),
            id: self.offer_id,
            ..Default::default()
        }))
    }

    /// Protocol v1: makes the one peer connection and the join request that carries its first
    /// offer (a publisher's send-only m-lines with its AddTrack requests, or a subscriber's
    /// receive-only sections: 3 audio and 3 video, as the SDKs start with).
    fn v1_join(&mut self) -> Result<proto::JoinRequest, LoadError> {
        let (offer, add_tracks) = match self.spec.publish {
            Some(publish) => {
                self.publisher = Some(Peer::new(self.spec.local_ip, Instant::now())?);
                self.to_publish = 1 + usize::from(publish.video.is_some());
                (self.publisher_offer()?, add_track_requests(publish))
            }
            None => {
                self.subscriber = Some(Peer::new(self.spec.local_ip, Instant::now())?);
                (self.subscriber_offer(3, 3)?, Vec::new())
            }
        };
        let Req::Offer(offer) = offer else {
            return Err(LoadError::Sdp("no first offer".into()));
        };
        Ok(crate::signal::join_request(
            self.spec.subscribe,
            add_tracks,
            offer,
        ))
    }

    /// Protocol v1 subscriber: adds receive-only sections and offers them. The server asks for
    /// a bare re-offer with zero counts; str0m only offers changes, so one audio section is
    /// added then.
    fn subscriber_offer(&mut self, audio: u32, video: u32) -> Result<Req, LoadError> {
        let Some(peer) = self.subscriber.as_mut() else {
            return Err(LoadError::Sdp("no subscriber".into()));
        };
        let audio = if audio + video == 0 { 1 } else { audio };
        let mut api = peer.rtc.sdp_api();
        for (kind, n) in [(MediaKind::Audio, audio), (MediaKind::Video, video)] {
            for _ in 0..n {
                api.add_media(kind, Direction::RecvOnly, None, None, None);
            }
        }
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| LoadError::Sdp("nothing to offer".into()))?;
        self.sub_pending = Some(pending);
        self.offer_id += 1;
        Ok(Req::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp: offer.to_sdp_string(),
            id: self.offer_id,
            ..Default::default()
        }))
    }

    /// The publisher connected: make the sources for its m-lines.
    fn start_media(&mut self, now: Instant) {
        let (Some(publish), Some(peer)) = (self.spec.publish, self.publisher.as_ref()) else {
            return;
        };
        let rtc = &peer.rtc;
        let audio_pt = pt_of(rtc, Codec::Opus);
        let video_pt = pt_of(rtc, Codec::Vp8);
        for &(mid, kind) in &self.mids {
            match (kind, audio_pt, video_pt) {
                (MediaKind::Audio, Some(pt), _) => {
                    self.audio = Some(AudioSource::new(publish.audio_track, mid, pt, now));
                }
                (MediaKind::Video, _, Some(pt)) => {
                    if let Some((track, layers)) = publish.video {
                        let layers = if layers > 1 { layers } else { 1 };
                        for layer in 0..layers {
                            let simulcast = layers > 1;
                            self.video
                                .push(VideoLayerSource::new(track, layer, simulcast, mid, pt, now));
                        }
                    }
                }
                _ => {}
            }
        }
        self.media_on = true;
        self.live.bump(&self.live.publishing);
    }

    fn drain_publisher(&mut self, now: Instant) -> Result<(), LoadError> {
        let Some(peer) = self.publisher.as_mut() else {
            return Ok(());
        };
        let mut connected = false;
        let video = &mut self.video;
        peer.drain(|e| match e {
            Event::Connected => connected = true,
            Event::KeyframeRequest(req) => {
                for v in video.iter_mut() {
                    if req.rid.is_none() || v.rid() == req.rid {
                        v.request_keyframe(now);
                    }
                }
            }
            _ => {}
        })?;
        if connected && !self.media_on {
            if self.out.connected.is_none() {
                self.out.connected = Some(self.start.elapsed());
            }
            self.start_media(now);
            // the first packets are due now
            self.on_wake(now)?;
        }
        Ok(())
    }

    fn drain_subscriber(&mut self, now: Instant) -> Result<(), LoadError> {
        let Some(peer) = self.subscriber.as_mut() else {
            return Ok(());
        };
        let now_ns = payload::ns_at(now);
        let out = &mut self.out;
        let live = &self.live;
        let start = self.start;
        let mut connected = false;
        peer.drain(|e| match e {
            Event::Connected => connected = true,
            Event::RtpPacket(pkt) => {
                let Some(t) = Trailer::read(&pkt.payload) else {
                    return;
                };
                record_rx(out, live, start, now, now_ns, &t, pkt.payload.len());
            }
            _ => {}
        })?;
        if connected && self.out.connected.is_none() {
            self.out.connected = Some(self.start.elapsed());
        }
        Ok(())
    }
}

/// The AddTrack requests of a publisher: its Opus track and, with video, its VP8 track with
/// one layer per simulcast encoding.
fn add_track_requests(publish: Publish) -> Vec<proto::AddTrackRequest> {
    let mut requests = vec![proto::AddTrackRequest {
        cid: format!("audio-{}", publish.audio_track),
        name: "microphone".into(),
        r#type: proto::TrackType::Audio as i32,
        source: proto::TrackSource::Microphone as i32,
        ..Default::default()
    }];
    if let Some((track, layers)) = publish.video {
        let layers = LAYERS
            .iter()
            .take(usize::from(layers))
            .map(|l| proto::VideoLayer {
                quality: l.quality as i32,
                width: l.width,
                height: l.height,
                bitrate: l.kbps * 1000,
                ..Default::default()
            })
            .collect::<Vec<_>>();
        let top = LAYERS[layers.len().clamp(1, LAYERS.len()) - 1];
        requests.push(proto::AddTrackRequest {
            cid: format!("video-{track}"),
            name: "camera".into(),
            r#type: proto::TrackType::Video as i32,
            source: proto::TrackSource::Camera as i32,
            width: top.width,
            height: top.height,
            layers,
            ..Default::default()
        });
    }
    requests
}

fn record_rx(
    out: &mut Outcome,
    live: &Live,
    start: Instant,
    now: Instant,
    now_ns: u64,
    t: &Trailer,
    len: usize,
) {
    live.rx_packets.fetch_add(1, Ordering::Relaxed);
    live.rx_bytes.fetch_add(len as u64, Ordering::Relaxed);
    if out.first_media.is_none() {
        out.first_media = Some(now.saturating_duration_since(start));
    }
    let video = t.video;
    let latency = now_ns.saturating_sub(t.sent_ns).max(1);
    let hist = if video {
        &mut out.video_latency
    } else {
        &mut out.audio_latency
    };
    let _ = hist.record(latency);
    let new_track = !out.tracks.contains_key(&t.track);
    let track = out.tracks.entry(t.track).or_default();
    track.video = video;
    track.packets += 1;
    track.bytes += len as u64;
    track.last_at = Some(now);
    if track.first_at.is_none() {
        track.first_at = Some(now);
        track.current_layer = t.layer;
    }
    if track.current_layer != t.layer {
        track.current_layer = t.layer;
        track.layer_switches += 1;
        if let Some(tracker) = track.layers.get_mut(&t.layer) {
            tracker.restart(t.seq);
            return;
        }
    }
    track.layers.entry(t.layer).or_default().record(t.seq);
    if new_track && out.tracks.len() == out.expected_tracks && out.all_media.is_none() {
        out.all_media = Some(now.saturating_duration_since(start));
        live.bump(&live.complete);
    }
}

/// The payload type this client configured for `codec`.
fn pt_of(rtc: &Rtc, codec: Codec) -> Option<Pt> {
    rtc.codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

/// A trickled candidate (`candidateInit` is the browser's JSON `RTCIceCandidateInit`).
fn trickle_candidate(init: &str) -> Option<Candidate> {
    let v: serde_json::Value = serde_json::from_str(init).ok()?;
    let c = v.get("candidate")?.as_str()?;
    if c.is_empty() {
        return None;
    }
    Candidate::from_sdp_string(c).ok()
}
