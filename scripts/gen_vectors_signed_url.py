"""Twilio, HubSpot and Square cases (they sign the URL the sender called), judged by
their PyPI libraries. Each case carries its `url`, the URL hookgate hands the verifier."""

import contextlib
import hashlib
import io
from datetime import datetime
from unittest import mock
from urllib.parse import parse_qsl

import hubspot.utils.signature as hubspot_signature
from square.utils.webhooks_helper import verify_signature as square_verify
from twilio.request_validator import RequestValidator, get_signature_algorithm

from gen_vectors_python import first_accepting
from vector_case import case, joined

URL = "https://hooks.example.com/v1/ingress/src_1"


class MultiDict(dict):
    """Form parameters as a framework hands them to the library (Flask's `getall`)."""

    def __init__(self, body):
        super().__init__()
        for name, value in parse_qsl(body, keep_blank_values=True):
            self.setdefault(name, []).append(value)

    def getall(self, name):
        return self[name]


def add_case(cases, name, secrets, headers, body, now, judged, url, code, **dev):
    out = case(name, secrets, headers, body, now, judged, code, **dev)
    out["url"] = url
    cases.append(out)


def quiet(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


# --- Twilio -------------------------------------------------------------------------------

TW_TOKEN, TW_OLD = "12345", "old_auth_token"
TW_FORM = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
TW_JSON = '{"property": "value", "boolean": true}'
TW_NOW = 1_700_000_000


def twilio_judge(secrets, headers, body, url):
    lines = joined(headers)
    signature = lines.get("x-twilio-signature")
    algorithm = get_signature_algorithm(lines.get("x-twilio-webhooks-signature-settings"))
    params = body if "bodySHA256=" in url else MultiDict(body)

    def one(secret):
        ok = quiet(RequestValidator(secret).validate, url, params, signature, algorithm)
        return ok, None if ok else "validate returned False"

    return first_accepting(secrets, one)


def twilio_sign(url=URL, body=TW_FORM, token=TW_TOKEN, algorithm=None):
    params = {} if "bodySHA256=" in url else MultiDict(body)
    return RequestValidator(token).compute_signature(url, params, algorithm)


def twilio_cases():
    cases = []
    json_url = f"{URL}?bodySHA256={hashlib.sha256(TW_JSON.encode()).hexdigest()}"

    def add(name, sig, body=TW_FORM, url=URL, secrets=(("tw", TW_TOKEN),), extra=(), code="signature_invalid", **dev):
        headers = ([("X-Twilio-Signature", sig)] if sig is not None else []) + list(extra)
        judged = twilio_judge(secrets, headers, body, url)
        add_case(cases, name, secrets, headers, body, TW_NOW, judged, url, code, **dev)

    add("form parameters", twilio_sign())
    add("signed with the default port", twilio_sign(URL.replace(".com/", ".com:443/")))
    add("called on a port, signed without it", twilio_sign(), url=URL.replace(".com/", ".com:8443/"))
    add("rotated second secret", twilio_sign(), secrets=(("old", TW_OLD), ("cur", TW_TOKEN)))
    add("wrong token", twilio_sign(token=TW_OLD))
    add("tampered parameter", twilio_sign(), body=TW_FORM.replace("Digits=1234", "Digits=1235"))
    add("parameters in another order", twilio_sign(), body="&".join(reversed(TW_FORM.split("&"))))
    repeated = "b=2&a=1&a=3&a=1&c="
    add("repeated names and values", twilio_sign(body=repeated), body=repeated)
    add("other URL", twilio_sign(), url=URL + "?x=1")
    add("query signed with the URL", twilio_sign(URL + "?x=1"), url=URL + "?x=1")
    add("JSON body with bodySHA256", twilio_sign(json_url, TW_JSON), body=TW_JSON, url=json_url)
    add("JSON body tampered", twilio_sign(json_url, TW_JSON), body=TW_JSON.replace("true", "false"), url=json_url)
    upper = URL + "?bodySHA256=" + hashlib.sha256(TW_JSON.encode()).hexdigest().upper()
    add("bodySHA256 in upper case", twilio_sign(upper, TW_JSON), body=TW_JSON, url=upper)
    add("unpadded signature", twilio_sign().rstrip("="))
    add("HMAC-SHA256 named by the settings header", twilio_sign(algorithm="HMAC_SHA256"),
        extra=[("X-Twilio-Webhooks-Signature-Settings", "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256")])
    add("SHA-1 signature where the settings name SHA-256", twilio_sign(),
        extra=[("X-Twilio-Webhooks-Signature-Settings", "algorithm=HMAC_SHA256")])
    add("unknown algorithm", twilio_sign(), code="signature_version_unsupported",
        extra=[("X-Twilio-Webhooks-Signature-Settings", "algorithm=HMAC_MD5")])
    add("missing signature", None, code="signature_missing")
    add("signature header twice", twilio_sign(), extra=[("X-Twilio-Signature", twilio_sign())],
        code="header_duplicated")
    return cases


# --- HubSpot ------------------------------------------------------------------------------

HS_SECRET, HS_OLD = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "old-client-secret"
HS_BODY = '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"subscriptionType":"contact.creation"}]'
HS_NOW = 1_700_000_000
HS_CODES = {"timestamp": "timestamp_out_of_tolerance"}


def frozen(now):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz)

    return Frozen


def hubspot_judge(secrets, headers, body, url, now):
    lines = joined(headers)

    def one(secret):
        try:
            with mock.patch.object(hubspot_signature, "datetime", frozen(now)):
                ok = hubspot_signature.Signature.is_valid(
                    signature=lines.get("x-hubspot-signature-v3"), client_secret=secret, request_body=body,
                    http_uri=url, http_method="POST", signature_version="v3",
                    timestamp=lines.get("x-hubspot-request-timestamp"))
            return ok, None if ok else "is_valid returned False"
        except Exception as e:
            return False, f"raised {type(e).__name__}"

    return first_accepting(secrets, one)


def hubspot_sign(ts, url=URL, body=HS_BODY, secret=HS_SECRET):
    return hubspot_signature.Signature.get_signature(secret, body, "v3", url, "POST", str(ts))


def hubspot_cases():
    cases = []
    ms = HS_NOW * 1000

    def add(name, sig, ts=str(ms), body=HS_BODY, url=URL, now=HS_NOW, secrets=(("hs", HS_SECRET),), extra=(),
            code="signature_invalid", **dev):
        headers = [h for h in [("X-HubSpot-Request-Timestamp", ts), ("X-HubSpot-Signature-v3", sig)] if h[1] is not None]
        headers += list(extra)
        judged = hubspot_judge(secrets, headers, body, url, now)
        add_case(cases, name, secrets, headers, body, now, judged, url, code, **dev)

    add("valid", hubspot_sign(ms))
    add("rotated second secret", hubspot_sign(ms), secrets=(("old", HS_OLD), ("cur", HS_SECRET)))
    for age in (299, 300):
        t = ms - age * 1000
        add(f"{age} s old", hubspot_sign(t), ts=str(t), code="timestamp_out_of_tolerance")
    t = ms - 299_999
    # floor(ms / 1000) makes this 300 s.
    add("299.999 s old", hubspot_sign(t), ts=str(t), code="timestamp_out_of_tolerance")
    t = ms + 3_600_000
    add("an hour in the future", hubspot_sign(t), ts=str(t))
    add("tampered body", hubspot_sign(ms), body=HS_BODY.replace("62515", "62516"))
    add("wrong secret", hubspot_sign(ms, secret=HS_OLD))
    add("other URL", hubspot_sign(ms), url=URL + "?x=1")
    add("query signed with the URL", hubspot_sign(ms, URL + "?x=1"), url=URL + "?x=1")
    add("timestamp changed after signing", hubspot_sign(ms), ts=str(ms + 1))
    add("unpadded signature", hubspot_sign(ms).rstrip("="))
    add("missing timestamp", hubspot_sign(ms), ts=None, code="signature_missing")
    add("word timestamp", hubspot_sign(ms), ts="soon", code="signature_malformed")
    add("missing signature", None, code="signature_missing")
    add("signature header twice", hubspot_sign(ms), extra=[("X-HubSpot-Signature-v3", hubspot_sign(ms))],
        code="header_duplicated")
    return cases


# --- Square -------------------------------------------------------------------------------

SQ_KEY, SQ_OLD = "Ibsu_xTpMoU2nV9JaDf4Yw", "old_signature_key"
SQ_BODY = ('{"merchant_id":"MLEFBHHSJGVHD","type":"payment.created",'
           '"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","data":{"type":"payment","id":"KkAkhdMs"}}')
SQ_NOW = 1_700_000_000


def square_judge(secrets, headers, body, url):
    signature = joined(headers).get("x-square-hmacsha256-signature") or ""

    def one(secret):
        ok = square_verify(request_body=body, signature_header=signature, signature_key=secret,
                           notification_url=url)
        return ok, None if ok else "verify_signature returned False"

    return first_accepting(secrets, one)


def square_sign(url=URL, body=SQ_BODY, key=SQ_KEY):
    import base64
    import hmac

    # The library verifies only; Square's documented algorithm, checked by it here.
    digest = hmac.new(key.encode(), (url + body).encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    assert not body or square_verify(request_body=body, signature_header=signature, signature_key=key,
                                     notification_url=url)
    return signature


def square_cases():
    cases = []

    def add(name, sig, body=SQ_BODY, url=URL, secrets=(("sq", SQ_KEY),), extra=(), code="signature_invalid", **dev):
        headers = ([("X-Square-HmacSha256-Signature", sig)] if sig is not None else []) + list(extra)
        judged = square_judge(secrets, headers, body, url)
        add_case(cases, name, secrets, headers, body, SQ_NOW, judged, url, code, **dev)

    add("valid", square_sign())
    add("rotated second secret", square_sign(), secrets=(("old", SQ_OLD), ("cur", SQ_KEY)))
    add("wrong key", square_sign(key=SQ_OLD))
    add("tampered body", square_sign(), body=SQ_BODY.replace("KkAkhdMs", "KkAkhdMt"))
    add("other URL", square_sign(), url=URL + "/")
    add("query signed with the URL", square_sign(URL + "?a=b"), url=URL + "?a=b")
    add("unpadded signature", square_sign().rstrip("="))
    add("empty body", square_sign(body=""), body="", code="body_missing")
    add("missing signature", None, code="signature_missing")
    add("signature header twice", square_sign(), extra=[("X-Square-HmacSha256-Signature", square_sign())],
        code="header_duplicated")
    return cases
