//! Reads what str0m does not expose from a remote SDP: each m-section's mid, kind, direction and
//! `a=msid` track id. Publisher m-lines are matched to AddTrack requests by that track id.
//! Also takes Opus RED out of chosen sections of an answer (tracks published with
//! `disable_red`: str0m's codec set is per connection, RED is per track), and allows stereo Opus
//! in chosen sections (tracks published with `stereo`).

/// Media kind of an m-section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Audio,
    Video,
    Application,
    Other,
}

/// One m-section of a session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSection {
    pub kind: SectionKind,
    pub mid: String,
    /// Whether the remote side sends media on it (sendonly/sendrecv and a live section).
    pub sending: bool,
    /// Whether the remote side wants media on it (recvonly/sendrecv and a live section).
    pub receiving: bool,
    /// The MediaStreamTrack id: second token of `a=msid`.
    pub track_id: Option<String>,
    /// Simulcast rids the remote sends (`a=rid:<rid> send`).
    pub send_rids: Vec<String>,
}

/// An m-section being read: the section, whether its port is non-zero, whether it carries
/// `a=bundle-only`, and its own direction attribute (sends, receives) if any.
struct Reading {
    section: MediaSection,
    port_nonzero: bool,
    bundle_only: bool,
    direction: Option<(bool, bool)>,
}

impl Reading {
    /// The section with its direction settled. A port of 0 rejects a section, except in an offer
    /// with `a=bundle-only` (RFC 8843): such a section lives on the BUNDLE transport. Firefox
    /// (max-bundle) offers every section but the first this way, even in re-offers.
    fn finish(self, session_direction: (bool, bool)) -> MediaSection {
        let live = self.port_nonzero || self.bundle_only;
        let (sends, receives) = self.direction.unwrap_or(session_direction);
        MediaSection {
            sending: live && sends,
            receiving: live && receives,
            ..self.section
        }
    }
}

/// Splits an SDP offer into its m-sections.
pub fn media_sections(sdp: &str) -> Vec<MediaSection> {
    let mut out: Vec<MediaSection> = Vec::new();
    // Directions as (sends, receives).
    let mut session_dir_sends = (true, true);
    let mut cur: Option<Reading> = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            out.extend(cur.take().map(|r| r.finish(session_dir_sends)));
            let mut parts = m.split_whitespace();
            let kind = match parts.next() {
                Some("audio") => SectionKind::Audio,
                Some("video") => SectionKind::Video,
                Some("application") => SectionKind::Application,
                _ => SectionKind::Other,
            };
            cur = Some(Reading {
                section: MediaSection {
                    kind,
                    mid: String::new(),
                    sending: false,
                    receiving: false,
                    track_id: None,
                    send_rids: Vec::new(),
                },
                port_nonzero: parts.next().is_some_and(|p| p != "0"),
                bundle_only: false,
                direction: None,
            });
            continue;
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let dir = match attr {
            "sendonly" => Some((true, false)),
            "sendrecv" => Some((true, true)),
            "recvonly" => Some((false, true)),
            "inactive" => Some((false, false)),
            _ => None,
        };
        match (&mut cur, dir) {
            (None, Some(d)) => session_dir_sends = d,
            (Some(c), Some(d)) => c.direction = Some(d),
            (Some(c), None) => {
                if let Some(mid) = attr.strip_prefix("mid:") {
                    c.section.mid = mid.trim().to_owned();
                } else if let Some(msid) = attr.strip_prefix("msid:") {
                    c.section.track_id = msid.split_whitespace().nth(1).map(str::to_owned);
                } else if let Some(rid) = attr.strip_prefix("rid:") {
                    let mut p = rid.split_whitespace();
                    if let (Some(r), Some("send")) = (p.next(), p.next()) {
                        c.section.send_rids.push(r.to_owned());
                    }
                } else if attr == "bundle-only" {
                    c.bundle_only = true;
                }
            }
            (None, None) => {}
        }
    }
    out.extend(cur.take().map(|r| r.finish(session_dir_sends)));
    out
}

/// `sdp` with RED (`red/…` payload types: format list, rtpmap, fmtp, rtcp-fb) removed from the
/// m-sections whose mid is in `mids`; everything else unchanged.
pub fn without_red(sdp: &str, mids: &[String]) -> String {
    if mids.is_empty() {
        return sdp.to_owned();
    }
    let mut out = String::with_capacity(sdp.len());
    let mut section: Vec<&str> = Vec::new();
    let flush = |out: &mut String, section: &[&str]| {
        let chosen = section.iter().any(|l| {
            l.strip_prefix("a=mid:")
                .is_some_and(|m| mids.iter().any(|x| x == m.trim()))
        });
        let red: Vec<&str> = if chosen {
            section
                .iter()
                .filter_map(|l| l.strip_prefix("a=rtpmap:"))
                .filter_map(|r| r.split_once(' '))
                .filter(|(_, enc)| enc.to_ascii_lowercase().starts_with("red/"))
                .map(|(pt, _)| pt)
                .collect()
        } else {
            Vec::new()
        };
        for line in section {
            let names_red = ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|a| {
                line.strip_prefix(a)
                    .and_then(|r| r.split_once(' '))
                    .is_some_and(|(pt, _)| red.contains(&pt))
            });
            if names_red {
                continue;
            }
            if !red.is_empty() && line.starts_with("m=") {
                let kept: Vec<&str> = line
                    .split(' ')
                    .enumerate()
                    .filter(|(i, f)| *i < 3 || !red.contains(f))
                    .map(|(_, f)| f)
                    .collect();
                out.push_str(&kept.join(" "));
            } else {
                out.push_str(line);
            }
            out.push_str("\r\n");
        }
    };
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            flush(&mut out, &section);
            section.clear();
        }
        section.push(line);
    }
    flush(&mut out, &section);
    out
}

/// The m-sections of `sdp` (each a list of lines, the session part first) and whether each is
/// one of `mids`.
fn sections_of<'a>(sdp: &'a str, mids: &[String]) -> Vec<(bool, Vec<&'a str>)> {
    let mut sections: Vec<Vec<&str>> = vec![Vec::new()];
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let Some(section) = sections.last_mut() {
            section.push(line);
        }
    }
    sections
        .into_iter()
        .map(|lines| {
            let chosen = lines.iter().any(|l| {
                l.strip_prefix("a=mid:")
                    .is_some_and(|m| mids.iter().any(|x| x == m.trim()))
            });
            (chosen, lines)
        })
        .collect()
}

/// `sdp` with stereo Opus allowed (`stereo=1;sprop-stereo=1` on each Opus fmtp) in the
/// m-sections whose mid is in `mids`; everything else unchanged.
pub fn with_stereo(sdp: &str, mids: &[String]) -> String {
    if mids.is_empty() {
        return sdp.to_owned();
    }
    let mut out = String::with_capacity(sdp.len() + 32 * mids.len());
    for (chosen, lines) in sections_of(sdp, mids) {
        let opus: Vec<&str> = if chosen {
            lines
                .iter()
                .filter_map(|l| l.strip_prefix("a=rtpmap:"))
                .filter_map(|r| r.split_once(' '))
                .filter(|(_, enc)| enc.to_ascii_lowercase().starts_with("opus/"))
                .map(|(pt, _)| pt)
                .collect()
        } else {
            Vec::new()
        };
        for line in lines {
            out.push_str(line);
            let opus_fmtp = line
                .strip_prefix("a=fmtp:")
                .and_then(|r| r.split_once(' '))
                .filter(|(pt, _)| opus.contains(pt));
            if let Some((_, params)) = opus_fmtp {
                for param in ["stereo=1", "sprop-stereo=1"] {
                    let key = param.split('=').next().unwrap_or(param);
                    let present = params
                        .split(';')
                        .any(|p| p.trim().split('=').next() == Some(key));
                    if !present {
                        out.push(';');
                        out.push_str(param);
                    }
                }
            }
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:stream-a track-a\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\na=msid:- track-v\r\n\
a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n\
m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=inactive\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";

    #[test]
    fn parses_sections() {
        let s = media_sections(OFFER);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].kind, SectionKind::Audio);
        assert_eq!(s[0].track_id.as_deref(), Some("track-a"));
        assert!(s[0].sending);
        assert_eq!(s[1].track_id.as_deref(), Some("track-v"));
        assert_eq!(s[1].send_rids, vec!["q", "h", "f"]);
        assert!(!s[2].sending);
        assert!(!s[0].receiving && !s[2].receiving);
        assert_eq!(s[3].kind, SectionKind::Application);
        assert_eq!(s[3].mid, "3");
    }

    #[test]
    fn a_bundle_only_section_with_port_zero_is_live() {
        let offer = "v=0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=mid:0\r\na=recvonly\r\n\
m=audio 0 UDP/TLS/RTP/SAVPF 109\r\na=mid:1\r\na=msid:{s} {t}\r\na=sendonly\r\na=bundle-only\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 120\r\na=mid:2\r\na=recvonly\r\n";
        let s = media_sections(offer);
        assert!(s[0].receiving);
        assert!(s[1].sending && !s[1].receiving);
        assert_eq!(s[1].track_id.as_deref(), Some("{t}"));
        // Port 0 without bundle-only is a rejected section.
        assert!(!s[2].receiving && !s[2].sending);
    }

    #[test]
    fn red_is_taken_out_of_the_chosen_sections_only() {
        let answer = "v=0\r\ns=-\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=mid:0\r\na=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=mid:1\r\na=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\na=rtpmap:111 opus/48000/2\r\n";
        let out = without_red(answer, &["0".to_owned()]);
        let first = out.split("m=").nth(1).unwrap();
        let second = out.split("m=").nth(2).unwrap();
        assert!(
            first.starts_with("audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
            "{first}"
        );
        assert!(!first.contains("red/") && !first.contains("a=fmtp:63"));
        assert!(first.contains("a=fmtp:111 minptime=10;useinbandfec=1"));
        assert!(second.starts_with("audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"));
        assert!(second.contains("a=rtpmap:63 red/48000/2"));
        assert_eq!(without_red(answer, &[]), answer);
        assert!(out.starts_with("v=0\r\ns=-\r\n"));
    }

    #[test]
    fn stereo_is_allowed_in_the_chosen_sections_only() {
        let answer = "v=0\r\ns=-\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=mid:0\r\na=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n";
        let out = with_stereo(answer, &["0".to_owned()]);
        let first = out.split("m=").nth(1).unwrap();
        let second = out.split("m=").nth(2).unwrap();
        assert!(
            first.contains("a=fmtp:111 minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1\r\n"),
            "{first}"
        );
        assert!(
            first.contains("a=fmtp:63 111/111\r\n"),
            "RED's fmtp untouched"
        );
        assert!(!second.contains("stereo"), "{second}");
        assert!(out.starts_with("v=0\r\ns=-\r\n"));
        // Idempotent: parameters already there are not repeated.
        assert_eq!(with_stereo(&out, &["0".to_owned()]), out);
        assert_eq!(with_stereo(answer, &[]), answer);
    }
}
