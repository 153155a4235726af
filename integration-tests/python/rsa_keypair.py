"""Writes a 2048-bit RSA key pair as PEM (PKCS#8 private, SubjectPublicKeyInfo public), as a
Vonage application's keys are, with the `cryptography` package PyJWT[crypto] brings.

    rsa_keypair.py PRIVATE_FILE PUBLIC_FILE
"""

import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
with open(sys.argv[1], "wb") as private:
    private.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
with open(sys.argv[2], "wb") as public:
    public.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
