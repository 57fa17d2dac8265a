//! Reading a Python btvep database (SQLite, written by peewee): opening it read-only, checking it is
//! btvep's, and the raw rows of `apikey` and `request` with SQLite's loose typing kept as it is.
//!
//! Nothing here judges values; [`super::map`] does. Rows are streamed (the request table can hold
//! millions of rows), so each pass over a table is one `SELECT`.

use std::path::Path;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::ImportError;

/// Columns `apikey` must have (both database shapes).
const KEY_REQUIRED: &[&str] = &[
    "id",
    "api_key",
    "name",
    "request_count",
    "api_request_count",
    "valid_until",
    "credits",
    "enabled",
    "rate_limits",
    "created_at",
    "updated_at",
];

/// Columns of `apikey` read when present (`default_query_strategy` only exists in the repository shape).
const KEY_OPTIONAL: &[&str] = &[
    "api_key_hint",
    "rate_limits_enabled",
    "default_query_strategy",
];

/// Columns `request` must have.
const REQUEST_REQUIRED: &[&str] = &[
    "id",
    "api_key_id",
    "user_id",
    "timestamp",
    "prompt",
    "is_api_success",
    "api_request_id",
];

/// Columns of `request` read when present.
const REQUEST_OPTIONAL: &[&str] = &[
    "api_error",
    "response",
    "responder_hotkey",
    "is_success",
    "return_message",
    "elapsed_time",
    "src_version",
    "dest_version",
    "return_code",
];

/// Which of the two known schemas a database has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The repository's code: `apikey.default_query_strategy` exists.
    Repository,
    /// The released 0.2.0 package: no `default_query_strategy` (missing means NULL).
    Release020,
}

/// One `apikey` row as stored.
#[derive(Clone)]
pub struct RawKey {
    /// `apikey.id`.
    pub id: i64,
    /// The plaintext key (never printed; see the `Debug` impl).
    pub api_key: Value,
    /// The stored hint (only used to warn when it is not the recomputed one).
    pub api_key_hint: Value,
    /// `name`.
    pub name: Value,
    /// `request_count`.
    pub request_count: Value,
    /// `api_request_count`.
    pub api_request_count: Value,
    /// `valid_until`.
    pub valid_until: Value,
    /// `credits`.
    pub credits: Value,
    /// `enabled`.
    pub enabled: Value,
    /// `rate_limits` (JSON text or NULL).
    pub rate_limits: Value,
    /// `rate_limits_enabled` (never read by the Python server).
    pub rate_limits_enabled: Value,
    /// `default_query_strategy` (NULL in the 0.2.0 shape).
    pub default_query_strategy: Value,
    /// `created_at`.
    pub created_at: Value,
    /// `updated_at`.
    pub updated_at: Value,
}

impl std::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// One `request` row as stored.
#[derive(Clone)]
pub struct RawRequest {
    /// `request.id`.
    pub id: i64,
    /// The plaintext key of a 429 row, else NULL.
    pub api_key_id: Value,
    /// The plaintext key (or a chat-UI JWT) of an answer row, else NULL.
    pub user_id: Value,
    /// Unix seconds.
    pub timestamp: Value,
    /// JSON of the messages.
    pub prompt: Value,
    /// 1 / 0.
    pub is_api_success: Value,
    /// Error code of a refused call.
    pub api_error: Value,
    /// A uuid4 per row.
    pub api_request_id: Value,
    /// The completion.
    pub response: Value,
    /// The miner's hotkey.
    pub responder_hotkey: Value,
    /// 1 / 0 / NULL.
    pub is_success: Value,
    /// Dendrite status message.
    pub return_message: Value,
    /// Seconds (REAL).
    pub elapsed_time: Value,
    /// Our protocol version.
    pub src_version: Value,
    /// The miner's protocol version.
    pub dest_version: Value,
    /// The return code as text.
    pub return_code: Value,
}

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An open Python btvep database whose schema was checked.
pub struct Source {
    conn: Connection,
    key_columns: Vec<String>,
    request_columns: Vec<String>,
    /// Which schema it has.
    pub shape: Shape,
    /// Rows in `user` (chat-UI users; not imported), 0 without the table.
    pub users: u64,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> ImportError + '_ {
    move |e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            ImportError::NotSqlite(path.to_path_buf())
        }
        other => ImportError::Sqlite {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

impl Source {
    /// Opens `path` read-only and checks it is a Python btvep database.
    ///
    /// # Errors
    /// [`ImportError::Unreadable`] (missing, a directory, no permission), [`ImportError::NotSqlite`],
    /// [`ImportError::NotBtvep`] naming the missing table or column, [`ImportError::Sqlite`].
    pub fn open(path: &Path) -> Result<Self, ImportError> {
        let unreadable = |e: std::io::Error| ImportError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if meta.is_dir() {
            return Err(ImportError::Unreadable {
                path: path.to_path_buf(),
                reason: "it is a directory".into(),
            });
        }
        // SQLite opens anything lazily; reading the header ourselves gives a clear error early.
        let mut header = [0u8; 16];
        {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(unreadable)?;
            let n = f.read(&mut header).map_err(unreadable)?;
            if n < 16 || &header != b"SQLite format 3\0" {
                return Err(ImportError::NotSqlite(path.to_path_buf()));
            }
        }
        let err = sql_err(path);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(&err)?;
        // A Python server may be writing: wait for its lock rather than failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(&err)?;
        let key_columns = columns(&conn, "apikey").map_err(&err)?;
        let request_columns = columns(&conn, "request").map_err(&err)?;
        for (table, cols, required) in [
            ("apikey", &key_columns, KEY_REQUIRED),
            ("request", &request_columns, REQUEST_REQUIRED),
        ] {
            if cols.is_empty() {
                return Err(ImportError::NotBtvep {
                    path: path.to_path_buf(),
                    reason: format!("it has no '{table}' table"),
                });
            }
            if let Some(missing) = required.iter().find(|c| !cols.iter().any(|x| x == *c)) {
                return Err(ImportError::NotBtvep {
                    path: path.to_path_buf(),
                    reason: format!("table '{table}' has no '{missing}' column"),
                });
            }
        }
        let shape = if key_columns.iter().any(|c| c == "default_query_strategy") {
            Shape::Repository
        } else {
            Shape::Release020
        };
        let users = if columns(&conn, "user").map_err(&err)?.is_empty() {
            0
        } else {
            conn.query_row("SELECT count(*) FROM \"user\"", [], |r| r.get::<_, i64>(0))
                .map_err(&err)?
                .max(0) as u64
        };
        Ok(Source {
            conn,
            key_columns,
            request_columns,
            shape,
            users,
        })
    }

    /// Number of rows in `request`.
    ///
    /// # Errors
    /// [`ImportError::Sqlite`].
    pub fn request_count(&self, path: &Path) -> Result<u64, ImportError> {
        self.conn
            .query_row("SELECT count(*) FROM request", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(sql_err(path))
    }

    /// Every `apikey` row, by id.
    ///
    /// # Errors
    /// [`ImportError::Sqlite`].
    pub fn keys(&self, path: &Path) -> Result<Vec<RawKey>, ImportError> {
        let err = sql_err(path);
        let sql = format!(
            "SELECT {} FROM apikey ORDER BY id",
            select_list(&self.key_columns, KEY_REQUIRED, KEY_OPTIONAL)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RawKey {
                    id: r.get(0)?,
                    api_key: r.get(1)?,
                    name: r.get(2)?,
                    request_count: r.get(3)?,
                    api_request_count: r.get(4)?,
                    valid_until: r.get(5)?,
                    credits: r.get(6)?,
                    enabled: r.get(7)?,
                    rate_limits: r.get(8)?,
                    created_at: r.get(9)?,
                    updated_at: r.get(10)?,
                    api_key_hint: r.get(11)?,
                    rate_limits_enabled: r.get(12)?,
                    default_query_strategy: r.get(13)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }

    /// Calls `f` with every `request` row, by id (newest first with `newest_first`: btvep's log keys
    /// sort newest first, and writing them in key order is much faster); stops at the first error `f`
    /// returns.
    ///
    /// # Errors
    /// [`ImportError::Sqlite`], or what `f` returns.
    pub fn for_each_request(
        &self,
        path: &Path,
        newest_first: bool,
        mut f: impl FnMut(RawRequest) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        let err = sql_err(path);
        let sql = format!(
            "SELECT {} FROM request ORDER BY id{}",
            select_list(&self.request_columns, REQUEST_REQUIRED, REQUEST_OPTIONAL),
            if newest_first { " DESC" } else { "" }
        );
        let mut stmt = self.conn.prepare(&sql).map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let v = |i: usize| -> Result<Value, ImportError> {
                r.get_ref(i).map(owned).map_err(sql_err(path))
            };
            let id = match r.get_ref(0).map_err(&err)? {
                ValueRef::Integer(n) => n,
                _ => 0,
            };
            f(RawRequest {
                id,
                api_key_id: v(1)?,
                user_id: v(2)?,
                timestamp: v(3)?,
                prompt: v(4)?,
                is_api_success: v(5)?,
                api_request_id: v(6)?,
                api_error: v(7)?,
                response: v(8)?,
                responder_hotkey: v(9)?,
                is_success: v(10)?,
                return_message: v(11)?,
                elapsed_time: v(12)?,
                src_version: v(13)?,
                dest_version: v(14)?,
                return_code: v(15)?,
            })?;
        }
        Ok(())
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// The column names of `table` (empty when the table does not exist).
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

/// `"a", "b", NULL, ...`: the required columns, then each optional one or NULL when the table lacks it.
fn select_list(have: &[String], required: &[&str], optional: &[&str]) -> String {
    required
        .iter()
        .map(|c| format!("\"{c}\""))
        .chain(optional.iter().map(|c| {
            if have.iter().any(|h| h == c) {
                format!("\"{c}\"")
            } else {
                "NULL".to_string()
            }
        }))
        .collect::<Vec<_>>()
        .join(", ")
}
