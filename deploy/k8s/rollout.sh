#!/bin/sh
# Rolls out one overlay with migrations first:
#   1. delete the previous migration Jobs (a Job's pod template is immutable),
#   2. apply everything except the Deployments (namespace, config, secrets references,
#      policies, services, the migration Jobs),
#   3. wait for every migration Job to complete,
#   4. apply everything, which rolls the Deployments onto the new image.
# Usage: deploy/k8s/rollout.sh deploy/k8s/overlays/production [namespace]
set -eu

overlay="${1:?usage: rollout.sh <overlay directory> [namespace]}"
namespace="${2:-zerostate}"
timeout="${MIGRATION_TIMEOUT:-10m}"

kubectl -n "$namespace" delete job -l app.kubernetes.io/component=migration --ignore-not-found --wait=true
kubectl apply -k "$overlay" -l 'app.kubernetes.io/component!=server'
if ! kubectl -n "$namespace" wait --for=condition=complete --timeout="$timeout" \
  job -l app.kubernetes.io/component=migration; then
  echo "migrations did not complete; the running version was left untouched" >&2
  kubectl -n "$namespace" logs -l app.kubernetes.io/component=migration --tail=100 >&2 || true
  exit 1
fi
kubectl apply -k "$overlay"
for deployment in $(kubectl -n "$namespace" get deployment -l app.kubernetes.io/component=server -o name); do
  kubectl -n "$namespace" rollout status "$deployment" --timeout=10m
done
