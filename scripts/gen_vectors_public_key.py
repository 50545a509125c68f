"""Discord and SendGrid cases (the source's secret is the sender's public key), signed
with PyNaCl and `cryptography` (the senders' libraries only verify) and judged by
`discord-interactions` and `sendgrid`."""

import base64
import contextlib
import io

import nacl.signing
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from discord_interactions import verify_key
from sendgrid.helpers.eventwebhook import EventWebhook

from gen_vectors_python import first_accepting
from vector_case import case, joined

# --- Discord ------------------------------------------------------------------------------

# RFC 8032 §7.1 test 1, and a second application's key.
DC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
DC_OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
DC_PUBLIC = nacl.signing.SigningKey(DC_SEED).verify_key.encode().hex()
DC_OTHER = nacl.signing.SigningKey(DC_OTHER_SEED).verify_key.encode().hex()
DC_BODY = '{"application_id":"11","id":"786008729715212338","token":"A_UNIQUE_TOKEN","type":2,"version":1}'
DC_PING = '{"application_id":"11","id":"786008729715212339","token":"A_UNIQUE_TOKEN","type":1,"version":1}'
DC_TS = "1700000000"
DC_NOW = 1_700_000_000


def discord_sign(body=DC_BODY, ts=DC_TS, seed=DC_SEED):
    return nacl.signing.SigningKey(seed).sign((ts + body).encode()).signature.hex()


def discord_judge(secrets, headers, body):
    lines = joined(headers)
    signature, ts = lines.get("x-signature-ed25519"), lines.get("x-signature-timestamp")

    def one(public_key):
        # The decorator's own check: both headers present, then verify_key.
        if signature is None or ts is None:
            return False, "missing header"
        with contextlib.redirect_stdout(io.StringIO()):
            ok = verify_key(body.encode(), signature, ts, public_key)
        return ok, None if ok else "verify_key returned False"

    return first_accepting(secrets, one)


def discord_cases():
    cases = []

    def add(name, sig, ts=DC_TS, body=DC_BODY, secrets=(("dc", DC_PUBLIC),), extra=(), code="signature_invalid",
            **dev):
        headers = [h for h in [("X-Signature-Ed25519", sig), ("X-Signature-Timestamp", ts)] if h[1] is not None]
        headers += list(extra)
        cases.append(case(name, secrets, headers, body, DC_NOW, discord_judge(secrets, headers, body), code, **dev))

    add("application command", discord_sign())
    add("ping", discord_sign(DC_PING), body=DC_PING)
    add("rotated second key", discord_sign(), secrets=(("old", DC_OTHER), ("cur", DC_PUBLIC)))
    add("public key in upper case", discord_sign(), secrets=(("dc", DC_PUBLIC.upper()),))
    add("signature in upper case", discord_sign().upper())
    add("wrong key", discord_sign(seed=DC_OTHER_SEED))
    add("tampered body", discord_sign(), body=DC_BODY.replace('"type":2', '"type":3'))
    add("timestamp changed after signing", discord_sign(), ts="1700000001")
    add("any timestamp text is signed", discord_sign(ts="yesterday"), ts="yesterday")
    add("truncated signature", discord_sign()[:-2], code="signature_malformed")
    add("signature with spaces between bytes", " ".join(discord_sign()[i:i + 2] for i in range(0, 128, 2)),
        code="signature_malformed", deviation="bytes.fromhex skips spaces between bytes; Discord sends none",
        hookgate_expect="signature_malformed")
    add("missing signature", None, code="signature_missing")
    add("missing timestamp", discord_sign(), ts=None, code="signature_missing")
    add("signature header twice", discord_sign(), extra=[("X-Signature-Ed25519", discord_sign())],
        code="header_duplicated")
    return cases


# --- SendGrid -----------------------------------------------------------------------------

SG_KEY = ec.derive_private_key(0x1F2E3D4C5B6A79881F2E3D4C5B6A79881F2E3D4C5B6A79881F2E3D4C5B6A7988, ec.SECP256R1())
SG_OTHER_KEY = ec.derive_private_key(0x2468ACE02468ACE02468ACE02468ACE02468ACE02468ACE02468ACE02468ACE0, ec.SECP256R1())
SG_BODY = ('[{"email":"example@test.com","event":"processed","sg_event_id":"rbtnWrG1DVDGGGFHFyun0A==",'
           '"sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",'
           '"timestamp":1600112492}]\r\n')
SG_TS = "1600112502"
SG_NOW = 1_700_000_000
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def public_b64(key):
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


SG_PUBLIC, SG_OTHER = public_b64(SG_KEY), public_b64(SG_OTHER_KEY)


def sendgrid_sign(body=SG_BODY, ts=SG_TS, key=SG_KEY):
    der = key.sign((ts + body).encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode()


def high_s(signature):
    """The same signature with s replaced by n - s: as valid for ECDSA, a second spelling."""
    r, s = decode_dss_signature(base64.b64decode(signature))
    return base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()


def sendgrid_judge(secrets, headers, body):
    lines = joined(headers)
    signature = lines.get("x-twilio-email-event-webhook-signature")
    ts = lines.get("x-twilio-email-event-webhook-timestamp")

    def one(public_key):
        if signature is None or ts is None:
            return False, "missing header"
        ok = EventWebhook(public_key).verify_signature(body, signature, ts)
        return ok, None if ok else "verify_signature returned False"

    return first_accepting(secrets, one)


def sendgrid_cases():
    cases = []

    def add(name, sig, ts=SG_TS, body=SG_BODY, secrets=(("sg", SG_PUBLIC),), extra=(), code="signature_invalid",
            **dev):
        headers = [h for h in [("X-Twilio-Email-Event-Webhook-Signature", sig),
                               ("X-Twilio-Email-Event-Webhook-Timestamp", ts)] if h[1] is not None]
        headers += list(extra)
        cases.append(case(name, secrets, headers, body, SG_NOW, sendgrid_judge(secrets, headers, body), code, **dev))

    good = sendgrid_sign()
    add("valid", good)
    add("rotated second key", good, secrets=(("old", SG_OTHER), ("cur", SG_PUBLIC)))
    add("high-s spelling of the signature", high_s(good))
    add("wrong key", sendgrid_sign(key=SG_OTHER_KEY))
    add("tampered body", good, body=SG_BODY.replace("processed", "delivered"))
    add("timestamp changed after signing", good, ts="1600112503")
    add("junk inside the base64", good[:8] + "!" + good[8:], code="signature_malformed",
        deviation="Python's non-validating b64decode drops the junk", hookgate_expect="signature_malformed")
    add("signature that is not DER", base64.b64encode(b"\x30\x02\x01").decode(), code="signature_malformed")
    add("missing signature", None, code="signature_missing")
    add("missing timestamp", good, ts=None, code="signature_missing")
    add("signature header twice", good, extra=[("X-Twilio-Email-Event-Webhook-Signature", good)],
        deviation="two header lines are ambiguous; the library, given them joined with ', ', drops the "
                  "separator in its non-validating b64decode and OpenSSL reads the first DER signature",
        hookgate_expect="header_duplicated")
    return cases
