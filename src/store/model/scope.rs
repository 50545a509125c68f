use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an API key may do (SPEC §7). An empty scope list on a key means all of them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    #[serde(rename = "run:trigger")]
    RunTrigger,
    #[serde(rename = "run:read")]
    RunRead,
    #[serde(rename = "source:read")]
    SourceRead,
    #[serde(rename = "source:write")]
    SourceWrite,
    #[serde(rename = "endpoint:read")]
    EndpointRead,
    #[serde(rename = "endpoint:write")]
    EndpointWrite,
    #[serde(rename = "event:publish")]
    EventPublish,
    #[serde(rename = "delivery:read")]
    DeliveryRead,
    #[serde(rename = "delivery:retry")]
    DeliveryRetry,
    #[serde(rename = "secret:rotate")]
    SecretRotate,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "run:cancel")]
    RunCancel,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Scope::RunTrigger,
        Scope::RunRead,
        Scope::SourceRead,
        Scope::SourceWrite,
        Scope::EndpointRead,
        Scope::EndpointWrite,
        Scope::EventPublish,
        Scope::DeliveryRead,
        Scope::DeliveryRetry,
        Scope::SecretRotate,
        Scope::AuditRead,
        Scope::RunCancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RunTrigger => "run:trigger",
            Scope::RunRead => "run:read",
            Scope::SourceRead => "source:read",
            Scope::SourceWrite => "source:write",
            Scope::EndpointRead => "endpoint:read",
            Scope::EndpointWrite => "endpoint:write",
            Scope::EventPublish => "event:publish",
            Scope::DeliveryRead => "delivery:read",
            Scope::DeliveryRetry => "delivery:retry",
            Scope::SecretRotate => "secret:rotate",
            Scope::AuditRead => "audit:read",
            Scope::RunCancel => "run:cancel",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_text_and_json() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{scope}\""));
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        assert!("run:everything".parse::<Scope>().is_err());
    }
}
