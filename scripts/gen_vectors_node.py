"""GitHub, Shopify and Linear cases. Neither ships a Python signer, so signatures are computed with
Python's hmac per the documented algorithm; verdicts come from the official JS libraries
(@octokit/webhooks-methods, @shopify/shopify-api) run under node when --node-dir has them,
else from a Python re-statement of those libraries' comparison (named in `source`).
Linear's verdicts come from @linear/sdk's `LinearWebhookClient.verify` under node only."""

import base64
import hashlib
import hmac
import json
import subprocess
from pathlib import Path

from vector_case import case, joined

JUDGE_JS = r"""
import { verify } from '@octokit/webhooks-methods';
import '@shopify/shopify-api/adapters/node';
import { shopifyApi, ApiVersion } from '@shopify/shopify-api';
import http from 'node:http';
import net from 'node:net';
const input = JSON.parse(await new Promise(r => { let s = ''; process.stdin.on('data', d => s += d); process.stdin.on('end', () => r(s)); }));
const request = headers => { const r = new http.IncomingMessage(new net.Socket()); r.method = 'POST'; r.url = '/hook'; r.headers = headers; return r; };
const out = [];
for (const c of input) {
  let result = { verdict: 'reject', detail: null, secret_id: null };
  for (const [id, secret] of c.secrets) {
    let ok = false, detail = null;
    try {
      if (c.scheme === 'github') {
        ok = await verify(secret, c.body, c.headers['x-hub-signature-256']);
        detail = ok ? null : 'verify returned false';
      } else {
        const shopify = shopifyApi({ apiKey: 'k', apiSecretKey: secret, scopes: [], hostName: 'localhost',
          isEmbeddedApp: false, apiVersion: ApiVersion.January25, logger: { level: 0 } });
        const v = await shopify.webhooks.validate({ rawBody: c.body, rawRequest: request(c.headers),
          rawResponse: new http.ServerResponse(request({})) });
        ok = v.valid; detail = ok ? null : v.reason;
      }
    } catch (e) { detail = `threw ${e.name}`; }
    if (ok) { result = { verdict: 'accept', detail: null, secret_id: id }; break; }
    result.detail = detail;
  }
  out.push(result);
}
console.log(JSON.stringify(out));
"""


class Node:
    """Runs the official JS libraries, or says why not."""

    def __init__(self, node_dir: Path):
        self.dir = node_dir
        self.versions = {}
        for pkg in ("@octokit/webhooks-methods", "@shopify/shopify-api"):
            manifest = node_dir / "node_modules" / pkg / "package.json"
            if manifest.exists():
                self.versions[pkg] = json.loads(manifest.read_text())["version"]
        self.available = len(self.versions) == 2

    def describe(self, scheme):
        pkg = "@octokit/webhooks-methods" if scheme == "github" else "@shopify/shopify-api"
        if self.available:
            how = "verify()" if scheme == "github" else "webhooks.validate()"
            return f"verdicts from {pkg} {self.versions[pkg]} {how} under node"
        return f"verdicts from a Python re-statement of {pkg}'s comparison (node libraries not found)"

    def judge(self, scheme, pending):
        """pending: list of (secrets, headers, body); returns (verdict, detail, secret_id) each."""
        if not self.available:
            return [python_judge(scheme, *p) for p in pending]
        payload = [{"scheme": scheme, "secrets": list(s), "headers": joined(h), "body": b} for s, h, b in pending]
        run = subprocess.run(["node", "--input-type=module", "-e", JUDGE_JS], cwd=self.dir,
                             input=json.dumps(payload), capture_output=True, text=True, check=True)
        return [(r["verdict"], r["detail"], r["secret_id"]) for r in json.loads(run.stdout)]


def python_judge(scheme, secrets, headers, body):
    h = joined(headers)
    for secret_id, secret in secrets:
        mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        if scheme == "github":
            ok = hmac.compare_digest("sha256=" + mac.hex(), h.get("x-hub-signature-256", ""))
        else:
            required = ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version", "x-shopify-webhook-id")
            ok = bool(body) and hmac.compare_digest(base64.b64encode(mac).decode(), h.get("x-shopify-hmac-sha256", ""))
            ok = ok and all(h.get(k) for k in required)
        if ok:
            return "accept", None, secret_id
    return "reject", "comparison failed", None


def build(node, scheme, specs):
    """specs: dicts with name, secrets, headers, body, now and code/deviation fields."""
    judged = node.judge(scheme, [(s["secrets"], s["headers"], s["body"]) for s in specs])
    out = []
    for spec, verdict in zip(specs, judged):
        extra = {k: spec[k] for k in ("code", "deviation", "hookgate_expect", "library_input") if k in spec}
        out.append(case(spec["name"], spec["secrets"], spec["headers"], spec["body"], spec["now"], verdict, **extra))
    return out


GH_SECRET, GH_BODY = "It's a Secret to Everybody", "Hello, World!"
GH_PUBLISHED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def gh_sig(secret=GH_SECRET, body=GH_BODY):
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def github_cases(node):
    assert gh_sig() == GH_PUBLISHED, "GitHub's documented example"
    specs = []

    def add(name, sig, code=None, body=GH_BODY, secrets=(("gh", GH_SECRET),), extra=(), **dev):
        headers = ([("X-Hub-Signature-256", sig)] if sig is not None else []) + list(extra)
        headers += [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")]
        specs.append(dict(name=name, secrets=secrets, headers=headers, body=body, now=1_700_000_000, code=code, **dev))

    add("documented example", GH_PUBLISHED)
    add("rotated second secret", GH_PUBLISHED, secrets=(("old", "old secret"), ("cur", GH_SECRET)))
    add("tampered body", GH_PUBLISHED, "signature_invalid", body="Hello, World?")
    add("wrong secret", gh_sig("It's a secret to everybody"), "signature_invalid")
    add("upper-case hex", "sha256=" + GH_PUBLISHED[7:].upper(), "signature_invalid")
    add("upper-case prefix", "SHA256=" + GH_PUBLISHED[7:], "signature_malformed")
    add("bare hex", GH_PUBLISHED[7:], "signature_malformed")
    add("truncated", GH_PUBLISHED[:-2], "signature_malformed")
    add("json body", gh_sig(body='{"zen":"Keep it logically awesome."}\n'), body='{"zen":"Keep it logically awesome."}\n')
    add("legacy sha1 only", None, "signature_legacy_unsupported",
        extra=[("X-Hub-Signature", "sha1=" + hmac.new(GH_SECRET.encode(), GH_BODY.encode(), "sha1").hexdigest())])
    add("missing signature", None, "signature_missing")
    add("signature twice", GH_PUBLISHED, "header_duplicated", extra=[("X-Hub-Signature-256", GH_PUBLISHED)],
        library_input="two header lines; the library was given them joined with ', '")
    return build(node, "github", specs)


SH_SECRET, SH_BODY = "test_secret_key", '{"foo": "bar"}'
SH_PUBLISHED = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def sh_sig(secret=SH_SECRET, body=SH_BODY):
    return base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()


def shopify_cases(node):
    assert sh_sig() == SH_PUBLISHED, "shopify-app-js test vector"
    specs = []
    meta = [("X-Shopify-Topic", "products/create"), ("X-Shopify-Shop-Domain", "shop1.myshopify.io"),
            ("X-Shopify-API-Version", "2023-01"), ("X-Shopify-Webhook-Id", "123456789")]

    def add(name, sig, code=None, body=SH_BODY, secrets=(("sh", SH_SECRET),), headers=None, **dev):
        hs = headers if headers is not None else ([("X-Shopify-Hmac-Sha256", sig)] if sig is not None else []) + meta
        specs.append(dict(name=name, secrets=secrets, headers=hs, body=body, now=1_700_000_000, code=code, **dev))

    add("shopify-app-js vector", SH_PUBLISHED)
    add("rotated second secret", SH_PUBLISHED, secrets=(("old", "old_secret"), ("cur", SH_SECRET)))
    add("tampered body", SH_PUBLISHED, "signature_invalid", body='{"foo": "baz"}')
    add("wrong secret", sh_sig("test_secret_kez"), "signature_invalid")
    add("unpadded base64", SH_PUBLISHED.rstrip("="), "signature_invalid")
    add("hex digest", hmac.new(SH_SECRET.encode(), SH_BODY.encode(), hashlib.sha256).hexdigest(), "signature_invalid")
    add("empty body", sh_sig(body=""), "body_missing", body="")
    add("missing hmac", None, "signature_missing")
    add("hmac twice", None, "header_duplicated",
        headers=[("X-Shopify-Hmac-Sha256", SH_PUBLISHED), ("X-Shopify-Hmac-Sha256", SH_PUBLISHED)] + meta,
        library_input="two header lines; the library was given them joined with ', '")
    add("no topic, domain, version or id", None, headers=[("X-Shopify-Hmac-Sha256", SH_PUBLISHED)],
        deviation="those headers are not signed: requiring them adds no assurance",
        hookgate_expect="accept")
    return build(node, "shopify", specs)


LINEAR_JS = r"""
import { LinearWebhookClient } from '@linear/sdk/webhooks';
const input = JSON.parse(await new Promise(r => { let s = ''; process.stdin.on('data', d => s += d); process.stdin.on('end', () => r(s)); }));
const realNow = Date.now;
const out = [];
for (const c of input) {
  let result = { verdict: 'reject', detail: null, secret_id: null };
  // The SDK's handler answers 400 before verifying when the header is absent.
  const signature = c.headers['linear-signature'];
  if (!signature) { out.push({ ...result, detail: 'Missing webhook signature' }); continue; }
  Date.now = () => c.now * 1000;
  for (const [id, secret] of c.secrets) {
    try {
      new LinearWebhookClient(secret).verify(Buffer.from(c.body), signature);
      result = { verdict: 'accept', detail: null, secret_id: id };
      break;
    } catch (e) { result.detail = e.message; }
  }
  Date.now = realNow;
  out.push(result);
}
console.log(JSON.stringify(out));
"""

LN_SECRET, LN_OLD, LN_NOW = "lin_wh_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "lin_wh_previous_secret_0000000000", 1_700_000_000
LN_CODES = {
    "Invalid webhook signature": "signature_invalid",
    "Missing webhook signature": "signature_missing",
    "Missing webhook timestamp": "signature_missing",
    "Invalid webhook timestamp": "timestamp_out_of_tolerance",
}


def linear_body(timestamp="1700000000000"):
    return ('{"action":"create","type":"Issue","createdAt":"2023-11-14T22:13:20.000Z",'
            '"data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Bug"},'
            f'"url":"https://linear.app/issue/LIN-1","organizationId":"b0e5","webhookTimestamp":{timestamp},'
            '"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}')


def ln_sig(body, secret=LN_SECRET):
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def linear_version(node_dir: Path):
    manifest = node_dir / "node_modules" / "@linear" / "sdk" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


def linear_cases(node_dir: Path):
    """Signed per Linear's documented algorithm (the SDK has no signer), judged by the SDK."""
    specs = []

    def add(name, sig, body=None, code=None, now=LN_NOW, secrets=(("ln", LN_SECRET),), lines=None, **dev):
        body = linear_body() if body is None else body
        headers = lines if lines is not None else ([("Linear-Signature", sig(body) if callable(sig) else sig)]
                                                   if sig is not None else [])
        headers = headers + [("Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72"), ("Linear-Event", "Issue")]
        specs.append(dict(name=name, secrets=secrets, headers=headers, body=body, now=now, code=code, **dev))

    add("valid", ln_sig)
    add("rotated second secret", ln_sig, secrets=(("old", LN_OLD), ("cur", LN_SECRET)))
    for name, ts in (("60 s old", "1699999940000"), ("60.001 s old", "1699999939999"),
                     ("60 s ahead", "1700000060000"), ("60.001 s ahead", "1700000060001"),
                     ("seconds, not milliseconds", "1700000000")):
        add(name, ln_sig, linear_body(ts))
    add("tampered body", ln_sig(linear_body()), linear_body("1700000000001"))
    add("wrong secret", lambda b: ln_sig(b, LN_OLD))
    add("upper-case hex", lambda b: ln_sig(b).upper())
    add("sha256= prefix", lambda b: "sha256=" + ln_sig(b))
    no_ts = '{"action":"create","type":"Issue"}'
    add("no webhookTimestamp", ln_sig, no_ts)
    add("string webhookTimestamp", ln_sig, linear_body('"1700000000000"'), code="signature_missing")
    add("missing signature", None)
    add("fractional webhookTimestamp", ln_sig, linear_body("1700000000000.5"),
        deviation="the SDK takes any finite number; Linear sends integer milliseconds",
        hookgate_expect="signature_missing")
    two = [("Linear-Signature", ln_sig(linear_body())), ("Linear-Signature", ln_sig(linear_body()))]
    add("signature header twice", None, lines=two, code="header_duplicated",
        library_input="two header lines; the library was given them joined with ', '")

    payload = [{"secrets": list(s["secrets"]), "headers": joined(s["headers"]), "body": s["body"], "now": s["now"]}
               for s in specs]
    run = subprocess.run(["node", "--input-type=module", "-e", LINEAR_JS], cwd=node_dir,
                         input=json.dumps(payload), capture_output=True, text=True, check=True)
    out = []
    for spec, r in zip(specs, json.loads(run.stdout)):
        verdict = (r["verdict"], r["detail"], r["secret_id"])
        code = spec.get("code") or LN_CODES.get(r["detail"])
        extra = {k: spec[k] for k in ("deviation", "hookgate_expect", "library_input") if k in spec}
        out.append(case(spec["name"], spec["secrets"], spec["headers"], spec["body"], spec["now"], verdict,
                        code, **extra))
    return out
