"""What a platform team's security review asks of our manifests, checked on rendered YAML.

    k8s_check.py FILE...   prints "ok", or each finding and exits 1
"""

import sys

import yaml

findings = []
docs = [d for path in sys.argv[1:] for d in yaml.safe_load_all(open(path)) if d]
config = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
settings = config["comms-config"]["data"]
# A draining pod answers not-ready for the grace, then finishes work for the drain timeout, then
# has a second to end its streams: all of it must fit in the pod's grace period.
drain = int(settings["DRAIN_TIMEOUT_SECONDS"]) + int(settings["NOT_READY_GRACE_MS"]) / 1000 + 1

for d in docs:
    name = f'{d["kind"]}/{d["metadata"]["name"]}'
    if d["kind"] == "Secret":
        findings.append(f"{name}: secrets are referenced, never shipped")
    if d["kind"] not in ("Deployment", "Job"):
        continue
    pod = d["spec"]["template"]["spec"]
    if pod.get("automountServiceAccountToken") is not False:
        findings.append(f"{name}: mounts a service account token")
    if d["kind"] == "Deployment" and pod.get("terminationGracePeriodSeconds", 30) <= drain:
        findings.append(f"{name}: grace period not longer than the drain ({drain} s)")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        where = f"{name}/{c['name']}"
        checks = {
            "runAsNonRoot": sc.get("runAsNonRoot") is True,
            "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
            "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
            "capabilities drop ALL": sc.get("capabilities", {}).get("drop") == ["ALL"],
            "seccomp RuntimeDefault": sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            "resource requests and limits": all(k in c.get("resources", {}) for k in ("requests", "limits")),
            "no plain secret values": all("value" not in e or not any(w in e["name"] for w in ("KEY", "PASSWORD", "SECRET", "URL")) for e in c.get("env", [])),
        }
        if d["kind"] == "Deployment":
            checks["startup, readiness and liveness probes"] = all(p in c for p in ("startupProbe", "readinessProbe", "livenessProbe"))
        findings += [f"{where}: {check}" for check, ok in checks.items() if not ok]

print("\n".join(findings) if findings else "ok")
sys.exit(1 if findings else 0)
