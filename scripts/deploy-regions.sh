#!/usr/bin/env bash
# Deploys the bot to several regions, one stack each, with the same parameters.
# IAM-event rules are included only in the us-east-1 stack, where EventBridge
# delivers IAM events; list us-east-1 if you want them.
#
#   scripts/deploy-regions.sh prod "us-east-1 eu-west-1 eu-central-1" --param="alertEmail=secops@example.com"
#   scripts/deploy-regions.sh prod "us-east-1 eu-west-1" remove     # tear down the same stacks
set -euo pipefail

stage=${1:?usage: deploy-regions.sh <stage> "<region> <region>..." [remove] [serverless options...]}
regions=${2:?usage: deploy-regions.sh <stage> "<region> <region>..." [remove] [serverless options...]}
shift 2
command=deploy
if [[ "${1:-}" == remove ]]; then command=remove; shift; fi

cd "$(dirname "$0")/.."
for region in $regions; do
  echo "==> serverless $command --stage $stage --region $region"
  npx serverless "$command" --stage "$stage" --region "$region" "$@"
done
