//! W3C trace context: join the sender's trace or start one (SPEC §8).

/// The `traceparent` to record with the event: a child of the sender's trace when its
/// header is valid, else a new trace. `random` supplies 24 bytes (trace id + span id),
/// so this stays pure.
pub fn child_traceparent(incoming: Option<&str>, random: [u8; 24]) -> String {
    let span_id = hex::encode(&random[16..]);
    match incoming.and_then(parse) {
        Some((trace_id, flags)) => format!("00-{trace_id}-{span_id}-{flags}"),
        None => format!("00-{}-{span_id}-01", hex::encode(&random[..16])),
    }
}

/// (trace id, flags) of a valid version-00 header.
fn parse(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = version == "00"
        && parts.next().is_none()
        && lower_hex(trace_id, 32)
        && lower_hex(parent_id, 16)
        && lower_hex(flags, 2)
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0');
    valid.then_some((trace_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: [u8; 24] = [0xAB; 24];

    #[test]
    fn valid_sender_trace_is_joined_with_a_new_span() {
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(
            child_traceparent(Some(incoming), RANDOM),
            "00-0af7651916cd43dd8448eb211c80319c-abababababababab-01"
        );
    }

    #[test]
    fn missing_or_invalid_trace_starts_a_new_one() {
        let fresh = "00-abababababababababababababababab-abababababababab-01";
        for incoming in [
            None,
            Some(""),
            Some("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            Some("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
            Some("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"),
        ] {
            assert_eq!(child_traceparent(incoming, RANDOM), fresh, "{incoming:?}");
        }
    }
}
