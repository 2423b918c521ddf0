{{/* Chart name, truncated to 63 characters. */}}
{{- define "ptp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the prefix of every resource name. */}}
{{- define "ptp-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the agent's DaemonSet and related objects. */}}
{{- define "ptp-operator.agentName" -}}
{{- printf "%s-agent" (include "ptp-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ptp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; call with (dict "ctx" $ "component" "operator"). */}}
{{- define "ptp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ptp-operator.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of every object; call with (dict "ctx" $ "component" "operator"). */}}
{{- define "ptp-operator.labels" -}}
helm.sh/chart: {{ include "ptp-operator.chart" .ctx }}
{{ include "ptp-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ptp-operator
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ptp-operator.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "ptp-operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ptp-operator.agentServiceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "ptp-operator.agentName" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image reference; call with (dict "ctx" $ "image" .Values.operator.image). */}}
{{- define "ptp-operator.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .image.tag }}
{{- if hasPrefix "@" $tag }}
{{- printf "%s%s" .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* AGENT_NODE_SELECTOR: the agent's nodeSelector as "key=value,..." (sorted keys). */}}
{{- define "ptp-operator.agentNodeSelector" -}}
{{- $pairs := list }}
{{- range $key := keys .Values.agent.nodeSelector | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%s" $key (get $.Values.agent.nodeSelector $key)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* The operator's rules on PtpConfigs and the Events it records on them. */}}
{{- define "ptp-operator.ptpConfigRules" }}
  - apiGroups: ["ptp.openshift.io"]
    resources: ["ptpconfigs"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["ptp.openshift.io"]
    resources: ["ptpconfigs/status"]
    verbs: ["get", "patch", "update"]
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "patch"]
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- end }}

{{/* CEL: the object is the NodePtpDevice of the requesting agent's node (e2e/chart tests it). */}}
{{- define "ptp-operator.ownNodeExpression" -}}
has(request.userInfo.extra) && 'authentication.kubernetes.io/node-name' in request.userInfo.extra && size(request.userInfo.extra['authentication.kubernetes.io/node-name']) == 1 && object.metadata.name == request.userInfo.extra['authentication.kubernetes.io/node-name'][0]
{{- end }}

{{/* Whether the own-node ValidatingAdmissionPolicy is rendered ("true" or empty): `auto` asks
the cluster's API versions (helm install/upgrade; `helm template --api-versions ...`). */}}
{{- define "ptp-operator.admissionPolicyEnabled" -}}
{{- $enabled := .Values.admissionPolicy.enabled }}
{{- if eq (toString $enabled) "auto" }}
{{- if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{/* Where a metrics.tlsSecretName Secret is mounted. */}}
{{- define "ptp-operator.metricsTlsDir" -}}
/etc/ptp-metrics-tls
{{- end }}

{{/* METRICS_AUTH, METRICS_TLS (and the certificate files) of both containers. */}}
{{- define "ptp-operator.metricsEnv" -}}
{{- $m := .Values.metrics }}
- name: METRICS_AUTH
  value: {{ ternary "tokenreview" "none" $m.secure | quote }}
- name: METRICS_TLS
  value: {{ if not $m.secure }}"off"{{ else if $m.tlsSecretName }}"files"{{ else }}"self-signed"{{ end }}
{{- if and $m.secure $m.tlsSecretName }}
- name: METRICS_TLS_CERT
  value: {{ printf "%s/tls.crt" (include "ptp-operator.metricsTlsDir" .) | quote }}
- name: METRICS_TLS_KEY
  value: {{ printf "%s/tls.key" (include "ptp-operator.metricsTlsDir" .) | quote }}
{{- end }}
{{- end }}

{{/* The Secret volume of metrics.tlsSecretName (a list item), when used. */}}
{{- define "ptp-operator.metricsTlsVolume" -}}
{{- if and .Values.metrics.secure .Values.metrics.tlsSecretName }}
- name: metrics-tls
  secret:
    secretName: {{ .Values.metrics.tlsSecretName }}
{{- end }}
{{- end }}

{{/* Its mount (a list item), when used. */}}
{{- define "ptp-operator.metricsTlsMount" -}}
{{- if and .Values.metrics.secure .Values.metrics.tlsSecretName }}
- name: metrics-tls
  mountPath: {{ include "ptp-operator.metricsTlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* With metrics.secure, both ServiceAccounts ask the API server who calls /metrics and whether
they may (as kube-rbac-proxy's ServiceAccount does). */}}
{{- define "ptp-operator.metricsAuthRules" }}
  - apiGroups: ["authentication.k8s.io"]
    resources: ["tokenreviews"]
    verbs: ["create"]
  - apiGroups: ["authorization.k8s.io"]
    resources: ["subjectaccessreviews"]
    verbs: ["create"]
{{- end }}
