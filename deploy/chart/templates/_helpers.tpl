{{/* The name of every object: one eni-ipam per cluster. */}}
{{- define "eni-ipam.fullname" -}}
{{- default "eni-ipam" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels the pods and the DaemonSet's selector use (immutable once installed). */}}
{{- define "eni-ipam.selectorLabels" -}}
app.kubernetes.io/name: eni-ipam
{{- end -}}

{{/* Labels on every object the chart owns: the Kustomize base's, plus Helm's bookkeeping. */}}
{{- define "eni-ipam.labels" -}}
{{ include "eni-ipam.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "eni-ipam.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}
