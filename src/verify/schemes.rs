//! The table of schemes: one line per `verifier.type` (SPEC §3.2, §3.4), and the only
//! list of them. It makes `VerifierConfig` (and its wire shape), `VerifierKind`, and
//! every question asked of a kind or a configuration (verify, prepare a secret, sign,
//! make or check a secret, which headers travel with the run): a `match` over these
//! lines calling the scheme's [`Scheme`] impl. Order matters only to people: it is the
//! order of `VerifierKind::ALL` and of the names in serde's "expected one of" message.

use std::borrow::Cow;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::aws_sns::certificate::SigningCertificate;
use super::aws_sns::origins::CertificateOrigins;
use super::aws_sns::AwsSnsConfig;
use super::bearer::BearerConfig;
use super::error::{ConfigError, Rejection, SignError};
use super::hmac_generic::HmacConfig;
use super::hubspot::HubspotConfig;
use super::linear::LinearConfig;
use super::mailgun::MailgunConfig;
use super::paddle::PaddleConfig;
use super::prepared::PreparedSecret;
use super::scheme::{schemes, EventName, Headers, Scheme};
use super::sendgrid::SendgridConfig;
use super::zendesk::ZendeskConfig;
use super::{atlassian, gitlab, intercom, linear, mailgun, paddle, pagerduty, typeform, zendesk};
use super::{aws_sns, discord, hubspot, sendgrid, square, twilio};
use super::{bearer, github, hmac_generic, shopify, slack, standard_webhooks, stripe};
use super::{SecretCandidate, Verified};

schemes! {
    // A sender's own scheme, verified as its official library does: `{"type": "<name>"}`.
    without_options {
        Github           = "github"            => github::Github,
        Stripe           = "stripe"            => stripe::Stripe,
        StandardWebhooks = "standard_webhooks" => standard_webhooks::StandardWebhooks,
        Shopify          = "shopify"           => shopify::Shopify,
        Slack            = "slack"             => slack::Slack,
        Gitlab           = "gitlab"            => gitlab::Gitlab,
        Intercom         = "intercom"          => intercom::Intercom,
        Pagerduty        = "pagerduty"         => pagerduty::Pagerduty,
        Typeform         = "typeform"          => typeform::Typeform,
        Atlassian        = "atlassian"         => atlassian::Atlassian,
        Twilio           = "twilio"            => twilio::Twilio,
        Square           = "square"            => square::Square,
        Discord          = "discord"           => discord::Discord,
    }
    // A scheme the operator describes: `{"type": "<name>", …options}`.
    with_options {
        Linear(LinearConfig)     = "linear"   => linear::Linear,
        Hubspot(HubspotConfig)   = "hubspot"  => hubspot::Hubspot,
        Paddle(PaddleConfig)     = "paddle"   => paddle::Paddle,
        Zendesk(ZendeskConfig)   = "zendesk"  => zendesk::Zendesk,
        Mailgun(MailgunConfig)   = "mailgun"  => mailgun::Mailgun,
        Sendgrid(SendgridConfig) = "sendgrid" => sendgrid::Sendgrid,
        AwsSns(AwsSnsConfig)     = "aws_sns"  => aws_sns::AwsSns,
        Hmac(HmacConfig)         = "hmac"     => hmac_generic::Hmac,
        Bearer(BearerConfig)     = "bearer"   => bearer::Bearer,
    }
}
