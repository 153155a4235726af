"""Checks an X-Twilio-Signature with twilio-python's own RequestValidator.

    twilio_check.py AUTH_TOKEN URL PARAMS_JSON SIGNATURE   prints "valid" or "invalid"
"""

import json
import sys

from twilio.request_validator import RequestValidator

token, url, params, signature = sys.argv[1:5]
print("valid" if RequestValidator(token).validate(url, json.loads(params), signature) else "invalid")
