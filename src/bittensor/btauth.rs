//! `btauth/1`: the request signatures of bittensor 11's `bittensor.http_auth` (spec §3.5), both sides.
//!
//! * Signer: [`sign`] returns the headers `http_auth.sign(wallet, method, path, body, receiver_ss58)` makes for an
//!   sr25519 hotkey (btvep always names the receiver, the miner's hotkey).
//! * Verifier: [`Verifier`] applies `http_auth.verify`'s default rules in the SDK's order, split in two so a server
//!   can refuse before reading the body: [`Verifier::check_headers`] (shape → receiver → freshness) and
//!   [`Verifier::verify_body`] (signature under the declared scheme → replay, recorded only after the signature
//!   verified). Errors are [`AuthError`], whose [`AuthError::status`] is btvep's HTTP mapping.
//!
//! The vectors in `tests/fixtures/btauth1_vectors.json` (made by the real SDK) pin every rule.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::keys::{self, Hotkey};
use super::replay::{ReplayGuard, Seen, DEFAULT_MAX_ENTRIES};

/// The protocol tag, the first line of the signed payload.
pub const PROTOCOL: &str = "btauth/1";
/// `X-Bittensor-Version` (always `1`).
pub const HEADER_VERSION: &str = "X-Bittensor-Version";
/// `X-Bittensor-Hotkey`: the sender's SS58.
pub const HEADER_HOTKEY: &str = "X-Bittensor-Hotkey";
/// `X-Bittensor-Nonce`: Unix time in nanoseconds, decimal.
pub const HEADER_NONCE: &str = "X-Bittensor-Nonce";
/// `X-Bittensor-Signature`: `0x` + hex of the 64-byte signature.
pub const HEADER_SIGNATURE: &str = "X-Bittensor-Signature";
/// `X-Bittensor-Crypto`: `ed25519` for an ed25519 signer; absent means sr25519.
pub const HEADER_CRYPTO: &str = "X-Bittensor-Crypto";
/// `X-Bittensor-Receiver`: the receiver's SS58.
pub const HEADER_RECEIVER: &str = "X-Bittensor-Receiver";
/// Oldest accepted nonce (the SDK's `max_age`, 10 s).
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// Furthest accepted nonce in the future (the SDK's `allowed_skew`, 2 s).
pub const ALLOWED_SKEW: Duration = Duration::from_secs(2);
/// How long accepted `(hotkey, nonce)` pairs are remembered (the SDK's default store keeps 60 s).
pub const REPLAY_TTL: Duration = Duration::from_secs(60);

/// A signature scheme btauth/1 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// sr25519 (schnorrkel, context `substrate`); the default when no `X-Bittensor-Crypto` is sent.
    Sr25519,
    /// RFC 8032 Ed25519.
    Ed25519,
}

impl Scheme {
    /// The canonical name, as it appears in the signed payload.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Sr25519 => "sr25519",
            Scheme::Ed25519 => "ed25519",
        }
    }

    /// The SDK's `crypto_type` number (1 = sr25519, 0 = ed25519).
    pub fn crypto_type(self) -> u8 {
        match self {
            Scheme::Sr25519 => 1,
            Scheme::Ed25519 => 0,
        }
    }
}

/// Why a request was refused; the variants are the SDK's `AuthError` subclasses. Messages never contain the
/// signature or the payload, so they are safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is missing or malformed (400).
    #[error("malformed auth: {0}")]
    MalformedAuth(String),
    /// The request is not addressed to this receiver, or names none (403).
    #[error("wrong receiver: {0}")]
    WrongReceiver(String),
    /// The nonce is too old or too far in the future (401).
    #[error("stale request: {0}")]
    StaleRequest(String),
    /// The signature does not verify under the declared scheme (401).
    #[error("bad signature")]
    BadSignature,
    /// The `(hotkey, nonce)` pair was already accepted inside the window (401).
    #[error("replayed request: {0}")]
    ReplayedRequest(String),
}

impl AuthError {
    /// btvep's HTTP status for this refusal (the transports issue mapping).
    pub fn status(&self) -> u16 {
        match self {
            AuthError::MalformedAuth(_) => 400,
            AuthError::WrongReceiver(_) => 403,
            AuthError::StaleRequest(_)
            | AuthError::BadSignature
            | AuthError::ReplayedRequest(_) => 401,
        }
    }

    /// The SDK's name for this error class (`MalformedAuth`, `WrongReceiver`, …), used as the JSON error type.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::MalformedAuth(_) => "MalformedAuth",
            AuthError::WrongReceiver(_) => "WrongReceiver",
            AuthError::StaleRequest(_) => "StaleRequest",
            AuthError::BadSignature => "BadSignature",
            AuthError::ReplayedRequest(_) => "ReplayedRequest",
        }
    }
}

/// Lowercase hex SHA-256 of `body`.
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The exact bytes signed (spec §3.5): eight lines joined by `\n`, `-` when there is no receiver.
pub fn payload(
    scheme: Scheme,
    method: &str,
    target: &str,
    body: &[u8],
    nonce: i128,
    sender: &str,
    receiver: Option<&str>,
) -> String {
    format!(
        "{PROTOCOL}\n{}\n{}\n{target}\n{}\n{nonce}\n{sender}\n{}",
        scheme.name(),
        method.to_ascii_uppercase(),
        sha256_hex(body),
        receiver.unwrap_or("-")
    )
}

/// The headers `http_auth.sign` makes for an sr25519 `hotkey`: a request `method target` with `body`, for
/// `receiver`, with nonce `nonce_ns` (use [`now_ns`] for a fresh one; every attempt needs its own).
pub fn sign(
    hotkey: &Hotkey,
    method: &str,
    target: &str,
    body: &[u8],
    receiver: &str,
    nonce_ns: i128,
) -> Vec<(&'static str, String)> {
    let msg = payload(
        Scheme::Sr25519,
        method,
        target,
        body,
        nonce_ns,
        hotkey.ss58(),
        Some(receiver),
    );
    vec![
        (HEADER_VERSION, "1".to_string()),
        (HEADER_HOTKEY, hotkey.ss58().to_string()),
        (HEADER_NONCE, nonce_ns.to_string()),
        (HEADER_SIGNATURE, hotkey.sign(&msg)),
        (HEADER_RECEIVER, receiver.to_string()),
    ]
}

/// Unix time in nanoseconds (the nonce clock).
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// The first value of header `name` (case-insensitive) among `headers`.
pub(crate) fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// A request whose headers passed steps 1–3; its body still has to be checked by [`Verifier::verify_body`].
#[derive(Debug, Clone)]
pub struct CheckedHeaders {
    hotkey: String,
    nonce: i128,
    scheme: Scheme,
    signature: Vec<u8>,
    receiver: String,
}

impl CheckedHeaders {
    /// The sender as it claims to be (not yet proven).
    pub fn claimed_hotkey(&self) -> &str {
        &self.hotkey
    }
}

/// A verified caller (the SDK's `Caller`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The sender's SS58 as sent.
    pub hotkey: String,
    /// The nonce in nanoseconds.
    pub nonce_ns: i128,
    /// The scheme it signed with.
    pub scheme: Scheme,
}

/// The receiver side of btauth/1 for one hotkey, with its own replay store (one per process, like the SDK).
#[derive(Debug)]
pub struct Verifier {
    own_ss58: String,
    replay: ReplayGuard,
}

impl Verifier {
    /// A verifier for requests addressed to `own_ss58`.
    pub fn new(own_ss58: &str) -> Self {
        Self {
            own_ss58: own_ss58.to_string(),
            replay: ReplayGuard::new(REPLAY_TTL, DEFAULT_MAX_ENTRIES),
        }
    }

    /// Steps 1–3 (header shape, receiver, freshness) at time `now_ns`, before the body is read.
    ///
    /// # Errors
    /// [`AuthError::MalformedAuth`], [`AuthError::WrongReceiver`] or [`AuthError::StaleRequest`].
    pub fn check_headers(
        &self,
        headers: &[(&str, &str)],
        now_ns: i128,
    ) -> Result<CheckedHeaders, AuthError> {
        let malformed = |m: &str| AuthError::MalformedAuth(m.to_string());
        // 1. Header shape.
        match header(headers, HEADER_VERSION) {
            Some("1") => {}
            Some(_) => return Err(malformed("unsupported X-Bittensor-Version (expected 1)")),
            None => return Err(malformed("missing X-Bittensor-Version")),
        }
        let hotkey = match header(headers, HEADER_HOTKEY) {
            Some(h) if !h.is_empty() => h,
            _ => return Err(malformed("missing X-Bittensor-Hotkey")),
        };
        let nonce =
            header(headers, HEADER_NONCE).ok_or_else(|| malformed("missing X-Bittensor-Nonce"))?;
        let nonce =
            parse_int(nonce).ok_or_else(|| malformed("X-Bittensor-Nonce is not an integer"))?;
        let scheme = match header(headers, HEADER_CRYPTO) {
            None => Scheme::Sr25519,
            Some(c) => match c.trim().to_ascii_lowercase().as_str() {
                "sr25519" | "1" => Scheme::Sr25519,
                "ed25519" | "0" => Scheme::Ed25519,
                _ => return Err(malformed("unsupported X-Bittensor-Crypto")),
            },
        };
        let sig = header(headers, HEADER_SIGNATURE)
            .ok_or_else(|| malformed("missing X-Bittensor-Signature"))?;
        let signature = hex::decode(sig.strip_prefix("0x").unwrap_or(sig))
            .map_err(|_| malformed("X-Bittensor-Signature is not hex"))?;
        // 2. Receiver.
        let receiver = match header(headers, HEADER_RECEIVER) {
            None => {
                return Err(AuthError::WrongReceiver(
                    "missing X-Bittensor-Receiver".into(),
                ))
            }
            Some(r) if r != self.own_ss58 => {
                return Err(AuthError::WrongReceiver(
                    "request is not addressed to this hotkey".into(),
                ))
            }
            Some(r) => r.to_string(),
        };
        // 3. Freshness.
        let max_age = MAX_AGE.as_nanos() as i128;
        let skew = ALLOWED_SKEW.as_nanos() as i128;
        if now_ns - nonce > max_age {
            return Err(AuthError::StaleRequest("nonce is too old".into()));
        }
        if nonce - now_ns > skew {
            return Err(AuthError::StaleRequest(
                "nonce is too far in the future".into(),
            ));
        }
        Ok(CheckedHeaders {
            hotkey: hotkey.to_string(),
            nonce,
            scheme,
            signature,
            receiver,
        })
    }

    /// Steps 4–5: the signature over `method target` and the raw `body` under the declared scheme, then the
    /// replay check (recorded only now). `target` is the request target as received (path and `?query`).
    ///
    /// # Errors
    /// [`AuthError::MalformedAuth`] (undecodable sender address, signature not 64 bytes),
    /// [`AuthError::BadSignature`], [`AuthError::ReplayedRequest`].
    pub fn verify_body(
        &self,
        checked: CheckedHeaders,
        method: &str,
        target: &str,
        body: &[u8],
        now_ns: i128,
    ) -> Result<Caller, AuthError> {
        let public = keys::ss58_decode_any_prefix(&checked.hotkey).map_err(|_| {
            AuthError::MalformedAuth("X-Bittensor-Hotkey is not an SS58 address".into())
        })?;
        let signature: [u8; 64] = checked.signature.as_slice().try_into().map_err(|_| {
            AuthError::MalformedAuth("X-Bittensor-Signature is not 64 bytes".into())
        })?;
        let msg = payload(
            checked.scheme,
            method,
            target,
            body,
            checked.nonce,
            &checked.hotkey,
            Some(&checked.receiver),
        );
        let ok = match checked.scheme {
            Scheme::Sr25519 => keys::verify_sr25519(&public, msg.as_bytes(), &signature),
            Scheme::Ed25519 => verify_ed25519(&public, msg.as_bytes(), &signature),
        };
        if !ok {
            return Err(AuthError::BadSignature);
        }
        match self
            .replay
            .check_and_record(&checked.hotkey, &checked.nonce.to_string(), now_ns)
        {
            Seen::Fresh => Ok(Caller {
                hotkey: checked.hotkey,
                nonce_ns: checked.nonce,
                scheme: checked.scheme,
            }),
            Seen::Replayed => Err(AuthError::ReplayedRequest(
                "nonce already used by this hotkey".into(),
            )),
            Seen::Full => Err(AuthError::ReplayedRequest(
                "too many requests in the replay window; retry".into(),
            )),
        }
    }

    /// Both halves at once (for callers that already hold the body).
    ///
    /// # Errors
    /// As [`Self::check_headers`] and [`Self::verify_body`].
    pub fn verify(
        &self,
        headers: &[(&str, &str)],
        method: &str,
        target: &str,
        body: &[u8],
        now_ns: i128,
    ) -> Result<Caller, AuthError> {
        let checked = self.check_headers(headers, now_ns)?;
        self.verify_body(checked, method, target, body, now_ns)
    }
}

/// Python `int()` of a header value, restricted to what a signer produces: optional sign, ASCII digits.
fn parse_int(s: &str) -> Option<i128> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// RFC 8032 Ed25519 verification, with the same `<Bytes>` fallback as sr25519.
fn verify_ed25519(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    use ed25519_dalek::Verifier as _;
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    if key.verify(message, &sig).is_ok() {
        return true;
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    key.verify(&wrapped, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_round_trip() {
        let (alice, _) = Hotkey::generate().unwrap();
        let (bob, _) = Hotkey::generate().unwrap();
        let v = Verifier::new(bob.ss58());
        let now = now_ns();
        let h = sign(
            &alice,
            "POST",
            "/v1/chat/completions",
            b"{}",
            bob.ss58(),
            now,
        );
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = v
            .verify(&pairs, "POST", "/v1/chat/completions", b"{}", now)
            .unwrap();
        assert_eq!(c.hotkey, alice.ss58());
        assert_eq!(
            v.verify(&pairs, "POST", "/v1/chat/completions", b"{}", now),
            Err(AuthError::ReplayedRequest(
                "nonce already used by this hotkey".into()
            ))
        );
    }

    #[test]
    fn error_messages_never_hold_the_signature() {
        let e = AuthError::BadSignature;
        assert_eq!(e.status(), 401);
        assert_eq!(e.to_string(), "bad signature");
    }
}
