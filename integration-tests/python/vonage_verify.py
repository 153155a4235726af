"""Verifies a Vonage application JWT (RS256) with PyJWT, as Vonage's API does.

    vonage_verify.py PUBLIC_KEY_PEM_FILE TOKEN   prints the header and claims as JSON, or fails
"""

import json
import sys

import jwt

public_key = open(sys.argv[1]).read()
token = sys.argv[2]
claims = jwt.decode(token, public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "jti"]})
print(json.dumps({"header": jwt.get_unverified_header(token), "claims": claims}))
