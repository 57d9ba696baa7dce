"""Member names: which are safe to write anywhere, and which the format allows.

The same rules apply when reading (a hostile name refuses the package) and when building
(RM Studio never writes a package its own reader would refuse). A name that passes
:func:`check_name` is a relative POSIX path of plain components that means the same file on
Linux, macOS and Windows.
"""

from __future__ import annotations

import unicodedata

from rmstudio.core.errors import RMError
from rmstudio.core.package.format import DEPS_DIR, MODELS_DIR, ROOT_FILES

MAX_NAME_BYTES = 1024
MAX_COMPONENT_BYTES = 255
_WINDOWS_DEVICES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
    *(f"COM{c}" for c in "¹²³"),
    *(f"LPT{c}" for c in "¹²³"),
}


_WINDOWS_FORBIDDEN = frozenset('<>"|?*')


def name_problem(name: str) -> str | None:
    """Why ``name`` is unsafe as a member name, or None when it is fine.

    Directory entries end with one "/"; that trailing slash is allowed.
    """
    if not name:
        return "the name is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "the name contains a control character (NUL, newline, ...)"
    if any("\udc80" <= c <= "\udcff" for c in name):  # os.fsdecode's stand-ins for stray bytes
        return "the name is not valid UTF-8"
    if any(unicodedata.category(c).startswith("C") for c in name):
        return "the name contains an invisible or direction-changing character that could disguise it"
    if "\\" in name:
        return "the name contains a backslash (a Windows path separator)"
    if name.startswith("/"):
        return "the name is an absolute path"
    if ":" in name:
        return "the name contains ':' (a drive letter or an alternate data stream)"
    if any(c in _WINDOWS_FORBIDDEN for c in name):
        return 'the name contains one of < > " | ? * (Windows forbids them in file names)'
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    body = name[:-1] if name.endswith("/") else name
    for part in body.split("/"):
        if part == "":
            return "the name has an empty component ('//')"
        if part in (".", ".."):
            return f"the name has a '{part}' component"
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            return f"a component is longer than {MAX_COMPONENT_BYTES} bytes"
        if part.endswith((".", " ")):
            return "a component ends with '.' or a space (Windows drops them)"
        if part.split(".")[0].upper().rstrip(" ") in _WINDOWS_DEVICES:
            return f"'{part}' is a Windows device name"
    return None


def check_name(name: str, source: str | None = None) -> None:
    problem = name_problem(name)
    if problem:
        raise RMError(
            "package_unsafe_path",
            f"unsafe member name {name!r}: {problem}",
            source=source,
            path=name,
            hint="A package may only hold relative paths of plain names; this one could write outside "
            "the target directory or mean different files on different systems",
        )


def collision_key(name: str) -> str:
    """Names with the same key are the same file on case-insensitive or normalising filesystems.

    Unicode's canonical caseless match, NFD(casefold(NFD(name))): case folding can undo a
    normalisation (Greek letters with dialytika and tonos), so it is normalised again after."""
    nfd = unicodedata.normalize("NFD", name)
    return unicodedata.normalize("NFD", nfd.casefold()).rstrip("/")


def layout_kind(name: str) -> str | None:
    """ "root", "models", "deps", "dir" (an allowed directory entry) or None (not allowed)."""
    if name in ROOT_FILES:
        return "root"
    for top in (MODELS_DIR, DEPS_DIR):
        if name.startswith(top + "/"):
            if name.endswith("/"):
                return "dir"
            return top
    return None
