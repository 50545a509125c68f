#!/usr/bin/env python3
"""Prints the verifier benches' medians and their ratio to the bare HMAC-SHA256 of the
same body (SPEC §10: <= 1.2x), from criterion's saved estimates; then, in brackets, the
same ratio of the fastest samples (time / iterations), which a busy machine disturbs
much less than the median: compare medians only from a quiet machine. Groups are
`verify/<size>` (padded body) and `verify/stripe_<size>` (a Stripe-shaped event).

    cargo bench --bench verify && scripts/bench_ratios.py [TARGET_DIR]

TARGET_DIR defaults to $CARGO_TARGET_DIR, else ./target.
"""

import json
import os
import sys
from pathlib import Path

BASELINE = "bare_hmac_sha256"
# The sha512 variant of the generic verifier and Intercom's SHA-1 are compared with their
# own bare HMAC, Twilio with the two digests its JSON scheme needs, the public-key
# schemes with their signature primitive.
OWN_BASELINE = {
    "verify/hmac_sha512": "bare_hmac_sha512",
    "verify/intercom": "bare_hmac_sha1",
    "verify/twilio": "bare_sha256_body_hmac_sha1_url",
    "verify/discord": "bare_ed25519_verify",
    "verify/sendgrid": "bare_ecdsa_p256_verify",
    "verify/aws_sns": "bare_rsa_sha1_verify",
}


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target"))
    root = target / "criterion"
    groups: dict[str, dict[str, float]] = {}
    for meta in root.glob("**/new/benchmark.json"):
        info = json.loads(meta.read_text())
        if not info["group_id"].startswith("verify/"):
            continue
        estimates = json.loads((meta.parent / "estimates.json").read_text())
        name = info["function_id"] or ""
        if info.get("value_str"):
            name = f"{name}/{info['value_str']}" if name else info["value_str"]
        sample = json.loads((meta.parent / "sample.json").read_text())
        fastest = min(t / i for t, i in zip(sample["times"], sample["iters"]))
        groups.setdefault(info["group_id"], {})[name] = (estimates["median"]["point_estimate"], fastest)
    if not groups:
        print(f"no criterion results under {root}; run cargo bench --bench verify first", file=sys.stderr)
        return 1

    def order(group: str) -> tuple[str, int]:
        # verify/<shape_><n>KiB: the padded bodies (no shape prefix) first, then by size.
        label = group.split("/", 1)[1]
        shape, _, size = label.rpartition("_")
        return (shape, int(size.removesuffix("KiB")))

    for group in sorted(groups, key=order):
        rows = groups[group]
        base = rows.get(BASELINE)
        print(f"== {group} (median; ratio to {BASELINE})")
        for name, (ns, fast) in sorted(rows.items(), key=lambda kv: (kv[0] != BASELINE, kv[0])):
            ratio = f"{ns / base[0]:.2f}x" if base else "n/a"
            own = OWN_BASELINE.get(name)
            if own and rows.get(own):
                ratio += f", {ns / rows[own][0]:.2f}x {own}"
            best = f"{fast / base[1]:.2f}x" if base else "n/a"
            print(f"{name}: {format_ns(ns)} ({ratio}) [fastest {format_ns(fast)}, {best}]")
        print()
    return 0


def format_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


if __name__ == "__main__":
    sys.exit(main())
