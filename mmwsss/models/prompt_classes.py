"""The class tables of a prompt model and the labels it reads from samples.

:class:`PromptClasses` resolves a model's class list, its foreground prompt
names and its background prompt names once (:func:`model_class_info`), and
turns what the data samples carry into tensors over the foreground classes:
image-level labels (``img_labels``) and the classes present in seed maps.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmwsss.class_names import get_dataset_info, resolve_class_info

__all__ = ['PromptClasses', 'model_class_info']


def model_class_info(dataset: Optional[str],
                     classes: Optional[Union[str, Sequence[str]]],
                     class_names: Optional[Union[Sequence[str], dict]],
                     bg_names: Optional[Sequence[str]]) -> dict:
    """Class tables of a prompt model (:func:`resolve_class_info`).

    A ``class_names`` list without ``classes`` whose length differs from
    ``dataset``'s foreground count is the class list itself (so
    ``class_names=['dog', 'cat']`` gives a 2-class model).

    Args:
        dataset (str, optional): ``'voc'`` / ``'coco'`` or None.
        classes (str | Sequence[str], optional): Class list or
            ``classes.txt``.
        class_names (Sequence[str] | dict, optional): Foreground prompt
            names.
        bg_names (Sequence[str], optional): Background prompt names.

    Returns:
        dict: ``classes``, ``prompt_names``, ``bg_classes``, ...
    """
    if (classes is None and class_names is not None
            and not isinstance(class_names, dict)):
        known = get_dataset_info(dataset) if dataset else None
        if known is None or len(class_names) != len(known['classes']) - 1:
            print_log(
                f'FMAPromptModel: class list {list(class_names)} (from '
                'class_names)', logger='current')
            classes, class_names = list(class_names), None
    return resolve_class_info(dataset, classes, class_names, bg_names)


class PromptClasses:
    """Class list, prompt names and labels of a prompt model.

    Args:
        dataset (str, optional): Name of the class tables in
            :mod:`mmwsss.class_names` (``'voc'`` / ``'coco'``).
        classes (str | Sequence[str], optional): The dataset's own class
            list (background first or left out) or its ``classes.txt``.
        class_names (Sequence[str] | dict, optional): Foreground prompt
            names (see :func:`model_class_info`).
        bg_names (Sequence[str], optional): Background prompt names.

    Attributes:
        dataset_classes (tuple[str]): Class list, background first.
        prompt_names (list[str]): One foreground prompt name per class.
        bg_names (list[str]): Background prompt names.
    """

    def __init__(self,
                 dataset: Optional[str] = 'voc',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 class_names: Optional[Union[Sequence[str], dict]] = None,
                 bg_names: Optional[Sequence[str]] = None) -> None:
        info = model_class_info(dataset, classes, class_names, bg_names)
        self.dataset_classes: Tuple[str, ...] = info['classes']
        self.prompt_names = list(info['prompt_names'])
        self.bg_names = list(info['bg_classes'])

    @property
    def num_fg(self) -> int:
        """Number of foreground classes G."""
        return len(self.prompt_names)

    def multi_hot(self, data_samples: Sequence,
                  device: Union[str, torch.device, None] = None) -> Tensor:
        """Image-level labels of a batch.

        Args:
            data_samples (Sequence[SegDataSample]): With ``img_labels``
                (1-based class ids) in their metainfo.
            device (str | torch.device, optional): Device of the result.

        Returns:
            Tensor: (B, G) float 0/1 labels.

        Raises:
            KeyError: If a sample has no ``img_labels``.
            ValueError: If a class id is outside ``1..G``.
        """
        num_fg = self.num_fg
        out = torch.zeros(len(data_samples), num_fg, device=device)
        for i, ds in enumerate(data_samples):
            labels = ds.metainfo.get('img_labels', None)
            name = ds.metainfo.get('img_path', f'sample {i}')
            if labels is None:
                raise KeyError(
                    f'{name}: data sample has no "img_labels"; use an mmwsss '
                    'image-label dataset and PackWSSSInputs in the pipeline')
            for lb in labels:
                if not 1 <= int(lb) <= num_fg:
                    raise ValueError(
                        f'{name}: class id {lb} outside the {num_fg} '
                        f'foreground classes (1..{num_fg})')
                out[i, int(lb) - 1] = 1
        return out

    def present_in(self, seed_maps: Tensor) -> Tensor:
        """Foreground classes present in each seed map.

        Args:
            seed_maps (Tensor): (B, H, W) class indices (0 background,
                ``1..G`` classes; other values such as 255 ignored).

        Returns:
            Tensor: (B, G) float 0/1.
        """
        num_fg = self.num_fg
        present = torch.zeros(
            seed_maps.shape[0], num_fg + 2, device=seed_maps.device)
        idx = seed_maps.clone()
        idx[(idx < 0) | (idx > num_fg)] = num_fg + 1
        present.scatter_(1, idx.flatten(1), 1.0)
        return present[:, 1:num_fg + 1]
