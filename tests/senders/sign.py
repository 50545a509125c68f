#!/usr/bin/env python3
"""Sign a webhook with the sender's own official library and print the headers as JSON.

Usage: sign.py <scheme> <secret> <body-file> <msg-id>
Schemes: stripe, standard_webhooks, svix, slack, paddle (official libraries);
github, shopify (no official Python signer: the documented algorithm, with hmac);
hmac, bearer (hookgate's generic schemes, computed independently of hookgate's code).
The timestamp is the current time, so the result can be sent to a live server.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from datetime import datetime, timezone


def sign(scheme, secret, body, msg_id):
    now = int(time.time())
    text = body.decode("utf-8")
    if scheme == "stripe":
        import stripe

        header = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=now)
        return {"Stripe-Signature": header}
    if scheme in ("standard_webhooks", "svix"):
        if scheme == "svix":
            import svix as library

            prefix = "svix"
        else:
            import standardwebhooks as library

            prefix = "webhook"
        when = datetime.fromtimestamp(now, tz=timezone.utc)
        signature = library.Webhook(secret).sign(msg_id, when, text)
        return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(now), f"{prefix}-signature": signature}
    if scheme == "slack":
        from slack_sdk.signature import SignatureVerifier

        ts = str(now)
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    if scheme == "paddle":
        from paddle_billing.Notifications import PaddleSignature

        h1 = PaddleSignature.calculate_hmac(secret, f"{now}:{text}".encode()).hexdigest()
        return {"Paddle-Signature": f"ts={now};h1={h1}"}
    if scheme == "github":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": msg_id, "X-GitHub-Event": "push"}
    if scheme == "shopify":
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        return {"X-Shopify-Hmac-Sha256": digest, "X-Shopify-Webhook-Id": msg_id, "X-Shopify-Topic": "orders/create"}
    if scheme == "hmac":
        # hookgate's generic scheme as configured in tests/it/ingress/official.rs:
        # X-Signature: sha512=<base64 of HMAC-SHA512("{timestamp}.{body}")>, X-Timestamp.
        ts = str(now)
        digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha512).digest()
        return {"X-Signature": "sha512=" + base64.b64encode(digest).decode(), "X-Timestamp": ts, "X-Delivery": msg_id}
    if scheme == "bearer":
        return {"Authorization": f"Bearer {secret}", "X-Request-Id": msg_id}
    raise SystemExit(f"unknown scheme {scheme}")


if __name__ == "__main__":
    scheme, secret, body_file, msg_id = sys.argv[1:5]
    with open(body_file, "rb") as f:
        print(json.dumps(sign(scheme, secret, f.read(), msg_id)))
