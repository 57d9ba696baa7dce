"""Manifests: load/save (unknown fields kept), the JSON Schema, validation, the node catalog."""

from rmstudio.core.manifest.document import ManifestDocument, from_text, load, save
from rmstudio.core.manifest.validate import (
    ValidationReport,
    effective_params,
    validate,
    validate_data,
)

__all__ = [
    "ManifestDocument",
    "ValidationReport",
    "effective_params",
    "from_text",
    "load",
    "save",
    "validate",
    "validate_data",
]
