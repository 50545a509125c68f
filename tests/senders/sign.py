#!/usr/bin/env python3
"""Sign a webhook with the sender's own official library and print the headers as JSON.

Usage: sign.py <scheme> <secret> <body-file> <msg-id> [<url>]
Schemes: stripe, standard_webhooks, svix, slack, paddle, twilio, hubspot (official
libraries); discord (PyNaCl) and sendgrid (cryptography), whose <secret> is the private
key: an Ed25519 seed in hex, a P-256 PKCS#8 DER in base64;
github, shopify, square (no official Python signer: the documented algorithm, with hmac);
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


def sign(scheme, secret, body, msg_id, url=None):
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
    if scheme == "twilio":
        from urllib.parse import parse_qsl

        from twilio.request_validator import RequestValidator

        # A JSON body travels with its bodySHA256 in the URL and signs no parameters.
        params = {} if "bodySHA256=" in url else dict(parse_qsl(text, keep_blank_values=True))
        signature = RequestValidator(secret).compute_signature(url, params)
        return {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": msg_id}
    if scheme == "hubspot":
        from hubspot.utils.signature import Signature

        ts = str(now * 1000)
        signature = Signature.get_signature(secret, text, "v3", url, "POST", ts)
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": ts}
    if scheme == "square":
        digest = hmac.new(secret.encode(), url.encode() + body, hashlib.sha256).digest()
        return {"X-Square-HmacSha256-Signature": base64.b64encode(digest).decode()}
    if scheme == "discord":
        import nacl.signing

        ts = str(now)
        signature = nacl.signing.SigningKey(bytes.fromhex(secret)).sign(ts.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": ts}
    if scheme == "sendgrid":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        ts = str(now)
        key = load_der_private_key(base64.b64decode(secret), password=None)
        signature = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        return {"X-Twilio-Email-Event-Webhook-Signature": signature, "X-Twilio-Email-Event-Webhook-Timestamp": ts}
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
    url = sys.argv[5] if len(sys.argv) > 5 else None
    with open(body_file, "rb") as f:
        print(json.dumps(sign(scheme, secret, f.read(), msg_id, url)))
