{{/* Names, labels, the image, and the environment the API, the workers and the migration Job share. */}}

{{- define "tidings.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tidings.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tidings.labels" -}}
{{ include "tidings.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tidings.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* A variable read from a Secret: (list context NAME ref), ref = {name, key}; the name defaults to existingSecret. */}}
{{- define "tidings.secretEnv" -}}
{{- $root := index . 0 -}}
{{- $ref := index . 2 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name | default $root.Values.existingSecret | quote }}
      key: {{ $ref.key | quote }}
{{- end -}}

{{/* What the migration Job needs: the database. */}}
{{- define "tidings.databaseEnv" -}}
{{ include "tidings.secretEnv" (list . "MONGODB_URL" .Values.mongodb.urlSecret) }}
- name: MONGODB_DATABASE
  value: {{ .Values.mongodb.database | quote }}
- name: TIDINGS_LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
- name: TIDINGS_LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
{{- end -}}

{{/* The environment of the API and the workers: the same set (tests/charts compares it with compose.yaml). */}}
{{- define "tidings.env" -}}
{{ include "tidings.databaseEnv" . }}
{{ include "tidings.secretEnv" (list . "REDIS_URL" .Values.redis.urlSecret) }}
{{ include "tidings.secretEnv" (list . "TIDINGS_SECRET_KEY" .Values.secretKeySecret) }}
- name: CONFIGURATION_PATH
  value: /etc/tidings/configuration.json
- name: TIDINGS_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: TIDINGS_API_AUTH
  value: {{ if kindIs "bool" .Values.apiAuth }}{{ ternary "on" "off" .Values.apiAuth | quote }}{{ else }}{{ .Values.apiAuth | quote }}{{ end }}
{{- with .Values.mongodb.usersCollection }}
- name: USERS_COLLECTION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.email.smtp }}
{{- if .host }}
- name: SMTP_HOST
  value: {{ .host | quote }}
- name: SMTP_PORT
  value: {{ .port | quote }}
- name: SMTP_TLS
  value: {{ .tls | quote }}
{{- end }}
{{- if .user }}
- name: SMTP_USER
  value: {{ .user | quote }}
{{- end }}
{{- end }}
{{- if .Values.email.passwordSecret.key }}
{{ include "tidings.secretEnv" (list . "SMTP_PASSWORD" .Values.email.passwordSecret) }}
{{- end }}
{{- if .Values.twilio.accountSid }}
- name: TWILIO_ACCOUNT_SID
  value: {{ .Values.twilio.accountSid | quote }}
{{- end }}
{{- if .Values.twilio.authTokenSecret.key }}
{{ include "tidings.secretEnv" (list . "TWILIO_AUTH_TOKEN" .Values.twilio.authTokenSecret) }}
{{- end }}
{{- if .Values.push.vapidSubject }}
- name: VAPID_SUBJECT
  value: {{ .Values.push.vapidSubject | quote }}
{{- end }}
{{- if .Values.push.privateKeySecret.key }}
{{ include "tidings.secretEnv" (list . "VAPID_PRIVATE_KEY" .Values.push.privateKeySecret) }}
{{- end }}
{{- if .Values.webhooks.signingSecret.key }}
{{ include "tidings.secretEnv" (list . "TIDINGS_WEBHOOK_SECRET" .Values.webhooks.signingSecret) }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod-level settings every Tidings pod shares. */}}
{{- define "tidings.podSpec" -}}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Volumes: the configuration, and a writable /tmp under a read-only root filesystem. */}}
{{- define "tidings.volumes" -}}
volumes:
  - name: configuration
    configMap:
      name: {{ include "tidings.fullname" . }}
  - name: tmp
    emptyDir: {}
{{- end -}}

{{- define "tidings.volumeMounts" -}}
volumeMounts:
  - name: configuration
    mountPath: /etc/tidings
    readOnly: true
  - name: tmp
    mountPath: /tmp
{{- end -}}
