"""The JSON shape of one vector case, shared by the generators."""


def case(name, secrets, headers, body, now, judged, code=None, deviation=None, hookgate_expect=None,
         library_input=None):
    """`judged` is (verdict, detail, secret_id) as returned by a library judge.

    `code` is hookgate's Rejection::code() for a library rejection; `deviation` +
    `hookgate_expect` mark a case where hookgate deliberately differs from the library.
    """
    verdict, detail, secret_id = judged
    out = {
        "name": name,
        "secrets": [{"id": i, "value": v} for i, v in secrets],
        "headers": [[n, v] for n, v in headers],
        "body": body,
        "now": now,
        "library_verdict": verdict,
    }
    if detail:
        out["library_detail"] = detail
    if library_input:
        out["library_input"] = library_input
    if verdict == "accept":
        out["secret_id"] = secret_id
    elif deviation is None:
        assert code, f"{name}: a library rejection needs hookgate's code"
        out["code"] = code
    if deviation is not None:
        assert hookgate_expect, name
        out["deviation"] = deviation
        out["hookgate_expect"] = hookgate_expect
        if hookgate_expect == "accept":
            out["secret_id"] = secret_id or secrets[0][0]
    return out


def joined(headers):
    """What a framework hands a library for these header lines: one string per name,
    repeated lines joined with ", " (Node's http for unknown headers; WSGI/ASGI likewise)."""
    out = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
