//! `config.json` on disk: reading it, and changing it safely while other writers exist.
//!
//! The file holds the hotkey mnemonic and the admin token, and it is written by several parties at
//! once: the dashboard's `PATCH /admin/config` (many requests in flight), `btvep config set` and
//! `btvep ratelimit ...` in other processes, and `btvep start` creating the admin token. Every change
//! therefore goes through [`ConfigFile::update`]: an exclusive lock (a process-wide mutex plus `flock`
//! on a sibling lock file, so other processes are excluded too), a fresh read, the caller's change, and
//! an atomic replace — a uniquely named temporary file, written with mode 0600, fsynced, renamed over
//! the file, and the directory fsynced. A reader never sees a half-written file and no acknowledged
//! change is lost to a concurrent writer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::{spec, ConfigError};

/// Serialises writers inside this process (the `flock` below excludes other processes).
static WRITERS: Mutex<()> = Mutex::new(());
/// Makes temporary file names unique inside this process.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The raw contents of `config.json`: a JSON object, unknown keys preserved.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Where the file lives.
    pub path: PathBuf,
    /// Its key/value pairs.
    pub values: Map<String, Value>,
}

impl ConfigFile {
    /// Reads the file; a missing or empty file is an empty config (a first run, or `touch config.json`).
    ///
    /// # Errors
    /// [`ConfigError::Corrupt`] when the file is not a JSON object, [`ConfigError::Io`] when unreadable.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::read(path, true)
    }

    /// Reads the file for a running server's reload: an empty file is refused as corrupt, because
    /// taking it would silently drop the admin token, the limits and the hotkey.
    ///
    /// # Errors
    /// As [`ConfigFile::load`], and [`ConfigError::Corrupt`] for an empty file.
    pub fn load_for_reload(path: &Path) -> Result<Self, ConfigError> {
        Self::read(path, false)
    }

    fn read(path: &Path, empty_ok: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ConfigFile {
                    path: path.to_path_buf(),
                    values: Map::new(),
                })
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let corrupt = |reason: String| ConfigError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let values = if text.trim().is_empty() {
            if !empty_ok {
                return Err(corrupt("the file is empty".into()));
            }
            Map::new()
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(corrupt("expected a JSON object".into())),
                Err(e) => return Err(corrupt(e.to_string())),
            }
        };
        Ok(ConfigFile {
            path: path.to_path_buf(),
            values,
        })
    }

    /// Changes the file: under an exclusive lock (this process and every other), reads it afresh,
    /// applies `change`, and writes the result atomically. Nothing is written when `change` fails.
    ///
    /// # Errors
    /// Whatever `change` returns; [`ConfigError::Corrupt`] when the file on disk does not parse (it is
    /// left as it is); [`ConfigError::Io`] when the lock, the directory or the file cannot be written.
    pub fn update<T, E: From<ConfigError>>(
        path: &Path,
        change: impl FnOnce(&mut ConfigFile) -> Result<T, E>,
    ) -> Result<T, E> {
        let io = |source| {
            E::from(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(io)?;
        let _in_process = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
        let lock = open_private(&lock_path(path), false).map_err(io)?;
        lock.lock().map_err(io)?;
        let mut file = Self::load(path)?;
        let out = change(&mut file)?;
        file.write_atomically().map_err(io)?;
        // The lock is released when `lock` is closed, after the rename is durable.
        drop(lock);
        Ok(out)
    }

    /// Sets a key after checking it is known; `null` removes it.
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`].
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), ConfigError> {
        spec(key).ok_or_else(|| ConfigError::UnknownKey(key.into()))?;
        if value.is_null() {
            self.values.remove(key);
        } else {
            self.values.insert(key.into(), value);
        }
        Ok(())
    }

    /// Writes a uniquely named temporary file (0600, fsynced), renames it over the file and fsyncs the
    /// directory. The caller holds the lock.
    fn write_atomically(&self) -> std::io::Result<()> {
        let dir = parent_dir(&self.path);
        let mut text = serde_json::to_string_pretty(&Value::Object(self.values.clone()))
            .expect("a JSON map always serializes");
        text.push('\n');
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config.json".into());
        let tmp = dir.join(format!(
            ".{name}.tmp.{}.{}.{:08x}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed),
            rand_u32()
        ));
        let result = (|| {
            let mut f = open_private(&tmp, true)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &self.path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The sibling lock file: `.config.json.lock` (never renamed, so every writer locks the same inode).
fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".into());
    parent_dir(path).join(format!(".{name}.lock"))
}

/// Opens (creating it with mode 0600) `path` for writing; `new` insists on a file that did not exist.
fn open_private(path: &Path, new: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    if new {
        opts.create_new(true);
    } else {
        opts.create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Makes a rename inside `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_updates_keep_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = &path;
                s.spawn(move || {
                    for i in 0..25 {
                        ConfigFile::update(path, |f| {
                            f.values.insert(format!("k{t}_{i}"), Value::from(i));
                            Ok::<_, ConfigError>(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        let f = ConfigFile::load_for_reload(&path).unwrap();
        assert_eq!(f.values.len(), 200);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn empty_file_is_refused_on_reload_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "").unwrap();
        assert!(ConfigFile::load(&path).unwrap().values.is_empty());
        let err = ConfigFile::load_for_reload(&path).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        ConfigFile::update(&path, |f| f.set("port", Value::from(9000))).unwrap();
        let r = ConfigFile::update(&path, |f| f.set("no_such_key", Value::from(1)));
        assert!(r.is_err());
        let f = ConfigFile::load(&path).unwrap();
        assert_eq!(f.values.get("port"), Some(&Value::from(9000)));
    }
}
