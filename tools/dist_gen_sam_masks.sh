#!/usr/bin/env bash
# Usage: bash tools/dist_gen_sam_masks.sh CONFIG GPUS [gen_sam_masks.py args...]
# e.g.   bash tools/dist_gen_sam_masks.sh configs/sams/voc_trainaug.py 8
# Rank r of the GPUS processes takes images r, r+GPUS, ... on cuda:r.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/gen_sam_masks.py \
    $CONFIG \
    --launcher pytorch ${@:3}
