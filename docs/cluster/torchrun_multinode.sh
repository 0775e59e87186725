#!/usr/bin/env bash
# One machine's part of an ssl-core job on several machines (docs/distributed.md, "Several machines").
# Run it on EVERY machine with the same arguments; the job starts once all of them have joined.
#
#   torchrun_multinode.sh NODES GPUS_PER_NODE HOST:PORT JOB_ID SSL-CORE-ARGUMENTS...
#
# e.g. two machines with 4 GPUs each, the rendezvous on node-a (run the same line on node-a and node-b):
#   docs/cluster/torchrun_multinode.sh 2 4 node-a:29500 job42 train --config run.toml --runs-dir /shared/runs
# and to continue it after a stop or a crash, with these or other machines:
#   docs/cluster/torchrun_multinode.sh 2 4 node-a:29500 job43 resume /shared/runs/<run-id>
#
# Environment: SSL_WORKBENCH_VENV=/shared/ssl-workbench/.venv activates that environment first (the same
# versions of torch and the workbench on every machine). The runs folder and the data must be at the same
# path on every machine (a shared filesystem); see docs/distributed.md for the network and NCCL settings.
set -euo pipefail

if [[ $# -lt 5 ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
NODES=$1 GPUS_PER_NODE=$2 ENDPOINT=$3 JOB_ID=$4
shift 4

if [[ -n ${SSL_WORKBENCH_VENV:-} ]]; then
    # shellcheck disable=SC1091
    source "$SSL_WORKBENCH_VENV/bin/activate"
fi

# Uncomment when a machine has several network interfaces and the wrong one is picked (see the docs):
# export NCCL_SOCKET_IFNAME=eth0 GLOO_SOCKET_IFNAME=eth0
# export NCCL_DEBUG=INFO     # print what NCCL chose at start-up (a job that hangs at its first step)

# --max-restarts 0: a failed job is continued with `resume`, never restarted as a new run.
exec torchrun \
    --nnodes "$NODES" --nproc-per-node "$GPUS_PER_NODE" \
    --rdzv-backend c10d --rdzv-endpoint "$ENDPOINT" --rdzv-id "$JOB_ID" \
    --max-restarts 0 \
    -m ssl_core "$@"
