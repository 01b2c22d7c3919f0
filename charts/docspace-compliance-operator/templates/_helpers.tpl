{{/* Names, labels and the operator's command line, shared by the templates. */}}

{{- define "dco.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-based name of every resource; at most 63 characters. */}}
{{- define "dco.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dco.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dco.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dco.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dco.labels" -}}
helm.sh/chart: {{ include "dco.chart" . }}
{{ include "dco.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: docspace-compliance-operator
{{- end -}}

{{- define "dco.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dco.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dco.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "dco.leaseName" -}}
{{- default (include "dco.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/*
The Deployments to render: a list of {name, namespace, lease, shard}. One Deployment named
<fullname> when watchNamespaces has zero or one entry (namespace "" means all); one per
namespace, named <fullname>-<namespace>, when it has several (the operator watches one
namespace or all of them, never a list). Returned as JSON because templates return strings.
*/}}
{{- define "dco.deployments" -}}
{{- $fullname := include "dco.fullname" . -}}
{{- $lease := include "dco.leaseName" . -}}
{{- $namespaces := .Values.watchNamespaces | default list -}}
{{- $out := list -}}
{{- if le (len $namespaces) 1 -}}
{{- $ns := "" -}}
{{- if eq (len $namespaces) 1 -}}{{- $ns = first $namespaces -}}{{- end -}}
{{- $out = append $out (dict "name" $fullname "namespace" $ns "lease" $lease "shard" "") -}}
{{- else -}}
{{- range $namespaces -}}
{{- $name := printf "%s-%s" ($fullname | trunc 40 | trimSuffix "-") . | trunc 63 | trimSuffix "-" -}}
{{- $out = append $out (dict "name" $name "namespace" . "lease" (printf "%s-%s" $lease . | trunc 253) "shard" .) -}}
{{- end -}}
{{- end -}}
{{- dict "items" $out | toJson -}}
{{- end -}}

{{/* Extra selector label of one Deployment when there are several. */}}
{{- define "dco.shardLabel" -}}
{{- if .shard -}}
compliance.docspace.dev/watch-namespace: {{ .shard }}
{{- end -}}
{{- end -}}

{{/*
Values added after the first release (crds.install, tenantRoles.create, prometheusRule.enabled)
are read with dig and their defaults, so that `helm upgrade --reuse-values` from a release that
lacks them still renders (--reuse-values does not merge in the new chart's defaults).
*/}}

{{/* Fails rendering on combinations the schema cannot express. */}}
{{- define "dco.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled: two operators without a Lease would run every report twice" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) -}}
{{- fail "podDisruptionBudget: set only one of minAvailable and maxUnavailable (null the other)" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) -}}
{{- fail "podDisruptionBudget: set one of minAvailable and maxUnavailable" -}}
{{- end -}}
{{- if and (not .Values.allowedPortals) (not .Values.allowAnyPortal) -}}
{{- fail "allowedPortals is empty: list the DocSpace portals reports may call (host names or base URLs), or set allowAnyPortal: true to let report authors name any host" -}}
{{- end -}}
{{- if and .Values.secretAccess.namespaces .Values.watchNamespaces -}}
{{- fail "secretAccess.namespaces does not combine with watchNamespaces: the Roles of watchNamespaces already limit Secret access to those namespaces" -}}
{{- end -}}
{{- if and (not .Values.rbac.create) (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.name is required when serviceAccount.create is false" -}}
{{- end -}}
{{- end -}}
