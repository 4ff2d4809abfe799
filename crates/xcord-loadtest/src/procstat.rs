//! CPU time and resident memory of a process from `/proc` (Linux): `utime + stime` from
//! `/proc/<pid>/stat` (clock ticks, 100 per second on Linux) and `VmRSS` from
//! `/proc/<pid>/status`. Used for the server's cost per forwarded packet and for this
//! process's own cost per received packet.

use std::io;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI in use).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time, seconds.
    pub cpu_s: f64,
    pub rss_bytes: u64,
}

/// Reads `pid`'s sample; `None` as pid means this process.
pub fn sample(pid: Option<u32>) -> io::Result<ProcSample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable stat"))?;
    Ok(ProcSample {
        cpu_s: ticks as f64 / TICKS_PER_SECOND,
        rss_bytes: parse_rss(&status).unwrap_or(0),
    })
}

/// `Udp: RcvbufErrors` of this network namespace (`/proc/net/snmp`): datagrams the kernel
/// dropped because a socket's receive buffer was full (the server's or this process's).
pub fn udp_rcvbuf_errors() -> io::Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    parse_rcvbuf_errors(&snmp)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/net/snmp"))
}

fn parse_rcvbuf_errors(snmp: &str) -> Option<u64> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names = udp.next()?;
    let values = udp.next()?;
    let i = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// Datagrams dropped so far on `pid`'s UDP sockets (the `drops` column of `/proc/net/udp` and
/// `/proc/net/udp6` for the socket inodes among the process's descriptors).
pub fn udp_socket_drops(pid: u32) -> io::Result<u64> {
    let mut inodes = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(fd?.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            inodes.push(inode.to_string());
        }
    }
    let mut drops = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            drops += socket_drops(&text, &inodes);
        }
    }
    Ok(drops)
}

/// Sums the last column (`drops`) of the rows whose inode (column 10) is listed.
fn socket_drops(table: &str, inodes: &[String]) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let inode = cols.get(9)?;
            inodes
                .iter()
                .any(|i| i == inode)
                .then(|| cols.last()?.parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

/// CPU seconds the calling thread has used (`/proc/thread-self/stat`).
pub fn thread_cpu_s() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat")?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable stat"))?;
    Ok(ticks as f64 / TICKS_PER_SECOND)
}

/// `utime + stime` of a stat line. The command name (field 2) may contain spaces and
/// parentheses, so fields are counted after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in bytes.
fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "1234 (x) y (z)) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(175));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_udp_receive_buffer_errors() {
        let snmp = "Ip: a b\nIp: 1 2\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\nUdp: 10 0 3 12 7\nUdpLite: x\nUdpLite: 0\n";
        assert_eq!(parse_rcvbuf_errors(snmp), Some(7));
        assert_eq!(parse_rcvbuf_errors("Ip: a\nIp: 1\n"), None);
    }

    #[test]
    fn sums_drops_of_the_processes_sockets() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1: 0100007F:45DA 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 506851 2 00000000a96ea960 13\n\
            2: 0100007F:45DB 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 506852 2 00000000a96ea960 5\n";
        assert_eq!(socket_drops(table, &["506851".into()]), 13);
        assert_eq!(socket_drops(table, &["506851".into(), "506852".into()]), 18);
        assert_eq!(socket_drops(table, &[]), 0);
    }

    #[test]
    fn parses_rss() {
        assert_eq!(parse_rss("Name: x\nVmRSS:\t  2048 kB\n"), Some(2048 * 1024));
        assert_eq!(parse_rss("Name: x\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = sample(None).unwrap();
        assert!(s.rss_bytes > 0);
        assert!(thread_cpu_s().unwrap() >= 0.0);
    }
}
