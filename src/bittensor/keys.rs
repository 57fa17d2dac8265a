//! sr25519 hotkeys exactly as the Bittensor SDK derives and uses them (spec §1).
//!
//! * Mnemonic → BIP39 *entropy* → `substrate_bip39::mini_secret_from_entropy(entropy, "")` →
//!   `MiniSecretKey::expand_to_keypair(Ed25519)` (the BIP39 seed is never used).
//! * Addresses are SS58 format 42; signatures are `0x` + hex of a schnorrkel signature in the `substrate` context.

use std::fmt;
use std::path::{Path, PathBuf};

use bip39::{Language, Mnemonic};
use blake2::{Blake2b512, Digest};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey, SecretKey, Signature};

/// The SDK's default wallet directory (`wallet_path`).
pub const DEFAULT_WALLET_PATH: &str = "~/.bittensor/wallets";
/// SS58 address format of Bittensor (the generic Substrate format).
pub const SS58_FORMAT: u8 = 42;
/// The schnorrkel signing context used by Substrate and the Bittensor SDK.
const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Why a key could not be derived, loaded, decoded or verified.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The mnemonic is not a valid English BIP39 phrase.
    #[error("invalid BIP39 mnemonic: {0}")]
    Mnemonic(String),
    /// An SS58 address failed to decode or its checksum/prefix is wrong.
    #[error("invalid SS58 address '{address}': {reason}")]
    Ss58 {
        /// The offending address.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature string is not `0x` + 128 hex digits.
    #[error("invalid signature format: {0}")]
    SignatureFormat(String),
    /// The wallet hotkey file could not be read.
    #[error("cannot read hotkey file {path}: {source}")]
    WalletIo {
        /// The file that was tried.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The wallet hotkey file is not usable (encrypted, malformed, inconsistent).
    #[error("hotkey file {path}: {reason}")]
    WalletFormat {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Secret key bytes were rejected by schnorrkel.
    #[error("invalid secret key: {0}")]
    Secret(String),
}

/// An sr25519 keypair (a Bittensor hotkey). `Debug` shows only the public SS58 address.
#[derive(Clone)]
pub struct Hotkey {
    keypair: Keypair,
    ss58: String,
}

impl fmt::Debug for Hotkey {
    // Never print secret material: only the public address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotkey")
            .field("ss58", &self.ss58)
            .finish_non_exhaustive()
    }
}

impl Hotkey {
    /// Derive the hotkey from an English BIP39 mnemonic (12–24 words), as `Keypair.create_from_mnemonic` does.
    ///
    /// # Errors
    /// [`KeyError::Mnemonic`] when the phrase is not valid BIP39 English.
    pub fn from_mnemonic(phrase: &str) -> Result<Self, KeyError> {
        let normalized = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
        let mnemonic = Mnemonic::parse_in(Language::English, &normalized)
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        let entropy = mnemonic.to_entropy();
        let mini = substrate_bip39::mini_secret_from_entropy(&entropy, "")
            .map_err(|e| KeyError::Mnemonic(format!("{e:?}")))?;
        Ok(Self::from_keypair(
            mini.expand_to_keypair(ExpansionMode::Ed25519),
        ))
    }

    /// Build the hotkey from a 32-byte mini secret (the SDK's `secretSeed`).
    ///
    /// # Errors
    /// [`KeyError::Secret`] when the bytes are not 32 long.
    pub fn from_seed(seed: &[u8]) -> Result<Self, KeyError> {
        let mini = MiniSecretKey::from_bytes(seed).map_err(|e| KeyError::Secret(e.to_string()))?;
        Ok(Self::from_keypair(
            mini.expand_to_keypair(ExpansionMode::Ed25519),
        ))
    }

    /// Generate a fresh random hotkey (for tests, devnets and throwaway miners). Returns the key and its mnemonic.
    ///
    /// # Errors
    /// [`KeyError::Secret`] if the OS random source fails.
    pub fn generate() -> Result<(Self, String), KeyError> {
        let mut entropy = [0u8; 16];
        getrandom::fill(&mut entropy)
            .map_err(|e| KeyError::Secret(format!("OS randomness: {e}")))?;
        let mnemonic = Mnemonic::from_entropy_in(Language::English, &entropy)
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        let phrase = mnemonic.to_string();
        Ok((Self::from_mnemonic(&phrase)?, phrase))
    }

    /// Load the hotkey of a standard Bittensor wallet: `<wallet_path>/<wallet_name>/hotkeys/<hotkey_name>`.
    ///
    /// `wallet_path` may start with `~` (expanded from `$HOME`). The file must be the SDK's *unencrypted* hotkey JSON
    /// (`secretPhrase`, `secretSeed`, `privateKey`, `publicKey`, `ss58Address`, `accountId`). The secret is taken from
    /// `secretSeed`, else `privateKey`, else `secretPhrase`; when the file also states `publicKey`/`ss58Address`, the
    /// derived key must match them.
    ///
    /// # Errors
    /// [`KeyError::WalletIo`] when the file cannot be read; [`KeyError::WalletFormat`] when it is encrypted, not
    /// JSON, lacks a secret, or its secret does not match its stated public key.
    pub fn from_wallet(
        wallet_path: &str,
        wallet_name: &str,
        hotkey_name: &str,
    ) -> Result<Self, KeyError> {
        let path = expand_tilde(wallet_path)
            .join(wallet_name)
            .join("hotkeys")
            .join(hotkey_name);
        let data = std::fs::read(&path).map_err(|source| KeyError::WalletIo {
            path: path.clone(),
            source,
        })?;
        Self::from_wallet_json(&data, &path)
    }

    /// Parse the contents of an SDK hotkey file (see [`Hotkey::from_wallet`]); `path` is only used in errors.
    ///
    /// # Errors
    /// [`KeyError::WalletFormat`] as for [`Hotkey::from_wallet`].
    pub fn from_wallet_json(data: &[u8], path: &Path) -> Result<Self, KeyError> {
        let bad = |reason: String| KeyError::WalletFormat {
            path: path.to_path_buf(),
            reason,
        };
        let trimmed = String::from_utf8_lossy(data);
        let trimmed = trimmed.trim_start();
        // Encrypted keyfiles start with one of these markers (NaCl, bittensor-wallet, legacy ansible vault).
        for marker in ["$NACL", "$BTWALLET", "$ANSIBLE_VAULT"] {
            if trimmed.starts_with(marker) {
                return Err(bad(format!(
                    "the hotkey is encrypted ({marker}); btvep needs the SDK's default unencrypted hotkey file \
                     (or configure the hotkey mnemonic instead)"
                )));
            }
        }
        let json: serde_json::Value = serde_json::from_slice(data)
            .map_err(|e| bad(format!("not a hotkey JSON file: {e}")))?;
        let field = |name: &str| {
            json.get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let key = if let Some(seed) = field("secretSeed") {
            let bytes = decode_hex(seed).map_err(|e| bad(format!("secretSeed: {e}")))?;
            Self::from_seed(&bytes).map_err(|e| bad(format!("secretSeed: {e}")))?
        } else if let Some(private) = field("privateKey") {
            let bytes = decode_hex(private).map_err(|e| bad(format!("privateKey: {e}")))?;
            Self::from_private_key(&bytes, field("publicKey"))
                .map_err(|e| bad(format!("privateKey: {e}")))?
        } else if let Some(phrase) = field("secretPhrase") {
            Self::from_mnemonic(phrase).map_err(|e| bad(format!("secretPhrase: {e}")))?
        } else {
            return Err(bad(
                "no secretSeed, privateKey or secretPhrase (is this a public-key-only file?)"
                    .into(),
            ));
        };
        if let Some(public) = field("publicKey") {
            let stated = decode_hex(public).map_err(|e| bad(format!("publicKey: {e}")))?;
            if stated != key.public_bytes() {
                return Err(bad("the secret does not match publicKey".into()));
            }
        }
        if let Some(address) = field("ss58Address") {
            if address != key.ss58() {
                return Err(bad(format!(
                    "the secret gives {} but ss58Address says {address}",
                    key.ss58()
                )));
            }
        }
        Ok(key)
    }

    /// A 64-byte schnorrkel secret key. The SDK stores `SecretKey::to_bytes()`; older tools stored the ed25519-style
    /// byte form. Both are tried and the one matching `public_hex` (when given) wins.
    fn from_private_key(bytes: &[u8], public_hex: Option<&str>) -> Result<Self, KeyError> {
        let stated = public_hex.and_then(|p| decode_hex(p).ok());
        let candidates = [
            SecretKey::from_bytes(bytes).ok(),
            SecretKey::from_ed25519_bytes(bytes).ok(),
        ];
        let mut first = None;
        for secret in candidates.into_iter().flatten() {
            let key = Self::from_keypair(secret.to_keypair());
            match &stated {
                Some(p) if *p == key.public_bytes() => return Ok(key),
                Some(_) => {}
                None => return Ok(key),
            }
            first.get_or_insert(key);
        }
        match first {
            Some(_) => Err(KeyError::Secret("does not match publicKey".into())),
            None => Err(KeyError::Secret(
                "expected 64 bytes of sr25519 secret key".into(),
            )),
        }
    }

    fn from_keypair(keypair: Keypair) -> Self {
        let ss58 = ss58_encode(&keypair.public.to_bytes());
        Self { keypair, ss58 }
    }

    /// The SS58 (format 42) address of the public key.
    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    /// The 32-byte public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.keypair.public.to_bytes()
    }

    /// Sign the UTF-8 bytes of `message`; returns `0x` + 128 lowercase hex digits (the wire form).
    pub fn sign(&self, message: &str) -> String {
        let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
        let sig = self.keypair.sign(ctx.bytes(message.as_bytes()));
        format!("0x{}", hex::encode(sig.to_bytes()))
    }
}

/// Expand a leading `~` to `$HOME` (the SDK's default wallet path is `~/.bittensor/wallets`).
fn expand_tilde(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix('~') {
        if rest.is_empty() || rest.starts_with('/') {
            if let Some(home) = std::env::var_os("HOME") {
                return PathBuf::from(home).join(rest.trim_start_matches('/'));
            }
        }
    }
    PathBuf::from(path)
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("bad hex: {e}"))
}

/// SS58-encode a 32-byte public key with format 42.
pub fn ss58_encode(public: &[u8; 32]) -> String {
    let mut data = Vec::with_capacity(35);
    data.push(SS58_FORMAT);
    data.extend_from_slice(public);
    let checksum = ss58_checksum(&data);
    data.extend_from_slice(&checksum[..2]);
    bs58::encode(data).into_string()
}

fn ss58_checksum(data: &[u8]) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(data);
    hasher.finalize().into()
}

/// Decode an SS58 format-42 address to its 32-byte public key, checking prefix and checksum.
///
/// # Errors
/// [`KeyError::Ss58`] when the text is not base58, has the wrong length/prefix, or a bad checksum.
pub fn ss58_decode(address: &str) -> Result<[u8; 32], KeyError> {
    let err = |reason: &str| KeyError::Ss58 {
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let bytes = bs58::decode(address)
        .into_vec()
        .map_err(|_| err("not base58"))?;
    if bytes.len() != 35 {
        return Err(err(
            "wrong length (expected a 32-byte account with a 1-byte prefix)",
        ));
    }
    if bytes[0] != SS58_FORMAT {
        return Err(err("not SS58 format 42"));
    }
    let checksum = ss58_checksum(&bytes[..33]);
    if checksum[..2] != bytes[33..35] {
        return Err(err("bad checksum"));
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&bytes[1..33]);
    Ok(public)
}

/// Decode an SS58 address of **any** prefix (one-byte 0–63 or two-byte 64–16383) to its 32-byte public key,
/// checking the checksum. The SDK's `http_auth` and substrate-interface accept any format; btvep's own keys use 42.
///
/// # Errors
/// [`KeyError::Ss58`] when the text is not base58, has the wrong length, or a bad checksum.
pub fn ss58_decode_any_prefix(address: &str) -> Result<[u8; 32], KeyError> {
    let err = |reason: &str| KeyError::Ss58 {
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let bytes = bs58::decode(address)
        .into_vec()
        .map_err(|_| err("not base58"))?;
    let prefix_len = match bytes.first() {
        Some(b) if *b < 64 => 1,
        Some(b) if *b < 128 => 2,
        _ => return Err(err("bad SS58 prefix")),
    };
    if bytes.len() != prefix_len + 32 + 2 {
        return Err(err("wrong length (expected a 32-byte account)"));
    }
    let body = prefix_len + 32;
    let checksum = ss58_checksum(&bytes[..body]);
    if checksum[..2] != bytes[body..] {
        return Err(err("bad checksum"));
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&bytes[prefix_len..body]);
    Ok(public)
}

/// Verify a raw 64-byte sr25519 signature by `public` over `message` (context `substrate`), also accepting one over
/// `<Bytes>` ‖ message ‖ `</Bytes>` like `bittensor_wallet`. Bytes that are not a schnorrkel signature (64 zero
/// bytes, say) or a public key that is not a Ristretto point simply do not verify.
pub fn verify_sr25519(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let (Ok(public), Ok(signature)) = (
        PublicKey::from_bytes(public),
        Signature::from_bytes(signature),
    ) else {
        return false;
    };
    let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
    if public.verify(ctx.bytes(message), &signature).is_ok() {
        return true;
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    public.verify(ctx.bytes(&wrapped), &signature).is_ok()
}

/// Parse a wire signature: `0x` is mandatory, like `bittensor_wallet` (which rejects it otherwise).
///
/// # Errors
/// [`KeyError::SignatureFormat`] with the SDK's text when the prefix, hex or length is wrong.
pub fn parse_signature(sig: &str) -> Result<Signature, KeyError> {
    let expected =
        || KeyError::SignatureFormat("Invalid signature format. Expected hex string.".into());
    let hex_part = sig.strip_prefix("0x").ok_or_else(expected)?;
    let bytes = hex::decode(hex_part).map_err(|_| expected())?;
    let arr: [u8; 64] = bytes
        .try_into()
        .map_err(|_| KeyError::SignatureFormat("signature must be 64 bytes".into()))?;
    Signature::from_bytes(&arr).map_err(|e| KeyError::SignatureFormat(e.to_string()))
}

/// Verify `sig` (`0x` + hex) by the owner of `ss58` over the UTF-8 bytes of `message`.
///
/// Like `bittensor_wallet.Keypair.verify`, a signature over `<Bytes>` ‖ message ‖ `</Bytes>` is also accepted.
///
/// # Errors
/// [`KeyError::Ss58`] for a bad address and [`KeyError::SignatureFormat`] for a malformed signature; a well-formed
/// signature that does not verify is `Ok(false)`.
pub fn verify(ss58: &str, message: &str, sig: &str) -> Result<bool, KeyError> {
    let public = ss58_decode(ss58)?;
    let public = PublicKey::from_bytes(&public).map_err(|e| KeyError::Ss58 {
        address: ss58.to_string(),
        reason: format!("not an sr25519 public key: {e}"),
    })?;
    let signature = parse_signature(sig)?;
    let ctx = schnorrkel::signing_context(SIGNING_CONTEXT);
    if public
        .verify(ctx.bytes(message.as_bytes()), &signature)
        .is_ok()
    {
        return Ok(true);
    }
    let wrapped = format!("<Bytes>{message}</Bytes>");
    Ok(public
        .verify(ctx.bytes(wrapped.as_bytes()), &signature)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let (key, phrase) = Hotkey::generate().unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains(key.ss58()));
        assert!(phrase
            .split(' ')
            .all(|word| !dbg.contains(&format!(" {word} "))));
        assert!(!dbg.contains(&hex::encode(&key.keypair.secret.to_bytes()[..8])));
    }

    #[test]
    fn sign_verify_roundtrip_and_bytes_fallback() {
        let (key, _) = Hotkey::generate().unwrap();
        let sig = key.sign("abc");
        assert!(sig.starts_with("0x") && sig.len() == 130);
        assert!(verify(key.ss58(), "abc", &sig).unwrap());
        assert!(!verify(key.ss58(), "abd", &sig).unwrap());
        let wrapped = key.sign("<Bytes>xyz</Bytes>");
        assert!(verify(key.ss58(), "xyz", &wrapped).unwrap());
        assert!(
            verify(key.ss58(), "abc", &sig[2..]).is_err(),
            "0x is mandatory"
        );
    }

    #[test]
    fn ss58_rejects_bad_checksum() {
        let good = "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4";
        assert!(ss58_decode(good).is_ok());
        assert!(ss58_decode("5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY5").is_err());
        assert!(ss58_decode("0OIl").is_err());
        assert!(ss58_decode("").is_err());
    }

    #[test]
    fn wallet_file_forms() {
        let phrase = "pact photo material cake neck asset home broken decade jealous piece pistol";
        let dir = tempfile::tempdir().unwrap();
        let hk = dir.path().join("w").join("hotkeys");
        std::fs::create_dir_all(&hk).unwrap();
        let root = dir.path().to_str().unwrap();
        let write = |v: &str| std::fs::write(hk.join("h"), v).unwrap();
        let addr = "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4";

        write(&format!(
            r#"{{"secretSeed":"0xa67ff3cf83e0dd2e760fac1cdc51dbe37c6222b49399aa4a862e7d6754ae9871","ss58Address":"{addr}","publicKey":"0x3ce9da2d0ceda530ee0a3608f71f33ad2bf8b06b27933898fdccf7201131630c"}}"#
        ));
        assert_eq!(Hotkey::from_wallet(root, "w", "h").unwrap().ss58(), addr);

        write(&format!(
            r#"{{"secretPhrase":"{phrase}","secretSeed":null}}"#
        ));
        assert_eq!(Hotkey::from_wallet(root, "w", "h").unwrap().ss58(), addr);

        let private = hex::encode(
            Hotkey::from_mnemonic(phrase)
                .unwrap()
                .keypair
                .secret
                .to_bytes(),
        );
        write(&format!(
            r#"{{"privateKey":"0x{private}","ss58Address":"{addr}"}}"#
        ));
        assert_eq!(Hotkey::from_wallet(root, "w", "h").unwrap().ss58(), addr);

        write("$NACLgarbage");
        let e = Hotkey::from_wallet(root, "w", "h").unwrap_err().to_string();
        assert!(e.contains("encrypted"), "{e}");
        write("{not json");
        assert!(Hotkey::from_wallet(root, "w", "h").is_err());
        write(r#"{"ss58Address":"x"}"#);
        assert!(Hotkey::from_wallet(root, "w", "h")
            .unwrap_err()
            .to_string()
            .contains("no secretSeed"));
        write(&format!(
            r#"{{"secretPhrase":"{phrase}","ss58Address":"5ELTaxoucN2THxQwJzpXaKBx9daaciprmB6VRb4MQqE7iCcS"}}"#
        ));
        assert!(Hotkey::from_wallet(root, "w", "h").is_err());
        assert!(matches!(
            Hotkey::from_wallet(root, "w", "missing"),
            Err(KeyError::WalletIo { .. })
        ));
    }
}
