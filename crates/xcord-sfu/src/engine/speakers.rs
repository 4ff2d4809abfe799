//! Active speakers, from the audio level each publisher puts in its packets (the
//! `ssrc-audio-level` header extension, RFC 6464: 0 dBov is the loudest, 127 silence).
//!
//! Each audio track has a [`LevelMeter`]. Every [`SPEAKER_INTERVAL`] the meter closes a window:
//! the window counts as voiced when at least [`MIN_VOICED_SHARE`] of its packets are at or above
//! [`ACTIVE_DBOV`], and its level is then the mean linear level of those packets; the smoothed
//! level moves a [`SMOOTHING`] share of the way towards the window's level (silence pulls it
//! down the same way). A track is speaking from its first voiced window until
//! [`HANGOVER_WINDOWS`] windows in a row were not (a breath is not the end of a sentence); a
//! participant speaks while any of its tracks does, at the loudest one's level. Rooms announce
//! changes of who speaks, not every level change, so clients get at most one `SpeakersChanged`
//! per interval. Pure: the engine calls [`LevelMeter::observe`] per packet and
//! [`LevelMeter::close_window`] per interval.

use std::time::Duration;

use livekit_protocol as proto;

/// How often the speaker set is evaluated (and announced when it changed).
pub const SPEAKER_INTERVAL: Duration = Duration::from_millis(400);
/// Packets at this level or louder (lower dBov) count as voiced.
pub const ACTIVE_DBOV: u8 = 35;
/// The share of a window's packets that must be voiced for the window to count.
pub const MIN_VOICED_SHARE: f32 = 0.4;
/// How far the smoothed level moves towards each window's level.
pub const SMOOTHING: f32 = 0.5;
/// Quiet windows in a row after which a track no longer speaks.
pub const HANGOVER_WINDOWS: u32 = 2;

/// The linear amplitude (0..=1) of a level in dBov.
fn linear(dbov: u8) -> f32 {
    10f32.powf(-f32::from(dbov.min(127)) / 20.0)
}

/// One audio track's level, accumulated over the current window and smoothed across windows.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelMeter {
    packets: u32,
    voiced: u32,
    voiced_sum: f32,
    smoothed: f32,
    /// Windows since the last voiced one.
    quiet_windows: u32,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self {
            packets: 0,
            voiced: 0,
            voiced_sum: 0.0,
            smoothed: 0.0,
            quiet_windows: HANGOVER_WINDOWS,
        }
    }
}

/// A track's reading at the end of a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub speaking: bool,
    /// The smoothed linear level, 0..=1.
    pub level: f32,
}

impl LevelMeter {
    /// Records one packet's level (`-dBov` as str0m reports it: 0 loudest, -127 silence).
    pub fn observe(&mut self, level: i8) {
        let dbov = level.unsigned_abs().min(127);
        self.packets += 1;
        if dbov <= ACTIVE_DBOV {
            self.voiced += 1;
            self.voiced_sum += linear(dbov);
        }
    }

    /// Ends the window and reads the track.
    pub fn close_window(&mut self) -> Reading {
        let voiced =
            self.packets > 0 && self.voiced as f32 >= MIN_VOICED_SHARE * self.packets as f32;
        let window = if voiced {
            self.voiced_sum / self.voiced as f32
        } else {
            0.0
        };
        self.smoothed += (window - self.smoothed) * SMOOTHING;
        self.quiet_windows = if voiced {
            0
        } else {
            self.quiet_windows.saturating_add(1)
        };
        self.packets = 0;
        self.voiced = 0;
        self.voiced_sum = 0.0;
        let speaking = self.quiet_windows < HANGOVER_WINDOWS;
        if !speaking {
            self.smoothed = 0.0;
        }
        Reading {
            speaking,
            level: self.smoothed,
        }
    }
}

/// Who speaks now (participant sid and level, loudest first), from each participant's
/// readings.
pub fn speaking(readings: impl IntoIterator<Item = (String, Reading)>) -> Vec<(String, f32)> {
    let mut speakers: Vec<(String, f32)> = Vec::new();
    for (sid, r) in readings.into_iter().filter(|(_, r)| r.speaking) {
        match speakers.iter_mut().find(|(s, _)| *s == sid) {
            Some((_, level)) => *level = level.max(r.level),
            None => speakers.push((sid, r.level)),
        }
    }
    speakers.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    speakers
}

/// What changed between two speaker lists, as `SpeakersChanged` carries it: those who started
/// speaking (active, with their level) and those who stopped (inactive, level 0). Empty when the
/// same people speak (levels alone do not make a change).
pub fn changes(before: &[(String, f32)], now: &[(String, f32)]) -> Vec<proto::SpeakerInfo> {
    let started = now
        .iter()
        .filter(|(sid, _)| !before.iter().any(|(b, _)| b == sid))
        .map(|(sid, level)| proto::SpeakerInfo {
            sid: sid.clone(),
            level: *level,
            active: true,
        });
    let stopped = before
        .iter()
        .filter(|(sid, _)| !now.iter().any(|(n, _)| n == sid))
        .map(|(sid, _)| proto::SpeakerInfo {
            sid: sid.clone(),
            level: 0.0,
            active: false,
        });
    started.chain(stopped).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 400 ms window of Opus packets (20 ms each) at `dbov`.
    fn window(m: &mut LevelMeter, dbov: i8) -> Reading {
        for _ in 0..20 {
            m.observe(-dbov);
        }
        m.close_window()
    }

    #[test]
    fn a_voice_speaks_from_its_first_window_and_stops_after_the_hangover() {
        let mut m = LevelMeter::default();
        assert!(!m.close_window().speaking, "no packets, no speech");
        let first = window(&mut m, 20);
        assert!(first.speaking && first.level > 0.0, "{first:?}");
        for _ in 0..3 {
            assert!(window(&mut m, 20).speaking);
        }
        let pause = window(&mut m, 100);
        assert!(pause.speaking, "one quiet window is a pause");
        assert!(window(&mut m, 25).speaking, "and the voice goes on");
        assert!(window(&mut m, 100).speaking);
        let end = window(&mut m, 100);
        assert_eq!(
            (end.speaking, end.level),
            (false, 0.0),
            "two quiet windows end it"
        );
        // muted: no packets at all ends it the same way
        let mut m = LevelMeter::default();
        window(&mut m, 10);
        assert!(m.close_window().speaking);
        assert!(!m.close_window().speaking);
    }

    #[test]
    fn background_noise_and_sparse_blips_are_not_speech() {
        let mut m = LevelMeter::default();
        for _ in 0..10 {
            assert!(!window(&mut m, 50).speaking, "-50 dBov is room noise");
        }
        // a click in 3 of 20 packets (15 % < 40 %) does not count
        let mut m = LevelMeter::default();
        for _ in 0..5 {
            for i in 0..20 {
                m.observe(if i < 3 { -5 } else { -90 });
            }
            assert!(!m.close_window().speaking);
        }
    }

    #[test]
    fn louder_is_higher_and_lists_are_sorted_loudest_first() {
        let (mut loud, mut soft) = (LevelMeter::default(), LevelMeter::default());
        let (l, s) = (window(&mut loud, 6), window(&mut soft, 30));
        assert!(l.level > s.level && s.speaking && l.level <= 1.0);
        let quiet = LevelMeter::default().close_window();
        let list = speaking([
            ("PA_s".into(), s),
            ("PA_l".into(), l),
            ("PA_q".into(), quiet),
            ("PA_s".into(), quiet),
        ]);
        assert_eq!(
            list.iter().map(|(sid, _)| sid.as_str()).collect::<Vec<_>>(),
            ["PA_l", "PA_s"]
        );
    }

    #[test]
    fn only_changes_of_who_speaks_are_announced() {
        let a = vec![("PA_a".to_owned(), 0.3), ("PA_b".to_owned(), 0.1)];
        let same_people = vec![("PA_b".to_owned(), 0.5), ("PA_a".to_owned(), 0.2)];
        assert!(changes(&a, &same_people).is_empty());
        let c = changes(&a, &[("PA_c".to_owned(), 0.4), ("PA_a".to_owned(), 0.3)]);
        assert_eq!(c.len(), 2);
        assert!(
            c.iter()
                .any(|s| s.sid == "PA_c" && s.active && s.level == 0.4)
        );
        assert!(
            c.iter()
                .any(|s| s.sid == "PA_b" && !s.active && s.level == 0.0)
        );
    }
}
