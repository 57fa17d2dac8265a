//! The metagraph: who the miners of a subnet are, where their axons listen and what they earn (spec §4).
//!
//! Two sources: a JSON file (private/local subnets) and a subtensor node over WebSocket JSON-RPC
//! (`state_call` of `NeuronInfoRuntimeApi_get_neurons_lite`, SCALE-decoded).
//!
//! The JSON-RPC client is a few lines over `tokio-tungstenite` on purpose: btvep makes one call, and a
//! full Substrate client (subxt and its metadata machinery) would cost far more build time and binary
//! size than it gives. SCALE types are decoded by `parity-scale-codec`'s derive.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parity_scale_codec::{Compact, Decode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::keys::ss58_encode;

/// Mainnet ("finney") public entrypoint.
pub const FINNEY_URL: &str = "wss://entrypoint-finney.opentensor.ai:443";
/// Testnet public entrypoint.
pub const TEST_URL: &str = "wss://test.finney.opentensor.ai:443";
/// A local subtensor node's default endpoint.
pub const LOCAL_URL: &str = "ws://127.0.0.1:9944";
/// Rao per TAO (balances are integers in 1e-9 units).
pub const RAO_PER_TAO: f64 = 1e9;

/// Why a metagraph could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MetagraphError {
    /// The metagraph file could not be read.
    #[error("cannot read metagraph file {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// I/O error.
        source: std::io::Error,
    },
    /// The metagraph JSON is invalid; `field` names the offending value (e.g. `neurons[2].port`).
    #[error("invalid metagraph file: {field}: {reason}")]
    Field {
        /// JSON path of the bad field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// `subtensor_network` is neither a known name nor a ws:// / wss:// URL.
    #[error(
        "unknown subtensor network '{0}' (expected finney, test, local, or a ws:// or wss:// URL)"
    )]
    Network(String),
    /// WebSocket / JSON-RPC transport failure.
    #[error("subtensor RPC {url}: {reason}")]
    Rpc {
        /// Endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The node answered with bytes that are not a valid `Vec<NeuronInfoLite>`.
    #[error("cannot decode neurons_lite: {0}")]
    Scale(String),
}

/// One neuron (uid) of a subnet, normalised like the SDK (`NeuronInfoLite`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neuron {
    /// Position in the subnet.
    pub uid: u16,
    /// Subnet id.
    pub netuid: u16,
    /// Hotkey SS58 (the axon signs/verifies with it).
    pub hotkey: String,
    /// Coldkey SS58 (owner).
    pub coldkey: String,
    /// Whether the neuron is active.
    pub active: bool,
    /// Axon IP text (`0.0.0.0` = not serving).
    pub ip: String,
    /// Axon port (0 = not serving).
    pub port: u16,
    /// Axon IP type (4 or 6; 0 if unknown).
    pub ip_type: u8,
    /// Axon protocol field.
    pub protocol: u8,
    /// Version the axon registered with.
    pub axon_version: u32,
    /// Total stake in TAO (sum of the stake vector / 1e9).
    pub stake: f64,
    /// Rank, u16 / 65535.
    pub rank: f64,
    /// Emission in TAO.
    pub emission: f64,
    /// Incentive, u16 / 65535 (btvep's `top_n` sorts by it).
    pub incentive: f64,
    /// Consensus, u16 / 65535.
    pub consensus: f64,
    /// Trust, u16 / 65535.
    pub trust: f64,
    /// Validator trust, u16 / 65535.
    pub validator_trust: f64,
    /// Dividends, u16 / 65535.
    pub dividends: f64,
    /// Block of the last weight update.
    pub last_update: u64,
    /// Whether the neuron holds a validator permit.
    pub validator_permit: bool,
    /// Pruning score (raw u16).
    pub pruning_score: u16,
}

impl Neuron {
    /// Whether the neuron advertises an axon a dendrite can call (non-zero IP and port).
    pub fn is_serving(&self) -> bool {
        self.port != 0 && self.ip != "0.0.0.0" && self.ip != "::" && !self.ip.is_empty()
    }

    /// `ip:port` for URLs (IPv6 in brackets).
    pub fn socket_addr_text(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }

    /// A serving neuron with only the fields the file format requires (the rest zero/default).
    pub fn new(uid: u16, hotkey: impl Into<String>, ip: impl Into<String>, port: u16) -> Self {
        let ip = ip.into();
        let ip_type = if ip.contains(':') { 6 } else { 4 };
        Self {
            uid,
            netuid: 0,
            hotkey: hotkey.into(),
            coldkey: String::new(),
            active: true,
            ip,
            port,
            ip_type,
            protocol: 4,
            axon_version: 0,
            stake: 0.0,
            rank: 0.0,
            emission: 0.0,
            incentive: 0.0,
            consensus: 0.0,
            trust: 0.0,
            validator_trust: 0.0,
            dividends: 0.0,
            last_update: 0,
            validator_permit: false,
            pruning_score: 0,
        }
    }
}

/// The metagraph file, read and written through this one type: `{"netuid": 1, "neurons": [{"uid",
/// "hotkey", "ip", "port", optional "incentive", "stake", "validator_permit", "coldkey", "active"}]}`.
#[derive(Debug, Serialize, Deserialize)]
struct MetagraphFile {
    #[serde(default)]
    netuid: u16,
    neurons: Vec<NeuronEntry>,
}

/// One neuron of the metagraph file; optional fields may also be `null`.
#[derive(Debug, Serialize, Deserialize)]
struct NeuronEntry {
    uid: u16,
    hotkey: String,
    ip: String,
    port: u16,
    #[serde(default)]
    incentive: Option<f64>,
    #[serde(default)]
    stake: Option<f64>,
    #[serde(default)]
    validator_permit: Option<bool>,
    #[serde(default)]
    coldkey: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

/// A snapshot of one subnet's neurons, sorted by uid.
#[derive(Debug, Clone, PartialEq)]
pub struct Metagraph {
    /// Subnet id.
    pub netuid: u16,
    /// Neurons in uid order.
    pub neurons: Vec<Neuron>,
    /// Chain block of the snapshot, when known (RPC source).
    pub block: Option<u64>,
    /// When the snapshot was taken.
    pub fetched_at: chrono::DateTime<chrono::Utc>,
}

/// Resolve `subtensor_network` (`finney`, `test`, `local`, or a `ws://`/`wss://` URL) to a WebSocket URL.
///
/// # Errors
/// [`MetagraphError::Network`] for anything else.
pub fn resolve_network(network: &str) -> Result<String, MetagraphError> {
    let n = network.trim();
    match n {
        "finney" => Ok(FINNEY_URL.to_string()),
        "test" => Ok(TEST_URL.to_string()),
        "local" => Ok(LOCAL_URL.to_string()),
        _ if n.starts_with("ws://") || n.starts_with("wss://") => Ok(n.to_string()),
        _ => Err(MetagraphError::Network(network.to_string())),
    }
}

/// Where the metagraph comes from (config: `metagraph_file`, or `subtensor_network` + `netuid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetagraphSource {
    /// A JSON file in the format of [`Metagraph::from_json_str`].
    File(std::path::PathBuf),
    /// A subtensor node: `finney`, `test`, `local`, or a `ws://`/`wss://` URL.
    Subtensor {
        /// Network name or URL.
        network: String,
        /// Subnet id.
        netuid: u16,
    },
}

impl MetagraphSource {
    /// Load a fresh snapshot (file read, or one RPC round trip bounded by `timeout`).
    ///
    /// # Errors
    /// As [`Metagraph::from_file`] / [`Metagraph::fetch`].
    pub async fn load(&self, timeout: Duration) -> Result<Metagraph, MetagraphError> {
        match self {
            MetagraphSource::File(path) => Metagraph::from_file(path),
            MetagraphSource::Subtensor { network, netuid } => {
                Metagraph::fetch(network, *netuid, timeout).await
            }
        }
    }
}

impl Metagraph {
    /// Neuron by uid.
    pub fn get(&self, uid: u16) -> Option<&Neuron> {
        self.neurons.iter().find(|n| n.uid == uid)
    }

    /// Load a metagraph file (see [`Metagraph::from_json_str`]).
    ///
    /// # Errors
    /// [`MetagraphError::Io`] or [`MetagraphError::Field`].
    pub fn from_file(path: &Path) -> Result<Self, MetagraphError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetagraphError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json_str(&text)
    }

    /// Parse the file format `{"netuid": 1, "neurons": [{"uid", "hotkey", "ip", "port", optional "incentive",
    /// "stake", "validator_permit", "coldkey", "active", …}]}`. Hotkeys must be valid SS58; uids unique.
    ///
    /// # Errors
    /// [`MetagraphError::Field`] naming the bad field, e.g. `neurons[2].port: expected an integer 0..=65535`.
    pub fn from_json_str(text: &str) -> Result<Self, MetagraphError> {
        let bad = |field: String, reason: &str| MetagraphError::Field {
            field,
            reason: reason.to_string(),
        };
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: MetagraphFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "(document)".to_string()
            } else {
                path
            };
            bad(field, &e.inner().to_string())
        })?;
        let netuid = file.netuid;
        let mut neurons: Vec<Neuron> = Vec::with_capacity(file.neurons.len());
        for (i, entry) in file.neurons.into_iter().enumerate() {
            let f = |name: &str| format!("neurons[{i}].{name}");
            super::keys::ss58_decode(&entry.hotkey)
                .map_err(|e| bad(f("hotkey"), &e.to_string()))?;
            let ip_type = if entry.ip.parse::<Ipv4Addr>().is_ok() {
                4
            } else if entry.ip.parse::<Ipv6Addr>().is_ok() {
                6
            } else {
                return Err(bad(f("ip"), "expected an IPv4 or IPv6 address"));
            };
            let coldkey = entry.coldkey.unwrap_or_default();
            if !coldkey.is_empty() {
                super::keys::ss58_decode(&coldkey)
                    .map_err(|e| bad(f("coldkey"), &e.to_string()))?;
            }
            let incentive = entry.incentive.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&incentive) {
                return Err(bad(f("incentive"), "expected a number from 0 to 1"));
            }
            let stake = entry.stake.unwrap_or(0.0);
            if !stake.is_finite() || stake < 0.0 {
                return Err(bad(f("stake"), "must be a non-negative number"));
            }
            if neurons.iter().any(|n| n.uid == entry.uid) {
                return Err(bad(f("uid"), &format!("duplicate uid {}", entry.uid)));
            }
            let mut n = Neuron::new(entry.uid, entry.hotkey, entry.ip, entry.port);
            n.netuid = netuid;
            n.ip_type = ip_type;
            n.coldkey = coldkey;
            n.incentive = incentive;
            n.stake = stake;
            n.validator_permit = entry.validator_permit.unwrap_or(false);
            n.active = entry.active.unwrap_or(true);
            neurons.push(n);
        }
        neurons.sort_by_key(|n| n.uid);
        Ok(Self {
            netuid,
            neurons,
            block: None,
            fetched_at: chrono::Utc::now(),
        })
    }

    /// The metagraph in the file format accepted by [`Metagraph::from_json_str`] (pretty-printed JSON).
    pub fn to_file_json(&self) -> String {
        let file = MetagraphFile {
            netuid: self.netuid,
            neurons: self
                .neurons
                .iter()
                .map(|n| NeuronEntry {
                    uid: n.uid,
                    hotkey: n.hotkey.clone(),
                    ip: n.ip.clone(),
                    port: n.port,
                    incentive: Some(n.incentive),
                    stake: Some(n.stake),
                    validator_permit: Some(n.validator_permit),
                    coldkey: Some(n.coldkey.clone()),
                    active: Some(n.active),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Decode a `state_call` result of `NeuronInfoRuntimeApi_get_neurons_lite` (both the 2023 `Vec<u8>`-wrapped and
    /// the current direct `Vec<NeuronInfoLite>` forms).
    ///
    /// # Errors
    /// [`MetagraphError::Scale`] on truncated or malformed bytes.
    pub fn from_neurons_lite_bytes(netuid: u16, bytes: &[u8]) -> Result<Self, MetagraphError> {
        let mut neurons = decode_neurons_lite(bytes)?;
        neurons.sort_by_key(|n| n.uid);
        Ok(Self {
            netuid,
            neurons,
            block: None,
            fetched_at: chrono::Utc::now(),
        })
    }

    /// Fetch the metagraph from a subtensor node (`network` as for [`resolve_network`]) with an overall timeout.
    ///
    /// # Errors
    /// [`MetagraphError::Network`], [`MetagraphError::Rpc`] (connect/TLS/timeout/RPC error) or
    /// [`MetagraphError::Scale`].
    pub async fn fetch(
        network: &str,
        netuid: u16,
        timeout: Duration,
    ) -> Result<Self, MetagraphError> {
        let url = resolve_network(network)?;
        tokio::time::timeout(timeout, fetch_inner(&url, netuid))
            .await
            .map_err(|_| MetagraphError::Rpc {
                url: url.clone(),
                reason: format!("timed out after {timeout:?}"),
            })?
    }
}

async fn fetch_inner(url: &str, netuid: u16) -> Result<Metagraph, MetagraphError> {
    let rpc_err = |reason: String| MetagraphError::Rpc {
        url: url.to_string(),
        reason,
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| rpc_err(format!("connect: {e}")))?;
    let params = format!("0x{}", hex::encode(netuid.to_le_bytes()));
    let header = rpc_call(&mut ws, 1, "chain_getHeader", serde_json::json!([]))
        .await
        .ok();
    let block = header
        .as_ref()
        .and_then(|h| h.get("number"))
        .and_then(Value::as_str)
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
    let result = rpc_call(
        &mut ws,
        2,
        "state_call",
        serde_json::json!(["NeuronInfoRuntimeApi_get_neurons_lite", params]),
    )
    .await
    .map_err(rpc_err)?;
    let _ = ws.close(None).await;
    let hex_text = result
        .as_str()
        .ok_or_else(|| rpc_err("state_call result is not a hex string".into()))?;
    let bytes = hex::decode(hex_text.trim_start_matches("0x"))
        .map_err(|e| rpc_err(format!("result is not hex: {e}")))?;
    let mut mg = Metagraph::from_neurons_lite_bytes(netuid, &bytes)?;
    mg.block = block;
    Ok(mg)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One JSON-RPC 2.0 call; skips unrelated messages (subscriptions) until the answer with our id arrives.
async fn rpc_call(ws: &mut Ws, id: u64, method: &str, params: Value) -> Result<Value, String> {
    let req = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    ws.send(Message::text(req.to_string()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    while let Some(msg) = ws.next().await {
        let msg = msg.map_err(|e| format!("receive: {e}"))?;
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => return Err("connection closed by node".into()),
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if v.get("id").and_then(Value::as_u64) != Some(id) {
            continue;
        }
        if let Some(err) = v.get("error") {
            return Err(format!("{method} failed: {err}"));
        }
        return v
            .get("result")
            .cloned()
            .ok_or_else(|| format!("{method}: answer without result"));
    }
    Err("connection closed before the answer".into())
}

/// `AxonInfo` as the runtime encodes it.
#[derive(Decode)]
struct AxonInfoScale {
    _block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
    protocol: u8,
    _placeholder1: u8,
    _placeholder2: u8,
}

/// `PrometheusInfo` (decoded and dropped: btvep does not use it).
#[derive(Decode)]
struct PrometheusInfoScale {
    _block: u64,
    _version: u32,
    _ip: u128,
    _port: u16,
    _ip_type: u8,
}

/// `NeuronInfoLite` as the runtime encodes it (the field order is the SCALE layout).
#[derive(Decode)]
struct NeuronInfoLiteScale {
    hotkey: [u8; 32],
    coldkey: [u8; 32],
    #[codec(compact)]
    uid: u16,
    #[codec(compact)]
    netuid: u16,
    active: bool,
    axon_info: AxonInfoScale,
    _prometheus_info: PrometheusInfoScale,
    stake: Vec<([u8; 32], Compact<u64>)>,
    #[codec(compact)]
    rank: u16,
    #[codec(compact)]
    emission: u64,
    #[codec(compact)]
    incentive: u16,
    #[codec(compact)]
    consensus: u16,
    #[codec(compact)]
    trust: u16,
    #[codec(compact)]
    validator_trust: u16,
    #[codec(compact)]
    dividends: u16,
    #[codec(compact)]
    last_update: u64,
    validator_permit: bool,
    #[codec(compact)]
    pruning_score: u16,
}

impl From<NeuronInfoLiteScale> for Neuron {
    fn from(n: NeuronInfoLiteScale) -> Self {
        let stake_rao: u128 = n.stake.iter().map(|(_, a)| u128::from(a.0)).sum();
        Neuron {
            uid: n.uid,
            netuid: n.netuid,
            hotkey: ss58_encode(&n.hotkey),
            coldkey: ss58_encode(&n.coldkey),
            active: n.active,
            ip: ip_text(n.axon_info.ip),
            port: n.axon_info.port,
            ip_type: n.axon_info.ip_type,
            protocol: n.axon_info.protocol,
            axon_version: n.axon_info.version,
            stake: stake_rao as f64 / RAO_PER_TAO,
            rank: u16_norm(n.rank),
            emission: n.emission as f64 / RAO_PER_TAO,
            incentive: u16_norm(n.incentive),
            consensus: u16_norm(n.consensus),
            trust: u16_norm(n.trust),
            validator_trust: u16_norm(n.validator_trust),
            dividends: u16_norm(n.dividends),
            last_update: n.last_update,
            validator_permit: n.validator_permit,
            pruning_score: n.pruning_score,
        }
    }
}

fn ip_text(ip: u128) -> String {
    // netaddr.IPAddress(int): < 2^32 ⇒ IPv4, else IPv6 (ip_type is not consulted, like the SDK).
    match u32::try_from(ip) {
        Ok(v4) => Ipv4Addr::from(v4).to_string(),
        Err(_) => Ipv6Addr::from(ip).to_string(),
    }
}

fn u16_norm(v: u16) -> f64 {
    f64::from(v) / 65535.0
}

/// Decode SCALE `Vec<NeuronInfoLite>`, unwrapping a `Vec<u8>` wrapper when its length prefix covers the rest.
fn decode_neurons_lite(bytes: &[u8]) -> Result<Vec<Neuron>, MetagraphError> {
    let mut input = bytes;
    let mut inner = bytes;
    if let Ok(len) = <Compact<u32>>::decode(&mut inner) {
        if len.0 as usize == inner.len() && !inner.is_empty() {
            input = inner;
        }
    }
    // parity-scale-codec bounds its pre-allocation by the input left, so a huge count cannot exhaust memory.
    let neurons = <Vec<NeuronInfoLiteScale>>::decode(&mut input)
        .map_err(|e| MetagraphError::Scale(e.to_string()))?;
    if !input.is_empty() {
        return Err(MetagraphError::Scale(format!(
            "{} trailing bytes after {} neurons",
            input.len(),
            neurons.len()
        )));
    }
    Ok(neurons.into_iter().map(Neuron::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names() {
        assert_eq!(resolve_network("finney").unwrap(), FINNEY_URL);
        assert_eq!(resolve_network("test").unwrap(), TEST_URL);
        assert_eq!(resolve_network("local").unwrap(), LOCAL_URL);
        assert_eq!(
            resolve_network("ws://1.2.3.4:9944").unwrap(),
            "ws://1.2.3.4:9944"
        );
        assert!(resolve_network("http://x").is_err());
    }

    #[test]
    fn file_errors_name_the_field() {
        let hk = "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4";
        let doc = |port: &str| {
            format!(
                r#"{{"netuid":1,"neurons":[{{"uid":0,"hotkey":"{hk}","ip":"127.0.0.1","port":1}},{{"uid":1,"hotkey":"{hk}","ip":"127.0.0.1","port":1}},{{"uid":2,"hotkey":"{hk}","ip":"127.0.0.1","port":{port}}}]}}"#
            )
        };
        let mg = Metagraph::from_json_str(&doc("8091")).unwrap();
        assert_eq!(mg.neurons.len(), 3);
        let e = Metagraph::from_json_str(&doc("70000"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("neurons[2].port"), "{e}");
        let e = Metagraph::from_json_str(&doc("\"x\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("neurons[2].port"), "{e}");
        let e = Metagraph::from_json_str(
            r#"{"neurons":[{"uid":0,"hotkey":"nope","ip":"1.2.3.4","port":1}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("neurons[0].hotkey"), "{e}");
        let e = Metagraph::from_json_str(r#"{"neurons":[{"uid":0,"hotkey":"5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4","port":1}]}"#).unwrap_err();
        assert!(e.to_string().contains("neurons[0]"), "{e}");
        assert!(e.to_string().contains("missing field `ip`"), "{e}");
        assert!(Metagraph::from_json_str("{}")
            .unwrap_err()
            .to_string()
            .contains("neurons"));
        // Round trip through to_file_json.
        let again = Metagraph::from_json_str(&mg.to_file_json()).unwrap();
        assert_eq!(again.neurons, mg.neurons);
    }

    #[test]
    fn truncated_scale_is_an_error() {
        assert!(decode_neurons_lite(&[0x04, 1, 2, 3]).is_err());
        assert!(decode_neurons_lite(&[0xff; 3]).is_err());
        assert_eq!(decode_neurons_lite(&[0x00]).unwrap(), vec![]);
    }
}
