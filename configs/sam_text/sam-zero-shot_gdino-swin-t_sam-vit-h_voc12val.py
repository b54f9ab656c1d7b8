# SAM zero-shot (WSSS survey sec. 4.2.2, Table 1 row 60): no image labels at
# all. A tagger names what each image shows, the tags become VOC classes
# through the survey's synonym table (mmwsss/class_names.py: couch -> sofa,
# plane -> aeroplane, plant -> pottedplant, monitor/screen/television ->
# tvmonitor, man/woman/boy/girl/child/baby -> person, ...), and the text-
# input pipeline (./sam-text_gdino-swin-t_sam-vit-h_voc12aug.py) runs with
# those classes. As in the survey it runs directly on the val (or test) images and is scored there; no
# stage-2 network is trained.
#
# Tagger: the survey uses RAM (Swin-L), which is not on mmwsss's stack; here
# CLIP ViT-B/16 scores an open vocabulary (class names + synonyms +
# background words, `tag_vocabulary` of mmwsss/class_names.py) zero-shot.
# RAM or any tagger with `tagger(rgb_image) -> list[str]` registered in
# MODELS replaces it through `model.tagger`.
#
#   python tools/test.py \
#       configs/sam_text/sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py none \
#       --cfg-options model.detector_checkpoint=... model.sam.checkpoint=... \
#                     model.detector.language_model.name=... \
#                     model.tagger.clip.pretrained=PATH/ViT-B-16.pt
# Published (survey Table 1, row 60, "SAM (zero-shot)"): VOC pseudo masks
# 78.2 (train), 74.0 val / 73.8 test mIoU; COCO 54.6 (pseudo masks) / 54.6
# (val).
_base_ = ['./sam-text_gdino-swin-t_sam-vit-h_voc12aug.py']

seed_dir = 'work_dirs/sam_text_voc_zero_shot/seeds'
model = dict(
    tagger=dict(
        type='CLIPZeroShotTagger',
        clip=dict(
            type='FrozenCLIP',
            model_name='ViT-B-16',
            pretrained='openai',
            pooling='cls',
            attn_layers=0),
        vocabulary='voc',
        templates=('a photo of a {}.', ),
        threshold=0.1,
        top_k=5))

test_dataloader = {{_base_.val_dataloader}}
test_evaluator = dict(
    seed_dir=seed_dir, out_dir='work_dirs/sam_text_voc_zero_shot')
