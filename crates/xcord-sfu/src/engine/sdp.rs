//! Reads what str0m does not expose from a remote SDP: each m-section's mid, kind, direction and
//! `a=msid` track id. Publisher m-lines are matched to AddTrack requests by that track id.

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
    /// Whether the remote side sends media on it (sendonly/sendrecv and a non-zero port).
    pub sending: bool,
    /// Whether the remote side wants media on it (recvonly/sendrecv and a non-zero port).
    pub receiving: bool,
    /// The MediaStreamTrack id: second token of `a=msid`.
    pub track_id: Option<String>,
    /// Simulcast rids the remote sends (`a=rid:<rid> send`).
    pub send_rids: Vec<String>,
}

/// Splits an SDP into its m-sections.
pub fn media_sections(sdp: &str) -> Vec<MediaSection> {
    let mut out: Vec<MediaSection> = Vec::new();
    // Directions as (sends, receives).
    type Direction = (bool, bool);
    let mut session_dir_sends: Direction = (true, true);
    let mut cur: Option<(MediaSection, bool, Option<Direction>)> = None; // (section, port_ok, dir)
    let finish = |c: Option<(MediaSection, bool, Option<Direction>)>,
                  out: &mut Vec<MediaSection>,
                  session_dir: Direction| {
        if let Some((mut s, port_ok, dir)) = c {
            let (sends, receives) = dir.unwrap_or(session_dir);
            s.sending = port_ok && sends;
            s.receiving = port_ok && receives;
            out.push(s);
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            finish(cur.take(), &mut out, session_dir_sends);
            let mut parts = m.split_whitespace();
            let kind = match parts.next() {
                Some("audio") => SectionKind::Audio,
                Some("video") => SectionKind::Video,
                Some("application") => SectionKind::Application,
                _ => SectionKind::Other,
            };
            let port_ok = parts.next().is_some_and(|p| p != "0");
            cur = Some((
                MediaSection {
                    kind,
                    mid: String::new(),
                    sending: false,
                    receiving: false,
                    track_id: None,
                    send_rids: Vec::new(),
                },
                port_ok,
                None,
            ));
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
            (Some(c), Some(d)) => c.2 = Some(d),
            (Some(c), None) => {
                if let Some(mid) = attr.strip_prefix("mid:") {
                    c.0.mid = mid.trim().to_owned();
                } else if let Some(msid) = attr.strip_prefix("msid:") {
                    c.0.track_id = msid.split_whitespace().nth(1).map(str::to_owned);
                } else if let Some(rid) = attr.strip_prefix("rid:") {
                    let mut p = rid.split_whitespace();
                    if let (Some(r), Some("send")) = (p.next(), p.next()) {
                        c.0.send_rids.push(r.to_owned());
                    }
                }
            }
            (None, None) => {}
        }
    }
    finish(cur.take(), &mut out, session_dir_sends);
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
}
