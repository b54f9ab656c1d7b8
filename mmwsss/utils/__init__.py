"""mmwsss.utils."""
from .log import print_log_once

__all__ = ['print_log_once']
