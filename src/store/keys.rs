//! API keys: creation, lookup, edits, deletion and the atomic credit operations.
//!
//! Only a SHA-256 hash of each key and a hint (`...` + last 4 characters) are stored; the full key exists
//! only in the output of the one command that created it. Every change to a key record goes through sled's
//! compare-and-swap loop (`update_and_fetch`), so concurrent spends, refunds and edits never lose an update.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::values::{Credits, Expiry, QueryStrategy};
use super::{Store, StoreError};
use crate::config::RateLimit;

/// An API key as stored (field names follow btvep's `ApiKeyInDB`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Sequential id, starting at 1.
    pub id: u64,
    /// `...` followed by the last 4 characters of the key.
    pub api_key_hint: String,
    /// Free-form name.
    pub name: Option<String>,
    /// Miner requests made on behalf of this key.
    pub request_count: u64,
    /// API calls made with this key.
    pub api_request_count: u64,
    /// Expiry as a unix timestamp in seconds; -1 = never.
    pub valid_until: i64,
    /// Remaining credits; -1 = unlimited.
    pub credits: i64,
    /// Disabled keys are refused.
    pub enabled: bool,
    /// The key's own rate limits, replacing the global ones when set.
    pub rate_limits: Option<Vec<RateLimit>>,
    /// The key's default query strategy (`top_n:N` / `uids:A,B`), replacing the server's.
    pub default_query_strategy: Option<String>,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key was last changed.
    pub updated_at: DateTime<Utc>,
    /// Hex SHA-256 of the key (never shown; needed to remove the hash index on delete).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_key_hash: String,
    /// Grows with every write of the record (store-wide monotonic; never shown): tells the credit
    /// journal's entries that are newer than the record from those that are not (see [`super::journal`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl ApiKey {
    /// The key as shown to operators: everything but the stored hash.
    pub fn public(&self) -> ApiKey {
        ApiKey {
            api_key_hash: String::new(),
            version: 0,
            ..self.clone()
        }
    }

    /// Whether the key has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.valid_until != -1 && self.valid_until < now
    }
}

/// The settings of a key to create.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewKey {
    /// Name.
    pub name: Option<String>,
    /// Expiry.
    pub valid_until: Expiry,
    /// Credits.
    pub credits: Credits,
    /// Enabled at creation.
    pub enabled: bool,
    /// Default query strategy.
    pub default_query_strategy: Option<QueryStrategy>,
}

/// A partial edit of a key: `None` leaves a field unchanged; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyPatch {
    /// New name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// New request count.
    pub request_count: Option<u64>,
    /// New credit balance.
    pub credits: Option<Credits>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry.
    pub valid_until: Option<Expiry>,
    /// New default strategy (`Some(None)` clears it).
    pub default_query_strategy: Option<Option<QueryStrategy>>,
    /// New rate limits (`Some(None)` returns the key to the global limits).
    pub rate_limits: Option<Option<Vec<RateLimit>>>,
}

impl KeyPatch {
    fn apply(&self, k: &mut ApiKey) {
        if let Some(v) = &self.name {
            k.name.clone_from(v);
        }
        if let Some(v) = self.request_count {
            k.request_count = v;
        }
        if let Some(v) = self.credits {
            k.credits = v.get();
        }
        if let Some(v) = self.enabled {
            k.enabled = v;
        }
        if let Some(v) = self.valid_until {
            k.valid_until = v.as_i64();
        }
        if let Some(v) = &self.default_query_strategy {
            k.default_query_strategy = v.as_ref().map(ToString::to_string);
        }
        if let Some(v) = &self.rate_limits {
            k.rate_limits.clone_from(v);
        }
    }
}

/// The outcome of [`Store::spend_credits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spend {
    /// The credits were taken; `remaining` is the new balance.
    Spent {
        /// Balance after the spend.
        remaining: i64,
    },
    /// The key has unlimited credits; nothing changed.
    Unlimited,
    /// Not enough credits; nothing changed.
    Insufficient {
        /// The balance that was too small.
        available: i64,
    },
}

/// The outcome of [`Store::reserve_credits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reservation {
    /// Unlimited key: nothing reserved, nothing to settle.
    Unlimited,
    /// This many credits were taken (at least 1); refund what is not used.
    Reserved(i64),
    /// The balance is zero.
    Insufficient,
}

impl Reservation {
    /// How many successful answers this reservation pays for (`usize::MAX` when unlimited).
    pub fn capacity(self) -> usize {
        match self {
            Reservation::Unlimited => usize::MAX,
            Reservation::Reserved(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Reservation::Insufficient => 0,
        }
    }
}

/// Generates a new API key from the OS RNG: `btvep-` followed by 64 hex digits (256 bits).
///
/// # Panics
/// When the operating system's random number generator fails.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    format!("btvep-{}", hex::encode(bytes))
}

/// SHA-256 of an API key.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn decode(bytes: &[u8]) -> Result<ApiKey, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("api key: {e}")))
}

fn encode(k: &ApiKey) -> Vec<u8> {
    serde_json::to_vec(k).expect("an ApiKey always serializes")
}

impl Store {
    /// Creates a key; returns the stored record and the full key (the only time it exists in clear).
    ///
    /// # Errors
    /// [`StoreError::Db`] when the write fails.
    pub fn create_key(&self, new: &NewKey) -> Result<(ApiKey, String), StoreError> {
        let api_key = generate_api_key();
        let hash = hash_api_key(&api_key);
        let id = self.next_id("next_key_id")?;
        let now = Utc::now();
        let record = ApiKey {
            id,
            api_key_hint: format!("...{}", &api_key[api_key.len() - 4..]),
            name: new.name.clone(),
            request_count: 0,
            api_request_count: 0,
            valid_until: new.valid_until.as_i64(),
            credits: new.credits.get(),
            enabled: new.enabled,
            rate_limits: None,
            default_query_strategy: new.default_query_strategy.as_ref().map(ToString::to_string),
            created_at: now,
            updated_at: now,
            api_key_hash: hex::encode(hash),
            version: self.db.generate_id()?,
        };
        let bytes = encode(&record);
        let _gate = self.key_gate.read().unwrap_or_else(|p| p.into_inner());
        // The hash entry first, then the record: a crash between the two leaves a hash that names no
        // record, which a lookup treats as an unknown key. No sled transaction or batch: those take a
        // database-wide write lock that would stall every request (see `store::logs`).
        self.key_hashes.insert(hash, &id.to_be_bytes())?;
        self.keys.insert(id.to_be_bytes(), bytes)?;
        Ok((record, api_key))
    }

    /// Looks a key up by id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn key_by_id(&self, id: u64) -> Result<ApiKey, StoreError> {
        match self.keys.get(id.to_be_bytes())? {
            Some(b) => decode(&b),
            None => Err(StoreError::NotFound(format!("no API key with id {id}"))),
        }
    }

    /// Looks a key up by its full text (hash lookup); `None` when unknown.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn key_by_secret(&self, api_key: &str) -> Result<Option<ApiKey>, StoreError> {
        let Some(id) = self.key_hashes.get(hash_api_key(api_key))? else {
            return Ok(None);
        };
        match self.keys.get(&id)? {
            Some(b) => decode(&b).map(Some),
            None => Ok(None),
        }
    }

    /// Finds a key by a query that is either its numeric id or the full key.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (the message never repeats the query, which may be a key).
    pub fn find_key(&self, query: &str) -> Result<ApiKey, StoreError> {
        let query = query.trim();
        if let Ok(id) = query.parse::<u64>() {
            return self.key_by_id(id);
        }
        self.key_by_secret(query)?
            .ok_or_else(|| StoreError::NotFound("no API key matches the given key".into()))
    }

    /// All keys, ordered by id.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.keys
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect::<Result<Vec<_>, _>>()
    }

    /// Applies `f` to a key record atomically (compare-and-swap loop; `f` may run more than once).
    /// Returns the record before and after.
    fn update_key(&self, id: u64, f: impl Fn(&mut ApiKey)) -> Result<(ApiKey, ApiKey), StoreError> {
        let mut failure = None;
        let mut written = None;
        let mut seen = None;
        let _gate = self.key_gate.read().unwrap_or_else(|p| p.into_inner());
        // The closure may run more than once (a concurrent write makes sled retry); the last run is
        // the one written.
        let old = self.keys.fetch_and_update(id.to_be_bytes(), |old| {
            let old = old?;
            failure = None;
            let mut k = match decode(old) {
                Ok(k) => k,
                Err(e) => {
                    failure = Some(e);
                    return Some(old.to_vec());
                }
            };
            seen = Some(k.clone());
            f(&mut k);
            match self.db.generate_id() {
                Ok(v) => k.version = v,
                Err(e) => {
                    failure = Some(e.into());
                    return Some(old.to_vec());
                }
            }
            let bytes = encode(&k);
            written = Some(k);
            Some(bytes)
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        // the last run's record is the one replaced: no second decode of the old bytes
        old.ok_or_else(|| StoreError::NotFound(format!("no API key with id {id}")))?;
        let (before, after) = seen
            .zip(written)
            .ok_or_else(|| StoreError::Corrupt(format!("api key {id} vanished")))?;
        if before.credits != after.credits {
            if let Some(journal) = self.journal.get() {
                journal.note(super::journal::Entry {
                    id,
                    version: after.version,
                    credits: after.credits,
                });
            }
        }
        Ok((before, after))
    }

    /// Applies a credit-journal entry when it is newer than the stored record; returns whether it was.
    pub(super) fn apply_journal_entry(
        &self,
        e: &super::journal::Entry,
    ) -> Result<bool, StoreError> {
        let mut applied = false;
        let mut failure = None;
        self.keys.fetch_and_update(e.id.to_be_bytes(), |old| {
            let old = old?;
            applied = false;
            match decode(old) {
                Ok(mut k) if k.version < e.version => {
                    k.credits = e.credits;
                    k.version = e.version;
                    applied = true;
                    Some(encode(&k))
                }
                Ok(_) => Some(old.to_vec()),
                Err(err) => {
                    failure = Some(err);
                    Some(old.to_vec())
                }
            }
        })?;
        match failure {
            Some(err) => Err(err),
            None => Ok(applied),
        }
    }

    /// Applies a partial edit to a key.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn edit_key(&self, id: u64, patch: &KeyPatch) -> Result<ApiKey, StoreError> {
        let now = Utc::now();
        self.update_key(id, |k| {
            patch.apply(k);
            k.updated_at = now;
        })
        .map(|(_, after)| after)
    }

    /// Deletes a key and its hash index entry; returns the deleted record.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn delete_key(&self, id: u64) -> Result<ApiKey, StoreError> {
        let _gate = self.key_gate.read().unwrap_or_else(|p| p.into_inner());
        // The record first, then its hash entry (a hash that names no record is an unknown key).
        let old = self
            .keys
            .remove(id.to_be_bytes())?
            .ok_or_else(|| StoreError::NotFound(format!("no API key with id {id}")))?;
        let deleted = decode(&old)?;
        if let Ok(hash) = hex::decode(&deleted.api_key_hash) {
            self.key_hashes.remove(hash)?;
        }
        Ok(deleted)
    }

    /// Takes `n` credits from a key if it has them, atomically. Unlimited keys (-1) are left unchanged.
    ///
    /// Under any concurrency a key with `c` credits grants at most `c / n` spends and never goes below zero.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn spend_credits(&self, id: u64, n: i64) -> Result<Spend, StoreError> {
        let now = Utc::now();
        let (before, _) = self.update_key(id, |k| {
            if k.credits != -1 && k.credits >= n {
                k.credits -= n;
                k.updated_at = now;
            }
        })?;
        Ok(match before.credits {
            -1 => Spend::Unlimited,
            c if c >= n => Spend::Spent { remaining: c - n },
            c => Spend::Insufficient { available: c },
        })
    }

    /// Reserves up to `want` credits before a query, atomically: takes `min(want, balance)`.
    ///
    /// Returns how many were taken as a [`Reservation`]:
    /// unlimited keys take nothing; a zero balance takes nothing and reports [`Reservation::Insufficient`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn reserve_credits(&self, id: u64, want: i64) -> Result<Reservation, StoreError> {
        let now = Utc::now();
        let want = want.max(1);
        let (before, _) = self.update_key(id, |k| {
            if k.credits > 0 {
                k.credits -= want.min(k.credits);
                k.updated_at = now;
            }
        })?;
        Ok(match before.credits {
            -1 => Reservation::Unlimited,
            c if c > 0 => Reservation::Reserved(want.min(c)),
            _ => Reservation::Insufficient,
        })
    }

    /// Gives `n` credits back to a key (no-op for unlimited keys); returns the new balance.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn refund_credits(&self, id: u64, n: i64) -> Result<i64, StoreError> {
        let now = Utc::now();
        self.update_key(id, |k| {
            if k.credits != -1 {
                k.credits += n;
                k.updated_at = now;
            }
        })
        .map(|(_, after)| after.credits)
    }

    /// Adds to a key's counters atomically: `api_requests` API calls and `requests` miner queries.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn count_requests(
        &self,
        id: u64,
        api_requests: u64,
        requests: u64,
    ) -> Result<(), StoreError> {
        self.update_key(id, |k| {
            k.api_request_count += api_requests;
            k.request_count += requests;
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn create_find_delete() {
        let (_d, s) = store();
        let (k, secret) = s
            .create_key(&NewKey {
                credits: crate::store::values::Credits::new(5).unwrap(),
                enabled: true,
                valid_until: crate::store::values::Expiry::Never,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(k.id, 1);
        assert!(secret.len() >= 64 + 6);
        assert_eq!(
            k.api_key_hint,
            format!("...{}", &secret[secret.len() - 4..])
        );
        assert_eq!(s.find_key(&secret).unwrap().id, 1);
        assert_eq!(s.find_key("1").unwrap().id, 1);
        s.delete_key(1).unwrap();
        assert!(matches!(s.find_key(&secret), Err(StoreError::NotFound(_))));
        assert!(matches!(s.delete_key(1), Err(StoreError::NotFound(_))));
        // ids are never reused
        let (k2, _) = s.create_key(&NewKey::default()).unwrap();
        assert_eq!(k2.id, 2);
    }

    /// Many threads spend and refund one key at once: no credit is lost or double-spent.
    #[test]
    fn concurrent_spends_never_overdraw() {
        let (_d, s) = store();
        let (k, _) = s
            .create_key(&NewKey {
                credits: crate::store::values::Credits::new(1000).unwrap(),
                enabled: true,
                valid_until: crate::store::values::Expiry::Never,
                ..Default::default()
            })
            .unwrap();
        let s = Arc::new(s);
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut spent = 0i64;
                    for i in 0..200 {
                        if let Spend::Spent { remaining } = s.spend_credits(k.id, 1).unwrap() {
                            assert!(remaining >= 0);
                            spent += 1;
                            // every third spend of even threads is refunded (a failed miner answer)
                            if t % 2 == 0 && i % 3 == 0 {
                                s.refund_credits(k.id, 1).unwrap();
                                spent -= 1;
                            }
                        }
                    }
                    spent
                })
            })
            .collect();
        let total: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let left = s.key_by_id(k.id).unwrap().credits;
        assert_eq!(total + left, 1000, "credits lost or created");
        assert!(left >= 0);
        assert_eq!(left, 0, "16*200 attempts must exhaust 1000 credits");
    }

    #[test]
    fn unlimited_keys_are_not_charged() {
        let (_d, s) = store();
        let (k, _) = s
            .create_key(&NewKey {
                credits: crate::store::values::Credits::new(-1).unwrap(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.spend_credits(k.id, 1).unwrap(), Spend::Unlimited);
        assert_eq!(s.refund_credits(k.id, 1).unwrap(), -1);
        assert_eq!(s.key_by_id(k.id).unwrap().credits, -1);
    }
}
