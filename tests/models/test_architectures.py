"""Architecture tables: the models floor finds the tiny test models that
mmwsss.testing adds, without importing it; unknown names say what is known
and where 'tiny' comes from."""
import subprocess
import sys

import open_clip
import pytest

from mmwsss.models.architectures import ArchitectureTable
from mmwsss.models.baselines.grounding_dino import LANGUAGE_MODEL_WRITERS
from mmwsss.models.sams.sam2_generator import SAM2_ARCHITECTURES
from mmwsss.models.sams.sam3_builder import (SAM3_ARCHITECTURES,
                                             SAM3_RESOLUTION)
from mmwsss.models.sams.sam_builder import SAM_ARCHITECTURES
from mmwsss.models.sams.sam_hq_generator import SAM_HQ_ARCHITECTURES
from mmwsss import testing


def test_table_register_get_and_messages():
    table = ArchitectureTable('Toy', {'big': 1})
    assert table.get('big') == 1 and 'big' in table and len(table) == 1

    @table.register('small')
    def small():
        return 2

    assert table.get('small') is small and table.names() == ('big', 'small')
    table.register('small', small)  # the same entry again: idempotent
    with pytest.raises(KeyError, match="Toy model_type 'small' is already"):
        table.register('small', lambda: 3)
    table.register('small', 3, force=True)
    assert table.get('small') == 3
    with pytest.raises(KeyError) as err:
        table.get('huge')
    assert err.value.args[0] == ("Unknown Toy model_type 'huge'; expected "
                                 "one of ('big', 'small').")
    with pytest.raises(KeyError, match='provided by mmwsss.testing'):
        table.get('tiny')


def test_testing_fills_every_table():
    assert SAM_ARCHITECTURES.get('tiny') is testing.build_tiny_sam
    assert SAM_HQ_ARCHITECTURES.get('tiny') is testing.build_tiny_sam_hq
    assert SAM2_ARCHITECTURES.get('tiny') == (testing.tiny_sam2_config,
                                              testing.build_tiny_sam2)
    assert SAM3_ARCHITECTURES.get('tiny').construct is \
        testing.build_tiny_sam3
    assert SAM3_RESOLUTION['tiny'] == testing.TINY_SAM3_RESOLUTION == 112
    assert SAM3_RESOLUTION['sam3'] == 1008
    assert LANGUAGE_MODEL_WRITERS.get('tiny_bert') is testing.write_tiny_bert
    assert testing.TINY_CLIP_NAME in open_clip.list_models()
    # the official architectures stay on the models floor
    assert {'vit_h', 'vit_l', 'vit_b'} <= set(SAM_ARCHITECTURES)
    assert {'vit_h', 'vit_l', 'vit_b'} <= set(SAM_HQ_ARCHITECTURES)
    assert 'sam2.1_hiera_l' in SAM2_ARCHITECTURES
    assert 'sam3' in SAM3_ARCHITECTURES


def test_models_without_testing_name_it(repo_root):
    """A fresh interpreter that imports the models floor only: it does not
    load mmwsss.testing, and asking for a tiny model says where it is."""
    code = '\n'.join([
        'import sys',
        'import mmwsss.models',
        'from mmwsss.models.clip import FrozenCLIP',
        'from mmwsss.models.sams import build_sam_model',
        "assert 'mmwsss.testing' not in sys.modules",
        'try:',
        "    build_sam_model('tiny')",
        'except KeyError as e:',
        '    print(e.args[0])',
        'try:',
        "    FrozenCLIP(model_name='mmwsss-tiny-ViT-16', pretrained=None)",
        'except ValueError as e:',
        '    print(e)',
    ])
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         cwd=repo_root,
                         check=True).stdout.strip().splitlines()
    assert out == [
        "Unknown SAM model_type 'tiny'; expected one of ('vit_h', 'vit_l', "
        "'vit_b'). 'tiny' (a small random model for tests and demos) is "
        'provided by mmwsss.testing: import it (or mmwsss.registration, or '
        "custom_imports=['mmwsss.registration'] in the config).",
        "Unknown open_clip model name 'mmwsss-tiny-ViT-16' (FrozenCLIP "
        'model_name): the tiny test architectures are registered with '
        'open_clip by mmwsss.testing: import it (or mmwsss.registration, or '
        "custom_imports=['mmwsss.registration'] in the config)."
    ]
