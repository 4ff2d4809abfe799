//! The server's CPU time and resident memory from its Prometheus `/metrics`
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`), for when `--server-pid` is
//! not usable (another machine, another namespace, a container).

use crate::error::LoadError;
use crate::procstat::ProcSample;

/// Where to scrape and with which bearer token.
#[derive(Debug, Clone)]
pub struct MetricsSource {
    pub url: String,
    pub token: Option<String>,
}

impl MetricsSource {
    /// One scrape.
    pub async fn sample(&self) -> Result<ProcSample, LoadError> {
        // reqwest is built without a bundled TLS provider in this workspace (idempotent).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| LoadError::Metrics(e.to_string()))?;
        let mut request = client.get(&self.url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| LoadError::Metrics(e.to_string()))?;
        if !response.status().is_success() {
            return Err(LoadError::Metrics(format!(
                "{} answered {}",
                self.url,
                response.status()
            )));
        }
        let text = response
            .text()
            .await
            .map_err(|e| LoadError::Metrics(e.to_string()))?;
        parse(&text).ok_or_else(|| {
            LoadError::Metrics(format!(
                "{} has no process CPU and memory metrics",
                self.url
            ))
        })
    }
}

/// The two process metrics from Prometheus text; `None` if either is missing.
fn parse(text: &str) -> Option<ProcSample> {
    let value = |name: &str| {
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (metric, rest) = l.split_once(' ')?;
            (metric == name).then(|| rest.split_whitespace().next()?.parse::<f64>().ok())?
        })
    };
    Some(ProcSample {
        cpu_s: value("process_cpu_seconds_total")?,
        rss_bytes: value("process_resident_memory_bytes")? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_process_metrics() {
        let text = "# HELP process_cpu_seconds_total CPU\n# TYPE process_cpu_seconds_total gauge\n\
                    process_cpu_seconds_total 12.5\n\
                    process_resident_memory_bytes 1048576\n\
                    xcord_sfu_rooms 3\n";
        assert_eq!(
            parse(text),
            Some(ProcSample {
                cpu_s: 12.5,
                rss_bytes: 1_048_576
            })
        );
        assert_eq!(parse("process_cpu_seconds_total_x 1\n"), None);
        assert_eq!(parse("process_cpu_seconds_total 1\n"), None);
    }
}
