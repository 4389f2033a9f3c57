//! `results.json` (everything a campaign script or a person needs to judge the run) and
//! `report.html`: a self-contained page with an inline SVG timeline of latencies and
//! throughput, the fault windows shaded, and the checks with their anomalies.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::checker::{Availability, Check, Verdict};
use crate::history::{Op, Outcome};
use crate::nemesis::Window;
use crate::workload::register::CAS_REFUSED;

/// Points drawn in the latency plot at most: beyond it every k-th op is drawn, so the page
/// stays light whatever the run's length.
const PLOT_POINTS_MAX: usize = 20_000;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct OpCounts {
    pub total: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

impl OpCounts {
    pub fn of(ops: &[Op]) -> OpCounts {
        let mut c = OpCounts::default();
        for o in ops.iter().filter(|o| !o.final_read) {
            c.total += 1;
            match o.outcome {
                Outcome::Ok => c.ok += 1,
                Outcome::Fail => c.fail += 1,
                Outcome::Info => c.info += 1,
            }
        }
        c
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub seed: u64,
    pub workload: String,
    /// Register workload only: compare-and-set left out (`--no-cas`).
    #[serde(default)]
    pub no_cas: bool,
    pub backend: String,
    pub nodes: usize,
    pub nemesis: Vec<String>,
    pub duration_secs: f64,
    /// The exact command that repeats this run's schedule and operations.
    pub rerun: String,
    pub ops: OpCounts,
    pub availability: Availability,
    pub windows: Vec<Window>,
    pub nemesis_log: Vec<String>,
    pub checks: Vec<Check>,
    pub passed: usize,
    pub failed: usize,
}

impl Results {
    /// `N passed, M failed`: unknown verdicts count as failed (not proven correct).
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }

    pub fn tally(checks: &[Check]) -> (usize, usize) {
        let passed = checks.iter().filter(|c| c.verdict == Verdict::Pass).count();
        (passed, checks.len() - passed)
    }
}

pub fn write_results(path: &Path, r: &Results) -> Result<()> {
    let text = serde_json::to_string_pretty(r).context("encoding results")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(kind: &str) -> &'static str {
    match kind {
        "kill" => "#f4a3a3",
        "pause" => "#a3c4f4",
        "partition" => "#f4d3a3",
        "restart" => "#c9a3f4",
        _ => "#c8e6c9",
    }
}

pub fn write_html(path: &Path, r: &Results, ops: &[Op]) -> Result<()> {
    let mut h = String::new();
    let title = format!(
        "cairn-chaos: {} / {} / seed {}",
        r.workload,
        r.nemesis.join(","),
        r.seed
    );
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:1100px}}\
         .pass{{color:#2e7d32}}.fail{{color:#c62828}}.unknown{{color:#ef6c00}}\
         td,th{{padding:2px 8px;text-align:left}}code{{background:#eee;padding:1px 4px}}\
         </style></head><body><h1>{t}</h1>",
        t = esc(&title)
    );
    let verdict_class = if r.failed == 0 { "pass" } else { "fail" };
    let _ = write!(
        h,
        "<p class=\"{verdict_class}\"><b>{}</b></p><p>{} nodes, {} backend, {:.0} s. \
         Rerun: <code>{}</code></p>",
        esc(&r.summary_line()),
        r.nodes,
        esc(&r.backend),
        r.duration_secs,
        esc(&r.rerun)
    );
    let _ = write!(
        h,
        "<p>Operations: {} ({} ok, {} fail, {} unknown). Answered ops outside faults: {}, \
         during faults: {}; by client time: {} and {}.</p>",
        r.ops.total,
        r.ops.ok,
        r.ops.fail,
        r.ops.info,
        pct(r.availability.outside_faults),
        pct(r.availability.during_faults),
        pct(r.availability.time_outside_faults),
        pct(r.availability.time_during_faults)
    );
    h.push_str(&timeline_svg(ops, &r.windows));
    h.push_str("<h2>Checks</h2><table><tr><th>check</th><th>verdict</th><th>count</th><th>evidence</th></tr>");
    for c in &r.checks {
        let class = match c.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{class}\">{class}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            c.count,
            esc(c.evidence.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table><h2>Anomalies</h2>");
    let mut any = false;
    for c in r.checks.iter().filter(|c| !c.anomalies.is_empty()) {
        any = true;
        let _ = write!(h, "<h3>{}</h3><ul>", esc(&c.name));
        for a in &c.anomalies {
            let _ = write!(h, "<li>{}</li>", esc(a));
        }
        h.push_str("</ul>");
    }
    if !any {
        h.push_str("<p>None.</p>");
    }
    h.push_str("<h2>Faults</h2><ul>");
    for line in &r.nemesis_log {
        let _ = write!(h, "<li><code>{}</code></li>", esc(line));
    }
    h.push_str("</ul></body></html>\n");
    std::fs::write(path, h).with_context(|| format!("writing {}", path.display()))
}

/// A compare-and-set answered with a refusal: an answer, not an error.
fn refused(o: &Op) -> bool {
    o.error
        .as_deref()
        .is_some_and(|e| e.starts_with(CAS_REFUSED))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |f| format!("{:.1}%", f * 100.0))
}

/// Two stacked plots sharing the time axis: op latency (log scale, one dot per op coloured
/// by outcome) and throughput per second (ok and not-ok bars), with fault windows shaded.
fn timeline_svg(ops: &[Op], windows: &[Window]) -> String {
    let (w, lat_h, thr_h, left, gap) = (1000.0, 260.0, 140.0, 60.0, 40.0);
    let run: Vec<&Op> = ops.iter().filter(|o| !o.final_read).collect();
    let end_us = run
        .iter()
        .map(|o| o.complete_us)
        .chain(windows.iter().map(|w| w.end_us))
        .max()
        .unwrap_or(1)
        .max(1);
    let secs = end_us as f64 / 1e6;
    let x = |us: u64| left + (us as f64 / end_us as f64) * (w - left - 10.0);
    let total_h = lat_h + gap + thr_h + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{total_h}\" \
         font-size=\"11\">"
    );
    for win in windows {
        let (x0, x1) = (x(win.start_us), x(win.end_us));
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"0\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" \
             opacity=\"0.5\"><title>{}</title></rect><text x=\"{x0:.1}\" y=\"10\">{}</text>",
            (x1 - x0).max(1.0),
            lat_h + gap + thr_h,
            color(&win.kind),
            esc(&win.detail),
            esc(&win.kind)
        );
    }
    // Latency, log10 from 0.1 ms to the slowest op.
    let max_ms = run
        .iter()
        .map(|o| o.complete_us.saturating_sub(o.invoke_us) as f64 / 1000.0)
        .fold(1.0f64, f64::max);
    let (lo, hi) = (0.1f64.log10(), max_ms.log10().max(0.0) + 0.1);
    let y = |ms: f64| lat_h - ((ms.max(0.1).log10() - lo) / (hi - lo)) * (lat_h - 15.0);
    let stride = run.len().div_ceil(PLOT_POINTS_MAX).max(1);
    for o in run.iter().step_by(stride) {
        let ms = o.complete_us.saturating_sub(o.invoke_us) as f64 / 1000.0;
        let fill = match o.outcome {
            Outcome::Ok => "#1565c0",
            Outcome::Fail if refused(o) => "#9e9e9e",
            Outcome::Fail => "#c62828",
            Outcome::Info => "#ef6c00",
        };
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.3\" fill=\"{fill}\"/>",
            x(o.invoke_us),
            y(ms)
        );
    }
    for ms in [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0] {
        if ms <= max_ms * 1.3 {
            let _ = write!(
                s,
                "<text x=\"2\" y=\"{:.1}\">{ms} ms</text><line x1=\"{left}\" x2=\"{w}\" \
                 y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/>",
                y(ms)
            );
        }
    }
    let note = if stride > 1 {
        format!(", every {stride}th op drawn")
    } else {
        String::new()
    };
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{:.1}\">latency per op (blue ok, grey refused CAS, red fail, orange unknown{note})\
         </text>",
        lat_h + 14.0
    );
    // Throughput per second.
    let buckets = secs.ceil().max(1.0) as usize;
    let mut ok = vec![0usize; buckets];
    let mut bad = vec![0usize; buckets];
    for o in &run {
        let b = ((o.complete_us / 1_000_000) as usize).min(buckets - 1);
        if o.outcome == Outcome::Ok || refused(o) {
            ok[b] += 1;
        } else {
            bad[b] += 1;
        }
    }
    let peak = (0..buckets)
        .map(|i| ok[i] + bad[i])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let top = lat_h + gap;
    let bw = (w - left - 10.0) / buckets as f64;
    for i in 0..buckets {
        let hok = ok[i] as f64 / peak * thr_h;
        let hbad = bad[i] as f64 / peak * thr_h;
        let bx = left + i as f64 * bw;
        let _ = write!(
            s,
            "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hok:.1}\" \
             fill=\"#1565c0\"><title>{}s: {} ok</title></rect>\
             <rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hbad:.1}\" \
             fill=\"#c62828\"><title>{}s: {} not ok</title></rect>",
            top + thr_h - hok,
            (bw - 1.0).max(0.5),
            i,
            ok[i],
            top + thr_h - hok - hbad,
            (bw - 1.0).max(0.5),
            i,
            bad[i]
        );
    }
    let _ = write!(
        s,
        "<text x=\"2\" y=\"{:.1}\">{peak:.0}/s</text><text x=\"{left}\" y=\"{:.1}\">\
         throughput per second (blue answered, red not); time axis 0–{secs:.0} s</text></svg>",
        top + 10.0,
        top + thr_h + 16.0
    );
    s
}
