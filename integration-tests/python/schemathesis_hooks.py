"""schemathesis hooks for our API (loaded through SCHEMATHESIS_HOOKS).

A `page_token` is opaque: only one the server handed out names a page, so a generated one can
only be refused (400, "not a token from a previous response", which the suite tests on its
own). Requests are sent without it rather than report that refusal as a finding on every list.
"""

import datetime
import re

import schemathesis
from hypothesis.internal import lambda_sources

# CPython 3.11 can raise SystemError ("AST constructor recursion depth mismatch") from ast.parse
# once a deep recursion has been unwound in the same thread; hypothesis parses source only to
# print a lambda in a strategy's description, and that crash failed whole runs at random. A
# lambda it cannot describe is named plainly instead; nothing about the requests changes.
_describe_lambda = lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe_lambda(f)
    except SystemError:
        return "lambda: <source not shown>"


lambda_sources.lambda_description = _lambda_description


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.query:
        case.query.pop("page_token", None)
    # A Vonage application's private key must be a real RSA key, which no pattern can state:
    # a generated PEM-shaped one is swapped for a real one (a malformed one stays malformed).
    application = case.body.get("application") if isinstance(case.body, dict) else None
    if (
        isinstance(application, dict)
        and isinstance(application.get("private_key"), str)
        and application["private_key"].startswith("-----BEGIN ")
    ):
        application["private_key"] = _RSA_KEY


def _rsa_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


_RSA_KEY = _rsa_key()


@schemathesis.hook
def filter_body(ctx, body):
    """Rules between fields, which JSON Schema cannot state (the server refuses each naming the
    field; tests of our own cover them): a calling window ends after it starts, an agent or a
    number lists each skill once, and a simulated answer is keys or words, not both."""
    if not isinstance(body, dict):
        return True
    inputs = body.get("inputs")
    if isinstance(inputs, list) and any(
        isinstance(i, dict) and i.get("digits") is not None and i.get("speech") is not None
        for i in inputs
    ):
        return False
    window = body.get("window")
    if isinstance(window, dict):
        start, end = window.get("start"), window.get("end")
        if isinstance(start, str) and isinstance(end, str) and end <= start:
            return False
    skills = body.get("skills")
    if isinstance(skills, list):
        names = [s.get("name") if isinstance(s, dict) else s for s in skills]
        if len(names) != len(set(map(str, names))):
            return False
    return True


@schemathesis.hook
def filter_query(ctx, query):
    """A span ends after it starts (`to` after `from`; `to` is now when absent), which JSON
    Schema cannot state; the server refuses it naming `to` (services/analytics/tests)."""
    if not isinstance(query, dict) or not isinstance(query.get("from"), str):
        return True
    try:
        start = datetime.datetime.fromisoformat(query["from"])
        end = query.get("to")
        end = (
            datetime.datetime.fromisoformat(end)
            if isinstance(end, str)
            else datetime.datetime.now(datetime.timezone.utc)
        )
        return end > start
    except (ValueError, TypeError):
        return True


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Every failure counts but those schemathesis makes itself, and one of HTTP's:

    - a path parameter it fills from a null in an earlier response (an agent's `team_id`) is
      sent as the text "None", which the schema's UUID never allowed, and its refusal is then
      reported as a valid request refused;
    - a call it just created has no recording yet: `…/calls/{id}/recording` answers 404 for the
      recording (the call is there), which its link from `POST /calls` takes for the call
      missing ("created resource not found"); likewise `…/calls/{id}/pull` of a call it just
      created answers 404 for the call's place in the queue (it is not waiting) or for the
      agent its body names (none it made, or not the supervisor's: the issue's rule for another
      team's agent), never for the call itself; a waiting call is pulled in
      tests/supervision.rs;
    - an IVR flow's definition it generates from the schema is a graph whose rules JSON Schema
      cannot state (each `next` names a node, every node is reachable and can end, no loop
      without a question, every text in each declared language, names of a-z): the server
      refuses it naming the node (tests/telephony/ivr.rs covers each rule). Only refusals that
      name nothing but the definition's nodes, languages and start are set aside;
    - the live feed is a WebSocket: a plain GET is answered 426 Upgrade Required, which no
      parameter can avoid (the upgrade is HTTP's own headers); tests/live.rs opens it."""
    if (
        type(failure).__name__ == "RejectedPositiveData"
        and case.operation.path == "/api/communications/live"
        and response.status_code == 426
    ):
        return False
    if (
        type(failure).__name__ == "RejectedPositiveData"
        and case.operation.path.startswith("/api/communications/ivr-flows")
        and response.status_code == 400
        and _flow_rules_only(response)
    ):
        return False
    parameters = case.path_parameters or {}
    if any(value is None or value == "None" for value in parameters.values()):
        return False
    if (
        type(failure).__name__ == "EnsureResourceAvailability"
        and case.operation.path.endswith("/calls/{id}/recording")
        and response.status_code == 404
        and b"recording of call" in response.content
    ):
        return False
    if (
        type(failure).__name__ == "EnsureResourceAvailability"
        and case.operation.path.endswith("/calls/{id}/pull")
        and response.status_code == 404
        and (
            b"is not waiting for an agent" in response.content
            or re.search(rb'"detail":"agent [0-9a-f-]{36} not found"', response.content)
        )
    ):
        return False
    return True


def _flow_rules_only(response):
    """Whether a 400 names only the flow definition's own graph and texts."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return False
    return bool(errors) and all(
        isinstance(e, dict)
        and isinstance(e.get("field"), str)
        and (e["field"].startswith("definition.nodes") or e["field"] in ("definition.start", "definition.languages", "…"))
        for e in errors
    )
