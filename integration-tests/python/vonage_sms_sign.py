"""Signs an SMS API webhook's parameters as Vonage does, with Vonage's own Python SDK
(vonage-http-client's Auth.sign_params): adds a timestamp when there is none, and `sig`.

    vonage_sms_sign.py SECRET METHOD PARAMS_JSON   prints the signed parameters as JSON
"""

import json
import sys

from vonage_http_client.auth import Auth

secret, method, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
auth = Auth(api_key="abcd1234", signature_secret=secret, signature_method=method)
params["sig"] = auth.sign_params(params)
print(json.dumps(params))
