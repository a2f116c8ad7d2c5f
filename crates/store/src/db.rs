//! SQLite persistence: the schema, the group-committing writer thread, the
//! reader pool for history, and compaction.
//!
//! Schema (kine's model in two tables):
//! - `log(rev, resource, namespace, name, event, value, prev_rev)`: one row
//!   per revision; deletes are tombstones carrying the object as deleted;
//!   `prev_rev` links to the row this change replaced.
//! - `objects(resource, namespace, name, rev)`: the current revision of each
//!   live object, so start-up loads the head without scanning the log.
//!
//! Durability: WAL journal, `synchronous=FULL` by default, so a commit is on
//! disk when a write returns. The writer drains every queued write into one
//! transaction, so concurrent writers share one fsync.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::cache::{Entry, Packer};
use crate::lifecycle::{self, Op};
use crate::watch::{Event, EventType};
use crate::{Error, Inner, Key, Options, Result, State, Stored};

/// Most writes folded into one transaction.
const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<(Stored, EventType)>>;

/// One planned op: where to answer, the answer, and the event to publish.
type Planned = (Reply, Result<(Stored, EventType)>, Option<Arc<Event>>);

pub(crate) struct WriterHandle {
    tx: std::sync::mpsc::Sender<(Op, Reply)>,
    rx: Mutex<Option<std::sync::mpsc::Receiver<(Op, Reply)>>>,
    conn: Mutex<Option<Connection>>,
    packer: Mutex<Option<Packer>>,
}

impl WriterHandle {
    pub(crate) async fn submit(&self, op: Op) -> Result<(Stored, EventType)> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((op, tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection, options: &Options) -> Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if options.synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        },
    )?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    if let Some(q) = options.quota_bytes {
        let page: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", (q / page).max(1))?;
    }
    Ok(())
}

pub(crate) fn open(path: &Path, options: &Options) -> Result<(State, WriterHandle, ReaderPool)> {
    let conn = Connection::open(path)?;
    configure(&conn, options)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS log (
            rev INTEGER PRIMARY KEY,
            resource TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            event INTEGER NOT NULL,
            value BLOB NOT NULL,
            prev_rev INTEGER
        );
        CREATE INDEX IF NOT EXISTS log_resource ON log (resource, rev);
        CREATE INDEX IF NOT EXISTS log_key ON log (resource, namespace, name, rev);
        CREATE TABLE IF NOT EXISTS objects (
            resource TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            rev INTEGER NOT NULL,
            PRIMARY KEY (resource, namespace, name)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    )?;
    let rev: u64 = conn
        .query_row("SELECT COALESCE(MAX(rev), 0) FROM log", [], |r| r.get(0))
        .map(|v: i64| v as u64)?;
    let compacted: u64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'compacted'", [], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .unwrap_or(0) as u64;
    let mut objects = BTreeMap::new();
    let mut packer = Packer::default();
    {
        let mut stmt = conn.prepare(
            "SELECT o.resource, o.namespace, o.name, o.rev, l.value
             FROM objects o JOIN log l ON l.rev = o.rev",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        for row in rows {
            let (resource, namespace, name, rev, value) = row?;
            let Some(info) = api::resources::by_plural(&resource) else {
                continue;
            };
            // Loaded objects start cold; the hot ones are written again
            // soon and become hot then.
            let stored = Stored::from_bytes(rev as u64, Bytes::from(value));
            objects.insert(
                Key {
                    resource: info.plural,
                    namespace,
                    name,
                },
                packer.entry(info.plural, stored, false),
            );
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    Ok((
        State {
            objects,
            rev,
            compacted,
        },
        WriterHandle {
            tx,
            rx: Mutex::new(Some(rx)),
            conn: Mutex::new(Some(conn)),
            packer: Mutex::new(Some(packer)),
        },
        ReaderPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        },
    ))
}

pub(crate) fn start_writer(inner: &Arc<Inner>, options: Options) -> Result<()> {
    let rx = inner.writer.rx.lock().take().ok_or(Error::Closed)?;
    let conn = inner.writer.conn.lock().take().ok_or(Error::Closed)?;
    let packer = inner.writer.packer.lock().take().ok_or(Error::Closed)?;
    // The thread holds only a weak handle so dropping the last Store ends it.
    let weak = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || writer_loop(weak, conn, packer, rx, options))
        .map_err(|e| Error::Invalid(format!("spawn writer: {e}")))?;
    Ok(())
}

fn writer_loop(
    inner: std::sync::Weak<Inner>,
    mut conn: Connection,
    mut packer: Packer,
    rx: std::sync::mpsc::Receiver<(Op, Reply)>,
    options: Options,
) {
    let mut since_compact = 0u64;
    while let Ok(first) = rx.recv() {
        let Some(inner) = inner.upgrade() else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        since_compact += batch.len() as u64;
        commit_batch(&inner, &mut conn, &mut packer, batch);
        if since_compact >= 10_000 {
            since_compact = 0;
            if let Err(e) = compact_with(&inner, &conn, options.retain_revisions) {
                tracing::warn!("compaction failed: {e}");
            }
        }
    }
}

/// Checks an op's condition against the state as earlier ops of the batch
/// left it: the name free and the namespace live for a create, the
/// revision unchanged for a replace or removal.
fn check(op: &Op, lookup: &dyn Fn(&Key) -> Option<Stored>) -> Result<()> {
    match op {
        Op::Create { key, .. } => {
            if !key.namespace.is_empty() {
                lifecycle::check_namespace(&key.namespace, lookup)?;
            }
            if lookup(key).is_some() {
                return Err(Error::AlreadyExists(key.clone()));
            }
        }
        Op::Replace {
            key, expect_rev, ..
        }
        | Op::Remove {
            key, expect_rev, ..
        } => match lookup(key) {
            None => return Err(Error::NotFound(key.clone())),
            Some(s) if s.rev != *expect_rev => return Err(Error::Conflict(key.clone())),
            Some(_) => {}
        },
    }
    Ok(())
}

fn commit_batch(
    inner: &Arc<Inner>,
    conn: &mut Connection,
    packer: &mut Packer,
    batch: Vec<(Op, Reply)>,
) {
    // Check every op against the state as earlier ops in the batch left it.
    let mut overlay: HashMap<Key, Option<Stored>> = HashMap::new();
    let mut rev = inner.state.read().rev;
    let mut planned: Vec<Planned> = Vec::new();
    {
        let state = inner.state.read();
        for (op, reply) in batch {
            let lookup = |k: &Key| -> Option<Stored> {
                match overlay.get(k) {
                    Some(v) => v.clone(),
                    None => state.objects.get(k).map(Entry::stored),
                }
            };
            if let Err(e) = check(&op, &lookup) {
                planned.push((reply, Err(e), None));
                continue;
            }
            let (key, mut object, event) = match op {
                Op::Create { key, object } => (key, object, EventType::Added),
                Op::Replace { key, object, .. } => (key, object, EventType::Modified),
                Op::Remove { key, last, .. } => (key, last, EventType::Deleted),
            };
            rev += 1;
            let prev = lookup(&key);
            // Encoded once, here, with the revision it gets; from here on
            // the object and its bytes are shared, never copied or changed.
            object.meta_mut().resource_version = Some(rev.to_string());
            let bytes = Bytes::from(object.to_bytes());
            let decoded: Arc<dyn api::strategy::Object> = Arc::from(object);
            let stored = Stored {
                rev,
                bytes: bytes.clone(),
                object: Some(decoded.clone()),
            };
            let live = event != EventType::Deleted;
            // The cache keeps the decoded form only where the strategy says
            // the object will be written again soon (hot); it packs the
            // others (cold, `cache.rs`).
            let cached = Stored {
                object: api::resources::by_plural(key.resource)
                    .is_some_and(|r| r.strategy.cache_decoded(decoded.as_ref()))
                    .then(|| decoded.clone()),
                ..stored.clone()
            };
            overlay.insert(key.clone(), live.then_some(cached));
            let ev = Arc::new(Event {
                rev,
                kind: event,
                key,
                object: bytes,
                decoded: Some(decoded),
                prev: prev.map(|p| p.bytes),
            });
            planned.push((reply, Ok((stored, event)), Some(ev)));
        }
    }
    let events: Vec<Arc<Event>> = planned.iter().filter_map(|p| p.2.clone()).collect();
    if !events.is_empty() {
        let started = std::time::Instant::now();
        let persisted = persist(conn, &events);
        crate::metrics::COMMIT_DURATION_SECONDS.observe(started.elapsed().as_secs_f64());
        crate::metrics::COMMIT_BATCH_SIZE.observe(events.len() as f64);
        if let Err(e) = persisted {
            // SQLite rolled the transaction back, so memory (not yet
            // touched) and disk agree, nothing is published and no caller
            // sees a revision that is not on disk. The connection stays
            // usable: the next batch commits once there is room again.
            // Unless the error came after the commit reached the log (a
            // failed sync after the write): then it is committed and is
            // published like any other.
            let head: Option<i64> = conn
                .query_row("SELECT MAX(rev) FROM log", [], |r| r.get(0))
                .ok()
                .flatten();
            if head != Some(rev as i64) {
                let full = matches!(
                    &e,
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
                );
                let path = inner.readers.path.display().to_string();
                if full {
                    tracing::warn!("commit refused: the filesystem of {path} is full");
                } else {
                    tracing::error!("commit failed: {e}");
                }
                let msg = e.to_string();
                for (reply, res, ev) in planned {
                    let _ = reply.send(match ev {
                        None => res,
                        Some(_) if full => Err(Error::SpaceExceeded(path.clone())),
                        Some(_) => Err(Error::Commit(msg.clone())),
                    });
                }
                return;
            }
            tracing::warn!("commit reported {e} but reached the log; publishing it");
        }
    }
    // Packed before the state's lock is taken.
    let entries: Vec<(Key, Option<Entry>)> = overlay
        .into_iter()
        .map(|(key, v)| {
            let e = v.map(|s| {
                let hot = s.object.is_some();
                packer.entry(key.resource, s, hot)
            });
            (key, e)
        })
        .collect();
    inner.hub.publish_with(events, || {
        let mut state = inner.state.write();
        for (key, value) in entries {
            match value {
                Some(v) => {
                    state.objects.insert(key, v);
                }
                None => {
                    state.objects.remove(&key);
                }
            }
        }
        state.rev = rev;
    });
    for (reply, res, _) in planned {
        let _ = reply.send(res);
    }
}

fn persist(conn: &mut Connection, events: &[Arc<Event>]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO log (rev, resource, namespace, name, event, value, prev_rev)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut up = tx.prepare_cached(
            "INSERT INTO objects (resource, namespace, name, rev) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (resource, namespace, name) DO UPDATE SET rev = excluded.rev",
        )?;
        let mut del = tx.prepare_cached(
            "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
        )?;
        let mut cur = tx.prepare_cached(
            "SELECT rev FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
        )?;
        let mut prev_of: HashMap<&Key, u64> = HashMap::new();
        for e in events {
            let prev_rev: Option<i64> = match prev_of.get(&e.key) {
                Some(r) => Some(*r as i64),
                None => cur
                    .query_row(params![e.key.resource, e.key.namespace, e.key.name], |r| {
                        r.get(0)
                    })
                    .optional()?,
            };
            ins.execute(params![
                e.rev as i64,
                e.key.resource,
                e.key.namespace,
                e.key.name,
                event_code(e.kind),
                &e.object[..],
                prev_rev
            ])?;
            if e.kind == EventType::Deleted {
                del.execute(params![e.key.resource, e.key.namespace, e.key.name])?;
            } else {
                up.execute(params![
                    e.key.resource,
                    e.key.namespace,
                    e.key.name,
                    e.rev as i64
                ])?;
            }
            prev_of.insert(&e.key, e.rev);
        }
    }
    tx.commit()
}

fn event_code(kind: EventType) -> i64 {
    match kind {
        EventType::Added => 0,
        EventType::Modified => 1,
        EventType::Deleted => 2,
    }
}

fn event_kind(code: i64) -> EventType {
    match code {
        0 => EventType::Added,
        2 => EventType::Deleted,
        _ => EventType::Modified,
    }
}

impl ReaderPool {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.idle.lock().pop() {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.pragma_update(None, "busy_timeout", 5000)?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = self.idle.lock();
        if idle.len() < 4 {
            idle.push(conn);
        }
        out
    }

    /// Changes to `resource` in `(from, to]`, in revision order.
    pub(crate) fn history(
        &self,
        resource: &'static str,
        namespace: Option<&str>,
        from: u64,
        to: u64,
    ) -> Result<VecDeque<Event>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.rev, l.namespace, l.name, l.event, l.value, p.value
                 FROM log l LEFT JOIN log p ON p.rev = l.prev_rev
                 WHERE l.resource = ?1 AND l.rev > ?2 AND l.rev <= ?3
                   AND (?4 IS NULL OR l.namespace = ?4)
                 ORDER BY l.rev",
            )?;
            let rows =
                stmt.query_map(params![resource, from as i64, to as i64, namespace], |r| {
                    Ok(Event {
                        rev: r.get::<_, i64>(0)? as u64,
                        key: Key {
                            resource,
                            namespace: r.get(1)?,
                            name: r.get(2)?,
                        },
                        kind: event_kind(r.get(3)?),
                        object: Bytes::from(r.get::<_, Vec<u8>>(4)?),
                        decoded: None,
                        prev: r.get::<_, Option<Vec<u8>>>(5)?.map(Bytes::from),
                    })
                })?;
            let mut out = VecDeque::new();
            for row in rows {
                out.push_back(row?);
            }
            Ok(out)
        })
    }
}

impl ReaderPool {
    /// The live objects of `resource` as they were at revision `at`.
    pub(crate) fn list_at(
        &self,
        resource: &'static str,
        namespace: Option<&str>,
        at: u64,
    ) -> Result<Vec<Stored>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.rev, l.event, l.value FROM log l
                 WHERE l.resource = ?1 AND l.rev <= ?2 AND (?3 IS NULL OR l.namespace = ?3)
                   AND l.rev = (SELECT MAX(m.rev) FROM log m
                                WHERE m.resource = l.resource AND m.namespace = l.namespace
                                  AND m.name = l.name AND m.rev <= ?2)
                 ORDER BY l.namespace, l.name",
            )?;
            let rows = stmt.query_map(params![resource, at as i64, namespace], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (rev, event, value) = row?;
                if event != 2 {
                    out.push(Stored::from_bytes(rev, Bytes::from(value)));
                }
            }
            Ok(out)
        })
    }
}

/// Compaction runs on its own short-lived connection so callers outside the
/// writer can trigger it.
pub(crate) fn compact(inner: &Arc<Inner>, retain: u64) -> Result<u64> {
    let conn = Connection::open(&inner.readers.path)?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    compact_with(inner, &conn, retain)
}

fn compact_with(inner: &Arc<Inner>, conn: &Connection, retain: u64) -> Result<u64> {
    let head = inner.state.read().rev;
    let target = head.saturating_sub(retain);
    if target <= inner.state.read().compacted {
        return Ok(inner.state.read().compacted);
    }
    // kine's rule: below the target keep, per key, only the row that was
    // current at the target (dropping it too when it is a tombstone), so a
    // list at any retained revision and every watch replay still work.
    conn.execute(
        "DELETE FROM log WHERE rev <= ?1 AND (
            event = 2 OR EXISTS (
              SELECT 1 FROM log n
              WHERE n.resource = log.resource AND n.namespace = log.namespace
                AND n.name = log.name AND n.rev > log.rev AND n.rev <= ?1))",
        params![target as i64],
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('compacted', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![target as i64],
    )?;
    inner.state.write().compacted = target;
    Ok(target)
}
