#!/usr/bin/env python3
"""A real bittensor 10.5.0 dendrite querying btvep's Rust axon code (reverse interop; driven by tests/protocol.rs).

Usage: interop_dendrite.py PORT AXON_HOTKEY_SS58 WALLET_DIR  → prints one JSON line per answer.
Offline: get_external_ip is pinned; the wallet is rebuilt from the spec's throwaway dendrite mnemonic.
"""
import asyncio
import json
import sys
import typing

import bittensor.utils.networking as networking

networking.get_external_ip = lambda *a, **k: "127.0.0.2"

import bittensor as bt  # noqa: E402
import pydantic  # noqa: E402

DENDRITE_MNEMONIC = "pact photo material cake neck asset home broken decade jealous piece pistol"
COLDKEY_SS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


class Prompting(bt.Synapse):
    roles: typing.List[str] = pydantic.Field(..., frozen=True)
    messages: typing.List[str] = pydantic.Field(..., frozen=True)
    completion: str = ""
    required_hash_fields: typing.List[str] = pydantic.Field(["messages"], frozen=True)

    def deserialize(self):
        return self


async def main() -> None:
    port, axon_hotkey, wallet_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    wallet = bt.Wallet(name="interop", hotkey="validator", path=wallet_dir)
    wallet.regenerate_hotkey(mnemonic=DENDRITE_MNEMONIC, use_password=False, overwrite=True, suppress=True)
    wallet.regenerate_coldkeypub(ss58_address=COLDKEY_SS58, overwrite=True)
    axon = bt.AxonInfo(version=10005000, ip="127.0.0.1", port=port, ip_type=4, hotkey=axon_hotkey,
                       coldkey=COLDKEY_SS58, protocol=4, placeholder1=0, placeholder2=0)
    dendrite = bt.Dendrite(wallet=wallet)
    synapse = Prompting(roles=["system", "user"], messages=["Be brief.", "Say \"hi\" \u2014 it's a test \u2713"])
    # Two queries one after the other: the SDK dendrite uses one uuid for all requests, so two *concurrent*
    # requests to one axon can arrive out of nonce order and the later one is rejected as a replay (the
    # SDK's own race, spec 2.6) -- that is correct axon behaviour, not what this check is about.
    responses = []
    for _ in range(2):
        responses += await dendrite.forward(axons=[axon], synapse=synapse, timeout=12, deserialize=False)
    for r in responses:
        print(json.dumps({"status_code": r.dendrite.status_code, "status_message": r.dendrite.status_message,
                          "completion": r.completion}), flush=True)
    await dendrite.aclose_session()


if __name__ == "__main__":
    asyncio.run(main())
