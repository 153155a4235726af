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
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
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
