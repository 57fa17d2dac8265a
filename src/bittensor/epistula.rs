//! Epistula v2: the request signatures SN1 and other subnets put on OpenAI-style miner calls (spec §3.6).
//!
//! * Signer: [`sign`] returns the headers the reference `generate_header(hotkey, body, signed_for)` makes.
//! * Verifier: [`Verifier`] = the reference `verify_signature` rules plus what a miner needs and the reference
//!   lacks: the receiver must be this miner, a timestamp at most 2 s in the future, and a `(Signed-By, Uuid)` seen
//!   twice inside the window is a replay (recorded only after the signature verified). As with btauth the check is
//!   split into [`Verifier::check_headers`] (before the body) and [`Verifier::verify_body`].
//!
//! The vectors in `tests/fixtures/epistula_vectors.json` (made by the reference code) pin every rule.

use std::time::Duration;

use super::btauth::{header, sha256_hex};
use super::keys::{self, Hotkey};
use super::replay::{ReplayGuard, Seen, DEFAULT_MAX_ENTRIES};

/// `Epistula-Version` (always `2`; not checked by verifiers).
pub const HEADER_VERSION: &str = "Epistula-Version";
/// `Epistula-Timestamp`: Unix time in milliseconds.
pub const HEADER_TIMESTAMP: &str = "Epistula-Timestamp";
/// `Epistula-Uuid`: a fresh uuid4 per request.
pub const HEADER_UUID: &str = "Epistula-Uuid";
/// `Epistula-Signed-By`: the sender's SS58.
pub const HEADER_SIGNED_BY: &str = "Epistula-Signed-By";
/// `Epistula-Signed-For`: the receiver's SS58.
pub const HEADER_SIGNED_FOR: &str = "Epistula-Signed-For";
/// `Epistula-Request-Signature`: `0x` + hex of the signature of the request string.
pub const HEADER_REQUEST_SIGNATURE: &str = "Epistula-Request-Signature";
/// Oldest accepted timestamp (the reference's 8 s; exactly 8000 ms old passes).
pub const MAX_AGE_MS: i64 = 8_000;
/// Furthest accepted timestamp in the future (btvep's rule; exactly 2000 ms ahead passes).
pub const MAX_AHEAD_MS: i64 = 2_000;
/// How long accepted `(Signed-By, Uuid)` pairs are remembered (at least the 10 s window).
pub const REPLAY_TTL: Duration = Duration::from_secs(20);

/// Why a request was refused. Messages never contain the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpistulaError {
    /// A required header is missing or malformed (400).
    #[error("malformed Epistula headers: {0}")]
    Malformed(String),
    /// `Epistula-Signed-For` is not this miner's hotkey (403).
    #[error("wrong receiver: request is not signed for this hotkey")]
    WrongReceiver,
    /// The timestamp is more than 8 s old (401).
    #[error("stale request: timestamp is too old")]
    Stale,
    /// The timestamp is more than 2 s in the future (401).
    #[error("stale request: timestamp is too far in the future")]
    Future,
    /// The request signature does not verify (401).
    #[error("bad signature")]
    BadSignature,
    /// The uuid was already accepted from this sender inside the window (401).
    #[error("replayed request: {0}")]
    Replayed(String),
}

impl EpistulaError {
    /// btvep's HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            EpistulaError::Malformed(_) => 400,
            EpistulaError::WrongReceiver => 403,
            EpistulaError::Stale
            | EpistulaError::Future
            | EpistulaError::BadSignature
            | EpistulaError::Replayed(_) => 401,
        }
    }

    /// A short machine-readable name for the JSON error type.
    pub fn kind(&self) -> &'static str {
        match self {
            EpistulaError::Malformed(_) => "MalformedAuth",
            EpistulaError::WrongReceiver => "WrongReceiver",
            EpistulaError::Stale | EpistulaError::Future => "StaleRequest",
            EpistulaError::BadSignature => "BadSignature",
            EpistulaError::Replayed(_) => "ReplayedRequest",
        }
    }
}

/// The request string: `{sha256_hex(body)}.{uuid}.{timestamp}.{signed_for}` (empty last field without a receiver).
pub fn request_string(body: &[u8], uuid: &str, timestamp_ms: u64, signed_for: &str) -> String {
    format!("{}.{uuid}.{timestamp_ms}.{signed_for}", sha256_hex(body))
}

/// The three secret strings, as the reference renders its float interval: `ceil(ts / 1e4) * 1e4` ± 1 ms,
/// each followed by `.0.` and the receiver (e.g. `1795300010000.0.5ELT…`).
pub fn secret_strings(timestamp_ms: u64, signed_for: &str) -> [String; 3] {
    let interval = timestamp_ms.div_ceil(10_000) * 10_000;
    [interval - 1, interval, interval + 1].map(|v| format!("{v}.0.{signed_for}"))
}

/// Unix time in milliseconds (the Epistula clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The Epistula v2 headers for `body` signed by `hotkey` for `signed_for`, at `timestamp_ms` with `uuid` (use
/// [`now_ms`] and a fresh uuid4 for every attempt).
pub fn sign(
    hotkey: &Hotkey,
    body: &[u8],
    signed_for: &str,
    timestamp_ms: u64,
    uuid: &str,
) -> Vec<(&'static str, String)> {
    let [s0, s1, s2] = secret_strings(timestamp_ms, signed_for);
    vec![
        (HEADER_VERSION, "2".to_string()),
        (HEADER_TIMESTAMP, timestamp_ms.to_string()),
        (HEADER_UUID, uuid.to_string()),
        (HEADER_SIGNED_BY, hotkey.ss58().to_string()),
        (
            HEADER_REQUEST_SIGNATURE,
            hotkey.sign(&request_string(body, uuid, timestamp_ms, signed_for)),
        ),
        (HEADER_SIGNED_FOR, signed_for.to_string()),
        ("Epistula-Secret-Signature-0", hotkey.sign(&s0)),
        ("Epistula-Secret-Signature-1", hotkey.sign(&s1)),
        ("Epistula-Secret-Signature-2", hotkey.sign(&s2)),
    ]
}

/// A request whose headers passed the shape, receiver and time checks.
#[derive(Debug, Clone)]
pub struct CheckedHeaders {
    timestamp_ms: u64,
    uuid: String,
    signed_by: String,
    public: [u8; 32],
    signed_for: String,
    signature: [u8; 64],
}

impl CheckedHeaders {
    /// The sender as it claims to be (not yet proven).
    pub fn claimed_hotkey(&self) -> &str {
        &self.signed_by
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `Epistula-Signed-By`.
    pub hotkey: String,
    /// `Epistula-Uuid`.
    pub uuid: String,
    /// `Epistula-Timestamp` (ms).
    pub timestamp_ms: u64,
}

/// The miner side of Epistula v2 for one hotkey, with its own replay store.
#[derive(Debug)]
pub struct Verifier {
    own_ss58: String,
    replay: ReplayGuard,
}

impl Verifier {
    /// A verifier for requests signed for `own_ss58`.
    pub fn new(own_ss58: &str) -> Self {
        Self {
            own_ss58: own_ss58.to_string(),
            replay: ReplayGuard::new(REPLAY_TTL, DEFAULT_MAX_ENTRIES),
        }
    }

    /// Steps 1–3: every header present and well formed (400), signed for this miner (403), not stale and not
    /// too far ahead at `now_ms` (401).
    ///
    /// # Errors
    /// [`EpistulaError::Malformed`], [`EpistulaError::WrongReceiver`], [`EpistulaError::Stale`],
    /// [`EpistulaError::Future`].
    pub fn check_headers(
        &self,
        headers: &[(&str, &str)],
        now_ms: i64,
    ) -> Result<CheckedHeaders, EpistulaError> {
        let need = |name: &str| {
            header(headers, name).ok_or_else(|| EpistulaError::Malformed(format!("missing {name}")))
        };
        let timestamp = need(HEADER_TIMESTAMP)?;
        let uuid = need(HEADER_UUID)?;
        let signed_by = need(HEADER_SIGNED_BY)?;
        let signed_for = need(HEADER_SIGNED_FOR)?;
        let sig = need(HEADER_REQUEST_SIGNATURE)?;
        let bad = |m: &str| EpistulaError::Malformed(m.to_string());
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("Epistula-Timestamp is not an integer"));
        }
        let timestamp_ms: u64 = timestamp
            .parse()
            .map_err(|_| bad("Epistula-Timestamp is out of range"))?;
        let hex_sig = sig
            .strip_prefix("0x")
            .ok_or_else(|| bad("Epistula-Request-Signature must start with 0x"))?;
        if hex_sig.len() != 128 {
            return Err(bad("Epistula-Request-Signature is not 64 bytes"));
        }
        let mut signature = [0u8; 64];
        hex::decode_to_slice(hex_sig, &mut signature)
            .map_err(|_| bad("Epistula-Request-Signature is not hex"))?;
        let public = keys::ss58_decode_any_prefix(signed_by)
            .map_err(|_| bad("Epistula-Signed-By is not an SS58 address"))?;
        if signed_for != self.own_ss58 {
            return Err(EpistulaError::WrongReceiver);
        }
        let ts = i64::try_from(timestamp_ms).unwrap_or(i64::MAX);
        if ts.saturating_add(MAX_AGE_MS) < now_ms {
            return Err(EpistulaError::Stale);
        }
        if ts.saturating_sub(now_ms) > MAX_AHEAD_MS {
            return Err(EpistulaError::Future);
        }
        Ok(CheckedHeaders {
            timestamp_ms,
            uuid: uuid.to_string(),
            signed_by: signed_by.to_string(),
            public,
            signed_for: signed_for.to_string(),
            signature,
        })
    }

    /// Steps 4–5: the request signature over the raw `body` (with the `<Bytes>` fallback), then the uuid replay
    /// check, recorded only now.
    ///
    /// # Errors
    /// [`EpistulaError::BadSignature`], [`EpistulaError::Replayed`].
    pub fn verify_body(
        &self,
        checked: CheckedHeaders,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Caller, EpistulaError> {
        let msg = request_string(
            body,
            &checked.uuid,
            checked.timestamp_ms,
            &checked.signed_for,
        );
        if !keys::verify_sr25519(&checked.public, msg.as_bytes(), &checked.signature) {
            return Err(EpistulaError::BadSignature);
        }
        let now_ns = i128::from(now_ms) * 1_000_000;
        match self
            .replay
            .check_and_record(&checked.signed_by, &checked.uuid, now_ns)
        {
            Seen::Fresh => Ok(Caller {
                hotkey: checked.signed_by,
                uuid: checked.uuid,
                timestamp_ms: checked.timestamp_ms,
            }),
            Seen::Replayed => Err(EpistulaError::Replayed(
                "uuid already used by this sender".into(),
            )),
            Seen::Full => Err(EpistulaError::Replayed(
                "too many requests in the replay window; retry".into(),
            )),
        }
    }

    /// Both halves at once.
    ///
    /// # Errors
    /// As [`Self::check_headers`] and [`Self::verify_body`].
    pub fn verify(
        &self,
        headers: &[(&str, &str)],
        body: &[u8],
        now_ms: i64,
    ) -> Result<Caller, EpistulaError> {
        let checked = self.check_headers(headers, now_ms)?;
        self.verify_body(checked, body, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_strings_render_like_python_floats() {
        let s = secret_strings(1_795_300_005_123, "X");
        assert_eq!(
            s,
            [
                "1795300009999.0.X".to_string(),
                "1795300010000.0.X".to_string(),
                "1795300010001.0.X".to_string()
            ]
        );
        assert_eq!(
            secret_strings(1_795_300_010_000, "X")[1],
            "1795300010000.0.X"
        );
    }

    #[test]
    fn round_trip_and_replay() {
        let (alice, _) = Hotkey::generate().unwrap();
        let (bob, _) = Hotkey::generate().unwrap();
        let v = Verifier::new(bob.ss58());
        let now = now_ms();
        let h = sign(&alice, b"{}", bob.ss58(), now as u64, "u-1");
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(v.verify(&pairs, b"{}", now).unwrap().hotkey, alice.ss58());
        assert!(matches!(
            v.verify(&pairs, b"{}", now),
            Err(EpistulaError::Replayed(_))
        ));
    }
}
