"""Checks btvep against the official `openai` Python SDK, btvep's documented `requests` examples, and
`/metrics` against the reference Prometheus text-format parser (`prometheus_client`).

Env: BTVEP_URL (http://127.0.0.1:PORT), BTVEP_KEY (unlimited key), BTVEP_LIMITED_KEY (1 request / 60 s).
The server runs `--devnet`, so answers come from the built-in responder and are predictable.
"""
import os
import sys

import openai
import requests

BASE = os.environ["BTVEP_URL"]
KEY = os.environ["BTVEP_KEY"]
LIMITED = os.environ["BTVEP_LIMITED_KEY"]
LABEL = "[btvep built-in responder, not a language model] You said: "
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + (f": {detail}" if detail != "" else ""))
    if not cond:
        failures.append(name)


client = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)
question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]

r = client.chat.completions.create(model="bittensor", messages=question, temperature=0.2, max_tokens=50)
expected = LABEL + "What is the capital of France?"
check("plain completion", r.object == "chat.completion" and r.choices[0].message.content == expected, r.choices[0].message.content)
check("finish_reason stop", r.choices[0].finish_reason == "stop")
check("usage adds up", r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0, r.usage)

parts, usage, ids = [], None, set()
stream = client.chat.completions.create(
    model="top_n:1", messages=question, stream=True, stream_options={"include_usage": True}
)
for chunk in stream:
    ids.add(chunk.id)
    if chunk.usage:
        usage = chunk.usage
    for c in chunk.choices:
        if c.delta.content:
            parts.append(c.delta.content)
check("streamed text reassembles to the miner's answer", "".join(parts) == expected, "".join(parts))
check("streamed chunks share one id", len(ids) == 1, ids)
check("stream ends with a usage chunk", usage is not None and usage.completion_tokens > 0, usage)

models = [m.id for m in client.models.list()]
check("models.list", "bittensor" in models and "uids:0" in models, models)

try:
    openai.OpenAI(base_url=f"{BASE}/v1", api_key="btvep-not-a-key", max_retries=0).chat.completions.create(
        model="bittensor", messages=question
    )
    check("bad key raises AuthenticationError", False, "no error")
except openai.AuthenticationError as e:
    check("bad key raises AuthenticationError", e.status_code == 401, e.status_code)

limited = openai.OpenAI(base_url=f"{BASE}/v1", api_key=LIMITED, max_retries=0)
first = limited.chat.completions.create(model="bittensor", messages=question)
check("limited key: first request allowed", first.choices[0].message.content == expected)
try:
    limited.chat.completions.create(model="bittensor", messages=question)
    check("limited key raises RateLimitError", False, "no error")
except openai.RateLimitError as e:
    check("limited key raises RateLimitError", e.status_code == 429 and e.response.headers.get("retry-after"), e.status_code)

# btvep's README examples, as a `requests` client uses them: print detail on error, else append the answer.
headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", "Endpoint-Version": "2023-05-19"}
messages = [{"role": "user", "content": "What is 1+1?"}]
for turn, extra in enumerate([{}, {"uids": [0, 1]}, {"top_n": 2}]):
    response = requests.post(f"{BASE}/chat", headers=headers, json={**extra, "messages": messages})
    if response.status_code != 200:
        check(f"/chat example {turn}", False, response.json()["detail"])
        continue
    reply = response.json()["choices"][0]["message"]["content"]
    check(f"/chat example {turn} {extra or ''}", reply == LABEL + messages[-1]["content"], reply)
    messages.append({"role": "assistant", "content": reply})
    messages.append({"role": "user", "content": f"And {turn + 2}+{turn + 2}?"})

bad = requests.post(f"{BASE}/chat", headers={**headers, "Authorization": "Bearer nope"}, json={"messages": messages})
check("/chat with a bad key prints detail", bad.status_code == 401 and bad.json()["detail"] == "Invalid API key", bad.text)

# /metrics parses with the reference Prometheus text-format parser
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

families = {f.name: f for f in text_string_to_metric_families(requests.get(f"{BASE}/metrics").text)}
for name in ["btvep_http_requests", "btvep_miner_answers", "btvep_miner_latency_seconds", "btvep_credits_spent",
             "btvep_rate_limit_refusals", "btvep_metagraph_age_seconds", "btvep_refusals"]:
    check(f"/metrics has {name}", name in families)
served = sum(s.value for s in families["btvep_http_requests"].samples
             if s.labels.get("route") == "/v1/chat/completions" and s.labels.get("status") == "200")
check("/metrics counts the OpenAI requests", served >= 3, served)
check("/metrics counts the rate-limit refusal", families["btvep_rate_limit_refusals"].samples[0].value >= 1)
check("latency histogram is a histogram", families["btvep_miner_latency_seconds"].type == "histogram")

if failures:
    print(f"OPENAI SDK FAIL: {len(failures)} check(s) failed: {failures}")
    sys.exit(1)
print(f"OPENAI SDK PASS: openai {openai.__version__} and requests {requests.__version__} against btvep")
