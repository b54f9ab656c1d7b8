#!/usr/bin/env bash
# Usage: bash tools/dist_gen_sam_masks.sh CONFIG GPUS [gen_sam_masks.py args...]
# e.g.   bash tools/dist_gen_sam_masks.sh configs/sams/voc_trainaug.py 8
# Rank r of the GPUS processes takes images r, r+GPUS, ... on cuda:r.
# Installed mmwsss, no clone: python -m torch.distributed.run --nproc_per_node=GPUS \
#     -m mmwsss.cli.gen_sam_masks ARGS --launcher pytorch   (what this script runs)
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
    -m mmwsss.cli.gen_sam_masks \
    $CONFIG \
    --launcher pytorch ${@:3}
