"""Writing result files: all or nothing."""

import os
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
