"""Checks a Twilio Voice access token against the one the official `twilio` package makes.

    twilio_token_check.py TOKEN ACCOUNT_SID API_KEY_SID API_KEY_SECRET IDENTITY

Verifies TOKEN with PyJWT (HS256 under the API key's secret, `exp` and `nbf` required), makes
twilio-python's own `AccessToken` with a `VoiceGrant(incoming_allow=True)` for the same
identity, and prints both as JSON: {"ours": {header, claims}, "twilio": {header, claims}}.
"""

import json
import sys

import jwt
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

token, account_sid, key_sid, secret, identity = sys.argv[1:6]


def decoded(value):
    claims = jwt.decode(value, secret, algorithms=["HS256"], options={"require": ["exp", "nbf"]})
    return {"header": jwt.get_unverified_header(value), "claims": claims}


reference = AccessToken(account_sid, key_sid, secret, identity=identity)
reference.add_grant(VoiceGrant(incoming_allow=True))
print(json.dumps({"ours": decoded(token), "twilio": decoded(reference.to_jwt())}))
