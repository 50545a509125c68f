"""Amazon SNS cases. No AWS SDK signs SNS messages, so each is built by the documented
algorithm (SNS developer guide, "Verifying the signatures of Amazon SNS messages"),
signed with `cryptography` by the key of a self-signed test certificate
(tests/vectors/aws_sns.{key,cert}.pem, made here once with openssl if missing), and
judged by AWS's own validator, `sns-validator` (npm) under node, whose certificate fetch
(`https.get`) is answered with that certificate at the test URL and fails elsewhere.

sns-validator checks no topic and no time: hookgate's secret (the topic) and replay
window are hookgate's own, so cases on them are marked `deviation`."""

import base64
import json
import os
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from vector_case import case

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
KEY = VECTORS / "aws_sns.key.pem"
CERT = VECTORS / "aws_sns.cert.pem"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate-test.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:hookgate-test"
OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:someone-elses"
TS = "2021-03-25T05:09:27.123Z"
NOW = 1616648967
SUBSCRIBE_URL = ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
                 f"{TOPIC}&Token=2336412f37fb687f5d51e6e2425c464de")

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]

JUDGE_JS = r"""
const https = require('https');
const { EventEmitter } = require('events');
const certificate = process.env.SNS_CERTIFICATE;
const certUrl = process.env.SNS_CERTIFICATE_URL;
// The validator fetches the certificate with https.get: answer it from here.
https.get = (url, onResponse) => {
  const request = new EventEmitter();
  process.nextTick(() => {
    const response = new EventEmitter();
    response.statusCode = url === certUrl ? 200 : 404;
    onResponse(response);
    if (response.statusCode === 200) response.emit('data', Buffer.from(certificate));
    response.emit('end');
  });
  return request;
};
const MessageValidator = require('sns-validator');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
(async () => {
  const out = [];
  for (const body of input) {
    out.push(await new Promise(resolve => new MessageValidator().validate(body, (err) =>
      resolve(err ? { verdict: 'reject', detail: err.message } : { verdict: 'accept', detail: null }))));
  }
  console.log(JSON.stringify(out));
})();
"""


def ensure_keys():
    if KEY.exists() and CERT.exists():
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(KEY),
                    "-out", str(CERT), "-days", "36500", "-subj",
                    "/CN=sns.us-east-1.amazonaws.com/O=hookgate test"], check=True, capture_output=True)


def sign(message):
    key = serialization.load_pem_private_key(KEY.read_bytes(), password=None)
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else CONFIRMATION_KEYS
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if message.get(k) is not None)
    digest = hashes.SHA256() if message["SignatureVersion"] == "2" else hashes.SHA1()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(**changes):
    message = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "My First Message",
        "Message": "Hello world!\n{\"escaped\": \"ünïcode\"}",
        "Timestamp": TS,
        "SignatureVersion": "1",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    message.update(changes)
    return {k: v for k, v in message.items() if v is not ...}


def confirmation(kind="SubscriptionConfirmation", **changes):
    message = notification(Subject=..., UnsubscribeURL=..., Type=kind,
                           Message="You have chosen to subscribe to the topic.",
                           SubscribeURL=SUBSCRIBE_URL, Token="2336412f37fb687f5d51e6e2425c464de")
    message.update(changes)
    return message


def judge(node_dir, bodies):
    env = {**os.environ, "SNS_CERTIFICATE": CERT.read_text(), "SNS_CERTIFICATE_URL": CERT_URL}
    run = subprocess.run(["node", "-e", JUDGE_JS], cwd=node_dir, env=env,
                         input=json.dumps(bodies), capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def version(node_dir):
    manifest = Path(node_dir) / "node_modules" / "sns-validator" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


def aws_sns_cases(node_dir):
    ensure_keys()
    secrets = [("topic", TOPIC)]
    tampered = sign(notification())
    tampered["Message"] = "Hello world?"
    duplicated = json.dumps(sign(notification())).replace("{", '{"Message": "injected", ', 1)
    signed_v1 = sign(notification())
    # (name, body text, secrets, now, code for a rejection, deviation, hookgate_expect)
    rows = [
        ("notification, version 1 (SHA1)", json.dumps(signed_v1), secrets, NOW, None, None, None),
        ("notification, version 2 (SHA256)", json.dumps(sign(notification(SignatureVersion="2"))),
         secrets, NOW, None, None, None),
        ("notification without subject", json.dumps(sign(notification(Subject=...))), secrets, NOW,
         None, None, None),
        ("subscription confirmation", json.dumps(sign(confirmation())), secrets, NOW, None, None, None),
        ("rotated second topic", json.dumps(sign(notification(TopicArn=OTHER_TOPIC))),
         [("old", TOPIC), ("new", OTHER_TOPIC)], NOW, None, None, None),
        ("tampered message", json.dumps(tampered), secrets, NOW, "signature_invalid", None, None),
        ("version 1 relabelled 2", json.dumps({**signed_v1, "SignatureVersion": "2"}), secrets, NOW,
         "signature_invalid", None, None),
        ("version 3", json.dumps({**signed_v1, "SignatureVersion": "3"}), secrets, NOW,
         "signature_version_unsupported", None, None),
        ("certificate on another host", json.dumps(sign(notification(
            SigningCertURL="https://sns.us-east-1.evil.example/cert.pem"))), secrets, NOW,
         "certificate_url_refused", None, None),
        ("certificate over plain http", json.dumps(sign(notification(
            SigningCertURL=CERT_URL.replace("https://", "http://")))), secrets, NOW,
         "certificate_url_refused", None, None),
        ("allowed host serving no certificate", json.dumps(sign(notification(
            SigningCertURL="https://sns.eu-west-1.amazonaws.com/other.pem"))), secrets, NOW,
         "certificate_unavailable", None, None),
        ("missing message id", json.dumps({k: v for k, v in signed_v1.items() if k != "MessageId"}),
         secrets, NOW, "signature_missing", None, None),
        ("confirmation missing token", json.dumps({k: v for k, v in sign(confirmation()).items()
                                                   if k != "Token"}),
         secrets, NOW, "signature_missing", None, None),
        ("another topic, genuinely signed", json.dumps(sign(notification(TopicArn=OTHER_TOPIC))), secrets,
         NOW, None, "the validator checks no topic; hookgate's secret is the topic ARN the source "
         "accepts, since anyone can make a topic that posts here", "topic_not_accepted"),
        ("stale timestamp", json.dumps(signed_v1), secrets, NOW + 3601, None,
         "the validator has no replay window; hookgate refuses a Timestamp over an hour old",
         "timestamp_out_of_tolerance"),
        ("future timestamp", json.dumps(signed_v1), secrets, NOW - 301, None,
         "the validator has no replay window; hookgate refuses a Timestamp over 5 minutes ahead",
         "timestamp_out_of_tolerance"),
        ("unknown type", json.dumps(sign(notification(Type="Bogus"))), secrets, NOW,
         "message_type_unknown", None, None),
        ("unsubscribe confirmation", json.dumps(sign(confirmation("UnsubscribeConfirmation"))), secrets,
         NOW, "signature_invalid", "the validator signs an UnsubscribeConfirmation without its Token; "
         "SNS's guide (and hookgate) sign the Token as for a SubscriptionConfirmation", "accept"),
        ("a member sent twice", duplicated, secrets, NOW, None,
         "JSON.parse keeps the last of two members; hookgate refuses the ambiguous body",
         "body_malformed"),
    ]
    verdicts = judge(node_dir, [row[1] for row in rows])
    cases = []
    for (name, body, row_secrets, now, code, deviation, ours), got in zip(rows, verdicts):
        secret_id = row_secrets[-1][0] if got["verdict"] == "accept" else None
        cases.append(case(name, row_secrets, [("x-amz-sns-message-type", json.loads(body)["Type"])],
                          body, now, (got["verdict"], got["detail"], secret_id), code=code,
                          deviation=deviation, hookgate_expect=ours))
    return cases
