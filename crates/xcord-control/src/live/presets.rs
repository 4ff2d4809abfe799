//! The publishing presets of each live kind, handed to clients with every join
//! (`publishDefaults`): a `video_live` broadcast sends camera video as a three-layer simulcast
//! ladder (1080p at 3 Mbit/s, 720p at 1.2 Mbit/s, 360p at 400 kbit/s) with speech-grade Opus; an
//! `audio_room` sends hi-fi stereo Opus for music (128 kbit/s, DTX off so quiet passages are not
//! cut, RED on so a lost packet is recovered from the next). Clients apply them as their SDK's
//! publish defaults (livekit-client: `publishDefaults.audioPreset`, `dtx`, `red`, `forceStereo`,
//! `videoEncoding`, `videoSimulcastLayers`).

use serde::Serialize;
use utoipa::ToSchema;

use super::LiveKind;

/// One video encoding: its resolution, highest bitrate and frame rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideoLayer {
    pub width: u32,
    pub height: u32,
    /// Bits per second.
    pub max_bitrate: u32,
    pub max_framerate: u32,
}

/// How camera video is sent: the top layer and the lower simulcast layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideoPreset {
    /// The top layer, as captured.
    pub top: VideoLayer,
    /// The lower layers, highest first.
    pub simulcast_layers: Vec<VideoLayer>,
}

/// How the microphone (or music) is sent with Opus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AudioPreset {
    /// Bits per second.
    pub max_bitrate: u32,
    /// Two channels (`stereo=1` in the Opus format parameters).
    pub stereo: bool,
    /// Discontinuous transmission (silence sends almost nothing).
    pub dtx: bool,
    /// Redundant audio (RFC 2198): each packet also carries the previous one.
    pub red: bool,
}

/// What a participant of a session publishes with, by the session's kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishDefaults {
    /// The preset's name: the session's kind.
    pub preset: LiveKind,
    /// Camera video (`null` in an audio room).
    pub video: Option<VideoPreset>,
    pub audio: AudioPreset,
}

const fn layer(width: u32, height: u32, max_bitrate: u32) -> VideoLayer {
    VideoLayer {
        width,
        height,
        max_bitrate,
        max_framerate: 30,
    }
}

/// The presets of `kind`.
pub fn publish_defaults(kind: LiveKind) -> PublishDefaults {
    match kind {
        LiveKind::VideoLive => PublishDefaults {
            preset: kind,
            video: Some(VideoPreset {
                top: layer(1920, 1080, 3_000_000),
                simulcast_layers: vec![layer(1280, 720, 1_200_000), layer(640, 360, 400_000)],
            }),
            audio: AudioPreset {
                max_bitrate: 64_000,
                stereo: false,
                dtx: true,
                red: true,
            },
        },
        LiveKind::AudioRoom => PublishDefaults {
            preset: kind,
            video: None,
            audio: AudioPreset {
                max_bitrate: 128_000,
                stereo: true,
                dtx: false,
                red: true,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audio_room_sends_hi_fi_stereo_opus() {
        let p = publish_defaults(LiveKind::AudioRoom);
        assert!(p.video.is_none());
        assert!(p.audio.max_bitrate >= 128_000 && p.audio.stereo && !p.audio.dtx && p.audio.red);
    }

    #[test]
    fn a_broadcast_sends_a_descending_simulcast_ladder() {
        let video = publish_defaults(LiveKind::VideoLive).video;
        let Some(v) = video else {
            panic!("a broadcast has video");
        };
        assert_eq!((v.top.height, v.top.max_bitrate), (1080, 3_000_000));
        let heights: Vec<u32> = v.simulcast_layers.iter().map(|l| l.height).collect();
        assert_eq!(heights, [720, 360]);
        let mut bitrates = vec![v.top.max_bitrate];
        bitrates.extend(v.simulcast_layers.iter().map(|l| l.max_bitrate));
        assert!(bitrates.windows(2).all(|w| w[0] > w[1]));
    }
}
