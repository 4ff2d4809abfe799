//! `xcord loadtest floor`: what one forwarded packet costs this machine at the least — a kernel
//! UDP send over loopback (the sender pays for delivery into the receiving socket) plus an
//! SRTP-style AES-128-GCM encryption (aws-lc, as str0m uses) — in CPU microseconds per packet,
//! for audio-sized and video-sized packets. The SFU's µs per forwarded packet is set beside it.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::Serialize;

use crate::error::LoadError;
use crate::procstat;

#[derive(Debug, Clone, Serialize)]
pub struct FloorRow {
    pub payload_bytes: usize,
    /// Sender CPU per `send_to` over loopback.
    pub udp_send_us: f64,
    /// AES-128-GCM seal of the payload with a 12-byte RTP header as associated data.
    pub srtp_encrypt_us: f64,
    pub floor_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    pub sends: u64,
    pub rows: Vec<FloorRow>,
}

/// Measures with `sends` datagrams per size.
pub fn measure(sends: u64) -> Result<Floor, LoadError> {
    let mut rows = Vec::new();
    for size in [100usize, 1100] {
        let udp = udp_send_us(size, sends)?;
        let srtp = encrypt_us(size, sends.max(100_000) * 2)?;
        rows.push(FloorRow {
            payload_bytes: size,
            udp_send_us: udp,
            srtp_encrypt_us: srtp,
            floor_us: udp + srtp,
        });
    }
    Ok(Floor { sends, rows })
}

fn udp_send_us(size: usize, sends: u64) -> Result<f64, LoadError> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    rx.set_read_timeout(Some(Duration::from_millis(100)))?;
    let dest = rx.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut got = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if rx.recv(&mut buf).is_ok() {
                    got += 1;
                }
            }
            got
        })
    };
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let data = vec![0x5au8; size];
    let cpu0 = procstat::thread_cpu_s()?;
    let wall0 = Instant::now();
    for _ in 0..sends {
        // a full receive buffer drops the datagram in the kernel; the send still costs
        let _ = tx.send_to(&data, dest);
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = procstat::thread_cpu_s()? - cpu0;
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    // thread CPU has 10 ms resolution; fall back to wall time for very short runs
    let secs = if cpu >= 0.2 { cpu } else { wall };
    Ok(secs * 1e6 / sends as f64)
}

fn encrypt_us(size: usize, count: u64) -> Result<f64, LoadError> {
    let key =
        UnboundKey::new(&AES_128_GCM, &[7u8; 16]).map_err(|_| LoadError::Sdp("AES key".into()))?;
    let key = LessSafeKey::new(key);
    let header = [0x80u8, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42];
    let mut buf = vec![0x5au8; size];
    let start = Instant::now();
    for i in 0..count {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&i.to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header),
                &mut buf,
            )
            .map_err(|_| LoadError::Sdp("AES-GCM seal".into()))?;
        std::hint::black_box(&tag);
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / count as f64)
}

impl Floor {
    pub fn table(&self) -> String {
        let mut s = format!(
            "floor per packet ({} sends per size; CPU µs)\n{:<10}{:>14}{:>16}{:>12}\n",
            self.sends, "payload", "udp send", "AES-128-GCM", "floor"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:<10}{:>14.2}{:>16.2}{:>12.2}\n",
                format!("{} B", r.payload_bytes),
                r.udp_send_us,
                r.srtp_encrypt_us,
                r.floor_us
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_positive_costs() {
        let f = measure(2000).unwrap();
        assert_eq!(f.rows.len(), 2);
        for r in &f.rows {
            assert!(r.udp_send_us > 0.0 && r.srtp_encrypt_us > 0.0, "{r:?}");
            assert!((r.floor_us - r.udp_send_us - r.srtp_encrypt_us).abs() < 1e-9);
        }
    }
}
