"""SAM mask cache files: permissions and the message for a truncated one."""
import os

import numpy as np
import pytest

from mmwsss.io import load_masks, MaskCacheError, SAMMaskRecord, save_masks


def _record():
    masks = np.zeros((2, 4, 5), bool)
    masks[0, :2] = True
    masks[1, 2:] = True
    return SAMMaskRecord.from_dense(masks, [2, 1], fingerprint='fp')


def test_cache_files_follow_the_umask(tmp_path):
    """Issue 12: cache files were 0600 (tempfile), so a cache shared across
    users failed; they now get 0666 minus the umask like any new file."""
    path = str(tmp_path / 'a.npz')
    save_masks(path, _record())
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert load_masks(path, 'fp', (4, 5)).levels.tolist() == [2, 1]


def test_truncated_cache_message(tmp_path):
    """Issue 12: the message said "delete it and rerun" although a rerun of
    tools/gen_sam_masks.py regenerates unreadable files by itself."""
    path = str(tmp_path / 'a.npz')
    save_masks(path, _record())
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(MaskCacheError) as err:
        load_masks(path)
    msg = str(err.value)
    assert path in msg and 'truncated' in msg and 'delete' not in msg, msg
    assert 'regenerates it' in msg, msg
