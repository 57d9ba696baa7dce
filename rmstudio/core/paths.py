"""Where RM Studio keeps things on the user's machine (platformdirs; env vars override).

RMSTUDIO_DATA_DIR  models and other user data        (tests point these at tmp dirs)
RMSTUDIO_CACHE_DIR compiled modules, build caches, fetched sources
RMSTUDIO_CONFIG_DIR settings written by the CLI
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP = "rmstudio"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    path = Path(value) if value else Path(default)
    return path


def data_dir() -> Path:
    return _dir("RMSTUDIO_DATA_DIR", user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    return _dir("RMSTUDIO_CACHE_DIR", user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    return _dir("RMSTUDIO_CONFIG_DIR", user_config_dir(APP, appauthor=False))
