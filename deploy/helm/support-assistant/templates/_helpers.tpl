{{/* Names, labels and shared snippets of the support-assistant chart. */}}

{{- define "support-assistant.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "support-assistant.fullname" -}}
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

{{- define "support-assistant.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "support-assistant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels; call with (dict "root" $ "component" "app"). */}}
{{- define "support-assistant.selector" -}}
app.kubernetes.io/name: {{ include "support-assistant.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "support-assistant.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "support-assistant.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "support-assistant.secretName" -}}
{{- default (printf "%s-secrets" (include "support-assistant.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "support-assistant.sharedClaim" -}}
{{- default (printf "%s-shared" (include "support-assistant.fullname" .)) .Values.sharedData.persistence.existingClaim -}}
{{- end -}}

{{/* An env var read from the chart's Secret; call with (list $ "ENV_NAME" "secret-key" optional). */}}
{{- define "support-assistant.secretEnv" -}}
{{- $root := index . 0 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "support-assistant.secretName" $root }}
      key: {{ index . 2 }}
      optional: {{ index . 3 }}
{{- end -}}

{{/* rclone copy from the bucket; call with (dict "root" $ "from" "index" "to" "/data/index"). */}}
{{- define "support-assistant.rcloneSync" -}}
- name: sync-{{ .from }}
  image: {{ .root.Values.sharedData.objectStore.image }}
  args: ["copy", "{{ .root.Values.sharedData.objectStore.remote }}/{{ .from }}", "{{ .to }}"]
  {{- with .root.Values.sharedData.objectStore.credentialsSecret }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: {{ .volume }}
      mountPath: {{ .to }}
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* The index Job's ingest container body (after `name:`): `assistant kb add` into /shared/index. */}}
{{- define "support-assistant.indexContainer" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
command: ["sh", "-c"]
args:
  - |
    mkdir -p /shared/kb /shared/adapters
    src=/shared/kb
    if [ -z "$(ls -A "$src")" ]; then
      src="$(python -c 'from assistant.engine.knowledge import SAMPLE_KB; print(SAMPLE_KB)')"
      echo "kb/ is empty: indexing the bundled sample help centre ($src)"
    fi
    # --keep-going: one unreadable file is reported in this Job's log but does not block the release
    exec assistant kb add "$src" --namespace {{ .Values.indexJob.namespace | quote }} --data-dir /shared --keep-going
env:
  - name: MPLCONFIGDIR
    value: /tmp/matplotlib
resources:
  {{- toYaml .Values.indexJob.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: shared
    mountPath: /shared
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* Pod spec of the index Job and CronJob: ingest kb/ into index/ (and sync with the bucket). */}}
{{- define "support-assistant.indexPodSpec" -}}
{{- $store := .Values.sharedData.objectStore -}}
restartPolicy: Never
# The Job runs as an install hook, before the chart's ServiceAccount exists; it needs no API access.
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- if $store.enabled }}
initContainers:
  {{- include "support-assistant.rcloneSync" (dict "root" . "from" "kb" "to" "/shared/kb" "volume" "shared") | nindent 2 }}
  - name: ingest
    {{- include "support-assistant.indexContainer" . | nindent 4 }}
containers:
  - name: upload
    image: {{ $store.image }}
    args: ["sync", "/shared/index", "{{ $store.remote }}/index"]
    {{- with $store.credentialsSecret }}
    envFrom:
      - secretRef:
          name: {{ . }}
    {{- end }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: shared
        mountPath: /shared
      - name: tmp
        mountPath: /tmp
{{- else }}
containers:
  - name: ingest
    {{- include "support-assistant.indexContainer" . | nindent 4 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  - name: shared
    {{- if $store.enabled }}
    emptyDir: {}
    {{- else }}
    persistentVolumeClaim:
      claimName: {{ include "support-assistant.sharedClaim" . }}
    {{- end }}
{{- end -}}
