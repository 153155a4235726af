"""Our JWTs seen from outside, with PyJWT.

    jwt_interop.py verify JWKS_URL TOKEN AUDIENCE   prints the verified claims as JSON
    jwt_interop.py sign PRIVATE_KEY_PEM KID CLAIMS  prints an EdDSA token PyJWT signed
"""

import json
import sys
import urllib.request

import jwt


def verify(jwks_url: str, token: str, audience: str) -> None:
    with urllib.request.urlopen(jwks_url) as response:
        jwks = json.load(response)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience=audience, issuer="comms")
    print(json.dumps(claims))


def sign(pem: str, kid: str, claims: str) -> None:
    print(jwt.encode(json.loads(claims), pem, algorithm="EdDSA", headers={"kid": kid}))


if __name__ == "__main__":
    {"verify": verify, "sign": sign}[sys.argv[1]](*sys.argv[2:])
