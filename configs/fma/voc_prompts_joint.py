# The paper's joint form of FMA-WSSS prompt learning (eq. 11): one run, both
# losses every step. The coarse seed D_C of each crop is made online from
# the cls CAMs of that crop (CAA t 0.4 -> SAMS alpha 0.6 with the crop's own
# SAM masks, which LoadSAMMasks carries through the augmentations); CAL
# trains the seg prompts against it while MCL trains the cls prompts. The
# authors' released schedule is the two-phase one (./voc_prompts.py).
#
#   python tools/train.py configs/fma/voc_prompts_joint.py [--amp] [--resume]
_base_ = ['./voc_prompts.py']

max_iters = 18800  # the two-phase run's total
model = dict(
    phase='joint',
    joint_seeder=dict(
        type='SAMSSeeder', alpha=0.6, owner='model.joint_seeder'))
# The same augmentation as the two-phase run (`fma_augmentation`); the SAM
# masks ride along as label channels, so RandRangeScale resizes them with
# nearest neighbour like the labels.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSAMMasks', mask_dir={{_base_.sam_mask_dir}}),
    dict(type='Compose', transforms={{_base_.fma_augmentation}}),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters + 1)
# One window of fma_two_phase.py's schedule over the whole run.
param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters)]
