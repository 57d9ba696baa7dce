"""The ``runtime`` section of a package's manifest.json (docs/RMPKG.md, "manifest.json")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rmstudio import __version__
from rmstudio.core.errors import RMError
from rmstudio.core.package import names
from rmstudio.core.package.format import (
    ALLOWED_PREOPENS,
    ENTRY,
    HOST_CONTRACT_VERSIONS,
    MANIFEST,
    TARGET,
    parse_release,
)

KNOWN_NON_RUNNABLE = {
    "native": "'native' packages are not applicable to RemoteMedia's WebAssembly packages",
    "wasm32-unknown-unknown": "RemoteMedia lists it as a future target; nothing runs it yet",
    "wasm32-emscripten": "RemoteMedia lists it as a future target; nothing runs it yet",
}


@dataclass
class RuntimeSection:
    """What a package's manifest says about running it, after checking."""

    target: str = TARGET
    entry: str = ENTRY
    min_version: str | None = None
    contract_version: int | None = None
    preopens: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    features: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "entry": self.entry,
            "min_version": self.min_version,
            "contract_version": self.contract_version,
            "preopens": list(self.preopens),
            "models": dict(self.models),
            "features": list(self.features),
        }


def _err(code: str, message: str, path: str, source: str | None, hint: str | None = None) -> RMError:
    return RMError(code, message, path=path, source=f"{source}:{MANIFEST}" if source else MANIFEST, hint=hint)


def read_runtime_section(
    manifest: dict[str, Any], *, legacy: bool, source: str | None = None
) -> tuple[RuntimeSection, list[RMError], list[RMError]]:
    """The checked section, the errors and the warnings. Legacy packages get RemoteMedia's leniency."""
    errors: list[RMError] = []
    warnings: list[RMError] = []
    section = RuntimeSection()
    rt = manifest.get("runtime")
    if rt is None:
        if legacy:
            warnings.append(
                _err(
                    "package_target_assumed",
                    f"manifest.json has no runtime section; '{TARGET}' is assumed (as RemoteMedia does)",
                    "/runtime",
                    source,
                )
            )
            return section, errors, warnings
        errors.append(
            _err("package_invalid_manifest", "manifest.json has no runtime section", "/runtime", source)
        )
        return section, errors, warnings
    if not isinstance(rt, dict):
        errors.append(_err("package_invalid_manifest", "runtime must be a JSON object", "/runtime", source))
        return section, errors, warnings

    target_key = "target"
    if "target" not in rt and "runtime_target" in rt:
        target_key = "runtime_target"
        warnings.append(
            _err("field_alias", "'runtime_target' is read as 'target'", "/runtime/runtime_target", source)
        )
    target = rt.get(target_key)
    if target is None and isinstance(manifest.get("runtime_target"), str):
        target = manifest["runtime_target"]
        warnings.append(
            _err("field_alias", "'runtime_target' is read as 'runtime.target'", "/runtime_target", source)
        )
    if target is None:
        if legacy:
            warnings.append(
                _err(
                    "package_target_assumed",
                    f"runtime.target is missing; '{TARGET}' is assumed (as RemoteMedia does)",
                    "/runtime",
                    source,
                )
            )
        else:
            errors.append(_err("package_invalid_manifest", "runtime.target is missing", "/runtime", source))
    elif target != TARGET:
        shown = target if isinstance(target, str) else repr(target)
        errors.append(
            _err(
                "package_unknown_target",
                f"runtime target '{shown}' is not one RM Studio can run; packages target '{TARGET}'",
                f"/runtime/{target_key}",
                source,
                hint=KNOWN_NON_RUNNABLE.get(target) if isinstance(target, str) else None,
            )
        )
    else:
        section.target = target

    entry = rt.get("entry")
    if entry is None:
        if not legacy:
            errors.append(_err("package_invalid_manifest", "runtime.entry is missing", "/runtime", source))
    elif entry != ENTRY:
        errors.append(
            _err(
                "package_invalid_manifest",
                f"runtime.entry must be '{ENTRY}' in format 1, not {entry!r}",
                "/runtime/entry",
                source,
            )
        )

    min_version = rt.get("min_version")
    if min_version is None:
        if not legacy:
            errors.append(
                _err("package_invalid_manifest", "runtime.min_version is missing", "/runtime", source)
            )
    elif parse_release(min_version) is None:
        if not legacy:
            errors.append(
                _err(
                    "package_invalid_manifest",
                    f"runtime.min_version must look like 1.2.3, not {min_version!r}",
                    "/runtime/min_version",
                    source,
                )
            )
    else:
        section.min_version = min_version

    contract = rt.get("contract_version")
    if contract is None:
        if not legacy:
            errors.append(
                _err("package_invalid_manifest", "runtime.contract_version is missing", "/runtime", source)
            )
    elif isinstance(contract, bool) or not isinstance(contract, int) or contract < 1:
        errors.append(
            _err(
                "package_invalid_manifest",
                f"runtime.contract_version must be a positive integer, not {contract!r}",
                "/runtime/contract_version",
                source,
            )
        )
    else:
        section.contract_version = contract

    preopens = rt.get("preopens")
    if preopens is None:
        if not legacy:
            errors.append(_err("package_invalid_manifest", "runtime.preopens is missing", "/runtime", source))
    elif not isinstance(preopens, list):
        errors.append(
            _err("package_invalid_manifest", "runtime.preopens must be a list", "/runtime/preopens", source)
        )
    else:
        for i, value in enumerate(preopens):
            if value not in ALLOWED_PREOPENS:
                errors.append(
                    _err(
                        "package_invalid_manifest",
                        f"runtime.preopens may only name {' and '.join(ALLOWED_PREOPENS)}, not {value!r}",
                        f"/runtime/preopens/{i}",
                        source,
                        hint="A package can only see its own models/ and deps/ directories; it cannot ask "
                        "for a directory of your computer",
                    )
                )
            elif value in section.preopens:
                errors.append(
                    _err(
                        "package_invalid_manifest",
                        f"runtime.preopens lists {value!r} twice",
                        f"/runtime/preopens/{i}",
                        source,
                    )
                )
            else:
                section.preopens.append(value)

    models = rt.get("models")
    if models is not None:
        if not isinstance(models, dict):
            errors.append(
                _err(
                    "package_invalid_manifest", "runtime.models must be an object", "/runtime/models", source
                )
            )
        else:
            for name, rel in models.items():
                problem = names.name_problem(rel) if isinstance(rel, str) else "it is not a string"
                if not problem and rel.endswith("/"):
                    problem = "it names a directory"
                if not name or problem:
                    errors.append(
                        _err(
                            "package_invalid_manifest",
                            f"runtime.models[{name!r}] must be a file name under models/: "
                            f"{problem or 'empty name'}",
                            f"/runtime/models/{name}",
                            source,
                        )
                    )
                else:
                    section.models[name] = rel

    features = rt.get("features")
    if isinstance(features, list):
        section.features = list(features)
    return section, errors, warnings


def run_requirements(section: RuntimeSection, source: str | None = None) -> list[RMError]:
    """What stops this RM Studio from running the package (warnings for inspect, errors for run)."""
    out: list[RMError] = []
    need = parse_release(section.min_version) if section.min_version else None
    have = parse_release(__version__)
    if need and have and need > have:
        out.append(
            RMError(
                "package_requires_newer",
                f"the package needs RM Studio {section.min_version} or newer; "
                f"this is RM Studio {__version__}",
                source=source,
                hint="Update RM Studio to run it",
            )
        )
    if section.contract_version is not None and section.contract_version not in HOST_CONTRACT_VERSIONS:
        known = ", ".join(str(v) for v in HOST_CONTRACT_VERSIONS)
        out.append(
            RMError(
                "package_runtime_incompatible",
                f"the package's runtime speaks guest contract {section.contract_version}; this RM Studio "
                f"drives contract {known}",
                source=source,
                hint="Update RM Studio, or rebuild the package with this RM Studio",
            )
        )
    return out
