#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Installed mmwsss, no clone: python -m torch.distributed.run --nproc_per_node=GPUS \
#     -m mmwsss.cli.train ARGS --launcher pytorch   (what this script runs)
# Without CUDA the processes run on the CPU with gloo (mmwsss/compat/cpu_dist.py).
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

# the clone's mmwsss when run from a clone; an installed mmwsss carries this
# script in mmwsss/.mim/tools, where the path below adds nothing mmwsss-like
PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    -m mmwsss.cli.train \
    $CONFIG \
    --launcher pytorch ${@:3}
