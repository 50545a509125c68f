"""Stripe, Standard Webhooks / Svix, Slack and Paddle cases, judged by their PyPI libraries."""

from datetime import datetime, timezone
from unittest import mock

import importlib

import slack_sdk.signature
import standardwebhooks
import standardwebhooks.webhooks
import stripe
import svix
from paddle_billing.Notifications import PaddleSignature, Secret, Verifier

from vector_case import case, joined

TWO_LINES = "two header lines; the library was given them joined with ', '"
AMBIGUOUS = "two header lines are ambiguous (first, last or joined depends on the framework)"


def first_accepting(secrets, judge_one):
    detail = None
    for secret_id, secret in secrets:
        try:
            ok, detail = judge_one(secret)
        except Exception as e:  # an uncaught library exception is a rejection too
            ok, detail = False, f"raised {type(e).__name__}"
        if ok:
            return "accept", None, secret_id
    return "reject", detail, None


# --- Stripe ------------------------------------------------------------------------------

ST_SECRET, ST_OLD, ST_NOW = "whsec_test_secret", "whsec_old_secret", 1_700_000_000
ST_BODY = '{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded"}'
ST_CODES = {
    "No Stripe-Signature header": "signature_missing",
    "Unable to extract": "signature_malformed",
    "No signatures found with expected scheme": "signature_version_unsupported",
    "No signatures found matching": "signature_invalid",
    "Timestamp outside the tolerance zone": "timestamp_out_of_tolerance",
}


def stripe_judge(secrets, headers, body, now):
    value = joined(headers).get("stripe-signature")

    def one(secret):
        try:
            with mock.patch("time.time", return_value=float(now)):
                stripe.WebhookSignature.verify_header(body, value, secret, tolerance=300)
            return True, None
        except stripe.SignatureVerificationError as e:
            return False, str(e).split(". ")[0].split("(")[0].strip()

    return first_accepting(secrets, one)


def stripe_code(detail):
    return next((c for k, c in ST_CODES.items() if detail and detail.startswith(k)), None)


def stripe_cases():
    sign = stripe.WebhookSignature.generate_signature_header
    good = lambda t=ST_NOW, body=ST_BODY, s=ST_SECRET: sign(body, s, timestamp=t)  # noqa: E731
    sig = lambda t=ST_NOW, s=ST_SECRET: good(t, s=s).split("v1=")[1]  # noqa: E731
    cases = []

    def add(name, header, body=ST_BODY, now=ST_NOW, secrets=((("st", ST_SECRET),)), code=None, lines=None, **dev):
        headers = lines if lines is not None else ([("Stripe-Signature", header)] if header is not None else [])
        judged = stripe_judge(secrets, headers, body, now)
        cases.append(case(name, secrets, headers, body, now, judged, code or stripe_code(judged[1]), **dev))

    add("valid", good())
    add("rotated second secret", good(), secrets=(("old", ST_OLD), ("cur", ST_SECRET)))
    add("exactly 300 s old", good(ST_NOW - 300))
    add("301 s old", good(ST_NOW - 301))
    add("an hour in the future", good(ST_NOW + 3600))
    add("ten years in the future", good(ST_NOW + 315_360_000))
    add("tampered body", good(), body=ST_BODY.replace("succeeded", "failed"))
    add("wrong secret", good(s=ST_OLD))
    add("stale and wrong secret", good(1, s=ST_OLD))
    add("empty body", good(body=""), body="")
    add("body not json", good(body="plain text"), body="plain text")
    add("non-ascii body", good(body='{"id":"evt_ü","type":"x"}'), body='{"id":"evt_ü","type":"x"}')
    add("bad then good v1", f"t={ST_NOW},v1={sig(s=ST_OLD)},v1={sig()}")
    add("v0 beside v1", f"t={ST_NOW},v0={sig(s=ST_OLD)},v1={sig()}")
    add("v1 before t", f"v1={sig()},t={ST_NOW}")
    add("extra = after values", f"t={ST_NOW}=x,v1={sig()}=y")
    add("only v0", f"t={ST_NOW},v0={sig()}")
    add("unknown scheme only", f"t={ST_NOW},v2={sig()}")
    add("upper-case hex", f"t={ST_NOW},v1={sig().upper()}")
    add("space after comma", f"t={ST_NOW}, v1={sig()}")
    add("no t", f"v1={sig()}")
    add("t not a number", f"t=abc,v1={sig()}")
    add("garbage", "garbage")
    add("missing header", None)
    add("leading zeros in t", f"t=000{ST_NOW},v1={sig()}")
    add("negative t", sign(ST_BODY, ST_SECRET, timestamp=-5), code="signature_malformed")
    add("t twice, first signed", f"t={ST_NOW},t={ST_NOW + 1},v1={sig()}",
        deviation="stripe-python keeps the first t, stripe-node the last: ambiguous",
        hookgate_expect="signature_malformed")
    add("t twice, last signed", f"t={ST_NOW + 1},t={ST_NOW},v1={sig()}", code="signature_malformed")
    two = [("Stripe-Signature", good()), ("Stripe-Signature", good())]
    add("same header twice", None, lines=two, deviation=AMBIGUOUS, hookgate_expect="header_duplicated",
        library_input=TWO_LINES)
    return cases


# --- Standard Webhooks / Svix -------------------------------------------------------------

SW_SECRET, SW_OTHER = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_dGVzdCBrZXkgZm9yIGhvb2tnYXRl"
SW_ID, SW_TS, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, '{"test": 2432232314}'
SW_PUBLISHED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_CODES = {
    "Missing required headers": "signature_missing",
    "Invalid Signature Headers": "signature_malformed",
    "Message timestamp too old": "timestamp_out_of_tolerance",
    "Message timestamp too new": "timestamp_out_of_tolerance",
    "No matching signature found": "signature_invalid",
}


def frozen_datetime(now):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz)

    return Frozen


def sw_judge(library, secrets, headers, body, now):
    def one(secret):
        with mock.patch.object(standardwebhooks.webhooks, "datetime", frozen_datetime(now)):
            try:
                library.Webhook(secret).verify(body, joined(headers))
                return True, None
            except standardwebhooks.webhooks.WebhookVerificationError as e:
                return False, str(e)

    return first_accepting(secrets, one)


def sw_sign(secret=SW_SECRET, msg_id=SW_ID, ts=SW_TS, body=SW_BODY):
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    return standardwebhooks.Webhook(secret).sign(msg_id, when, body)


def standard_webhooks_cases():
    assert sw_sign() == SW_PUBLISHED, "the library must reproduce the published vector"
    good, bad, b64 = sw_sign(), sw_sign(SW_OTHER), sw_sign()[3:]
    cases = []

    def add(name, sig, ts=str(SW_TS), body=SW_BODY, now=SW_TS, secrets=(("sw", SW_SECRET),), prefix="webhook",
            lib=standardwebhooks, extra=(), drop=None, code=None, **dev):
        headers = [(f"{prefix}-id", SW_ID), (f"{prefix}-timestamp", ts), (f"{prefix}-signature", sig), *extra]
        headers = [h for h in headers if not h[0].endswith(drop or "\0")]
        judged = sw_judge(lib, secrets, headers, body, now)
        mapped = SW_CODES.get(judged[1]) if judged[1] and not judged[1].startswith("raised") else None
        cases.append(case(name, secrets, headers, body, now, judged, code or mapped, **dev))
        cases[-1]["library"] = lib.__name__

    add("published vector", good)
    add("published vector, svix names", good, prefix="svix", lib=svix)
    add("svix names win over webhook names", good, prefix="svix", lib=svix,
        extra=[("webhook-id", "msg_other"), ("webhook-timestamp", "1"), ("webhook-signature", bad)])
    add("secret without whsec_", good, secrets=(("sw", SW_SECRET[6:]),))
    add("rotated second secret", good, secrets=(("old", SW_OTHER), ("cur", SW_SECRET)))
    for offset in (-300, -301, 300, 301):
        ts = SW_TS + offset
        add(f"timestamp {offset:+d} s", sw_sign(ts=ts), ts=str(ts))
    add("stale and forged", bad, ts="1", code="timestamp_out_of_tolerance")
    add("tampered body", good, body=SW_BODY.replace("4}", "5}"))
    add("wrong secret", bad)
    add("bad then good", f"{bad} {good}")
    add("other versions beside v1", f"v2,{b64} v1a,{b64} {good}")
    add("only other versions", f"v2,{b64} v1a,{b64}", code="signature_version_unsupported")
    add("v1 with trailing field", f"{good},extra", code="signature_invalid")
    add("unpadded base64", good.rstrip("="), code="signature_invalid")
    add("junk inside base64", good[:10] + "!" + good[10:],
        deviation="Python's non-validating b64decode drops the junk; the JS and Rust reference "
                  "libraries compare the base64 text", hookgate_expect="signature_invalid")
    add("comma-less entry beside v1", f"garbage {good}",
        deviation="Python raises on the entry; the JS and Rust libraries skip it",
        hookgate_expect="accept")
    add("double space between entries", f"{bad}  {good}",
        deviation="Python raises on the empty entry; the JS and Rust libraries skip it",
        hookgate_expect="accept")
    add("fractional timestamp", good, ts=f"{SW_TS}.0",
        deviation="Python parses float() and signs floor(); the Rust reference library and the "
                  "spec use integer seconds", hookgate_expect="signature_malformed")
    add("word timestamp", good, ts="yesterday")
    for field in ("id", "timestamp", "signature"):
        add(f"missing {field}", good, drop=f"-{field}")
    add("signature header twice", good, extra=[("webhook-signature", good)], code="header_duplicated")
    typed = '{"type":"invoice.paid","data":{}}'
    add("typed body", sw_sign(body=typed), body=typed)
    return cases


# --- Slack --------------------------------------------------------------------------------

SL_SECRET, SL_TS = "8f742231b10e8888abcd99yyyzzz85a5", 1_531_420_618
SL_BODY = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
           "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
           "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibI"
           "GlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SL_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class FixedClock(slack_sdk.signature.Clock):
    def __init__(self, now):
        self._now = now

    def now(self):
        return float(self._now)


def slack_judge(secrets, headers, body, now):
    def one(secret):
        verifier = slack_sdk.signature.SignatureVerifier(secret, clock=FixedClock(now))
        return verifier.is_valid_request(body, joined(headers)), "is_valid_request returned False"

    return first_accepting(secrets, one)


def slack_cases():
    gen = slack_sdk.signature.SignatureVerifier(SL_SECRET).generate_signature
    assert gen(timestamp=str(SL_TS), body=SL_BODY) == SL_SIG, "documented example"
    cases = []

    def add(name, sig, code, ts=str(SL_TS), body=SL_BODY, now=SL_TS, secrets=(("sl", SL_SECRET),), extra=(), **dev):
        headers = [(n, v) for n, v in (("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", sig)) if v is not None]
        headers += list(extra)
        cases.append(case(name, secrets, headers, body, now, slack_judge(secrets, headers, body, now), code, **dev))

    add("documented example", SL_SIG, None)
    add("rotated second secret", SL_SIG, None, secrets=(("old", "0" * 32), ("cur", SL_SECRET)))
    for offset, code in ((300, None), (301, "timestamp_out_of_tolerance"), (-300, None), (-301, "timestamp_out_of_tolerance")):
        add(f"clock {offset:+d} s from timestamp", SL_SIG, code, now=SL_TS + offset)
    add("tampered body", SL_SIG, "signature_invalid", body=SL_BODY + "------")
    add("wrong secret", SL_SIG, "signature_invalid", secrets=(("sl", SL_SECRET[:-1] + "6"),))
    add("upper-case hex", "v0=" + SL_SIG[3:].upper(), "signature_invalid")
    add("upper-case version", "V0=" + SL_SIG[3:], "signature_invalid")
    add("other version", "v1=" + SL_SIG[3:], "signature_invalid")
    add("missing signature", None, "signature_missing")
    add("missing timestamp", SL_SIG, "signature_missing", ts=None)
    add("word timestamp", SL_SIG, "signature_malformed", ts="soon")
    plus = gen(timestamp=f"+{SL_TS}", body=SL_BODY)
    add("plus-signed timestamp", plus, None, ts=f"+{SL_TS}",
        deviation="int() accepts a sign; Slack sends plain digits", hookgate_expect="signature_malformed")
    add("signature header twice", SL_SIG, "header_duplicated", extra=[("X-Slack-Signature", SL_SIG)],
        library_input=TWO_LINES)
    for name, body in (
        ("url_verification body", '{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}'),
        ("event_callback body", '{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention"}}'),
    ):
        add(name, gen(timestamp=str(SL_TS), body=body), None, body=body)
    return cases


# --- Paddle -------------------------------------------------------------------------------

PD_SECRET = "pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI"
PD_OLD = "pdl_ntfset_01h0000000000000000000000_0ldSecretValueForRotationTests00"
PD_TS = 1_671_552_777
PD_BODY = ('{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.completed",'
           '"occurred_at":"2023-08-21T11:57:47.390028Z","notification_id":"ntf_01h8bzam1z32agrxjwhjgqk8w6",'
           '"data":{"id":"txn_01h8bzakzx3hm2fmen703n5q45"}}')


# The package re-exports the class under the module's name: patch the module's `time`.
paddle_verifier = importlib.import_module("paddle_billing.Notifications.Verifier")


class PaddleRequest:
    """What the SDK's Verifier reads: `headers` (a mapping) and `body` (bytes)."""

    def __init__(self, headers, body):
        self.headers = joined(headers)
        # The SDK asks for "Paddle-Signature"; frameworks hand it case-insensitive headers.
        self.headers = {**self.headers, "Paddle-Signature": self.headers.get("paddle-signature")}
        self.body = body.encode()


def paddle_h1(ts, body=PD_BODY, secret=PD_SECRET):
    """The SDK's own HMAC helper over `{ts}:{body}`."""
    return PaddleSignature.calculate_hmac(secret, f"{ts}:{body}".encode()).hexdigest()


def paddle_judge(secrets, headers, body, now):
    def one(secret):
        with mock.patch.object(paddle_verifier, "time", return_value=float(now)):
            try:
                ok = Verifier().verify(PaddleRequest(headers, body), Secret(secret))
                return ok, None if ok else "verify returned False"
            except Exception as e:  # noqa: BLE001 (the SDK raises on malformed headers)
                return False, f"raised {type(e).__name__}"

    return first_accepting(secrets, one)


def paddle_cases():
    good = f"ts={PD_TS};h1={paddle_h1(PD_TS)}"
    mac = paddle_h1(PD_TS)
    cases = []

    def add(name, value, code=None, body=PD_BODY, now=PD_TS, secrets=(("pd", PD_SECRET),), lines=None, **dev):
        headers = lines if lines is not None else ([("Paddle-Signature", value)] if value is not None else [])
        judged = paddle_judge(secrets, headers, body, now)
        cases.append(case(name, secrets, headers, body, now, judged, code, **dev))

    add("valid", good)
    add("rotated second secret", good, secrets=(("old", PD_OLD), ("cur", PD_SECRET)))
    for offset, code in ((5, None), (6, "timestamp_out_of_tolerance"), (-5, None), (-6, "timestamp_out_of_tolerance")):
        add(f"clock {offset:+d} s from ts", good, code, now=PD_TS + offset)
    add("stale and forged", f"ts={PD_TS};h1=00", "timestamp_out_of_tolerance", now=PD_TS + 60)
    add("tampered body", good, "signature_invalid", body=PD_BODY.replace("completed", "billed"))
    add("wrong secret", f"ts={PD_TS};h1={paddle_h1(PD_TS, secret=PD_OLD)}", "signature_invalid")
    add("bad then good h1", f"ts={PD_TS};h1={paddle_h1(PD_TS, secret=PD_OLD)};h1={mac}")
    add("h1 before ts", f"h1={mac};ts={PD_TS}")
    add("item without =", f"ts={PD_TS};junk;h1={mac}")
    add("leading zeros in ts", f"ts=00{PD_TS};h1={mac}")
    add("upper-case hex", f"ts={PD_TS};h1={mac.upper()}", "signature_invalid")
    add("unknown key", f"ts={PD_TS};h2={mac};h1={mac}", "signature_malformed")
    add("space before key", f"ts={PD_TS}; h1={mac}", "signature_malformed")
    add("second = in an item", f"ts={PD_TS};h1={mac}=x", "signature_malformed")
    add("word ts", f"ts=now;h1={mac}", "signature_malformed")
    add("no ts", f"h1={mac}", "signature_malformed")
    add("no h1", f"ts={PD_TS}", "signature_version_unsupported")
    add("missing header", None, "signature_missing")
    add("ts twice, last signed", f"ts=1;ts={PD_TS};h1={mac}", None,
        deviation="the SDK keeps the last ts; two are ambiguous", hookgate_expect="signature_malformed")
    add("plus-signed ts", f"ts=+{PD_TS};h1={mac}", None,
        deviation="int() accepts a sign; Paddle sends plain digits", hookgate_expect="signature_malformed")
    add("signature header twice", None, "header_duplicated",
        lines=[("Paddle-Signature", good), ("Paddle-Signature", good)], library_input=TWO_LINES)
    return cases
