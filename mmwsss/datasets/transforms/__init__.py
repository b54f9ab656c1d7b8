"""Transforms of mmwsss datasets (registered in mmseg's TRANSFORMS)."""
from .formatting import PackWSSSInputs

__all__ = ['PackWSSSInputs']
