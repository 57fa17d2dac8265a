"""Interop proof for btvep's btauth/1 and Epistula v2 transports against the real Python side (run by
scripts/interop_btauth.sh, which provides the venv with bittensor==11.3.0 and openai).

For each protocol:
  1. a Python client -> `btvep miner --protocol P`: plain and streamed completions succeed; a replayed request, a
     stale nonce/timestamp, a wrong receiver and a tampered body are refused with 401/401/403/401;
  2. a Python miner (http.server) that authenticates every request (btauth: `bittensor.http_auth.verify`;
     Epistula: the reference rules of spec §3.6) and streams an OpenAI answer slowly (one chunk every 100 ms)
     -> `btvep start` with miner_protocol P: /chat, /v1/chat/completions plain, and streamed through the official
     `openai` package, asserting the first chunk reaches the client well before the miner sends the last one.
btauth signs with `bittensor.http_auth.sign`; Epistula signs/verifies per the spec with bittensor's sr25519
keypair. Everything runs on 127.0.0.1. Prints "BTAUTH INTEROP PASS" on success.
"""

import hashlib
import http.server
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import bittensor as bt
try:  # openai >= 3 ships its HTTP client as httpx2
    import httpx2 as httpx
except ImportError:
    import httpx
import openai
from bittensor import http_auth
from bittensor import sp_core
from bittensor_core import Keypair

BTVEP = os.environ["BTVEP"]
VALIDATOR_MNEMONIC = "pact photo material cake neck asset home broken decade jealous piece pistol"
MINER_MNEMONIC = "depend slender expect flag illness lecture rose tray unveil bracket uniform tornado"
OTHER_SS58 = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
CHAT_PATH = "/v1/chat/completions"
CHUNKS = [f"word{i} " for i in range(10)]
CHUNK_DELAY = 0.1

validator = Keypair.from_mnemonic(VALIDATOR_MNEMONIC)
miner = Keypair.from_mnemonic(MINER_MNEMONIC)
PROCS = []


def fail(msg):
    print(f"BTAUTH INTEROP FAIL: {msg}")
    for p in PROCS:
        p.kill()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


# ------------------------------------------------------------------ Epistula per spec §3.6 (reference rules)

def epistula_sign(keypair, body: bytes, signed_for: str, timestamp_ms=None, uid=None):
    ts = round(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    uid = str(uuid.uuid4()) if uid is None else uid
    message = f"{hashlib.sha256(body).hexdigest()}.{uid}.{ts}.{signed_for}"
    headers = {
        "Epistula-Version": "2",
        "Epistula-Timestamp": str(ts),
        "Epistula-Uuid": uid,
        "Epistula-Signed-By": keypair.ss58_address,
        "Epistula-Request-Signature": "0x" + keypair.sign(message.encode()).hex(),
        "Epistula-Signed-For": signed_for,
    }
    interval = math.ceil(ts / 1e4) * 1e4  # a float, as the reference computes it
    for i, v in enumerate([interval - 1, interval, interval + 1]):
        headers[f"Epistula-Secret-Signature-{i}"] = "0x" + keypair.sign(f"{v}.{signed_for}".encode()).hex()
    return headers


def epistula_verify(headers, body: bytes, self_ss58: str):
    """The reference verify_signature plus the receiver check; returns None or the refusal text."""
    h = {k.lower(): v for k, v in headers.items()}
    sig = h.get("epistula-request-signature")
    if not sig:
        return "Invalid Signature"
    ts = int(h["epistula-timestamp"])
    uid, signed_for, signed_by = h.get("epistula-uuid"), h.get("epistula-signed-for"), h.get("epistula-signed-by")
    if not signed_by:
        return "Invalid Sender key"
    if not signed_for:
        return "Invalid receiver key"
    if signed_for != self_ss58:
        return "Bad Request, message is not intended for self"
    if not uid:
        return "Invalid uuid"
    now = round(time.time() * 1000)
    if ts + 8000 < now:
        return "Request is too stale"
    message = f"{hashlib.sha256(body).hexdigest()}.{uid}.{ts}.{signed_for}"
    if not sig.startswith("0x") or not sp_core.verify(message.encode(), bytes.fromhex(sig[2:]), signed_by):
        return "Signature Mismatch"
    # btvep also sends the three secret signatures: check them too.
    interval = math.ceil(ts / 1e4) * 1e4
    for i, v in enumerate([interval - 1, interval, interval + 1]):
        s = h.get(f"epistula-secret-signature-{i}", "")
        if not (s.startswith("0x") and sp_core.verify(f"{v}.{signed_for}".encode(), bytes.fromhex(s[2:]), signed_by)):
            return f"secret signature {i} does not verify"
    return None


def sign_request(protocol, body: bytes, receiver: str, age_s: float = 0.0):
    if protocol == "btauth":
        return http_auth.sign(validator, method="POST", path=CHAT_PATH, body=body, receiver_ss58=receiver,
                              nonce_ns=time.time_ns() - int(age_s * 1e9))
    return epistula_sign(validator, body, receiver, timestamp_ms=round((time.time() - age_s) * 1000))


# ------------------------------------------------------------------ processes

def start(args, env_extra, what):
    env = dict(os.environ)
    env.update(env_extra)
    env.setdefault("RUST_LOG", "warn,btvep=info")
    log = tempfile.NamedTemporaryFile("w+", delete=False, suffix=".log")
    p = subprocess.Popen([BTVEP] + args, stderr=log, stdout=subprocess.DEVNULL, env=env)
    PROCS.append(p)
    for _ in range(300):
        with open(log.name) as f:
            for line in f:
                if line.startswith("listening on "):
                    return p, line.split("listening on ", 1)[1].strip(), log.name
        if p.poll() is not None:
            fail(f"{what} exited: {open(log.name).read()}")
        time.sleep(0.1)
    fail(f"{what} did not start: {open(log.name).read()}")


def write_metagraph(path, neurons):
    with open(path, "w") as f:
        json.dump({"netuid": 1, "neurons": neurons}, f)


# ------------------------------------------------------------------ 1. Python client -> btvep miner

def client_to_btvep_miner(protocol, work):
    mg = os.path.join(work, f"miner-{protocol}-metagraph.json")
    write_metagraph(mg, [
        {"uid": 0, "hotkey": miner.ss58_address, "ip": "127.0.0.1", "port": 1},
        {"uid": 1, "hotkey": validator.ss58_address, "ip": "0.0.0.0", "port": 0, "stake": 5.0,
         "validator_permit": True},
    ])
    p, addr, log = start(
        ["--config", os.path.join(work, f"m-{protocol}.json"), "--data-dir", os.path.join(work, f"m-{protocol}"),
         "miner", "--protocol", protocol, "--builtin", "--axon.ip", "127.0.0.1", "--axon.port", "0",
         "--metagraph-file", mg],
        {"MINER_HOTKEY_MNEMONIC": MINER_MNEMONIC}, f"btvep miner --protocol {protocol}")
    url = f"http://{addr}{CHAT_PATH}"
    client = httpx.Client(timeout=30, trust_env=False)

    def post(headers, body):
        return client.post(url, content=body, headers={**headers, "content-type": "application/json"})

    body = json.dumps({"model": "bittensor", "messages": [{"role": "user", "content": "hello miner"}]}).encode()
    h = sign_request(protocol, body, miner.ss58_address)
    r = post(h, body)
    check(r.status_code == 200, f"{protocol} plain: {r.status_code} {r.text}")
    check("You said: hello miner" in r.json()["choices"][0]["message"]["content"], f"{protocol} plain: {r.text}")
    r = post(h, body)
    check(r.status_code == 401, f"{protocol} replay: {r.status_code} {r.text}")
    check(h.get("X-Bittensor-Signature", h.get("Epistula-Request-Signature"))[2:] not in r.text,
          "a refusal echoed the signature")

    sbody = json.dumps({"model": "bittensor", "stream": True,
                        "messages": [{"role": "user", "content": "stream it"}]}).encode()
    h = sign_request(protocol, sbody, miner.ss58_address)
    with client.stream("POST", url, content=sbody, headers={**h, "content-type": "application/json"}) as r:
        check(r.status_code == 200, f"{protocol} stream: {r.status_code}")
        check(r.headers["content-type"].startswith("text/event-stream"), f"{protocol} stream content type")
        text = ""
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                text += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        check("You said: stream it" in text, f"{protocol} stream text: {text!r}")

    r = post(sign_request(protocol, body, miner.ss58_address, age_s=30), body)
    check(r.status_code == 401, f"{protocol} stale: {r.status_code} {r.text}")
    r = post(sign_request(protocol, body, OTHER_SS58), body)
    check(r.status_code == 403, f"{protocol} wrong receiver: {r.status_code} {r.text}")
    r = post(sign_request(protocol, body, miner.ss58_address), body.replace(b"hello", b"jello"))
    check(r.status_code == 401, f"{protocol} tampered body: {r.status_code} {r.text}")
    r = post({}, body)
    check(r.status_code == 400, f"{protocol} no auth headers: {r.status_code} {r.text}")
    p.terminate()
    p.wait(timeout=20)
    print(f"  {protocol}: Python client -> btvep miner: plain, stream, replay 401, stale 401, "
          f"wrong receiver 403, tampered 401, unsigned 400")


# ------------------------------------------------------------------ 2. btvep start -> Python miner

class MinerState:
    def __init__(self, protocol):
        self.protocol = protocol
        self.verified = 0
        self.refused = []
        self.last_chunk_sent_at = None
        self.first_chunk_sent_at = None
        self.bodies = []
        self.lock = threading.Lock()


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def refuse(self, status, message):
            with state.lock:
                state.refused.append(message)
            data = json.dumps({"error": {"type": "auth", "message": message}}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            if state.protocol == "btauth":
                try:
                    http_auth.verify(headers, body, method="POST", path=self.path,
                                     self_hotkey_ss58=miner.ss58_address)
                except http_auth.AuthError as e:
                    return self.refuse(401, f"{type(e).__name__}: {e}")
            else:
                why = epistula_verify(headers, body, miner.ss58_address)
                if why:
                    return self.refuse(401, why)
            req = json.loads(body)
            with state.lock:
                state.verified += 1
                state.bodies.append(req)
            if req.get("stream"):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for i, c in enumerate(CHUNKS):
                    chunk = {"id": "py", "object": "chat.completion.chunk", "created": 0, "model": "py-miner",
                             "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    now = time.monotonic()
                    if i == 0:
                        state.first_chunk_sent_at = now
                    state.last_chunk_sent_at = now
                    time.sleep(CHUNK_DELAY)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True
            else:
                data = json.dumps({"id": "py", "object": "chat.completion", "created": 0, "model": "py-miner",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": "".join(CHUNKS).strip()}}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

    return Handler


def btvep_gateway_to_python_miner(protocol, work):
    state = MinerState(protocol)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    mg = os.path.join(work, f"gw-{protocol}-metagraph.json")
    write_metagraph(mg, [
        {"uid": 0, "hotkey": miner.ss58_address, "ip": "127.0.0.1", "port": port, "incentive": 1.0},
        {"uid": 1, "hotkey": validator.ss58_address, "ip": "0.0.0.0", "port": 0, "stake": 5.0,
         "validator_permit": True},
    ])
    config = os.path.join(work, f"gw-{protocol}.json")
    data_dir = os.path.join(work, f"gw-{protocol}")
    with open(config, "w") as f:
        json.dump({"hotkey_mnemonic": VALIDATOR_MNEMONIC, "metagraph_file": mg, "miner_protocol": protocol,
                   "default_query_strategy": "uids:0", "subtensor_network": "ws://127.0.0.1:9"}, f)
    env = {"BTVEP_CONFIG": config, "BTVEP_DATA_DIR": data_dir}
    p, addr, log = start(["start", "--host", "127.0.0.1", "--port", "0"], env, "btvep start")
    base = addr if addr.startswith("http") else f"http://{addr}"
    client = httpx.Client(timeout=30, trust_env=False)
    for _ in range(100):
        if client.get(base + "/readyz").status_code == 200:
            break
        time.sleep(0.1)
    key = subprocess.run([BTVEP, "key", "create", "-q"], env={**os.environ, **env}, capture_output=True,
                         text=True, check=True).stdout.strip()
    check(key, "no API key created")
    auth = {"authorization": f"Bearer {key}"}
    expected = "".join(CHUNKS).strip()

    r = client.post(base + "/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=auth)
    check(r.status_code == 200, f"{protocol} /chat: {r.status_code} {r.text}")
    check(r.json()["choices"][0]["message"]["content"] == expected, f"{protocol} /chat: {r.text}")

    r = client.post(base + CHAT_PATH, json={"model": "bittensor", "temperature": 0.3,
                                            "messages": [{"role": "user", "content": "hi"}]}, headers=auth)
    check(r.status_code == 200, f"{protocol} /v1 plain: {r.status_code} {r.text}")
    check(r.json()["choices"][0]["message"]["content"] == expected, f"{protocol} /v1 plain: {r.text}")
    check(state.bodies[-1].get("temperature") == 0.3 and state.bodies[-1].get("model") == "bittensor",
          f"{protocol}: miner body {state.bodies[-1]}")

    oa = openai.OpenAI(base_url=base + "/v1", api_key=key, http_client=httpx.Client(trust_env=False))
    stream = oa.chat.completions.create(model="bittensor", stream=True,
                                        messages=[{"role": "user", "content": "stream please"}])
    first_at = None
    text = ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            if first_at is None:
                first_at = time.monotonic()
            text += chunk.choices[0].delta.content
    check(text.strip() == expected, f"{protocol} stream text {text!r}")
    check(first_at is not None and state.last_chunk_sent_at is not None, f"{protocol}: no timings")
    lead = state.last_chunk_sent_at - first_at
    check(lead > 0.5, f"{protocol}: first chunk reached the client only {lead:.3f}s before the miner sent the last "
                      f"(not streaming?)")
    check(state.verified == 3 and not state.refused,
          f"{protocol}: miner verified {state.verified}, refused {state.refused}")
    p.terminate()
    p.wait(timeout=20)
    server.shutdown()
    print(f"  {protocol}: btvep start -> Python miner: /chat, /v1 plain, openai stream (first chunk "
          f"{lead:.2f}s before the miner sent its last); all {state.verified} requests verified")


def main():
    print(f"bittensor {bt.__version__ if hasattr(bt, '__version__') else '?'}, openai {openai.__version__}")
    with tempfile.TemporaryDirectory() as work:
        for protocol in ("btauth", "epistula"):
            client_to_btvep_miner(protocol, work)
            btvep_gateway_to_python_miner(protocol, work)
    print("BTAUTH INTEROP PASS")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
