#!/usr/bin/env python3
"""Real bittensor 10.5.0 dendrites against the real `btvep miner` binary (issue 6), for scripts/interop.sh.

Sub-commands:
  stub PORT                    an OpenAI-compatible stub model server: POST /v1/chat/completions answers
                               "stub completion: <last message>" (http.server, 127.0.0.1 only)
  setup METAGRAPH_PATH         write the metagraph (the miner and the registered dendrite hotkey) and print the
                               miner's throwaway mnemonic (the spec's axon mnemonic) on stdout
  query PORT WALLET_DIR        run the checks against the miner on 127.0.0.1:PORT; prints one line per check and
                               exits non-zero when one fails:
                               1. registered dendrite -> 200 with the stub's completion
                               2. unregistered dendrite -> 403 (allow_non_registered is off)
                               3. the same signed request sent twice -> 200 then 401
Offline: get_external_ip is pinned; wallets are rebuilt from throwaway mnemonics.
"""
import asyncio
import json
import sys
import typing

import bittensor.utils.networking as networking

networking.get_external_ip = lambda *a, **k: "127.0.0.2"

import bittensor as bt  # noqa: E402
import pydantic  # noqa: E402

MINER_MNEMONIC = "depend slender expect flag illness lecture rose tray unveil bracket uniform tornado"
DENDRITE_MNEMONIC = "pact photo material cake neck asset home broken decade jealous piece pistol"
COLDKEY_SS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
PROMPT = ["Be brief.", "Say \"hi\" \u2014 it's a test \u2713"]


class Prompting(bt.Synapse):
    roles: typing.List[str] = pydantic.Field(..., frozen=True)
    messages: typing.List[str] = pydantic.Field(..., frozen=True)
    completion: str = ""
    required_hash_fields: typing.List[str] = pydantic.Field(["messages"], frozen=True)

    def deserialize(self):
        return self


def stub(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path != "/v1/chat/completions":
                self.send_response(404)
                self.end_headers()
                return
            last = body["messages"][-1]["content"] if body.get("messages") else ""
            out = json.dumps({"id": "stub", "object": "chat.completion", "model": body.get("model"),
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": "stub completion: " + last}}]})
            data = out.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def setup(path: str) -> None:
    miner = bt.Keypair.create_from_mnemonic(MINER_MNEMONIC).ss58_address
    dendrite = bt.Keypair.create_from_mnemonic(DENDRITE_MNEMONIC).ss58_address
    graph = {"netuid": 1, "neurons": [
        {"uid": 0, "hotkey": miner, "ip": "127.0.0.1", "port": 1},
        {"uid": 1, "hotkey": dendrite, "ip": "0.0.0.0", "port": 0, "stake": 1000.0, "validator_permit": True},
    ]}
    with open(path, "w") as f:
        json.dump(graph, f)
    print(MINER_MNEMONIC)


def wallet(wallet_dir: str, name: str, mnemonic: str) -> "bt.Wallet":
    w = bt.Wallet(name=name, hotkey="validator", path=wallet_dir)
    w.regenerate_hotkey(mnemonic=mnemonic, use_password=False, overwrite=True, suppress=True)
    w.regenerate_coldkeypub(ss58_address=COLDKEY_SS58, overwrite=True)
    return w


async def query(port: int, wallet_dir: str) -> int:
    miner = bt.Keypair.create_from_mnemonic(MINER_MNEMONIC).ss58_address
    axon = bt.AxonInfo(version=10005000, ip="127.0.0.1", port=port, ip_type=4, hotkey=miner,
                       coldkey=COLDKEY_SS58, protocol=4, placeholder1=0, placeholder2=0)
    failures = 0

    def check(name: str, ok: bool, detail) -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    registered = bt.Dendrite(wallet=wallet(wallet_dir, "registered", DENDRITE_MNEMONIC))
    r = (await registered.forward(axons=[axon], synapse=Prompting(roles=["system", "user"], messages=PROMPT),
                                  timeout=12, deserialize=False))[0]
    check("registered dendrite gets the completion",
          r.dendrite.status_code == 200 and r.completion == "stub completion: " + PROMPT[-1],
          {"status_code": r.dendrite.status_code, "completion": r.completion})

    outsider = bt.Dendrite(wallet=wallet(wallet_dir, "outsider", bt.Keypair.generate_mnemonic()))
    r = (await outsider.forward(axons=[axon], synapse=Prompting(roles=["user"], messages=["hi"]),
                                timeout=12, deserialize=False))[0]
    check("unregistered dendrite is refused with 403",
          r.dendrite.status_code == 403 and "Unrecognized hotkey" in (r.dendrite.status_message or ""),
          {"status_code": r.dendrite.status_code, "status_message": r.dendrite.status_message})
    await outsider.aclose_session()

    # Replay: sign once with the SDK's own request preparation, send the identical request twice.
    synapse = registered.preprocess_synapse_for_request(axon, Prompting(roles=["user"], messages=["replay me"]), 12.0)
    headers, body = synapse.to_headers(), synapse.model_dump()
    session = await registered.session
    codes = []
    for _ in range(2):
        async with session.post(f"http://127.0.0.1:{port}/Prompting", headers=headers, json=body) as resp:
            payload = await resp.json()
            codes.append((resp.status, resp.headers.get("bt_header_axon_status_code"),
                          payload.get("completion", payload.get("message"))))
    check("replayed request is refused with 401",
          codes[0][0] == 200 and codes[1][0] == 401 and codes[1][1] == "401", codes)
    await registered.aclose_session()
    return 1 if failures else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "stub":
        stub(int(sys.argv[2]))
    elif cmd == "setup":
        setup(sys.argv[2])
    elif cmd == "query":
        sys.exit(asyncio.run(query(int(sys.argv[2]), sys.argv[3])))
    else:
        sys.exit(f"unknown sub-command {cmd}")
