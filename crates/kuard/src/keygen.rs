//! The keygen workload: one work item is an RSA-4096 key and its SSH
//! SHA256 fingerprint. Counted mode generates `--keygen-num-to-gen` keys
//! (or runs for `--keygen-time-to-run` seconds); MemQ mode generates one
//! key per message it dequeues and, with `--keygen-exit-on-complete`,
//! exits when the queue is empty. Log lines and exit codes are kuard's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::flags::KeygenConfig;

/// How many log lines `GET /keygen` shows.
const HISTORY: usize = 20;

/// `ssh.FingerprintSHA256` of an RSA public key: SHA-256 of the key's SSH
/// wire form (`string "ssh-rsa"`, `mpint e`, `mpint n`), base64 without
/// padding.
pub(crate) fn fingerprint(e: &[u8], n: &[u8]) -> String {
    fn put(out: &mut Vec<u8>, data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    }
    fn mpint(v: &[u8]) -> Vec<u8> {
        let v: &[u8] = {
            let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
            &v[first..]
        };
        let mut m = Vec::with_capacity(v.len() + 1);
        if v.first().is_some_and(|&b| b & 0x80 != 0) {
            m.push(0);
        }
        m.extend_from_slice(v);
        m
    }
    let mut wire = Vec::new();
    put(&mut wire, b"ssh-rsa");
    put(&mut wire, &mpint(e));
    put(&mut wire, &mpint(n));
    let sum = Sha256::digest(&wire);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sum)
    )
}

/// One work item.
pub(crate) fn generate_key() -> String {
    let mut rng = rsa::rand_core::OsRng;
    match rsa::RsaPrivateKey::new(&mut rng, 4096) {
        Ok(k) => fingerprint(&k.e().to_bytes_be(), &k.n().to_bytes_be()),
        Err(e) => format!("Error generating key: {e}"),
    }
}

/// A log line kept for `GET /keygen`.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HistoryEntry {
    pub id: u64,
    pub data: String,
}

/// The running workload and its recent log.
#[derive(Clone)]
pub(crate) struct Keygen {
    inner: Arc<Inner>,
}

struct Inner {
    config: Mutex<KeygenConfig>,
    history: Mutex<VecDeque<HistoryEntry>>,
    next_line: AtomicU64,
    /// Bumped to cancel the running workload.
    generation: AtomicU64,
}

impl Keygen {
    pub(crate) fn new(config: KeygenConfig) -> Keygen {
        Keygen {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                history: Mutex::new(VecDeque::new()),
                next_line: AtomicU64::new(0),
                generation: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn config(&self) -> KeygenConfig {
        self.inner.config.lock().unwrap().clone()
    }

    pub(crate) fn history(&self) -> Vec<HistoryEntry> {
        self.inner.history.lock().unwrap().iter().cloned().collect()
    }

    fn log(&self, line: String) {
        crate::log::printf(&line);
        let mut h = self.inner.history.lock().unwrap();
        let id = self.inner.next_line.fetch_add(1, Ordering::Relaxed);
        h.push_back(HistoryEntry { id, data: line });
        while h.len() > HISTORY {
            h.pop_front();
        }
    }

    /// (Re)starts the workload with `config`; a running one is cancelled.
    pub(crate) fn start(&self, config: KeygenConfig) {
        *self.inner.config.lock().unwrap() = config.clone();
        let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if !config.enable {
            return;
        }
        let me = self.clone();
        std::thread::spawn(move || {
            if !config.memq_server.is_empty() && !config.memq_queue.is_empty() {
                me.memq_worker(&config, generation);
            } else {
                me.counted(&config, generation);
            }
        });
    }

    fn cancelled(&self, generation: u64) -> bool {
        self.inner.generation.load(Ordering::Acquire) != generation
    }

    fn counted(&self, c: &KeygenConfig, generation: u64) {
        let id = generation - 1;
        self.log(format!("(ID {id}) Workload starting"));
        let end =
            (c.time_to_run > 0).then(|| Instant::now() + Duration::from_secs(c.time_to_run as u64));
        let mut generated: i64 = 0;
        loop {
            let cancelled = self.cancelled(generation);
            let timed_out = end.is_some_and(|e| Instant::now() >= e);
            if cancelled || timed_out || (c.num_to_gen > 0 && generated >= c.num_to_gen) {
                self.log(format!("(ID {id}) Workload exiting"));
                if !cancelled && c.exit_on_complete {
                    std::process::exit(c.exit_code);
                }
                return;
            }
            let desc = generate_key();
            generated += 1;
            let count = if c.num_to_gen > 0 {
                format!(" {generated}/{}", c.num_to_gen)
            } else {
                format!(" {generated}/Inf")
            };
            let left = end
                .map(|e| {
                    let secs = e.saturating_duration_since(Instant::now()).as_secs();
                    format!(" {} left", humanize_seconds(secs))
                })
                .unwrap_or_default();
            self.log(format!("(ID {id}{count}{left}) Item done: {desc}"));
        }
    }

    fn memq_worker(&self, c: &KeygenConfig, generation: u64) {
        self.log("MemQ Worker starting".into());
        loop {
            if self.cancelled(generation) {
                self.log("MemQ Worker shutting down".into());
                return;
            }
            match crate::memq::client::dequeue(&c.memq_server, &c.memq_queue) {
                Err(e) => {
                    self.log(format!("Error talking to server: {e}. Retrying after 1s."));
                    std::thread::sleep(Duration::from_secs(1));
                }
                Ok(None) => {
                    if c.exit_on_complete {
                        std::process::exit(c.exit_code);
                    }
                    self.log("Queue is empty. Retrying after 1s.".into());
                    std::thread::sleep(Duration::from_secs(1));
                }
                Ok(Some(_)) => {
                    let desc = generate_key();
                    self.log(format!("Item done: {desc}"));
                }
            }
        }
    }
}

/// go-humanize's `RelTime` wording for a span ahead: `10 seconds`, `2 minutes`.
fn humanize_seconds(s: u64) -> String {
    match s {
        0 => "now".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "1 minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "1 hour".into(),
        _ => format!("{} hours", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint of a known key matches `ssh-keygen -lf`.
    #[test]
    fn fingerprints_are_ssh_sha256() {
        // e = 65537, n = 0x00c3 (a toy modulus; the wire form is what matters).
        let fp = fingerprint(&[1, 0, 1], &[0xc3]);
        let mut wire = Vec::new();
        wire.extend_from_slice(&[0, 0, 0, 7]);
        wire.extend_from_slice(b"ssh-rsa");
        wire.extend_from_slice(&[0, 0, 0, 3, 1, 0, 1]);
        wire.extend_from_slice(&[0, 0, 0, 2, 0, 0xc3]);
        let want = base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&wire));
        assert_eq!(fp, format!("SHA256:{want}"));
        assert!(!fp.ends_with('='));
    }
}
