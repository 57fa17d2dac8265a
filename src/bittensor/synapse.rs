//! The 2023 `Prompting` synapse on the wire (spec §2–§3.1): building the signed dendrite request and reading
//! the axon's answer the way the SDK's dendrite does (§2.7–2.8).

use serde::Serialize;

use super::body_hash::prompting_body_hash;
use super::keys::Hotkey;

/// Synapse class name; also the URL path (`/Prompting`).
pub const PROMPTING: &str = "Prompting";
/// Dendrite version sent in `bt_header_dendrite_version`: 10.5.0 (≥ 7002000 selects `time_ns` nonce rules).
pub const DENDRITE_VERSION: u64 = 10_005_000;
/// `base64(json.dumps([]))`: the `bt_header_input_obj_*` value for list-typed required fields.
pub const INPUT_OBJ_EMPTY_LIST: &str = "W10=";

/// Everything that goes into one signed `Prompting` request.
#[derive(Debug, Clone)]
pub struct PromptingRequest<'a> {
    /// Chat roles (`system`, `user`, `assistant`), paired with `messages`.
    pub roles: &'a [String],
    /// Chat message texts.
    pub messages: &'a [String],
    /// `computed_body_hash` of `messages` ([`prompting_body_hash`]); computed once per prompt by the caller.
    pub body_hash: &'a str,
    /// Timeout in seconds, sent as the `timeout` header (the axon widens its nonce window by it).
    pub timeout_secs: f64,
    /// The dendrite IP we claim (informational; the axon uses the TCP peer address).
    pub dendrite_ip: &'a str,
    /// The dendrite UUID (part of the signed message and of the axon's nonce key).
    pub uuid: &'a str,
    /// Strictly increasing nonce (Unix ns).
    pub nonce: u64,
    /// Target axon IP (text).
    pub axon_ip: &'a str,
    /// Target axon port.
    pub axon_port: u16,
    /// Target axon hotkey SS58: the signature is only valid for this axon.
    pub axon_hotkey: &'a str,
}

/// A ready-to-send HTTP request: `POST {path}` with these headers and body.
#[derive(Debug, Clone)]
pub struct SynapseRequest {
    /// URL path, e.g. `/Prompting`.
    pub path: String,
    /// Headers in SDK order (lowercase names), including `Content-Type`.
    pub headers: Vec<(String, String)>,
    /// JSON body bytes.
    pub body: Vec<u8>,
    /// The exact message that was signed (useful for logs and tests; contains no secret).
    pub signed_message: String,
}

/// The message a dendrite signs and the axon rebuilds: `{nonce}.{dendrite}.{axon}.{uuid}.{body_hash}`.
pub fn signed_message(
    nonce: u64,
    dendrite_hotkey: &str,
    axon_hotkey: &str,
    uuid: &str,
    body_hash: &str,
) -> String {
    format!("{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}")
}

/// Python `str(float)` for the values we send (`12.0`, `0.5`, `1e-05` style is not needed for timeouts).
pub fn py_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[derive(Serialize)]
struct TerminalInfoJson<'a> {
    status_code: Option<u16>,
    status_message: Option<&'a str>,
    process_time: Option<f64>,
    ip: Option<&'a str>,
    port: Option<u16>,
    version: Option<u64>,
    nonce: Option<u64>,
    uuid: Option<&'a str>,
    hotkey: Option<&'a str>,
    signature: Option<&'a str>,
}

#[derive(Serialize)]
struct PromptingBody<'a> {
    name: &'a str,
    timeout: f64,
    total_size: u64,
    header_size: u64,
    dendrite: TerminalInfoJson<'a>,
    axon: TerminalInfoJson<'a>,
    computed_body_hash: &'a str,
    required_hash_fields: [&'a str; 1],
    roles: &'a [String],
    messages: &'a [String],
    completion: &'a str,
}

impl PromptingRequest<'_> {
    /// Sign and build the request exactly as the 10.5.0 SDK dendrite does (header set of §2.2, body of §2.3).
    pub fn build(&self, dendrite: &Hotkey) -> SynapseRequest {
        let message = signed_message(
            self.nonce,
            dendrite.ss58(),
            self.axon_hotkey,
            self.uuid,
            self.body_hash,
        );
        let signature = dendrite.sign(&message);
        let body = PromptingBody {
            name: PROMPTING,
            timeout: self.timeout_secs,
            total_size: 0,
            header_size: 0,
            dendrite: TerminalInfoJson {
                status_code: None,
                status_message: None,
                process_time: None,
                ip: Some(self.dendrite_ip),
                port: None,
                version: Some(DENDRITE_VERSION),
                nonce: Some(self.nonce),
                uuid: Some(self.uuid),
                hotkey: Some(dendrite.ss58()),
                signature: Some(&signature),
            },
            axon: TerminalInfoJson {
                status_code: None,
                status_message: None,
                process_time: None,
                ip: Some(self.axon_ip),
                port: Some(self.axon_port),
                version: None,
                nonce: None,
                uuid: None,
                hotkey: Some(self.axon_hotkey),
                signature: None,
            },
            // Like the SDK: the hash travels only in the header; the body field stays empty.
            computed_body_hash: "",
            required_hash_fields: ["messages"],
            roles: self.roles,
            messages: self.messages,
            completion: "",
        };
        // Serialising plain strings/numbers cannot fail; fall back to an empty object rather than panic.
        let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let h = |k: &str, v: String| (k.to_string(), v);
        let headers = vec![
            h("name", PROMPTING.to_string()),
            h("timeout", py_float(self.timeout_secs)),
            h("bt_header_axon_ip", self.axon_ip.to_string()),
            h("bt_header_axon_port", self.axon_port.to_string()),
            h("bt_header_axon_hotkey", self.axon_hotkey.to_string()),
            h("bt_header_dendrite_ip", self.dendrite_ip.to_string()),
            h("bt_header_dendrite_version", DENDRITE_VERSION.to_string()),
            h("bt_header_dendrite_nonce", self.nonce.to_string()),
            h("bt_header_dendrite_uuid", self.uuid.to_string()),
            h("bt_header_dendrite_hotkey", dendrite.ss58().to_string()),
            h("bt_header_dendrite_signature", signature),
            h(
                "bt_header_input_obj_roles",
                INPUT_OBJ_EMPTY_LIST.to_string(),
            ),
            h(
                "bt_header_input_obj_messages",
                INPUT_OBJ_EMPTY_LIST.to_string(),
            ),
            // header_size/total_size are CPython object sizes, never checked; 0 like the body.
            h("header_size", "0".to_string()),
            h("total_size", "0".to_string()),
            h("computed_body_hash", self.body_hash.to_string()),
            h("content-type", "application/json".to_string()),
        ];
        SynapseRequest {
            path: format!("/{PROMPTING}"),
            headers,
            body,
            signed_message: message,
        }
    }
}

/// Convenience: the body hash for a prompt (same for every miner, so compute it once).
pub fn body_hash_for(messages: &[String]) -> String {
    prompting_body_hash(messages)
}

/// What the SDK dendrite ends up with after an HTTP exchange (`synapse.dendrite.status_*` and `completion`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedResponse {
    /// `dendrite.status_code`; `None` when the miner stated no status anywhere (the SDK treats that as failure).
    pub status_code: Option<u16>,
    /// `dendrite.status_message`.
    pub status_message: Option<String>,
    /// The miner's completion (`""` when absent or on errors).
    pub completion: String,
    /// `bt_header_axon_process_time` / `axon.process_time` if the miner reported it.
    pub axon_process_time: Option<f64>,
}

/// Why a response could not be read; the dendrite reports it as 422 `Failed to parse response: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to parse response: {0}")]
pub struct ResponseParseError(pub String);

fn is_json_content_type(ct: &str) -> bool {
    // aiohttp's `response.json()` accepts `application/json` and `application/<x>+json`.
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Interpret an axon's HTTP answer like the 10.5.0 SDK dendrite (`process_server_response`, spec §2.8).
///
/// * The body must be JSON (`Content-Type: application/json`).
/// * HTTP 200: the body must validate as `Prompting` (`roles` and `messages` lists of strings, `completion` a
///   string if present); `completion` and the body's `axon.status_*` are taken over.
/// * Other HTTP status: status = HTTP status, message = body `message`.
/// * Then every `bt_header_axon_*` header overrides (matched case-sensitively on the lowercase prefix, like the SDK;
///   note that HTTP stacks such as hyper already lowercase names, which makes the live dendrite slightly more lenient).
///
/// # Errors
/// [`ResponseParseError`] for anything the SDK would report as 422.
pub fn parse_prompting_response<'h, I>(
    http_status: u16,
    headers: I,
    body: &[u8],
) -> Result<ParsedResponse, ResponseParseError>
where
    I: IntoIterator<Item = (&'h str, &'h str)>,
{
    let headers: Vec<(&str, &str)> = headers.into_iter().collect();
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| *v);
    if !content_type.is_some_and(is_json_content_type) {
        return Err(ResponseParseError(format!(
            "Attempt to decode JSON with unexpected mimetype: {}",
            content_type.unwrap_or("")
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ResponseParseError(format!("invalid JSON body: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| ResponseParseError("JSON body is not an object".into()))?;
    let mut out = ParsedResponse {
        status_code: None,
        status_message: None,
        completion: String::new(),
        axon_process_time: None,
    };
    if http_status == 200 {
        for field in ["roles", "messages"] {
            let ok = obj
                .get(field)
                .and_then(|v| v.as_array())
                .is_some_and(|a| a.iter().all(|x| x.is_string()));
            if !ok {
                return Err(ResponseParseError(format!(
                    "1 validation error for Prompting: {field} missing or not a list of strings"
                )));
            }
        }
        match obj.get("completion") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => out.completion = s.clone(),
            Some(_) => {
                return Err(ResponseParseError(
                    "1 validation error for Prompting: completion is not a string".into(),
                ))
            }
        }
        if let Some(axon) = obj.get("axon").and_then(|a| a.as_object()) {
            out.status_code = match axon.get("status_code") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(json_status(v)?),
            };
            out.status_message = axon
                .get("status_message")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            out.axon_process_time = axon.get("process_time").and_then(json_f64);
        }
    } else {
        out.status_code = Some(http_status);
        out.status_message = obj
            .get("message")
            .and_then(|v| v.as_str())
            .map(str::to_string);
    }
    for (name, value) in headers {
        match name {
            "bt_header_axon_status_code" => {
                out.status_code = Some(value.trim().parse().map_err(|_| {
                    ResponseParseError(format!(
                        "bt_header_axon_status_code is not an integer: {value:?}"
                    ))
                })?);
            }
            "bt_header_axon_status_message" => out.status_message = Some(value.to_string()),
            "bt_header_axon_process_time" => out.axon_process_time = value.trim().parse().ok(),
            _ => {}
        }
    }
    Ok(out)
}

fn json_status(v: &serde_json::Value) -> Result<u16, ResponseParseError> {
    // pydantic casts numeric strings ("503") to int.
    let n = match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| ResponseParseError(format!("axon.status_code is not an integer: {v}")))
}

fn json_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_float_matches_python() {
        assert_eq!(py_float(12.0), "12.0");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(2.25), "2.25");
    }

    #[test]
    fn non_json_is_422() {
        let e = parse_prompting_response(200, [("content-type", "text/plain")], b"hi").unwrap_err();
        assert!(e.to_string().starts_with("Failed to parse response"));
        assert!(parse_prompting_response(
            200,
            [("content-type", "application/json")],
            b"{\"completion\":\"x\"}"
        )
        .is_err());
        assert!(
            parse_prompting_response(500, [("content-type", "application/json")], b"").is_err()
        );
    }

    #[test]
    fn status_precedence() {
        let ct = ("content-type", "application/json");
        let body = br#"{"roles":[],"messages":[],"completion":"c","axon":{"status_code":200,"status_message":"Success"}}"#;
        let r = parse_prompting_response(200, [ct], body).unwrap();
        assert_eq!((r.status_code, r.completion.as_str()), (Some(200), "c"));
        let r =
            parse_prompting_response(200, [ct], br#"{"roles":[],"messages":[],"completion":"c"}"#)
                .unwrap();
        assert_eq!(r.status_code, None);
        // Mixed-case headers are ignored, like the SDK.
        let r = parse_prompting_response(
            200,
            [ct, ("Bt_Header_Axon_Status_Code", "200")],
            br#"{"roles":[],"messages":[]}"#,
        )
        .unwrap();
        assert_eq!(r.status_code, None);
        let r = parse_prompting_response(403, [ct], br#"{"message":"m"}"#).unwrap();
        assert_eq!(
            (r.status_code, r.status_message.as_deref()),
            (Some(403), Some("m"))
        );
    }
}
