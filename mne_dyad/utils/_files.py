"""Writing result files: all or nothing."""

import os
import re
import tempfile
from pathlib import Path


def _atomic_write(write, fname, overwrite):
    """Call ``write(tmp_path)`` and move the result to ``fname`` only on success."""
    fname = Path(fname)
    if fname.exists() and not overwrite:
        raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
    if not fname.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {fname}: the folder {fname.parent} does not exist. Create it first."
        )
    fd, tmp = tempfile.mkstemp(suffix=fname.suffix, prefix=".tmp-", dir=fname.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, fname)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return fname


#: Characters a double-quoted TOML string makes of a Windows path's backslashes
#: ("C:\temp\new" reads as C:<tab>emp<newline>ew).
_ESCAPED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _path_hint(value):
    r"""Return a sentence on a Windows-style path that cannot work here, else ``""``.

    ``value`` is the path as the user wrote it (a manifest cell, a TOML value,
    an argument). A backslash separates folders only on Windows; a control
    character is what a double-quoted TOML string made of ``\t``, ``\n``...
    """
    text = str(value)
    escaped = sorted({name for char, name in _ESCAPED.items() if char in text})
    if escaped:
        return (
            " A backslash in a double-quoted TOML string starts an escape, so this path "
            f"holds {', '.join(escaped)} as control characters. Write it "
            "with forward slashes (C:/data/study.csv) or in single quotes "
            "('C:\\data\\study.csv')."
        )
    if "\\" in text and os.sep != "\\":
        return (
            " Backslashes separate folders only on Windows; write the path with forward "
            f"slashes ({text.replace(chr(92), '/')}), which every system reads."
        )
    return ""


def _toml_problem(source, text, exc):
    """Return the message for a TOML file that does not parse (with a Windows-path hint)."""
    message = f"{source} is not valid TOML ({exc})."
    found = re.search(r"at line (\d+)", str(exc))  # Python < 3.14 has no exc.lineno
    line = int(found.group(1)) if found else None
    lines = text.splitlines()
    bad = lines[line - 1] if line and line <= len(lines) else ""
    if "\\" in bad and '"' in bad:
        message += (
            f" Line {line} has a backslash in a double-quoted string, where it starts "
            "an escape: write paths with forward slashes (C:/data/study) or in single "
            "quotes ('C:\\data\\study')."
        )
    return message
