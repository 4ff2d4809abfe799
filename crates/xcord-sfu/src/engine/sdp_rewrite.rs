//! Rewrites how str0m presents m-sections in the descriptions we send: str0m writes the msid an
//! m-line was created with (v0 offers) or a random one (v1 answers), and cannot make a section
//! `inactive` while keeping its send stream. A section reused for another track must name that
//! track (`a=msid:<PA_publisher>|<TR_track> <TR_track>`: LiveKit SDKs find the track by this
//! stream id), and a receive-only section that carries nothing is presented `inactive`.

use std::collections::HashMap;

/// How a description presents one m-section, by mid: the msid of the track it carries, or
/// `None` for a section that carries nothing (made `inactive`, without msid or SSRCs).
pub type SectionPlan = HashMap<String, Option<(String, String)>>;

/// Rewrites a description str0m wrote for the sections named in `plan`: a carrying section
/// gets the track's msid (also on its `a=ssrc` lines), any other one is made `inactive` and
/// loses its msid and SSRC lines. Sections not in `plan` (published tracks, data) are kept.
pub fn present_sections(sdp: &str, plan: &SectionPlan) -> String {
    let mut out = String::with_capacity(sdp.len() + 256);
    let mut section: Vec<&str> = Vec::new();
    let mut in_media = false;
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            if in_media {
                write_section(&mut out, &section, plan);
            } else {
                for l in &section {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
            }
            section.clear();
            in_media = true;
        }
        section.push(line);
    }
    if in_media {
        write_section(&mut out, &section, plan);
    } else {
        for l in &section {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out
}

fn write_section(out: &mut String, lines: &[&str], plan: &SectionPlan) {
    let mid = lines
        .iter()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .map(str::trim);
    let planned = mid.and_then(|m| plan.get(m));
    for line in lines {
        let rewritten = match planned {
            None => Some((*line).to_owned()),
            Some(Some((stream, track))) => Some(if line.starts_with("a=msid:") {
                format!("a=msid:{stream} {track}")
            } else if let Some(ssrc) = ssrc_with_msid(line) {
                format!("a=ssrc:{ssrc} msid:{stream} {track}")
            } else {
                (*line).to_owned()
            }),
            Some(None) => {
                if matches!(*line, "a=sendonly" | "a=sendrecv") {
                    Some("a=inactive".to_owned())
                } else if line.starts_with("a=msid:") || line.starts_with("a=ssrc") {
                    None
                } else {
                    Some((*line).to_owned())
                }
            }
        };
        if let Some(l) = rewritten {
            out.push_str(&l);
            out.push_str("\r\n");
        }
    }
}

/// The SSRC of an `a=ssrc:<n> msid:…` line.
fn ssrc_with_msid(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("a=ssrc:")?;
    let (ssrc, attr) = rest.split_once(' ')?;
    attr.starts_with("msid:").then_some(ssrc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sdp::media_sections;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1 2 3\r\na=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=sendonly\r\na=msid:rnd1 rnd2\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=ssrc:11 cname:c1\r\na=ssrc:11 msid:rnd1 rnd2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:2\r\na=sendonly\r\na=msid:rnd3 rnd4\r\n\
a=rtpmap:96 VP8/90000\r\na=ssrc:21 cname:c2\r\na=ssrc:21 msid:rnd3 rnd4\r\n\
a=ssrc:22 cname:c2\r\na=ssrc:22 msid:rnd3 rnd4\r\na=ssrc-group:FID 21 22\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:3\r\na=recvonly\r\na=msid:rnd5 rnd6\r\n\
a=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn the_answer_names_carried_tracks_and_silences_the_rest() {
        let mut plan = SectionPlan::new();
        plan.insert("1".into(), Some(("PA_pub|TR_AMx".into(), "TR_AMx".into())));
        plan.insert("2".into(), None);
        let out = present_sections(ANSWER, &plan);
        let sections = media_sections(&out);
        assert_eq!(sections.len(), 4);
        assert!(out.contains("a=mid:1\r\na=sendonly\r\na=msid:PA_pub|TR_AMx TR_AMx\r\n"));
        assert!(out.contains("a=ssrc:11 msid:PA_pub|TR_AMx TR_AMx\r\n"));
        assert!(out.contains("a=ssrc:11 cname:c1\r\n"));
        assert!(!out.contains("rnd1") && !out.contains("rnd3"));
        // Section 2 carries nothing: inactive, no msid, no SSRCs, codecs kept.
        let video = out
            .split("m=video")
            .nth(1)
            .unwrap()
            .split("m=audio")
            .next()
            .unwrap();
        assert!(video.contains("a=inactive\r\n") && !video.contains("sendonly"));
        assert!(!video.contains("msid") && !video.contains("ssrc"));
        assert!(video.contains("a=rtpmap:96 VP8/90000\r\n"));
        // Sections outside the plan (a published track's) are left as they are.
        assert!(out.contains("a=mid:3\r\na=recvonly\r\na=msid:rnd5 rnd6\r\n"));
        assert!(out.starts_with("v=0\r\n") && out.contains("a=msid-semantic: WMS\r\n"));
        assert!(out.ends_with("a=rtpmap:111 opus/48000/2\r\n"));
    }
}
