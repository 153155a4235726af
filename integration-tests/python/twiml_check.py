"""Parses TwiML as XML and checks each verb and attribute against Twilio's documented ones
(https://www.twilio.com/docs/voice/twiml and its pages per verb), not against our writer.

    twiml_check.py TWIML   prints the verbs as JSON: [{"verb", "attrs", "text", "children"}]
                           or fails naming what is not TwiML
"""

import json
import sys
import xml.etree.ElementTree as ET

# Verb → the attributes Twilio documents for it, and the nouns/verbs it may contain.
DOCUMENTED = {
    "Say": ({"voice", "language", "loop"}, set()),
    "Play": ({"loop", "digits"}, set()),
    "Pause": ({"length"}, set()),
    "Redirect": ({"method"}, set()),
    "Hangup": (set(), set()),
    "Gather": (
        {"input", "action", "method", "timeout", "speechTimeout", "maxSpeechTime",
         "profanityFilter", "finishOnKey", "numDigits", "partialResultCallback",
         "partialResultCallbackMethod", "language", "hints", "bargeIn", "debug",
         "actionOnEmptyResult", "speechModel", "enhanced"},
        {"Say", "Play", "Pause"},
    ),
    "Dial": (
        {"action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId", "record",
         "trim", "recordingStatusCallback", "recordingStatusCallbackMethod",
         "recordingStatusCallbackEvent", "answerOnBridge", "ringTone", "recordingTrack",
         "sequential", "referUrl", "referMethod", "events"},
        {"Number", "Client", "Conference", "Queue", "Sip"},
    ),
    "Number": ({"sendDigits", "url", "method", "statusCallbackEvent", "statusCallback",
                "statusCallbackMethod", "machineDetection", "amdStatusCallback"}, set()),
    "Client": ({"url", "method", "statusCallbackEvent", "statusCallback",
                "statusCallbackMethod"}, set()),
    "Record": (
        {"action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim",
         "recordingStatusCallback", "recordingStatusCallbackMethod",
         "recordingStatusCallbackEvent", "transcribe", "transcribeCallback"},
        set(),
    ),
    "Conference": (
        {"muted", "beep", "startConferenceOnEnter", "endConferenceOnExit", "waitUrl",
         "waitMethod", "maxParticipants", "record", "region", "coach", "trim",
         "statusCallbackEvent", "statusCallback", "statusCallbackMethod",
         "recordingStatusCallback", "recordingStatusCallbackMethod",
         "recordingStatusCallbackEvent", "eventCallbackUrl", "jitterBufferSize",
         "participantLabel"},
        set(),
    ),
    "Start": (set(), {"Recording", "Stream"}),
    "Recording": ({"channels", "recordingStatusCallback", "recordingStatusCallbackMethod",
                   "recordingStatusCallbackEvent", "trim", "track"}, set()),
}
GATHER_INPUTS = {"dtmf", "speech", "dtmf speech", "speech dtmf"}


def verb(element, allowed):
    name = element.tag
    if name not in allowed:
        sys.exit(f"<{name}> is not allowed here (allowed: {sorted(allowed)})")
    attributes, children = DOCUMENTED[name]
    unknown = set(element.attrib) - attributes
    if unknown:
        sys.exit(f"<{name}> has undocumented attributes {sorted(unknown)}")
    if name == "Gather" and element.get("input", "dtmf") not in GATHER_INPUTS:
        sys.exit(f"<Gather input={element.get('input')!r}> is not dtmf, speech or both")
    if name == "Conference":
        for flag in ("muted", "startConferenceOnEnter", "endConferenceOnExit"):
            if element.get(flag, "true") not in ("true", "false"):
                sys.exit(f"<Conference {flag}={element.get(flag)!r}> is not true or false")
        if element.get("beep", "true") not in ("true", "false", "onEnter", "onExit"):
            sys.exit(f"<Conference beep={element.get('beep')!r}>")
        if not (element.text or "").strip():
            sys.exit("<Conference> names no room")
    if element.get("method", "POST") not in ("GET", "POST"):
        sys.exit(f"<{name} method={element.get('method')!r}>")
    return {
        "verb": name,
        "attrs": dict(element.attrib),
        "text": (element.text or "").strip(),
        "children": [verb(child, children) for child in element],
    }


root = ET.fromstring(sys.argv[1].encode("utf-8"))
if root.tag != "Response":
    sys.exit(f"the root is <{root.tag}>, not <Response>")
NOUNS = {"Number", "Client", "Conference", "Recording"}
print(json.dumps([verb(child, set(DOCUMENTED) - NOUNS) for child in root]))
