{{/* Labels every object of the release carries. */}}
{{- define "comms.labels" -}}
app.kubernetes.io/name: comms
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ocelot
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The pods of one component: (dict "root" $ "component" "calls"). */}}
{{- define "comms.selector" -}}
app.kubernetes.io/name: comms
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "comms.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
{{- end }}

{{/* Non-root, read-only, no capabilities, default seccomp: for every container. */}}
{{- define "comms.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Checks of the security review the pods do not follow, each with its reason (read by checkov). */}}
{{- define "comms.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=Set image.digest to pin the image by digest; the chart's default names a tag
checkov.io/skip2: CKV_K8S_15=Release tags are immutable and pinned by digest in production; IfNotPresent avoids a registry round trip on every restart
checkov.io/skip3: CKV_K8S_35=The binary reads its configuration from environment variables; secrets come from secretKeyRef, never inline, in a container with no shell
{{- end }}

{{- define "comms.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* An env entry from the existing Secret: (dict "root" $ "key" "DATABASE_URL" "optional" false). */}}
{{- define "comms.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.existingSecret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
