"""Every class-name table of mmwsss, in one module.

Dataset class lists (index 0 is background), the VOC colour map, the CLIP-ES
background classes, the CLIP-ES prompt names (synonyms that CLIP reads
better), and the survey's tag-to-class synonym table. Nothing else in the
package spells these lists out: datasets, prompt learners, seed writers and
baselines all import them from here, through :func:`get_dataset_info`.

Sources: CLIP-ES ``clip_text.py`` (linyq2117/CLIP-ES) for the background and
prompt names; the WSSS survey's synonym table for zero-shot tag mapping. The
text-prompt names (Grounding DINO) and the open tag vocabulary (zero-shot
tagging) are mmwsss's own: the class names spelled as English words, and
those plus the survey's synonyms plus background words.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    'VOC_CLASSES', 'COCO_CLASSES', 'COCO_CATEGORY_IDS', 'CLIP_ES_BG_VOC',
    'CLIP_ES_BG_COCO', 'CLIP_ES_PROMPT_NAMES_VOC', 'CLIP_ES_PROMPT_NAMES_COCO',
    'TAG_SYNONYMS_VOC', 'TEXT_NAMES_VOC', 'TEXT_NAMES_COCO',
    'TAG_BACKGROUND_WORDS', 'OPEN_VOCAB_TAGS_VOC', 'OPEN_VOCAB_TAGS_COCO',
    'voc_colormap', 'get_dataset_info', 'check_class_list', 'DATASET_INFO',
    'IGNORE_INDEX', 'class_info', 'resolve_class_info', 'read_classes_txt',
    'WECLIP_TEMPLATE'
]

#: Label value for pixels that count in no class (VOC boundaries, void).
IGNORE_INDEX = 255

VOC_CLASSES: Tuple[str, ...] = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
    'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
    'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

#: MS COCO 2014 object classes as used in WSSS: background + the 80 things.
COCO_CLASSES: Tuple[str, ...] = (
    'background', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus',
    'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')

#: Official COCO category ids of COCO_CLASSES[1:], in the same order.
COCO_CATEGORY_IDS: Tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
    23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
    63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85,
    86, 87, 88, 89, 90)

#: CLIP-ES background classes for VOC (25).
CLIP_ES_BG_VOC: Tuple[str, ...] = (
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake',
    'water', 'river', 'sea', 'railway', 'railroad', 'keyboard', 'helmet',
    'cloud', 'house', 'mountain', 'ocean', 'road', 'rock', 'street', 'valley',
    'bridge', 'sign')

#: CLIP-ES background classes for COCO: the VOC ones minus keyboard, sign.
CLIP_ES_BG_COCO: Tuple[str, ...] = tuple(
    c for c in CLIP_ES_BG_VOC if c not in ('keyboard', 'sign'))

#: CLIP-ES prompt names for the 20 VOC foreground classes.
CLIP_ES_PROMPT_NAMES_VOC: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car',
    'cat', 'chair seat', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
    'person with clothes,people,human', 'pottedplant', 'sheep', 'sofa',
    'train', 'tvmonitor screen')

#: CLIP-ES prompt names for the 80 COCO foreground classes (spelling as in
#: CLIP-ES, 'sknowboard' included, so that published numbers reproduce).
CLIP_ES_PROMPT_NAMES_COCO: Tuple[str, ...] = (
    'person with clothes,people,human', 'bicycle', 'car', 'motorbike',
    'aeroplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
    'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird avian',
    'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
    'giraffe', 'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie',
    'suitcase', 'frisbee', 'skis', 'sknowboard', 'sports ball', 'kite',
    'baseball bat', 'glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon', 'bowl',
    'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog',
    'pizza', 'donut', 'cake', 'chair seat', 'sofa', 'pottedplant', 'bed',
    'diningtable', 'toilet', 'tvmonitor screen', 'laptop', 'mouse',
    'remote control', 'keyboard', 'cell phone', 'microwave', 'oven',
    'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hairdrier,blowdrier', 'toothbrush')

#: WeCLIP / WeCLIP+'s one prompt template (``model_attn_aff_voc.py``). Their
#: ``clip/clip_text.py`` is CLIP-ES's: the background prompts are
#: :data:`CLIP_ES_BG_VOC` (25) / :data:`CLIP_ES_BG_COCO` (23) and the
#: foreground names ``new_class_names`` / ``new_class_names_coco`` are
#: :data:`CLIP_ES_PROMPT_NAMES_VOC` / :data:`CLIP_ES_PROMPT_NAMES_COCO`, so the
#: ``'voc'`` / ``'coco'`` tables of :data:`DATASET_INFO` serve both methods.
WECLIP_TEMPLATE = 'a clean origami {}.'

#: The survey's tag -> VOC class mapping for zero-shot tags (RAM / CLIP tags
#: to dataset classes). Keys are lower-case tags; values are VOC classes.
TAG_SYNONYMS_VOC: Dict[str, str] = {
    'airplane': 'aeroplane', 'plane': 'aeroplane', 'aircraft': 'aeroplane',
    'jet': 'aeroplane', 'bike': 'bicycle', 'boat': 'boat', 'ship': 'boat',
    'sailboat': 'boat', 'bottle': 'bottle', 'bus': 'bus', 'car': 'car',
    'cat': 'cat', 'kitten': 'cat', 'chair': 'chair', 'cow': 'cow',
    'cattle': 'cow', 'table': 'diningtable', 'dining table': 'diningtable',
    'dog': 'dog', 'puppy': 'dog', 'horse': 'horse', 'motorcycle': 'motorbike',
    'motorbike': 'motorbike', 'man': 'person', 'woman': 'person',
    'boy': 'person', 'girl': 'person', 'child': 'person', 'baby': 'person',
    'people': 'person', 'person': 'person', 'plant': 'pottedplant',
    'potted plant': 'pottedplant', 'houseplant': 'pottedplant',
    'sheep': 'sheep', 'lamb': 'sheep', 'couch': 'sofa', 'sofa': 'sofa',
    'train': 'train', 'monitor': 'tvmonitor', 'screen': 'tvmonitor',
    'television': 'tvmonitor', 'tv': 'tvmonitor', 'bird': 'bird',
    'bicycle': 'bicycle', 'aeroplane': 'aeroplane'
}

#: VOC foreground classes as plain English words (``classes[1:]`` order),
#: the names a grounding detector (Grounding DINO's BERT) reads in its text
#: prompt ('dining table', not 'diningtable').
TEXT_NAMES_VOC: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person',
    'potted plant', 'sheep', 'sofa', 'train', 'tv monitor')

#: COCO's class names are English words already.
TEXT_NAMES_COCO: Tuple[str, ...] = COCO_CLASSES[1:]

#: Words for what is not an object class, added to the open tag vocabulary
#: so that a zero-shot tagger has somewhere to put scenes and stuff: the
#: CLIP-ES background classes plus common indoor / outdoor stuff.
TAG_BACKGROUND_WORDS: Tuple[str, ...] = CLIP_ES_BG_VOC + (
    'floor', 'ceiling', 'window', 'door', 'fence', 'field', 'beach', 'snow',
    'sand', 'room', 'kitchen', 'office', 'food', 'cup', 'lamp', 'book',
    'bed', 'shelf', 'curtain', 'painting', 'pole', 'tent', 'truck')


def _unique(words) -> Tuple[str, ...]:
    seen = dict.fromkeys(w.lower() for w in words)
    return tuple(seen)


#: Open vocabulary of the zero-shot tagger on VOC: the class names, the
#: survey's synonyms (:data:`TAG_SYNONYMS_VOC` keys) and background words.
#: Tags map to classes through :data:`TAG_SYNONYMS_VOC`; the others
#: (background words) map to nothing.
OPEN_VOCAB_TAGS_VOC: Tuple[str, ...] = _unique(
    TEXT_NAMES_VOC + tuple(TAG_SYNONYMS_VOC) + TAG_BACKGROUND_WORDS)

#: Open vocabulary on COCO: the class names plus the background words that
#: are no COCO class.
OPEN_VOCAB_TAGS_COCO: Tuple[str, ...] = _unique(
    TEXT_NAMES_COCO +
    tuple(w for w in TAG_BACKGROUND_WORDS if w not in COCO_CLASSES))


def voc_colormap(n: int = 256) -> List[List[int]]:
    """The standard PASCAL VOC colour map (bit-interleaved class index).

    Args:
        n (int): Number of entries. Defaults to 256 (index 255 = ignore,
            drawn as (224, 224, 192)).

    Returns:
        list[list[int]]: ``n`` RGB triples; entry ``i`` is class ``i``'s
        colour.
    """
    cmap = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap.append([r, g, b])
    return cmap


def _info(classes: Sequence[str], bg: Sequence[str],
          prompt_names: Sequence[str], text_names: Sequence[str],
          tag_vocabulary: Sequence[str], tag_synonyms: Dict[str,
                                                          str]) -> dict:
    assert len(prompt_names) == len(classes) - 1
    assert len(text_names) == len(classes) - 1
    assert set(tag_synonyms.values()) <= set(classes[1:])
    return dict(
        classes=tuple(classes),
        palette=voc_colormap(len(classes)),
        bg_classes=tuple(bg),
        prompt_names=tuple(prompt_names),
        text_names=tuple(text_names),
        tag_vocabulary=tuple(tag_vocabulary),
        tag_synonyms=dict(tag_synonyms))


#: Per-dataset tables: ``classes`` (index 0 = background), ``palette``,
#: ``bg_classes`` (CLIP-ES background prompts), ``prompt_names`` (CLIP-ES
#: names of the foreground classes, same order as ``classes[1:]``),
#: ``text_names`` (plain-word names for grounding text prompts, same
#: order), ``tag_vocabulary`` (open vocabulary of zero-shot taggers) and
#: ``tag_synonyms`` (tag -> class name; class names map to themselves).
DATASET_INFO: Dict[str, dict] = {
    'voc':
    _info(VOC_CLASSES, CLIP_ES_BG_VOC, CLIP_ES_PROMPT_NAMES_VOC,
          TEXT_NAMES_VOC, OPEN_VOCAB_TAGS_VOC, TAG_SYNONYMS_VOC),
    'coco':
    _info(COCO_CLASSES, CLIP_ES_BG_COCO, CLIP_ES_PROMPT_NAMES_COCO,
          TEXT_NAMES_COCO, OPEN_VOCAB_TAGS_COCO, {}),
}


def get_dataset_info(name: str) -> dict:
    """Class tables of a dataset by name.

    Args:
        name (str): ``'voc'`` or ``'coco'``.

    Returns:
        dict: ``classes``, ``palette``, ``bg_classes``, ``prompt_names``,
        ``text_names``, ``tag_vocabulary`` and ``tag_synonyms``.
    """
    key = name.lower()
    if key not in DATASET_INFO:
        raise KeyError(f'Unknown dataset "{name}" for class tables; known: '
                       f'{sorted(DATASET_INFO)}')
    return DATASET_INFO[key]


def check_class_list(classes: Sequence[str],
                     dataset: Optional[str] = None,
                     owner: str = 'metainfo.classes') -> None:
    """Check a class list against the known order of a named dataset.

    Seeds, image-level labels and ground truth of VOC / COCO use the class
    indices of this module's tables, so a reordered list would score them
    under the wrong names.

    Args:
        classes (Sequence[str]): The class list given (background first).
        dataset (str, optional): ``'voc'`` / ``'coco'`` if the list belongs
            to that dataset (then the order of the names it shares with the
            dataset is checked); None checks a list holding exactly the
            classes of a named dataset.
        owner (str): What holds the list, for messages (a config key).

    Raises:
        ValueError: If the names of a named dataset appear in another order
            (e.g. VOC's reversed).

    Logs a warning when ``dataset`` is given and the list has its length
    but other names (index ``i`` still means the dataset's class ``i``).
    """
    names = [str(c) for c in classes]
    lower = sorted(n.lower() for n in names)
    for key in ([dataset.lower()] if dataset else list(DATASET_INFO)):
        known = list(get_dataset_info(key)['classes'])
        if not dataset and lower != sorted(c.lower() for c in known):
            continue
        index = {c.lower(): i for i, c in enumerate(known)}
        pos = [(n, index[n.lower()]) for n in names if n.lower() in index]
        for (a, i), (b, j) in zip(pos, pos[1:]):
            if j <= i:
                raise ValueError(
                    f'{owner}: the {key.upper()} classes in another order '
                    f'({b!r} after {a!r}); {key.upper()} seeds, labels and '
                    'ground truth use the order of mmwsss.class_names.'
                    f'{key.upper()}_CLASSES, so a reordered list scores them '
                    'under the wrong names. Give the classes in that order.')
        if dataset and len(names) == len(known) and names != known:
            diff = [f'{i}: {n!r} for {k!r}'
                    for i, (n, k) in enumerate(zip(names, known)) if n != k]
            from mmengine.logging import print_log
            print_log(
                f'{owner}: {len(diff)} class names differ from the '
                f'{key.upper()} classes ({", ".join(diff[:5])}'
                f'{", ..." if len(diff) > 5 else ""}); index i still means '
                f'the {key.upper()} class i.',
                logger='current',
                level=30)


#: A per-class text table: names in ``classes[1:]`` order, or a mapping
#: from stored class name to text (classes it lacks keep their name).
NameTable = Union[Sequence[str], Mapping[str, str]]


def _fg_names(classes: Sequence[str]) -> Tuple[str, ...]:
    """Foreground names: ``classes`` without a leading background entry,
    checked for blanks and repeats (the message names the class)."""
    names = [str(c).strip() for c in classes]
    if names and names[0].lower() == 'background':
        names = names[1:]
    if not names:
        raise ValueError('class list: no foreground class names')
    if '' in names:
        raise ValueError(f'class list {names}: a class name is empty')
    seen = set()
    for n in names:
        if n.lower() in seen:
            raise ValueError(f'class list: class name "{n}" is given twice '
                             '(names must be unique, case-insensitively)')
        seen.add(n.lower())
    return tuple(names)


def _texts(fg: Sequence[str], table: Optional[NameTable],
           what: str) -> Tuple[str, ...]:
    """Text per foreground class from a name table (see :data:`NameTable`).

    Without a table (or for classes a mapping lacks) the text is the stored
    name with underscores as spaces (``potted_plant`` -> "potted plant").
    """
    if table is None:
        table = {}
    if isinstance(table, Mapping):
        unknown = sorted(set(table) - set(fg))
        if unknown:
            raise KeyError(f'{what}: {unknown} are not in the class list '
                           f'{list(fg)}')
        return tuple(str(table.get(n, n.replace('_', ' '))) for n in fg)
    table = [str(t) for t in table]
    if len(table) != len(fg):
        raise ValueError(f'{what}: {len(table)} names for {len(fg)} '
                         f'foreground classes {list(fg)}')
    return tuple(table)


def class_info(classes: Sequence[str],
               prompt_names: Optional[NameTable] = None,
               bg_classes: Optional[Sequence[str]] = None,
               text_names: Optional[NameTable] = None,
               tag_synonyms: Optional[Mapping[str, str]] = None) -> dict:
    """Class tables (as :func:`get_dataset_info`) of ANY class list.

    Args:
        classes (Sequence[str]): Stored class names, background first or
            left out (``['dog', 'person', 'car']``).
        prompt_names (Sequence[str] | Mapping[str, str], optional): What
            CLIP reads for each class: names in class order, or a mapping
            from stored name to text (``{'pottedplant': 'potted plant'}``);
            default the stored names (underscores as spaces).
        bg_classes (Sequence[str], optional): Background prompt names;
            default CLIP-ES's 25 (:data:`CLIP_ES_BG_VOC`). Names equal to a
            foreground class (or its prompt name) are dropped, so a class
            ``building`` does not compete with a background ``building``.
        text_names (Sequence[str] | Mapping[str, str], optional): Names for
            grounding text prompts; default the prompt names.
        tag_synonyms (Mapping[str, str], optional): Zero-shot tag -> stored
            class name; class and text names map to themselves anyway.

    Returns:
        dict: ``classes`` (background first), ``palette``, ``bg_classes``,
        ``prompt_names``, ``text_names``, ``tag_vocabulary``,
        ``tag_synonyms``.

    Raises:
        ValueError: Repeated, empty or missing class names, or a name table
            of the wrong length (the message names them).
        KeyError: A mapping or synonym naming a class not in the list.
    """
    fg = _fg_names(classes)
    prompts = _texts(fg, prompt_names, 'prompt_names')
    texts = prompts if text_names is None else _texts(
        fg, text_names, 'text_names')
    synonyms = dict(tag_synonyms or {})
    bad = sorted(set(synonyms.values()) - set(fg))
    if bad:
        raise KeyError(f'tag_synonyms: {bad} are not in the class list '
                       f'{list(fg)}')
    taken = {n.lower() for n in fg + prompts + texts}
    bg = tuple(b for b in (CLIP_ES_BG_VOC if bg_classes is None else
                           bg_classes) if b.lower() not in taken)
    vocab = _unique(texts + tuple(synonyms) +
                    tuple(w for w in TAG_BACKGROUND_WORDS
                          if w.lower() not in taken))
    return _info(('background', ) + fg, bg, prompts, texts, vocab, synonyms)


def resolve_class_info(dataset: Optional[str] = None,
                       classes: Optional[Union[str, Sequence[str]]] = None,
                       prompt_names: Optional[NameTable] = None,
                       bg_classes: Optional[Sequence[str]] = None) -> dict:
    """Class tables of a known dataset or of a user's class list.

    Args:
        dataset (str, optional): ``'voc'`` / ``'coco'``: their tables.
        classes (str | Sequence[str], optional): A class list or a
            ``classes.txt`` (one name a line); takes precedence over
            ``dataset``. A list equal to the dataset's keeps the dataset's
            prompt names (CLIP-ES synonyms).
        prompt_names (Sequence[str] | Mapping[str, str], optional): See
            :func:`class_info`; with ``dataset`` alone, a list replaces the
            dataset's prompt names.
        bg_classes (Sequence[str], optional): Background prompt names;
            default the dataset's, else CLIP-ES's 25.

    Returns:
        dict: As :func:`class_info`.
    """
    known = get_dataset_info(dataset) if dataset else None
    if classes is None:
        if known is None:
            raise ValueError('give `classes` (a list or a classes.txt) or a '
                             f'known `dataset` ({sorted(DATASET_INFO)})')
        classes = known['classes']
        if prompt_names is None:
            prompt_names = known['prompt_names']
    elif isinstance(classes, str):
        classes = read_classes_txt(classes)
    fg = _fg_names(classes)
    if known is not None and fg == tuple(known['classes'][1:]):
        prompt_names = (known['prompt_names']
                        if prompt_names is None else prompt_names)
        text_names, synonyms = known['text_names'], known['tag_synonyms']
        if bg_classes is None:
            bg_classes = known['bg_classes']
    else:
        text_names, synonyms = None, None
    return class_info(fg, prompt_names, bg_classes, text_names, synonyms)


def read_classes_txt(path: str) -> Tuple[str, ...]:
    """Class names of a text file, one a line (blank lines skipped).

    Args:
        path (str): The file.

    Returns:
        tuple[str, ...]: The names as written (background not added).

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-name file not found: {path}')
    with open(path, encoding='utf-8') as f:
        return tuple(ln.strip() for ln in f if ln.strip())
