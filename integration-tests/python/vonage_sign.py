"""Signs a webhook body as Vonage signs its callbacks, with PyJWT: HS256 under the account's
signature secret, the body's SHA-256 as payload_hash.

    vonage_sign.py SECRET API_KEY APPLICATION_ID BODY [IAT]   prints the JWT
"""

import hashlib
import sys
import time
import uuid

import jwt

secret, api_key, application_id, body = sys.argv[1:5]
iat = int(sys.argv[5]) if len(sys.argv) > 5 else int(time.time())
claims = {
    "iat": iat,
    "jti": str(uuid.uuid4()),
    "iss": "Vonage",
    "payload_hash": hashlib.sha256(body.encode()).hexdigest(),
    "api_key": api_key,
    "application_id": application_id,
}
print(jwt.encode(claims, secret, algorithm="HS256"))
