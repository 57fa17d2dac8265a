//! Group commit: many requests wait for one flush.
//!
//! sled makes writes durable on its own every 500 ms; a charge that must survive `kill -9` before the
//! answer it pays for is sent cannot wait that long, and one fsync per request would cap throughput at
//! the disk's sync rate. [`GroupCommit`] sits between: a caller that needs its earlier writes on disk
//! takes a ticket ([`GroupCommit::durable`]); one flusher thread runs its flush (the server's: append
//! the credit journal and sync it, see [`super::journal`]; otherwise: flush the database) once for
//! every ticket issued before that flush began, and wakes all of them. Under load one flush covers
//! many requests; when idle a ticket costs one flush.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::StoreError;

/// What the flusher reports after each flush: the last ticket it covered, and whether it failed.
#[derive(Debug, Clone, Copy, Default)]
struct Flushed {
    covered: u64,
    failed: bool,
}

/// The group-commit flusher of one database.
pub struct GroupCommit {
    issued: Arc<AtomicU64>,
    wake: Mutex<Sender<()>>,
    done: watch::Receiver<Flushed>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("issued", &self.issued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the flusher thread, which calls `flush` once per group of tickets; it ends when the
    /// [`GroupCommit`] is dropped.
    pub fn start(mut flush: impl FnMut() -> Result<(), StoreError> + Send + 'static) -> Self {
        let (wake, woken) = channel::<()>();
        let (tx, done) = watch::channel(Flushed::default());
        let issued = Arc::new(AtomicU64::new(0));
        let seen = issued.clone();
        let spawned = std::thread::Builder::new()
            .name("btvep-group-commit".into())
            .spawn(move || {
                // A ticket is issued (after its writes) before its wake-up is sent, so every ticket
                // counted here had its writes in the database before the flush below started.
                while woken.recv().is_ok() {
                    while woken.try_recv().is_ok() {}
                    let target = seen.load(Ordering::SeqCst);
                    let failed = match flush() {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::error!("flushing the database failed: {e}");
                            true
                        }
                    };
                    tx.send_replace(Flushed {
                        covered: target,
                        failed,
                    });
                }
            });
        if let Err(e) = spawned {
            tracing::error!("starting the group-commit thread failed: {e}");
        }
        GroupCommit {
            issued,
            wake: Mutex::new(wake),
            done,
        }
    }

    /// Waits until every write this caller made before the call is on disk.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the flush that covered it failed (or the flusher is gone).
    pub async fn durable(&self) -> Result<(), StoreError> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let sent = self.wake.lock().unwrap_or_else(|p| p.into_inner()).send(());
        if sent.is_err() {
            return Err(failure("the group-commit thread is gone"));
        }
        let mut done = self.done.clone();
        let failed = done
            .wait_for(|f| f.covered >= ticket)
            .await
            .map_err(|_| failure("the group-commit thread is gone"))?
            .failed;
        if failed {
            return Err(failure("the group-commit flush failed"));
        }
        Ok(())
    }
}

fn failure(what: &str) -> StoreError {
    StoreError::Db(sled::Error::Io(std::io::Error::other(what.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tickets_complete_after_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let flushed = db.clone();
        let gc = Arc::new(GroupCommit::start(move || {
            flushed.flush()?;
            Ok(())
        }));
        db.insert(b"k", b"v").unwrap();
        let mut handles = Vec::new();
        for _ in 0..64 {
            let gc = gc.clone();
            handles.push(tokio::spawn(async move { gc.durable().await }));
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
        assert!(gc.issued.load(Ordering::SeqCst) == 64);
    }
}
