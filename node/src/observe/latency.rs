//! LATENCY: Redis's latency monitor for the `command` and `fast-command` events (commands
//! that took `latency-monitor-threshold` milliseconds or more; 0 turns it off), kept per
//! node: the latest 160 samples of each event, one per second (the worst of that second).
//! LATENCY HISTOGRAM answers from the per-command latency metrics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::Reply;

use crate::settings::Settings;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
const SAMPLES_MAX: usize = 160;

#[derive(Default)]
struct Series {
    /// (unix seconds, milliseconds), oldest first.
    samples: VecDeque<(u64, u64)>,
    max_ms: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl LatencyMonitor {
    /// Takes `latency-monitor-threshold` from the settings (at start and after CONFIG SET).
    pub fn configure(&self, settings: &Settings) {
        let t = settings
            .get("latency-monitor-threshold")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        self.threshold_ms.store(t, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.threshold_ms.load(Ordering::Relaxed) > 0
    }

    fn events(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Series>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a command that took `elapsed`, if over the threshold.
    pub fn record(&self, fast: bool, elapsed: Duration) {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if threshold == 0 || ms < threshold {
            return;
        }
        let event = if fast { "fast-command" } else { "command" };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut events = self.events();
        let series = events.entry(event).or_default();
        match series.samples.back_mut() {
            Some((t, worst)) if *t == now => *worst = (*worst).max(ms),
            _ => series.samples.push_back((now, ms)),
        }
        if series.samples.len() > SAMPLES_MAX {
            series.samples.pop_front();
        }
        series.max_ms = series.max_ms.max(ms);
    }

    /// LATENCY LATEST: `[event, time, latest ms, max ms]` per event.
    pub fn latest(&self) -> Reply {
        Reply::Array(
            self.events()
                .iter()
                .filter_map(|(event, s)| {
                    let (t, ms) = s.samples.back()?;
                    Some(Reply::Array(vec![
                        Reply::bulk(*event),
                        Reply::Integer(*t as i64),
                        Reply::Integer(*ms as i64),
                        Reply::Integer(s.max_ms as i64),
                    ]))
                })
                .collect(),
        )
    }

    /// LATENCY HISTORY event: `[time, ms]` per sample, oldest first.
    pub fn history(&self, event: &[u8]) -> Reply {
        let events = self.events();
        let samples = events
            .iter()
            .find(|(e, _)| e.as_bytes() == event)
            .map(|(_, s)| s.samples.iter().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        Reply::Array(
            samples
                .into_iter()
                .map(|(t, ms)| {
                    Reply::Array(vec![Reply::Integer(t as i64), Reply::Integer(ms as i64)])
                })
                .collect(),
        )
    }

    /// LATENCY RESET [event ...]: how many events were cleared.
    pub fn reset(&self, only: &[bytes::Bytes]) -> Reply {
        let mut events = self.events();
        let before = events.len();
        if only.is_empty() {
            events.clear();
        } else {
            events.retain(|e, _| !only.iter().any(|o| o.as_ref() == e.as_bytes()));
        }
        Reply::Integer((before - events.len()) as i64)
    }

    /// LATENCY DOCTOR: a short report of what was seen.
    pub fn doctor(&self) -> Reply {
        let events = self.events();
        if events.is_empty() {
            return Reply::Verbatim(
                "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n".into(),
            );
        }
        let mut text = String::from("Latency spikes observed on this node:\n\n");
        for (i, (event, s)) in events.iter().enumerate() {
            let total: u64 = s.samples.iter().map(|(_, ms)| ms).sum();
            let avg = total / (s.samples.len().max(1) as u64);
            text.push_str(&format!(
                "{}. {event}: {} latency spikes (average {avg}ms, worst {}ms).\n",
                i + 1,
                s.samples.len(),
                s.max_ms
            ));
        }
        text.push_str(
            "\nIn cairn a write's latency includes its replication to a quorum and an fsync: check the disks and the network between the nodes, and the leader's load (INFO, /metrics).\n",
        );
        Reply::Verbatim(text)
    }
}
