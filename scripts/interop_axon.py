#!/usr/bin/env python3
"""A real bittensor 10.5.0 axon serving the 2023 `Prompting` synapse on 127.0.0.1, for scripts/interop.sh.

Offline by construction (spec §5): `get_external_ip` is pinned before anything can call it, wallets are rebuilt from
the spec's throwaway mnemonics in a temporary directory, and the axon is told its external IP. Default verification
(signature over its own hotkey, nonce rules, body hash) stays on; no blacklist/priority functions.

Usage: interop_axon.py PORT WALLET_DIR
"""
import sys
import typing

import bittensor.utils.networking as networking

networking.get_external_ip = lambda *a, **k: "127.0.0.2"  # never ask the internet who we are

import bittensor as bt  # noqa: E402
import pydantic  # noqa: E402

AXON_MNEMONIC = "depend slender expect flag illness lecture rose tray unveil bracket uniform tornado"
COLDKEY_SS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"  # //Alice, public only


class Prompting(bt.Synapse):
    """opentensor/text-prompting (2023) `prompting/protocol.py`, field-style required_hash_fields."""

    roles: typing.List[str] = pydantic.Field(..., frozen=True)
    messages: typing.List[str] = pydantic.Field(..., frozen=True)
    completion: str = ""
    required_hash_fields: typing.List[str] = pydantic.Field(["messages"], frozen=True)

    def deserialize(self):
        return self


def forward(synapse: Prompting) -> Prompting:
    synapse.completion = "Hello from the Python axon: " + (synapse.messages[-1] if synapse.messages else "")
    return synapse


def main() -> None:
    port = int(sys.argv[1])
    wallet_dir = sys.argv[2]
    wallet = bt.Wallet(name="interop", hotkey="miner", path=wallet_dir)
    wallet.regenerate_hotkey(mnemonic=AXON_MNEMONIC, use_password=False, overwrite=True, suppress=True)
    wallet.regenerate_coldkeypub(ss58_address=COLDKEY_SS58, overwrite=True)
    axon = bt.Axon(wallet=wallet, port=port, ip="127.0.0.1", external_ip="127.0.0.1")
    axon.attach(forward_fn=forward)
    axon.start()
    print(f"axon up on 127.0.0.1:{port} hotkey {wallet.hotkey.ss58_address}", flush=True)
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        axon.stop()


if __name__ == "__main__":
    main()
