"""What can be checked of the Helm chart without a helm binary.

    helm_check.py CHART_DIR   prints "ok", or each finding and exits 1

- values.yaml validates against values.schema.json, and a set of bad values each fails it;
- every `.Values.x.y` a template reads exists in values.yaml;
- template actions are balanced.
"""

import copy
import json
import pathlib
import re
import sys

import jsonschema
import yaml

chart = pathlib.Path(sys.argv[1])
findings = []
values = yaml.safe_load((chart / "values.yaml").read_text())
schema = json.loads((chart / "values.schema.json").read_text())
validator = jsonschema.Draft7Validator(schema)
findings += [f"values.yaml: {e.message} at {list(e.path)}" for e in validator.iter_errors(values)]


def bad(edit):
    broken = copy.deepcopy(values)
    edit(broken)
    return broken


BAD = {
    "replicas as text": bad(lambda v: v["services"]["calls"].update(replicas="two")),
    "an unknown key": bad(lambda v: v.update(replicaCount=3)),
    "a role that does not exist": bad(lambda v: v.update(platformRoleMap="owner=root")),
    "three relays": bad(lambda v: v["services"]["relay"].update(replicas=3)),
    "a malformed quantity": bad(lambda v: v["services"]["edge"]["resources"]["limits"].update(memory="lots")),
    "a missing service": bad(lambda v: v["services"].pop("agents")),
    "a queue type RabbitMQ does not have": bad(lambda v: v.update(queueType="stream")),
    "a digest that is not sha256": bad(lambda v: v["image"].update(digest="latest")),
    "an unknown pull policy": bad(lambda v: v["image"].update(pullPolicy="Sometimes")),
    "transcription without a media URL": bad(lambda v: v["transcription"].update(enabled=True)),
    "a media URL carriers cannot open a socket to": bad(
        lambda v: v["transcription"].update(enabled=True, mediaBaseUrl="https://comms.example.com")
    ),
}
for name, values_bad in BAD.items():
    if validator.is_valid(values_bad):
        findings.append(f"values.schema.json accepts {name}")

for template in sorted((chart / "templates").glob("*")):
    text = template.read_text()
    if text.count("{{") != text.count("}}"):
        findings.append(f"{template.name}: unbalanced template actions")
    for path in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text):
        node = values
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                findings.append(f"{template.name}: .Values.{path} is not in values.yaml")
                break
            node = node[part]

print("\n".join(findings) if findings else "ok")
sys.exit(1 if findings else 0)
