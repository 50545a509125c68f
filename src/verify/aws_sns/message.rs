//! An SNS message as posted to an HTTP/HTTPS subscription: the JSON body's members, read
//! borrowed where the JSON has no escapes, and the canonical string SNS signs.

use std::borrow::Cow;

use serde::Deserialize;

use crate::verify::error::Rejection;

/// What the message is (`Type`); SNS sends no other to an HTTP subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl MessageType {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "Notification" => Self::Notification,
            "SubscriptionConfirmation" => Self::SubscriptionConfirmation,
            "UnsubscribeConfirmation" => Self::UnsubscribeConfirmation,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    /// The members signed, in SNS's order (byte order of their names); `Subject` only
    /// when present.
    fn signed_members(self) -> &'static [Member] {
        match self {
            Self::Notification => &[
                Member::Message,
                Member::MessageId,
                Member::Subject,
                Member::Timestamp,
                Member::TopicArn,
                Member::Type,
            ],
            Self::SubscriptionConfirmation | Self::UnsubscribeConfirmation => &[
                Member::Message,
                Member::MessageId,
                Member::SubscribeUrl,
                Member::Timestamp,
                Member::Token,
                Member::TopicArn,
                Member::Type,
            ],
        }
    }
}

/// `SignatureVersion`: which digest the RSA PKCS#1 v1.5 signature is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureVersion {
    /// SHA1.
    V1,
    /// SHA256.
    V2,
}

/// A member of the message, by its JSON name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member {
    Message,
    MessageId,
    Subject,
    SubscribeUrl,
    Timestamp,
    Token,
    TopicArn,
    Type,
}

impl Member {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Message => "Message",
            Self::MessageId => "MessageId",
            Self::Subject => "Subject",
            Self::SubscribeUrl => "SubscribeURL",
            Self::Timestamp => "Timestamp",
            Self::Token => "Token",
            Self::TopicArn => "TopicArn",
            Self::Type => "Type",
        }
    }
}

/// The body's members hookgate reads; SNS's others (`UnsubscribeURL`,
/// `MessageAttributes`, …) are ignored. A member sent twice, or one of these that is
/// not a string (`Subject` may be `null`, read as absent), makes the body malformed.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Message<'a> {
    #[serde(borrow, rename = "Type")]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) subject: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "SubscribeURL")]
    pub(crate) subscribe_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) topic_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) signature_version: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "SigningCertURL")]
    pub(crate) signing_cert_url: Option<Cow<'a, str>>,
}

impl<'a> Message<'a> {
    /// The body as a JSON object of these members.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, Rejection> {
        serde_json::from_slice(body).map_err(|_| Rejection::MalformedBody)
    }

    pub(crate) fn get(&self, member: Member) -> Option<&str> {
        let value = match member {
            Member::Message => &self.message,
            Member::MessageId => &self.message_id,
            Member::Subject => &self.subject,
            Member::SubscribeUrl => &self.subscribe_url,
            Member::Timestamp => &self.timestamp,
            Member::Token => &self.token,
            Member::TopicArn => &self.topic_arn,
            Member::Type => &self.kind,
        };
        value.as_deref()
    }

    /// The member, or the rejection naming it.
    pub(crate) fn required(&self, member: Member) -> Result<&str, Rejection> {
        self.get(member)
            .ok_or(Rejection::MissingField(member.name()))
    }

    /// The string SNS signs for a message of this type: `Name\nvalue\n` for each signed
    /// member present, in order. Only `Subject` is ever absent from a well-formed
    /// message; the others are checked before this is built.
    pub(crate) fn canonical(&self, kind: MessageType) -> String {
        let members = kind.signed_members();
        let length: usize = members
            .iter()
            .filter_map(|m| self.get(*m).map(|v| m.name().len() + v.len() + 2))
            .sum();
        let mut text = String::with_capacity(length);
        for member in members {
            if let Some(value) = self.get(*member) {
                text.push_str(member.name());
                text.push('\n');
                text.push_str(value);
                text.push('\n');
            }
        }
        text
    }
}

/// The members every message must carry, and those a confirmation adds.
pub(crate) fn required_members(kind: MessageType) -> &'static [Member] {
    match kind {
        MessageType::Notification => &[
            Member::Message,
            Member::MessageId,
            Member::Timestamp,
            Member::TopicArn,
        ],
        MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => &[
            Member::Message,
            Member::MessageId,
            Member::SubscribeUrl,
            Member::Timestamp,
            Member::Token,
            Member::TopicArn,
        ],
    }
}
