//! The store's format version: recorded in the store, checked at every open.
//!
//! | format | written by | layout |
//! |---|---|---|
//! | 1 | btvep before store versioning (no version recorded) | the trees in [`super`]'s table |
//! | 2 | this btvep | format 1 plus `format_version` in `meta` |
//!
//! Opening a store of an older format upgrades it in place, after writing a backup of its keys and
//! counters to `<data dir>/backups/` (the upgrade changes no log record). Opening a store of a newer
//! format is refused with one line naming both versions, before anything is written.

use std::path::Path;

use super::{Store, StoreError};

/// The format this btvep writes.
pub const FORMAT_VERSION: u64 = 2;
/// Where the version is recorded in the `meta` tree.
pub const VERSION_KEY: &str = "format_version";

/// The format version recorded in an open store (1 for a store written before versions were recorded,
/// `None` for a brand-new empty store).
///
/// # Errors
/// [`StoreError::Db`].
pub fn recorded(store: &Store) -> Result<Option<u64>, StoreError> {
    match store.meta.get(VERSION_KEY)? {
        Some(v) => Ok(Some(super::be_u64(&v))),
        None if store.keys.is_empty() && store.logs.is_empty() && store.meta.is_empty() => Ok(None),
        None => Ok(Some(1)),
    }
}

/// Brings an open store to [`FORMAT_VERSION`]: stamps a new store, upgrades an older one (backup first),
/// refuses a newer one.
///
/// # Errors
/// [`StoreError::TooNew`] for a store of a newer format; [`StoreError::Db`] / [`StoreError::Invalid`]
/// when the backup or the upgrade fails (the store is then left at its old format).
pub fn check_and_upgrade(store: &Store, data_dir: &Path) -> Result<(), StoreError> {
    match recorded(store)? {
        None => stamp(store),
        Some(v) if v == FORMAT_VERSION => Ok(()),
        Some(v) if v > FORMAT_VERSION => Err(StoreError::TooNew {
            path: data_dir.to_path_buf(),
            found: v,
        }),
        Some(v) => {
            let dir = data_dir.join("backups");
            super::create_private_dir(&dir)
                .map_err(|e| StoreError::Invalid(format!("creating {}: {e}", dir.display())))?;
            let path = dir.join(format!(
                "pre-upgrade-format{v}-to-{FORMAT_VERSION}-{}.jsonl",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            let file = std::fs::File::create(&path)
                .map_err(|e| StoreError::Invalid(format!("creating {}: {e}", path.display())))?;
            let mut out = std::io::BufWriter::new(file);
            store.write_backup(&mut out, false)?;
            out.into_inner()
                .map_err(|e| StoreError::Invalid(format!("writing {}: {e}", path.display())))?
                .sync_all()
                .map_err(|e| StoreError::Invalid(format!("writing {}: {e}", path.display())))?;
            // Format 1 → 2 adds only the version record.
            stamp(store)?;
            tracing::warn!(
                "upgraded the store in {} from format {v} to {FORMAT_VERSION}; a backup of its keys is in {}",
                data_dir.display(),
                path.display()
            );
            Ok(())
        }
    }
}

fn stamp(store: &Store) -> Result<(), StoreError> {
    store
        .meta
        .insert(VERSION_KEY, &FORMAT_VERSION.to_be_bytes())?;
    store.db.flush()?;
    Ok(())
}
