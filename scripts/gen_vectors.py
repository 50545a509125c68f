#!/usr/bin/env python3
"""Generate verifier vectors whose verdicts come from the senders' official libraries.

Writes tests/vectors/<scheme>.json, replayed by src/verify/tests/vectors.rs.

Every case is signed with the sender's own signing helper where one exists, then judged by
the sender's own verification code at a frozen clock: `library_verdict` is the library's
answer, never ours. `code` is the Rejection::code() hookgate gives for a rejection (the
library's reason mapped to our codes). A case where hookgate deliberately differs carries
`deviation` (why) and `hookgate_expect` ("accept" or a code); the test uses that instead.

Setup (nothing is installed by hookgate's build):
    python3 -m venv /tmp/hgvenv
    /tmp/hgvenv/bin/pip install stripe standardwebhooks svix slack_sdk paddle-python-sdk \
        twilio hubspot-api-client squareup discord-interactions PyNaCl sendgrid cryptography
    # optional, for GitHub/Shopify verdicts from their official JS libraries; required
    # for Linear's (@linear/sdk):
    mkdir -p /tmp/hgnode && cd /tmp/hgnode && npm init -y && \
        npm install @octokit/webhooks-methods @shopify/shopify-api @linear/sdk sns-validator
    /tmp/hgvenv/bin/python scripts/gen_vectors.py [--node-dir /tmp/hgnode] [--only twilio …]
"""

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_vectors_docs  # noqa: E402  (gitlab, intercom, atlassian, typeform, zendesk, pagerduty)
import gen_vectors_python  # noqa: E402  (stripe, standard webhooks, svix, slack, paddle)
import gen_vectors_node  # noqa: E402  (github, shopify, linear)
import gen_vectors_public_key  # noqa: E402  (discord, sendgrid)
import gen_vectors_signed_url  # noqa: E402  (twilio, hubspot, square)
import gen_vectors_sns  # noqa: E402  (aws_sns)

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors"


def write(scheme, source, cases):
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), f"duplicate case names in {scheme}"
    doc = {"scheme": scheme, "source": source, "cases": cases}
    path = OUT / f"{scheme}.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    verdicts = [c["library_verdict"] for c in cases]
    print(f"{path.name}: {len(cases)} cases, {verdicts.count('reject')} rejected by the library, "
          f"{sum('deviation' in c for c in cases)} deviations")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node-dir", default="/tmp/hgnode",
                        help="folder whose node_modules holds the official JS libraries")
    parser.add_argument("--only", nargs="+", metavar="SCHEME",
                        help="write only these schemes' files")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    v = version
    selected = set(args.only or [])

    def wanted(scheme):
        return not selected or scheme in selected

    if wanted("twilio"):
        write("twilio", f"twilio (PyPI) {v('twilio')}: RequestValidator.compute_signature signs, "
              "RequestValidator.validate judges (form parameters as a MultiDict, JSON bodies as text)",
              gen_vectors_signed_url.twilio_cases())
    if wanted("hubspot"):
        write("hubspot", f"hubspot-api-client (PyPI) {v('hubspot-api-client')}: Signature.get_signature "
              "(v3) signs, Signature.is_valid (v3) judges at a patched datetime.now()",
              gen_vectors_signed_url.hubspot_cases())
    if wanted("square"):
        write("square", "signatures computed with Python hmac per Square's documented algorithm (the "
              f"library only verifies); squareup (PyPI) {v('squareup')}: verify_signature judges",
              gen_vectors_signed_url.square_cases())
    if wanted("discord"):
        write("discord", f"PyNaCl (PyPI) {v('PyNaCl')}: SigningKey.sign signs; discord-interactions "
              f"(PyPI) {v('discord-interactions')}: verify_key judges, after the decorator's header check",
              gen_vectors_public_key.discord_cases())
    if wanted("sendgrid"):
        write("sendgrid", f"cryptography (PyPI) {v('cryptography')}: ECDSA P-256/SHA-256 signs; "
              f"sendgrid (PyPI) {v('sendgrid')}: EventWebhook.verify_signature judges",
              gen_vectors_public_key.sendgrid_cases())
    if wanted("aws_sns"):
        sns = gen_vectors_sns.version(args.node_dir)
        if sns is None:
            sys.exit("sns-validator not found under --node-dir: SNS's vectors need it")
        write("aws_sns", "messages built and signed per the SNS developer guide with cryptography (PyPI) "
              f"{v('cryptography')} and a self-signed test certificate; verdicts from sns-validator "
              f"{sns} MessageValidator.validate under node, its https.get serving that certificate",
              gen_vectors_sns.aws_sns_cases(args.node_dir))
    if selected:
        return
    write("stripe", f"stripe (PyPI) {v('stripe')}: WebhookSignature.generate_signature_header "
          "signs, WebhookSignature.verify_header(tolerance=300) judges at a patched time.time()",
          gen_vectors_python.stripe_cases())
    write("standard_webhooks", f"standardwebhooks (PyPI) {v('standardwebhooks')} and svix (PyPI) "
          f"{v('svix')}: Webhook.sign signs, Webhook.verify judges at a patched datetime.now()",
          gen_vectors_python.standard_webhooks_cases())
    write("slack", f"slack_sdk (PyPI) {v('slack_sdk')}: SignatureVerifier.generate_signature "
          "signs, SignatureVerifier.is_valid_request judges with an injected Clock",
          gen_vectors_python.slack_cases())
    node = gen_vectors_node.Node(Path(args.node_dir))
    write("github", "signatures computed with Python hmac per GitHub's documented algorithm "
          "(no official Python signer); " + node.describe("github"),
          gen_vectors_node.github_cases(node))
    write("shopify", "signatures computed with Python hmac per Shopify's documented algorithm "
          "(no official Python signer); " + node.describe("shopify"),
          gen_vectors_node.shopify_cases(node))
    write("paddle", f"paddle-python-sdk (PyPI) {v('paddle-python-sdk')}: PaddleSignature.calculate_hmac "
          "signs, Verifier().verify (maximum_variance 5) judges at a patched time()",
          gen_vectors_python.paddle_cases())
    linear = gen_vectors_node.linear_version(Path(args.node_dir))
    if linear is None:
        sys.exit("@linear/sdk not found under --node-dir: Linear's vectors need it")
    write("linear", "signatures computed with Python hmac per Linear's documented algorithm (the SDK "
          f"has no signer); verdicts from @linear/sdk {linear} LinearWebhookClient.verify under node "
          "at a patched Date.now()", gen_vectors_node.linear_cases(Path(args.node_dir)))
    docs = "signed per the sender's documented algorithm and judged by a Python re-statement of"
    write("gitlab", f"{docs} GitLab's docs (Webhooks, Secret token: the header equals the token); "
          "GitLab ships no verifying library", gen_vectors_docs.gitlab_cases())
    write("intercom", f"{docs} Intercom's docs sample (Webhooks, Signed notifications: 'sha1=' + "
          "hexdigest compared as a string); Intercom ships no verifying library", gen_vectors_docs.intercom_cases())
    write("atlassian", f"{docs} Atlassian's docs (Jira Secure admin webhooks, Bitbucket Secure webhooks: "
          "WebSub 'sha256=' + hexdigest); Atlassian ships no verifying library", gen_vectors_docs.atlassian_cases())
    write("typeform", f"{docs} Typeform's docs sample (Secure your webhooks: 'sha256=' + base64 digest "
          "compared as a string); Typeform ships no verifying library", gen_vectors_docs.typeform_cases())
    write("zendesk", f"{docs} Zendesk's docs sample (Verifying webhook authenticity: base64 HMAC of "
          "timestamp + body), with hookgate's default 300 s window; Zendesk ships no verifying library",
          gen_vectors_docs.zendesk_cases())
    write("mailgun", f"{docs} Mailgun's docs sample (Securing webhooks: hex HMAC of timestamp + token, "
          "compare_digest), with hookgate's default 300 s window; Mailgun ships no verifying library",
          gen_vectors_docs.mailgun_cases())
    write("pagerduty", f"{docs} go-pagerduty webhookv3.VerifySignature (webhookv3.go at commit 142eaff), "
          "whose test vector is included; no Python library", gen_vectors_docs.pagerduty_cases())


if __name__ == "__main__":
    main()
