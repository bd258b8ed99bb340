"""Saving and reading synchrony cubes (netCDF4 via h5netcdf)."""

from pathlib import Path

import numpy as np
import xarray as xr
from mne.utils import _validate_type, logger, verbose

from ..utils._docs import fill_doc
from ..utils._files import _atomic_write

_ATTR_TYPES = (str, int, float, np.integer, np.floating)


def _check_attrs(attrs, where):
    for key, value in attrs.items():
        if isinstance(value, bool) or not isinstance(value, _ATTR_TYPES):
            raise TypeError(
                f"Attribute {key!r} of {where} is a {type(value).__name__}; netCDF attrs "
                "must be str, int or float. Store structured values as a JSON string."
            )


@verbose
@fill_doc
def write_cube(cube, fname, *, overwrite=False, verbose=None):
    """Save a synchrony cube to a netCDF file.

    The file is written with the ``h5netcdf`` engine to a temporary name and
    moved into place when complete, so a failed write leaves no partial file.

    Parameters
    ----------
    cube : xarray.Dataset
        A cube from :func:`mne_dyad.synchrony_cube`.
    fname : path-like
        Output file, conventionally ending in ``.nc``.
    %(overwrite)s
    %(verbose)s

    Returns
    -------
    fname : pathlib.Path
        The file written.

    Examples
    --------
    >>> import xarray as xr, tempfile, pathlib
    >>> import mne_dyad as md
    >>> cube = xr.Dataset({"all_lags": (("dyad",), [0.1, 0.2])}, coords={"dyad": ["a", "b"]})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cube.nc"
    >>> _ = md.write_cube(cube, path)
    >>> md.read_cube(path).identical(cube)
    True
    """
    _validate_type(cube, xr.Dataset, "cube")
    _validate_type(fname, "path-like", "fname")
    _check_attrs(cube.attrs, "the cube")
    for name, var in cube.variables.items():
        _check_attrs(var.attrs, f"variable {name!r}")
    out = _atomic_write(
        lambda tmp: cube.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False),
        fname,
        overwrite,
    )
    logger.info(f"Wrote cube {dict(cube.sizes)} to {out}")
    return out


@verbose
@fill_doc
def read_cube(fname, *, verbose=None):
    """Read a synchrony cube written by :func:`write_cube`.

    Parameters
    ----------
    fname : path-like
        The netCDF file.
    %(verbose)s

    Returns
    -------
    cube : xarray.Dataset
        The cube, loaded into memory (the file is closed).
    """
    _validate_type(fname, "path-like", "fname")
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"No cube file at {fname}.")
    try:
        cube = xr.load_dataset(fname, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"Could not read {fname} as a netCDF cube ({exc}). Write cubes with "
            "mne_dyad.write_cube."
        ) from exc
    return cube


@xr.register_dataset_accessor("mne_dyad")
class _CubeAccessor:
    """``cube.mne_dyad.save(fname)``: the cube's save method."""

    def __init__(self, ds):
        self._ds = ds

    def save(self, fname, *, overwrite=False, verbose=None):
        """Save the cube; see :func:`mne_dyad.write_cube`."""
        return write_cube(self._ds, fname, overwrite=overwrite, verbose=verbose)
