"""Signs a webhook request as Twilio does, with twilio-python's own RequestValidator.

    twilio_sign.py AUTH_TOKEN URL PARAMS_JSON   prints the X-Twilio-Signature
"""

import json
import sys

from twilio.request_validator import RequestValidator

token, url, params = sys.argv[1:4]
print(RequestValidator(token).compute_signature(url, json.loads(params)))
