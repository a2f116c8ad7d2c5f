//! Live progress of Jobs on a terminal, and the one-line summary that ends
//! every wait.
//!
//! Bars go to stderr and only when stderr is a terminal, so pipes and CI
//! logs see just the summary. Log lines printed while bars are drawn go
//! through `MultiProgress::suspend` so they do not tear the bars.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::batch::v1::Job;

/// Bars for every Job a command waits on; inert when stderr is no terminal.
#[derive(Clone)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal, otherwise nothing.
    pub(crate) fn for_stderr() -> Self {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// No bars at all.
    pub(crate) fn hidden() -> Self {
        Progress { multi: None }
    }

    /// A bar for one Job.
    pub(crate) fn job_bar(&self, display: &str, target: u64) -> JobBar {
        let bar = match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(target.max(1)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30.green/red}] {pos}/{len} {msg} {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(display.to_string());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            None => None,
        };
        JobBar { bar }
    }

    /// Writes a line to stdout without tearing the bars.
    pub(crate) fn print_stdout(&self, line: &[u8]) {
        let write = || {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line);
            let _ = out.flush();
        };
        match &self.multi {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }

    /// Writes a line to stderr without tearing the bars.
    pub(crate) fn print_stderr(&self, line: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

/// The bar of one Job.
pub(crate) struct JobBar {
    bar: Option<ProgressBar>,
}

/// The numbers a bar and a summary show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub succeeded: i32,
    pub failed: i32,
    pub active: i32,
    pub retries: i64,
}

impl Counts {
    pub(crate) fn of(job: &Job, container_restarts: i64) -> Counts {
        let status = job.status.clone().unwrap_or_default();
        let failed = status.failed.unwrap_or(0);
        Counts {
            succeeded: status.succeeded.unwrap_or(0),
            failed,
            active: status.active.unwrap_or(0),
            retries: i64::from(failed) + container_restarts,
        }
    }
}

/// How many successes a Job needs: `completions`, or 1 for a work queue.
pub(crate) fn target(job: &Job) -> u64 {
    job.spec
        .as_ref()
        .and_then(|s| s.completions)
        .unwrap_or(1)
        .max(1) as u64
}

impl JobBar {
    pub(crate) fn update(&self, counts: Counts) {
        if let Some(bar) = &self.bar {
            bar.set_position(counts.succeeded.max(0) as u64);
            bar.set_message(format!(
                "active {} failed {} retries {}",
                counts.active, counts.failed, counts.retries
            ));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
