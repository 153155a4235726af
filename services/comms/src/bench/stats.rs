//! Latency samples and throughput.

use std::time::Duration;

use serde_json::{Value, json};

/// Latencies of one measured operation over one run.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Samples {
    pub fn new(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Self { latencies, elapsed }
    }

    /// Waits for load tasks that each return their latencies; the run lasted since `started`.
    pub async fn join(
        tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>>,
        started: std::time::Instant,
    ) -> anyhow::Result<Self> {
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await??);
        }
        Ok(Self::new(latencies, started.elapsed()))
    }

    pub fn count(&self) -> usize {
        self.latencies.len()
    }

    /// Operations per second over the run.
    pub fn rate(&self) -> f64 {
        self.count() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[index]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count(),
            "per_second": round(self.rate()),
            "p50_ms": ms(self.percentile(0.50)),
            "p95_ms": ms(self.percentile(0.95)),
            "p99_ms": ms(self.percentile(0.99)),
            "max_ms": ms(self.max()),
        })
    }
}

pub fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

pub fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// How many times `b` is `a`: a figure against its baseline.
pub fn times(a: std::time::Duration, b: std::time::Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::EPSILON)
}

/// `a / b` as a percentage, rounded.
pub fn percent(a: f64, b: f64) -> f64 {
    round(a / b.max(f64::EPSILON) * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rate() {
        let samples = Samples::new(
            (1..=100).map(Duration::from_millis).collect(),
            Duration::from_secs(2),
        );
        assert_eq!(samples.percentile(0.50), Duration::from_millis(50));
        assert_eq!(samples.percentile(0.99), Duration::from_millis(99));
        assert_eq!(samples.max(), Duration::from_millis(100));
        assert_eq!(samples.rate(), 50.0);
        assert_eq!(Samples::default().percentile(0.5), Duration::ZERO);
    }
}
