#!/usr/bin/env python3
"""Write the fuzz seed corpus (fuzz/corpus/<target>/) from tests/vectors/*.json plus a few
hand-made edge cases. Deterministic: file names are the SHA-1 of the content, as libFuzzer's."""

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"


def vectors(scheme):
    return json.loads((VECTORS / f"{scheme}.json").read_text())["cases"]


def header(case, name):
    return next((v for n, v in case["headers"] if n.lower() == name), None)


def seeds():
    out = {t: set() for t in ("stripe_header", "standard_webhooks_header", "slack", "github_signature",
                              "hmac_header", "twilio_signed_text", "verify_any", "paddle_header",
                              "pagerduty_header", "aws_sns_message")}
    for c in vectors("stripe"):
        if (v := header(c, "stripe-signature")) is not None:
            out["stripe_header"].add(v.encode())
    out["stripe_header"] |= {b"", b"t=", b"t=1,v1=", b",,,=,=", b"t=99999999999999999999,v1=00"}
    for c in vectors("standard_webhooks"):
        if (v := header(c, "webhook-signature") or header(c, "svix-signature")) is not None:
            out["standard_webhooks_header"].add(v.encode())
    out["standard_webhooks_header"] |= {b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"whsec_", b"v1, v1,,, "}
    for c in vectors("slack"):
        ts, sig = header(c, "x-slack-request-timestamp") or "", header(c, "x-slack-signature") or ""
        out["slack"].add(f"{ts}\n{sig}\n{c['body']}".encode())
    for c in vectors("github"):
        if (v := header(c, "x-hub-signature-256")) is not None:
            out["github_signature"].add(v.encode())
    out["github_signature"] |= {b"sha256=", "sha256=" .encode() + "é".encode() * 32}
    out["hmac_header"] |= {b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                           b"B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g", b"{timestamp}.{body}",
                           b"v0:{timestamp}:{body}{", b"{body}{body}", b"sha256=" + b"A" * 88}
    for c in vectors("twilio"):
        settings = header(c, "x-twilio-webhooks-signature-settings") or ""
        out["twilio_signed_text"].add(f"{settings}\n{c['url']}\n{c['body']}".encode())
    out["twilio_signed_text"] |= {b"", b"\nhttp://[::1]:0/p?bodySHA256=&bodySHA256=x\na=%zz&a&=&&b=+",
                                  b"algorithm=\nhttps://u:p@h:99999999999/\n%C3%28=1"}
    for c in vectors("paddle"):
        if (v := header(c, "paddle-signature")) is not None:
            out["paddle_header"].add(v.encode())
    out["paddle_header"] |= {b"", b"ts=", b"ts=1;h1=", b";;;=;=", b"ts=99999999999999999999;h1=00"}
    for c in vectors("pagerduty"):
        if (v := header(c, "x-pagerduty-signature")) is not None:
            out["pagerduty_header"].add(v.encode())
    out["pagerduty_header"] |= {b"", b"v1=", b",,,", b"v1=0,v1=00,V1=ff", b"v1=" + b"A" * 64}
    for scheme in ("stripe", "standard_webhooks", "slack", "github", "shopify", "gitlab", "linear",
                   "intercom", "pagerduty", "typeform", "atlassian", "twilio", "hubspot", "square",
                   "discord", "paddle", "zendesk", "mailgun", "sendgrid", "aws_sns"):
        for c in vectors(scheme)[:6]:
            head = "\n".join(f"{n}: {v}" for n, v in c["headers"])
            out["verify_any"].add(f"{head}\n\n{c['body']}".encode())
    for c in vectors("aws_sns"):
        out["aws_sns_message"].add(c["body"].encode())
    out["aws_sns_message"] |= {b"", b"{}", b"[]", b'{"Type":"Notification","Type":"x"}',
                               b'{"Subject":null,"Message":"\\u0000\\ud800"}',
                               b'{"SigningCertURL":"https://sns.a.amazonaws.com:443/../x.pem"}'}
    out["verify_any"] |= {b"", b"\n\n", b"Authorization: Bearer whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\n{}"}
    return out


def main():
    for target, items in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for data in items:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"{target}: {len(items)} seeds")


if __name__ == "__main__":
    main()
