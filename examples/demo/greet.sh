#!/usr/bin/env bash
# Prints a greeting, then shows the run this process belongs to.
set -eu
for _ in $(seq 1 "$3"); do echo "$1, $2!"; done
echo "run id: ${MLFLOW_RUN_ID}"
echo "tracking uri: ${MLFLOW_TRACKING_URI}"
