"""Recording warnings for a run's provenance, and showing them to the caller after."""

import contextlib
import warnings
from pathlib import Path


def _module_of(filename):
    """Return the dotted module name of a source file (for warning filters), else its stem."""
    parts = Path(filename).with_suffix("").parts
    if "mne_dyad" in parts:
        i = len(parts) - 1 - parts[::-1].index("mne_dyad")
        return ".".join(parts[i:])
    return Path(filename).stem


@contextlib.contextmanager
def _recorded(into):
    """Record the warnings of a block into the list ``into``, then show them as usual.

    Each distinct warning is recorded once (``"always"`` would keep every repeat of
    a loop's). After the block, even when it raised, the warnings are emitted again
    to the caller's filters, with their own module, so ``-W error::...:mne_dyad.*``
    and pytest's filters still apply.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield
        finally:
            into.extend(caught)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, _module_of(w.filename))
