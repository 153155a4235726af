"""Checks an NCCO against the Vonage SDK's own models (vonage-voice: vonage_voice.models.ncco),
not against our writer: each action's fields must be the model's, and the model must accept it.

    ncco_check.py NCCO_JSON   prints "valid" or fails naming the action and what is wrong
"""

import json
import sys

from vonage_voice.models import ncco

MODELS = {
    "talk": ncco.Talk,
    "stream": ncco.Stream,
    "input": ncco.Input,
    "record": ncco.Record,
    "connect": ncco.Connect,
    "conversation": ncco.Conversation,
    "notify": ncco.Notify,
}

actions = json.loads(sys.argv[1])
if not isinstance(actions, list):
    sys.exit("an NCCO is a JSON array of actions")
for i, action in enumerate(actions):
    name = action.get("action")
    model = MODELS.get(name)
    if model is None:
        sys.exit(f"action {i}: {name!r} is not an NCCO action")
    # `from` is written `from_` in Python.
    fields = {("from" if f == "from_" else f) for f in model.model_fields}
    unknown = set(action) - fields
    if unknown:
        sys.exit(f"action {i} ({name}): fields the SDK does not know: {sorted(unknown)}")
    given = {("from_" if k == "from" else k): v for k, v in action.items() if k != "action"}
    try:
        model.model_validate(given)
    except Exception as error:  # pydantic's ValidationError or the SDK's NccoActionError
        sys.exit(f"action {i} ({name}): {error}")
print("valid")
