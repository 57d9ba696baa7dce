"""The numpy reference executor: the guest's node semantics, for differential tests."""

from rmstudio.core.native.executor import run

__all__ = ["run"]
