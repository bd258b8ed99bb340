"""One study run: a typed configuration and the pipeline that strings the stages together.

:class:`PipelineConfig` holds every setting a run takes, one TOML table per stage.
Each table's keys are the parameters of the function that runs the stage, read from
its signature, so a new parameter of a stage is a new configuration key with no
other change. :func:`run_pipeline` runs the stages in order and returns a
:class:`PipelineResults`; ``mne-dyad demo``, ``mne-dyad run`` and
:meth:`PipelineResults.report` all go through it.
"""

import copy
import datetime
import difflib
import functools
import inspect
import json
import os
import platform
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path

import mne
import numpy as np
import xarray as xr
from mne.utils import _validate_type, logger, verbose, warn

from ._version import __version__
from .alliance import read_sai
from .alliance._sai import _LAYOUTS, _MISSING_ITEMS
from .io import READERS, combine_dyad
from .io import read_segments as _read_segments
from .io._base import _UNITS
from .io._coding import _REFERENCES, _TIME_FORMATS
from .io._dyad import _resample_session
from .io._session import (
    _SIGNALS,
    _as_mapping,
    _check_segments,
    _facts,
    _is_lazy,
    _segment_spans,
    _session_roles,
    _source,
)
from .io._study import _ROLES as _MANIFEST_ROLES
from .io._study import Study, _with_toml_keys
from .preprocessing import preprocess_session
from .preprocessing._eda import _CLEAN_METHODS, _DECOMPOSE_METHODS
from .preprocessing._session import _STEPS, _step_options
from .stats import (
    fit_alliance_model,
    fit_chance_model,
    test_above_chance,
    variance_decomposition,
)
from .stats._alliance_graph import _LIKELIHOODS, _check_priors
from .stats._models import (
    _CENTERINGS,
    _GAPS,
    _MISSING,
    _check_lag,
    _check_session_covariate,
    _default_draws,
)
from .stats._sampling import _check_sampling
from .surrogates import KINDS, chance_corrected, compare_with_surrogates
from .surrogates._compare import _check_store_dir, _scalar_summaries
from .surrogates._correct import _DEFAULT_KIND as _CORRECTION_KIND
from .surrogates._shuffle import _check_n
from .synchrony import METHODS, synchrony_cube, write_cube
from .synchrony._reliability import _is_summary, _pooled_reliability
from .utils._dask import _active_client, _dask_context, _dask_options
from .utils._docs import fill_doc
from .utils._files import _path_hint, _toml_problem
from .utils._toml import _dumps as _toml_dumps
from .utils._warnings import _recorded

__all__ = [
    "ConfigError",
    "OUTPUT_FILES",
    "check_output_dir",
    "PipelineConfig",
    "PipelineResults",
    "check_run",
    "read_config",
    "run_pipeline",
]

#: Files :meth:`PipelineResults.save` writes, in order; a step that did not run
#: writes none of its files.
OUTPUT_FILES = (
    "cube.nc",
    "chance.nc",
    "variance.nc",
    "posterior.nc",
    "summary.csv",
    "report.html",
    "provenance.json",
)

# Each table: (the function whose keyword parameters are its keys, the parameters the
# pipeline fills itself, extra keys). The parameters the pipeline fills come from
# another table or from the data.
_SAME_AS_SYNCHRONY = ("method", "segments", "roles", "signal")
_TABLES = {
    "synchrony": (synchrony_cube, ("sessions",), {}),
    "chance": (
        test_above_chance,
        ("sessions", *_SAME_AS_SYNCHRONY),
        {"enabled": True, "correct": True},
    ),
    "variance": (variance_decomposition, ("cube", "variable"), {"enabled": True}),
    "model": (fit_alliance_model, ("cube", "alliance"), {"enabled": True}),
    "alliance": (read_sai, ("path_or_dataframe",), {}),
    "segments": (_read_segments, ("path", "raw"), {}),
    "combine": (combine_dyad, ("client", "therapist", "dyad", "session", "therapist_id"), {}),
    "preprocessing": (preprocess_session, ("raw", "roles"), {}),
    "dask": (_dask_options, (), {}),
}
_READERS = {name: reader for name, (reader, _) in READERS.items()}
_TOP_LEVEL = {"seed": None}
_TABLE_ORDER = ("preprocessing", "synchrony", "chance", "variance", "model", "alliance")
_TABLE_ORDER += ("readers",)
_TABLE_ORDER += ("segments", "combine", "dask")
_STOCHASTIC = ("chance", "variance", "model")
#: The ``[preprocessing]`` step that makes each preprocessed signal's channels.
_SIGNAL_STEP = {"clean": "clean", "tonic": "decompose", "phasic": "decompose"}
#: Chance-corrected summaries: ``<summary>_excess`` and ``<summary>_es``.
_CORRECTED_SUFFIXES = ("_excess", "_es")
#: The corrected summary the variance decomposition and the model take by default
#: (chosen with the kind by the negative control of docs/methods.rst).
_CORRECTED_DEFAULT = "_es"


class ConfigError(ValueError):
    """A configuration that cannot run: every problem, each naming its TOML table and key."""


def _parameters(func, exclude):
    """``{name: default}`` of a function's keyword options (no data, no verbose)."""
    out = {}
    for name, par in inspect.signature(func).parameters.items():
        if name in exclude or name == "verbose" or par.kind is par.VAR_KEYWORD:
            continue
        if par.kind in (par.POSITIONAL_ONLY, par.VAR_POSITIONAL):
            continue
        out[name] = None if par.default is inspect.Parameter.empty else par.default
    return out


def _nearest(key, valid):
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else "."


#: numpydoc type words -> (check, what to write in TOML)
_DOC_TYPES = {
    "none": (lambda v: v is None, None),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "path-like": (lambda v: isinstance(v, str), "a path (string)"),
    "dict": (lambda v: isinstance(v, dict), "a table"),
    "mapping": (lambda v: isinstance(v, dict), "a table"),
    "tuple": (lambda v: isinstance(v, list | tuple), "an array"),
    "list": (lambda v: isinstance(v, list | tuple), "an array"),
    "sequence": (lambda v: isinstance(v, list | tuple), "an array"),
    "datetime.datetime": (lambda v: isinstance(v, datetime.datetime), "a TOML date-time"),
}


def _doc_types(func):
    """``{parameter: type text}`` from a function's numpydoc Parameters section."""
    doc = inspect.getdoc(func) or ""
    section = doc.split("Parameters\n----------", 1)[-1].split("\n\n\n", 1)[0]
    section = re.split(r"\n(?:Returns|Yields|Raises|See Also|Notes|Examples)\n-{4,}", section)[0]
    out = {}
    for match in re.finditer(r"^(\w[\w, ]*) : (.+)$", section, re.M):
        for name in match.group(1).split(","):
            out[name.strip()] = match.group(2).strip()
    return out


def _type_problem(value, default, doc_type=None):
    """Describe why ``value`` does not fit a parameter, or return None.

    The type comes from the parameter's documented type (``None | float``,
    ``str | sequence of str``, ...); without one, from its default. A type the
    documentation names that TOML cannot express is left to the stage's own check.
    """
    if doc_type:
        words = [w.strip().split(" of ")[0].split(" ")[0].lower() for w in doc_type.split("|")]
        # a type TOML cannot write (numpy.random.Generator, ...) leaves the others
        words = [w for w in words if w in _DOC_TYPES]
        if not words:
            return None
        if any(_DOC_TYPES[w][0](value) for w in words):
            return None
        wants = [_DOC_TYPES[w][1] for w in words if _DOC_TYPES[w][1]]
        return f"must be {' or '.join(dict.fromkeys(wants))}, got {value!r}"
    if default is None:
        return None  # any type: the stage's own check decides
    for word, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(default, kind):
            return _type_problem(value, None, word)
    if isinstance(default, tuple | list):
        return _type_problem(value, None, "str | sequence")
    if isinstance(default, dict):
        return _type_problem(value, None, "dict")
    return None


def _plain(value):
    """TOML/JSON-friendly copy: tuples become lists and unset (None) keys are left out."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


class PipelineConfig:
    """Every setting of a study run, validated before any data loads.

    One table per stage; each table's keys are the keyword parameters of the
    function that runs the stage, with its defaults:

    ========================  ===========================================================
    ``[preprocessing]``       :func:`mne_dyad.preprocessing.preprocess_session`, applied to
                              every session before synchrony: ``artifacts`` (on by
                              default), ``clean``, ``decompose``; a signal that needs
                              a step (``[synchrony] signal = "phasic"``) turns it on
    ``[synchrony]``           :func:`mne_dyad.synchrony_cube` and the method's parameters
                              (for example ``lag``, ``window``, ``step`` of ``wclc``)
    ``[chance]``              :func:`mne_dyad.stats.test_above_chance` (+ ``enabled``,
                              ``correct``); method, segments, roles and signal come
                              from ``[synchrony]``
    ``[variance]``            :func:`mne_dyad.stats.variance_decomposition` (+ ``enabled``)
    ``[model]``               :func:`mne_dyad.stats.fit_alliance_model` (+ ``enabled``)
    ``[alliance]``            :func:`mne_dyad.alliance.read_sai`
    ``[readers.<name>]``      each reader of ``mne_dyad.io.READERS`` (``tabular``,
                              ``mne``, ...): :func:`mne_dyad.io.read_raw_tabular` ...
    ``[segments]``            :func:`mne_dyad.io.read_segments`
    ``[combine]``             :func:`mne_dyad.io.combine_dyad`
    ``[dask]``                ``scheduler``: the address of a dask.distributed scheduler
                              on whose workers the cube and the chance step's
                              surrogates run (same results as on this machine);
                              without it, an active ``dask.distributed.Client`` is used
    ========================  ===========================================================

    A top-level ``seed`` seeds every stochastic step that does not set its own.
    ``summary`` of ``[chance]`` defaults to the synchrony method's main summary
    (``all_lags`` for ``wclc``, ``Z`` for ``susy``). With ``[chance] correct =
    true`` (the default) the chance step's surrogates also correct every
    summary for chance (:func:`mne_dyad.surrogates.chance_corrected`; ``kind``
    defaults to ``"circular_shift"``, chosen by the arousal negative control of
    :ref:`methods-chance-corrected`), and ``[variance]`` and ``[model]`` take the
    excess over chance in surrogate SDs (``all_lags_es``) by default;
    ``summary = "all_lags"`` takes the raw values, ``"all_lags_excess"`` the
    excess in the summary's units.

    Parameters
    ----------
    settings : None | dict
        ``{table: {key: value}}`` as read from TOML; missing keys take their
        defaults.
    source : None | str
        Where the settings came from, for error messages.

    Raises
    ------
    mne_dyad.pipeline.ConfigError
        Listing every problem: an unknown table or key (with the nearest valid
        one), a value of the wrong type, or a value the stage rejects.

    See Also
    --------
    read_config, run_pipeline

    Examples
    --------
    >>> from mne_dyad.pipeline import PipelineConfig
    >>> config = PipelineConfig({"synchrony": {"lag": 3.0}, "chance": {"n_surrogates": 50}})
    >>> config.synchrony["lag"], config.chance["summary"], config.model["sampler"]
    (3.0, 'all_lags', 'nutpie')
    >>> PipelineConfig({"chance": {"n_surogates": 50}})
    Traceback (most recent call last):
    ...
    mne_dyad.pipeline.ConfigError: The configuration has 1 problem:
      [chance] has no key 'n_surogates'; did you mean 'n_surrogates'?
    """

    def __init__(self, settings=None, *, source=None):
        _validate_type(settings, (None, dict), "settings")
        self.source = source
        settings = copy.deepcopy(settings or {})
        problems = []
        for table in list(settings):
            if table in _TOP_LEVEL:
                continue
            if table in _TABLE_ORDER:
                if not isinstance(settings[table], dict):
                    problems.append(f"[{table}] must be a table, got {settings[table]!r}")
                    settings[table] = {}
                continue
            close = difflib.get_close_matches(table, [*_TABLE_ORDER, *_TOP_LEVEL], n=1, cutoff=0.6)
            what = (
                f"[{close[0]}]"
                if close and close[0] in _TABLE_ORDER
                else repr(close[0] if close else "")
            )
            problems.append(
                f"[{table}] is not a table or key of the configuration"
                + (
                    f"; did you mean {what}?"
                    if close
                    else f". Tables: {', '.join(f'[{t}]' for t in _TABLE_ORDER)}; keys: seed."
                )
            )
            del settings[table]
        for key, default in _TOP_LEVEL.items():
            setattr(self, key, settings.get(key, default))
        if self.seed is not None and (
            not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0
        ):
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")

        sync_in = settings.get("synchrony", {})
        method = sync_in.get("method", "wclc")
        spec = METHODS.get(method) if isinstance(method, str) else None
        for table in _TABLE_ORDER:
            given = settings.get(table, {})
            if table == "readers":
                resolved = self._readers(given, problems)
            else:
                func, filled, extra = _TABLES[table]
                valid = {**extra, **_parameters(func, filled)}
                if table == "synchrony" and spec is not None:
                    valid.update(spec.defaults)
                types = _doc_types(func)
                resolved = self._table(table, given, valid, problems, method, types)
            setattr(self, table, resolved)
        segments = self.synchrony["segments"]
        if isinstance(segments, str):
            self.synchrony["segments"] = segments = (segments,)
        if "segments" not in settings.get("model", {}):
            self.model["segments"] = segments  # the model uses every segment by default
        # a signal that preprocessing makes turns its step on, unless set
        given_pre = settings.get("preprocessing", {})
        signal = self.synchrony["signal"]
        step = _SIGNAL_STEP.get(signal)
        if step is not None and isinstance(given_pre, dict) and step not in given_pre:
            self.preprocessing[step] = True
        if "labels" not in settings.get("segments", {}):
            self.segments["labels"] = segments  # coding sheets keep the analysed labels
        # chance-corrected synchrony by default: the [chance] surrogates, with the kind
        # chosen by the arousal negative control (docs/methods.rst)
        if "kind" not in settings.get("chance", {}):
            self.chance["kind"] = _CORRECTION_KIND
        corrected = self.chance["enabled"] is True and self.chance["correct"] is True
        # every step reads the model's summary, by default the method's main one
        # (its excess over chance when corrected); the chance test its raw summary
        if spec is not None and "summary" not in settings.get("model", {}):
            self.model["summary"] = spec.main_summary + (_CORRECTED_DEFAULT if corrected else "")
        for table in _STOCHASTIC:
            options = getattr(self, table)
            if "summary" not in settings.get(table, {}):
                options["summary"] = self.model["summary"]
                if table == "chance":
                    options["summary"] = _raw_summary(self.model["summary"])
            if self.seed is not None and options.get("seed") is None:
                options["seed"] = self.seed
        if self.seed is not None and "seed" in self.synchrony and self.synchrony["seed"] is None:
            self.synchrony["seed"] = self.seed  # a method's own surrogates (SUSY)
        # a summary without a standard error cannot be corrected for sampling error
        variance_given = settings.get("variance", {})
        if spec is not None and "measurement_error" not in variance_given:
            self.variance["measurement_error"] = _has_se(spec, self.variance["summary"])
        self._given = {t: set(settings.get(t, {})) for t in _TABLE_ORDER}
        self._check_values(spec, method, problems)
        if problems:
            where = f" in {source}" if source else ""
            n = len(problems)
            raise ConfigError(
                f"The configuration{where} has {n} problem{'s' if n > 1 else ''}:\n  "
                + "\n  ".join(problems)
            )

    @staticmethod
    def _table(table, given, valid, problems, method, types):
        resolved = {k: copy.deepcopy(v) for k, v in valid.items()}
        for key, value in given.items():
            if key not in valid:
                hint = _nearest(key, valid)
                owners = [m for m, s in METHODS.items() if key in s.defaults and m != method]
                if table == "synchrony" and owners:
                    hint = f": it is a parameter of method {owners[0]!r}, not of {method!r}."
                elif table == "chance" and key in _SAME_AS_SYNCHRONY:
                    hint = ": the chance test uses [synchrony]'s; set it there."
                elif key == "variable" and "summary" in valid:
                    hint = ": it was renamed summary in 0.2."
                problems.append(f"[{table}] has no key {key!r}{hint}")
                continue
            bad = _type_problem(value, valid[key], types.get(key))
            if bad:
                problems.append(f"[{table}] {key} {bad}")
                continue
            resolved[key] = tuple(value) if isinstance(value, list) else value
        return resolved

    def _readers(self, given, problems):
        out = {}
        for name, func in _READERS.items():
            valid = _parameters(func, ("path",))
            sub = given.get(name, {})
            if not isinstance(sub, dict):
                problems.append(f"[readers.{name}] must be a table, got {sub!r}")
                sub = {}
            # [readers.<name>.client] / [readers.<name>.therapist]: one role's own options
            sub = dict(sub)
            own = {r: sub.pop(r) for r in _MANIFEST_ROLES if r in sub and r not in valid}
            types = _doc_types(func)
            out[name] = self._table(f"readers.{name}", sub, valid, problems, None, types)
            # a reader's required options stay unset until given
            out[name] = {k: v for k, v in out[name].items() if k in sub or v is not None}
            for role, table in own.items():
                if not isinstance(table, dict):
                    problems.append(f"[readers.{name}.{role}] must be a table, got {table!r}")
                    continue
                where = f"readers.{name}.{role}"
                resolved = self._table(where, table, valid, problems, None, types)
                out[name][role] = {k: v for k, v in resolved.items() if k in table}
        for name in given:
            if name not in _READERS:
                problems.append(f"[readers.{name}] is not a reader{_nearest(name, _READERS)}")
        return out

    def _check_values(self, spec, method, problems):
        """Run the stages' own checks on the settings alone."""

        def check(table, func, *args, **kwargs):
            try:
                func(*args, **kwargs)
            except (ValueError, TypeError) as exc:
                problems.append(f"[{table}] {exc}")

        sync = self.synchrony
        if spec is None:
            problems.append(f"[synchrony] method must be one of {list(METHODS)}, got {method!r}")
            return
        method_params = {k: sync[k] for k in spec.defaults}
        check("synchrony", spec.check_params, method_params)
        check("synchrony", _check_segments, sync["segments"])
        check("synchrony", _check_choice, "signal", sync["signal"], _SIGNALS)
        for table, roles in (("synchrony", sync["roles"]), ("combine", self.combine["roles"])):
            if roles is not None and (
                len(roles) != 2 or not all(isinstance(r, str) and r for r in roles)
            ):
                problems.append(f"[{table}] roles must be two names, got {list(roles)!r}")
        for table, options in (("synchrony", sync), ("chance", self.chance)):
            if options["n_jobs"] == 0:
                problems.append(f"[{table}] n_jobs must be a positive number or -1 (all cores)")
        scheduler = self.dask["scheduler"]
        if isinstance(scheduler, str):
            address = re.fullmatch(r"(?:(\w+)://)?(\[[\w:.%]+\]|[\w.\-]+):(\d+)", scheduler.strip())
            if (
                address is None
                or (address.group(1) or "tcp") not in ("tcp", "tls", "ucx", "ws", "wss")
                or not 0 < int(address.group(3)) < 65536
            ):
                problems.append(
                    f"[dask] scheduler must be a scheduler's address such as "
                    f"'tcp://10.0.0.5:8786', got {scheduler!r}"
                )
        if isinstance(self.chance["store_dir"], str):  # a wrong type is reported already
            check("chance", _check_store_dir, self.chance["store_dir"], fix="remove the key")
        for key in ("min_shift", "shuffle_segment"):
            value = self.chance[key]
            if value is not None and not value > (0 if key == "shuffle_segment" else -1e-12):
                problems.append(f"[chance] {key} must be a positive number of seconds")
        self._check_preprocessing(problems)
        sfreq = self.combine["sfreq"]
        if sfreq is not None and not sfreq > 0:
            problems.append(f"[combine] sfreq must be a positive rate in Hz, got {sfreq!r}")
        choices = (
            ("segments", "time_format", _TIME_FORMATS),
            ("segments", "reference", _REFERENCES),
            ("alliance", "layout", _LAYOUTS),
            ("alliance", "missing_items", _MISSING_ITEMS),
        )
        for table, key, allowed in choices:
            check(table, _check_choice, key, getattr(self, table)[key], allowed)
        for name, options in self.readers.items():
            tables = {name: options}
            tables.update({f"{name}.{r}": options[r] for r in _MANIFEST_ROLES if r in options})
            for where, table in tables.items():
                if table.get("unit") is not None:
                    check(f"readers.{where}", _check_choice, "unit", table["unit"], tuple(_UNITS))
        scale = self.alliance["scale"]
        if scale is not None and (len(scale) != 2 or not scale[0] < scale[1]):
            problems.append(f"[alliance] scale must be [lowest, highest], got {list(scale)!r}")
        scalars = [v for v in spec.variables if v not in spec.lag_variables]
        for table in _STOCHASTIC:
            options = getattr(self, table)
            # draws = None in [model]: the model's own default
            sampling = {k: options[k] for k in _SAMPLING} | {"draws": _draws(table, options)}
            check(table, _check_sampling, **sampling)
            sampler = options["sampler"]
            if sampler in _SAMPLER_PACKAGES and not _installed(_SAMPLER_PACKAGES[sampler]):
                problems.append(
                    f"[{table}] sampler = {sampler!r} needs {_SAMPLER_PACKAGES[sampler]}, which is "
                    f"not installed (pip install {_SAMPLER_PACKAGES[sampler]}), or use 'nutpie'"
                )
            own = table == "model" or "summary" in self._given[table]
            summary = options.get("summary")
            corrected = isinstance(summary, str) and summary != _raw_summary(summary)
            if own and table != "chance" and corrected and _raw_summary(summary) in scalars:
                if not (self.chance["enabled"] is True and self.chance["correct"] is True):
                    problems.append(
                        f"[{table}] summary {summary!r} is chance-corrected synchrony, which "
                        "needs [chance] enabled = true and correct = true; or use "
                        f"{_raw_summary(summary)!r}"
                    )
            elif own and summary not in scalars:
                scalars = [v for v in scalars if _is_summary(v)]
                extra = [] if table == "chance" else [f"{scalars[0]}_excess", f"{scalars[0]}_es"]
                problems.append(
                    f"[{table}] summary {summary!r} is not a scalar output of "
                    f"{method}: {scalars + extra}"
                )
            ci = options.get("ci_prob")
            if ci is not None and not (isinstance(ci, int | float) and 0 < ci < 1):
                problems.append(f"[{table}] ci_prob must be between 0 and 1, got {ci!r}")
        for table in ("variance", "model"):
            options = getattr(self, table)
            se_name = f"{options['summary']}_se"
            if options.get("measurement_error") is True and not _has_se(spec, options["summary"]):
                problems.append(
                    f"[{table}] measurement_error = true needs the standard error "
                    f"{se_name!r}, which method {method!r} does not give; set [{table}] "
                    "measurement_error = false"
                )
        check("chance", _check_choice, "kind", self.chance["kind"], KINDS)
        check("chance", _check_n, self.chance["n_surrogates"])
        check("model", _check_priors, self.model["priors"])
        check("model", _check_choice, "missing", self.model["missing"], _MISSING)
        check("model", _check_session_covariate, self.model["session_covariate"])
        check("model", _check_choice, "centering", self.model["centering"], _CENTERINGS)
        check("model", _check_choice, "likelihood", self.model["likelihood"], _LIKELIHOODS)
        check("model", _check_lag, self.model["lag"], self.model["direction"])
        check("model", _check_choice, "gaps", self.model["gaps"], _GAPS)
        ceiling = self.model["ceiling"]
        if ceiling not in (None, False):
            if not isinstance(ceiling, bool | dict):
                problems.append(
                    f"[model] ceiling must be true, false or a table {{scale = maximum}}, "
                    f"got {ceiling!r}"
                )
            elif self.model["multivariate"] and len(self.model["outcomes"]) > 1:
                problems.append(
                    "[model] ceiling censors each scale on its own: set [model] "
                    "multivariate = false"
                )
        subsets = (
            ("model", "segments", self.model["segments"]),
            ("model", "complete_on", self.model["complete_on"]),
            ("variance", "segments", self.variance["segments"]),
        )
        for table, key, labels in subsets:
            if labels is None:
                continue
            if not len(labels):
                problems.append(f"[{table}] {key} must name at least one segment")
            extra = [s for s in labels if s not in sync["segments"]]
            if extra:
                problems.append(
                    f"[{table}] {key} {extra} are not among [synchrony] segments "
                    f"{list(sync['segments'])}"
                )
        if not len(self.model["outcomes"]):
            problems.append("[model] outcomes must name at least one alliance scale")

    def _check_preprocessing(self, problems):
        """Check each ``[preprocessing]`` step's setting and option names."""
        pre = self.preprocessing
        methods = {"clean": _CLEAN_METHODS, "decompose": _DECOMPOSE_METHODS}
        for step, (func, _) in _STEPS.items():
            try:
                options = _step_options(step, pre[step])
            except ValueError as exc:
                problems.append(f"[preprocessing] {exc}")
                continue
            valid = _parameters(func, ("raw", "roles"))
            for key in options or {}:
                if key not in valid:
                    problems.append(
                        f"[preprocessing] {step} has no option {key!r}{_nearest(key, valid)} "
                        f"Its options are those of mne_dyad.preprocessing.{func.__name__}: "
                        f"{sorted(valid)}"
                    )
            if options and step in methods and "method" in options:
                value = options["method"]
                if value not in methods[step]:
                    problems.append(
                        f"[preprocessing] {step} method must be one of {list(methods[step])}, "
                        f"got {value!r}"
                    )
        share = pre["max_artifact_share"]
        if not (isinstance(share, int | float) and 0 <= share <= 1):
            problems.append(
                f"[preprocessing] max_artifact_share must be between 0 and 1, got {share!r}"
            )
        signal = self.synchrony["signal"]
        needs = _SIGNAL_STEP.get(signal)
        if needs is not None and pre[needs] is False:
            problems.append(
                f"[synchrony] signal = {signal!r} needs the {needs} step: set [preprocessing] "
                f"{needs} = true (or a method), or use signal = 'raw'"
            )

    def to_dict(self):
        """Return every setting as ``{table: {key: value}}`` (TOML/JSON types).

        Returns
        -------
        settings : dict
            Passing it to :class:`PipelineConfig` gives the same configuration.
        """
        out = {k: getattr(self, k) for k in _TOP_LEVEL if getattr(self, k) is not None}
        out.update({t: _plain(getattr(self, t)) for t in _TABLE_ORDER})
        return out

    def to_toml(self):
        """Return every setting as the text of a TOML configuration file.

        Returns
        -------
        text : str
            Saved as a ``.toml`` file and read with :func:`read_config` (or passed
            to ``mne-dyad run --config``), it gives the same configuration. The
            report of a run shows it.

        Examples
        --------
        >>> import mne_dyad as md
        >>> text = md.pipeline.PipelineConfig({"chance": {"n_surrogates": 200}}).to_toml()
        >>> "n_surrogates = 200" in text
        True
        """
        return _toml_dumps(self.to_dict())

    def __repr__(self):
        sync = self.synchrony
        steps = [s for s in ("chance", "variance", "model") if getattr(self, s)["enabled"]]
        return f"<PipelineConfig | {sync['method']} on {list(sync['segments'])}, steps {steps}>"

    def sets(self, table):
        """Return whether the settings gave a table (rather than all its defaults).

        Parameters
        ----------
        table : str
            A table name, for example ``"readers"``.

        Returns
        -------
        given : bool
            True when the settings named at least one key of the table.
        """
        return bool(self._given.get(table))

    def study_options(self):
        """Return the ``options`` of :func:`mne_dyad.io.read_study` for this run.

        Returns
        -------
        options : dict
            ``{"readers": ..., "segments": ..., "combine": ...}``.
        """
        return {"readers": self.readers, "segments": self.segments, "combine": self.combine}


_SAMPLING = ("draws", "tune", "chains", "sampler")


def _draws(table, options):
    """Return a table's draws per chain as the fit uses them (the model's None resolved)."""
    if table == "model":
        return _default_draws(options["draws"], options["random_slopes"])
    return options["draws"]


#: Samplers that need a package mne-dyad does not install.
_SAMPLER_PACKAGES = {"numpyro": "numpyro", "nutpie": "nutpie"}


def _raw_summary(summary):
    """Return the summary a chance-corrected one corrects (``all_lags_excess``: ``all_lags``)."""
    if not isinstance(summary, str):
        return summary
    for suffix in _CORRECTED_SUFFIXES:
        if summary.endswith(suffix):
            return summary[: -len(suffix)]
    return summary


def _has_se(spec, summary):
    """Whether a summary comes with a standard error (corrected ones always do)."""
    if not isinstance(summary, str):
        return False
    return summary != _raw_summary(summary) or f"{summary}_se" in spec.variables


def _installed(package):
    import importlib.util

    return importlib.util.find_spec(package) is not None


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


@verbose
@fill_doc
def read_config(fname, *, verbose=None):
    """Read and validate a run's configuration from a TOML file.

    Parameters
    ----------
    fname : path-like
        The TOML file (see :class:`PipelineConfig` for its tables).
    %(verbose)s

    Returns
    -------
    config : PipelineConfig
        The validated configuration.
    """
    _validate_type(fname, "path-like", "fname")
    fname = Path(fname)
    if not fname.is_file():
        raise FileNotFoundError(f"No configuration file at {fname}.{_path_hint(fname)}")
    text = fname.read_text()
    try:
        settings = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_problem(fname, text, exc)) from None
    return PipelineConfig(settings, source=str(fname))


def _as_config(config):
    if config is None:
        return PipelineConfig()
    if isinstance(config, PipelineConfig):
        return config
    if isinstance(config, dict):
        return PipelineConfig(config)
    _validate_type(config, (None, dict, PipelineConfig, "path-like"), "config")
    return read_config(config)


def _package_versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("mne", "numpy", "scipy", "xarray", "pandas", "neurokit2", "pymc", "arviz"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _alliance_of(study, given, config):
    """Return a run's alliance scores: given > the study's own > its manifest's file."""
    if given is not None:
        _validate_type(given, xr.Dataset, "alliance")
        return given, "given"
    if isinstance(getattr(study, "alliance", None), xr.Dataset):
        return study.alliance, "simulated"
    path = getattr(study, "alliance_file", None)
    if path is not None:
        return read_sai(path, verbose=False, **config.alliance), str(path)
    return None, None


class PipelineResults:
    """The outputs of :func:`run_pipeline`.

    Made by :func:`run_pipeline`; each parameter is kept as an attribute of the
    same name.

    Parameters
    ----------
    cube : xarray.Dataset
        The synchrony cube.
    chance : None | xarray.Dataset
        The chance test (:func:`mne_dyad.stats.test_above_chance`), if run.
    variance : None | xarray.DataTree
        The variance decomposition, if run.
    fit : None | AllianceFit
        The alliance model, if run.
    alliance : None | xarray.Dataset
        The alliance scores the model used.
    config : PipelineConfig
        The configuration of the run.
    provenance : dict
        Package and library versions, the configuration, the input, timings and
        the steps left out with their reasons.
    sessions : mapping
        ``{(dyad, session): raw}`` of the run (a lazy study stays lazy).
    """

    def __init__(self, *, cube, chance, variance, fit, alliance, config, provenance, sessions):
        self.cube = cube
        self.chance = chance
        self.variance = variance
        self.fit = fit
        self.alliance = alliance
        self.config = config
        self.provenance = provenance
        self.sessions = sessions

    def __repr__(self):
        ran = [s for s in ("chance", "variance", "fit") if getattr(self, s) is not None]
        sizes = dict(self.cube.sizes)
        return f"<PipelineResults | cube {sizes}, {', '.join(ran) or 'no models'}>"

    @verbose
    @fill_doc
    def report(self, *, title=None, n_traces=24, verbose=None):
        """Build the HTML report of this run.

        Parameters
        ----------
        title : None | str
            Report title (default: names the input).
        n_traces : None | int
            Sessions to draw as traces (``None``: all; default 24).
        %(verbose)s

        Returns
        -------
        report : mne.Report
            See :func:`mne_dyad.report.make_report`.
        """
        from .report import make_report

        if title is None:
            title = f"mne-dyad analysis of {self.provenance.get('input', 'a study')}"
        return make_report(
            self.cube,
            raws=self.sessions,
            fit=self.fit,
            surrogates=self.chance,
            variance=self.variance,
            title=title,
            n_traces=n_traces,
            run=self.provenance,
            verbose=verbose,
        )

    @verbose
    @fill_doc
    def save(self, dirname, *, overwrite=False, title=None, verbose=None):
        """Write every result and the report into a folder, all or nothing.

        Files (those of a step that did not run are left out): ``cube.nc``,
        ``chance.nc``, ``variance.nc``, ``posterior.nc``, ``summary.csv``,
        ``report.html`` and ``provenance.json`` (versions, the whole
        configuration and the steps left out). They are written to a temporary
        folder inside ``dirname`` and moved into place only when all exist.

        Parameters
        ----------
        dirname : path-like
            The output folder; created if needed.
        overwrite : bool
            Replace files of an earlier run. Default False.
        title : None | str
            Report title.
        %(verbose)s

        Returns
        -------
        paths : list of pathlib.Path
            The files written.
        """
        _validate_type(dirname, "path-like", "dirname")
        out = Path(dirname)
        names = self._names()
        stale = check_output_dir(out, overwrite=overwrite)
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            self._write(out, names, title)
        except BaseException:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            raise
        for name in stale:  # an earlier run's file of a step this run left out
            if name not in names:
                (out / name).unlink()
        logger.info(f"Wrote {len(names)} files to {out}.")
        return [out / name for name in names]

    def _write(self, out, names, title):
        with tempfile.TemporaryDirectory(dir=out, prefix=".mne-dyad-") as tmp:
            tmp = Path(tmp)
            write_cube(self.cube, tmp / "cube.nc", verbose=False)
            if self.chance is not None:
                write_cube(self.chance, tmp / "chance.nc", verbose=False)
            if self.variance is not None:
                self.variance.to_netcdf(tmp / "variance.nc", engine="h5netcdf")
            if self.fit is not None:
                self.fit.to_netcdf(tmp / "posterior.nc", verbose=False)
                self._summary_table().to_csv(tmp / "summary.csv", index_label="coefficient")
            report = self.report(title=title, verbose=False)
            report.save(tmp / "report.html", open_browser=False, overwrite=True, verbose=False)
            (tmp / "provenance.json").write_text(
                json.dumps(self.provenance, indent=2, sort_keys=True, default=str) + "\n"
            )
            for name in names:  # moved only once every file exists
                os.replace(tmp / name, out / name)

    def _summary_table(self):
        """Return the model's summary with the sampler's diagnostics of the whole fit."""
        table = self.fit.summary()
        for col in ("ess_bulk", "ess_tail"):
            if col in table:
                table[col] = table[col].round().astype("Int64")
        diagnostics = self.fit.diagnostics
        table["divergences"] = diagnostics.get("divergences")
        table["fit_max_rhat"] = diagnostics.get("max_rhat")
        table["fit_min_ess_bulk"] = diagnostics.get("min_ess_bulk")
        return table

    def _names(self):
        ran = {"chance": self.chance, "variance": self.variance, "model": self.fit}
        return _output_names([step for step, result in ran.items() if result is None])

    def describe(self):
        """Return a short text account of the run: shape, effects and steps left out.

        Returns
        -------
        text : str
            What ``mne-dyad run`` prints.
        """
        prov = self.provenance
        lines = [
            f"mne-dyad {__version__}: {prov['n_sessions']} sessions, {prov['n_dyads']} dyads, "
            f"{prov['seconds']:.0f} s"
        ]
        if self.chance is not None and "delta_mean" in self.chance:
            lines.append("Synchrony above chance (group excess, posterior mean [interval]):")
            for seg in self.chance.segment.values:
                row = self.chance.sel(segment=seg)
                lines.append(
                    f"  {seg}: {float(row.delta_mean):.3g} [{float(row.delta_lower):.3g}, "
                    f"{float(row.delta_upper):.3g}], P(delta > 0) = {float(row.p_delta_gt_0):.2f}"
                )
        if self.variance is not None:
            from .stats import variance_table

            table = variance_table(self.variance)
            lines.append("Shares of synchrony variance (posterior mean [interval]):")
            for seg in dict.fromkeys(table.index.get_level_values("segment")):
                parts = [
                    f"{comp} {row['mean']:.2f} [{row.ci_lower:.2f}, {row.ci_upper:.2f}]"
                    for comp, row in table.loc[seg].iterrows()
                    if comp
                    in (
                        "icc_dyad",
                        "session_share",
                        "error_share",
                        "session_share_observed",
                        "session_share_noise_floor",
                    )
                ]
                lines.append(f"  {seg}: " + "; ".join(parts))
        base = _raw_summary(self.config.model["summary"])
        reliability = _pooled_reliability(self.cube, base)
        if reliability is not None:
            values = ", ".join(
                f"{seg} {float(v):.2f}"
                for seg, v in zip(reliability.segment.values, reliability.values, strict=True)
            )
            lines.append(f"Split-half reliability of {base}: {values}")
        if self.fit is not None:
            summary = self.fit.params.get("summary")
            lines.append(
                f"Synchrony ({summary}) -> alliance, posterior mean [89% interval], SD units:"
            )
            lines.append(self.fit.effects_table().to_string())
        for step, why in prov["skipped"].items():
            lines.append(f"Not run: {step} ({why})")
        from .report import _run_problems

        for problem in _run_problems(prov, self.cube.sizes["dyad"]):
            lines.append(f"CAUTION: {problem}")
        return "\n".join(lines)


def check_output_dir(dirname, *, overwrite=False):
    """Check that a run may write its files into a folder, before it computes anything.

    Parameters
    ----------
    dirname : path-like
        The output folder (it need not exist).
    overwrite : bool
        Whether an earlier run's files may be replaced.

    Returns
    -------
    existing : list of str
        The output files already there (replaced or removed by the run when
        ``overwrite`` is True).
    """
    out = Path(dirname)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file, not a folder: choose another --out.")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out} already holds an earlier run's {existing}; pass overwrite=True "
            "(CLI: --overwrite) to replace them, or choose another folder."
        )
    return existing


def _steps_left_out(config, n_dyads, has_scores):
    """Return ``{step: why}`` for each step this run leaves out."""
    skipped = {}
    for step in _STOCHASTIC:
        if not getattr(config, step)["enabled"]:
            skipped[step] = f"[{step}] enabled = false"
    pseudo = config.chance["kind"] in ("pseudo_dyads", "double_pseudo_dyads")  # need 2 dyads
    if "chance" not in skipped and pseudo and n_dyads < 2:
        skipped["chance"] = (
            f"pseudo-dyads need at least 2 dyads and the study has {n_dyads}; set "
            '[chance] kind = "circular_shift" to test against shifted partners'
        )
    if "variance" not in skipped and n_dyads < 3:
        skipped["variance"] = f"dyad and session shares need at least 3 dyads; there are {n_dyads}"
    if "model" not in skipped and not has_scores:
        skipped["model"] = (
            "no alliance scores: add alliance_file to the manifest, or pass alliance= "
            "to run_pipeline"
        )
    return skipped


def _summaries_run(config, skipped):
    """``{step: {"summary": ..., ...}}`` overrides when the chance step does not run.

    A default chance-corrected summary falls back to the raw one (with a warning)
    when there are no surrogates; a corrected summary the configuration names
    explicitly cannot run without them.
    """
    out = {"variance": {}, "model": {}}
    corrected = config.chance["enabled"] and config.chance["correct"]
    if corrected and "chance" not in skipped:
        return out
    for step in out:
        summary = getattr(config, step)["summary"]
        raw = _raw_summary(summary)
        if raw == summary:
            continue
        if "summary" in config._given[step] and step not in skipped:
            raise ValueError(
                f"[{step}] summary = {summary!r} is chance-corrected synchrony, but the chance "
                f"step does not run ({skipped.get('chance', 'correct = false')}). Set "
                f'[{step}] summary = "{raw}".'
            )
        out[step] = {"summary": raw}
        if step == "variance" and "measurement_error" not in config._given[step]:
            spec = METHODS[config.synchrony["method"]]
            out[step]["measurement_error"] = _has_se(spec, raw)
        if step not in skipped:
            warn(
                f"No chance step ({skipped.get('chance')}), so [{step}] uses the raw {raw!r} "
                "instead of its chance-corrected excess."
            )
    return out


def _output_names(skipped):
    """Return the files a run with these steps left out writes."""
    drop = {
        "chance": {"chance.nc"},
        "variance": {"variance.nc"},
        "model": {"posterior.nc", "summary.csv"},
    }
    gone = set().union(*(drop[step] for step in skipped))
    return [name for name in OUTPUT_FILES if name not in gone]


def _with_options(study, config):
    """Return a Study read with the run's options (the study's own where the run sets none).

    A table the configuration does not set (``[readers]``, ``[segments]``,
    ``[combine]``) keeps the study's own options, so a study read with
    :func:`mne_dyad.io.read_study` options runs as it was read.
    """
    if not isinstance(study, Study):
        return study
    options = dict(study.options)
    for table, value in config.study_options().items():
        if config.sets(table) or table not in options:
            options[table] = value
    if options == study.options:
        return study
    return Study(study.table, study.alliance_file, options, study.source)


class _LazySessions(Mapping):
    """``{(dyad, session): step(raw)}``: each session passed through ``step`` on first access.

    ``done`` holds the sessions made so far. A session not made yet can be made
    elsewhere (:meth:`_reader`: read and stepped where the reader is called, from
    a reader of ``sessions`` or from its Raw); ``elsewhere`` keeps the facts of
    those made elsewhere only.
    """

    def __init__(self, sessions, step):
        self._sessions = sessions
        self._step = step
        self.done = {}
        self.elsewhere = {}

    def __getitem__(self, key):
        if key not in self.done:
            self.done[key] = self._step(self._sessions[key])
        return self.done[key]

    def _reader(self, key):
        if key in self.done:
            return None
        return _SteppedReader(_source(self._sessions, key, remote=True), self._step)

    def _news(self, key, news):
        first = key not in self.elsewhere
        self.elsewhere.setdefault(key, news["facts"])
        return self._sessions._news(key, news) if _is_lazy(self._sessions) else first

    def _known(self, key):
        return None if key in self.done else self.elsewhere.get(key)

    def __iter__(self):
        return iter(self._sessions)

    def __len__(self):
        return len(self._sessions)


class _SteppedReader:
    """Make a session from its source (a Raw or a reader), then pass it through ``step``."""

    def __init__(self, source, step):
        self.source, self.step = source, step

    def __call__(self):
        raw = self.source if isinstance(self.source, mne.io.BaseRaw) else self.source()
        return self.step(raw)


class _PreprocessedSessions(_LazySessions):
    """Sessions preprocessed (``[preprocessing]``) on first access."""


def _at_rate(sessions, study, config):
    """Sessions given as Raws, at the run's analysis rate when it sets ``[combine] sfreq``.

    A study read from a manifest is already read at that rate.
    """
    sfreq = config.combine["sfreq"]
    if isinstance(study, Study) or not config.sets("combine") or sfreq is None:
        return sessions
    return _LazySessions(sessions, functools.partial(_to_rate, sfreq=sfreq))


def _to_rate(raw, sfreq):
    return raw if raw.info["sfreq"] == sfreq else _resample_session(raw, sfreq)


def _preprocessed(sessions, config):
    """Return the sessions, preprocessed as they are read when the run asks for it."""
    options = dict(config.preprocessing)
    if all(_step_options(step, options[step]) is None for step in _STEPS):
        return sessions
    roles = config.synchrony["roles"]
    # a partial, not a lambda: a reader of these sessions may be pickled to a worker
    step = functools.partial(_preprocess, roles=roles, options=options)
    return _PreprocessedSessions(sessions, step)


def _preprocess(raw, roles, options):
    return preprocess_session(raw, roles=roles, **options, verbose=False)


def _preprocessing_record(sessions):
    """Per-session artifact shares and the flagged sessions, for the provenance."""
    if not isinstance(sessions, _PreprocessedSessions):
        return None
    shares, flagged = {}, []
    made = [key for key in sessions if key in sessions.done or key in sessions.elsewhere]
    for dyad, session in made:
        record = _facts(sessions, (dyad, session))["preprocessing"] or {}
        if "artifact_share" in record:
            shares[f"{dyad}/{session}"] = record["artifact_share"]
            if record.get("flagged"):
                flagged.append(f"{dyad}/{session}")
    return {"artifact_share": shares, "flagged": flagged}


def _n_dyads(sessions):
    return len({key[0] for key in sessions})


@verbose
@fill_doc
def run_pipeline(study, config=None, *, alliance=None, verbose=None):
    """Run a whole analysis: synchrony, chance, variance and the alliance model.

    The stages run in order with the options of ``config``: the synchrony cube
    (:func:`mne_dyad.synchrony_cube`), the chance test
    (:func:`mne_dyad.stats.test_above_chance`), the dyad/session variance
    decomposition (:func:`mne_dyad.stats.variance_decomposition`) and, when
    alliance scores are known, the alliance model
    (:func:`mne_dyad.stats.fit_alliance_model`). A step that cannot run on this
    study (pseudo-dyads or a variance decomposition with too few dyads) is left
    out with a warning and recorded in ``results.provenance["skipped"]``.

    Parameters
    ----------
    study : Study | SimulatedStudy | dict
        The sessions: a study from :func:`mne_dyad.io.read_study` (its
        ``alliance_file`` is read with ``[alliance]``) or
        :func:`mne_dyad.simulation.simulate_study` (its ``alliance`` is used), or
        a ``{(dyad, session): raw}`` mapping.
    config : None | PipelineConfig | dict | path-like
        The configuration (a TOML file, a ``{table: {key: value}}`` dict or a
        :class:`PipelineConfig`); default: every default.
    alliance : None | xarray.Dataset
        Alliance scores to use instead of the study's.
    %(verbose)s

    Returns
    -------
    results : PipelineResults
        With ``cube``, ``chance``, ``variance``, ``fit``, ``provenance``,
        :meth:`~PipelineResults.save` and :meth:`~PipelineResults.report`.

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=4, n_sessions=2, n_usable=6,
    ...                                      duration=600, seed=0)
    >>> config = {"chance": {"enabled": False}, "variance": {"enabled": False},
    ...           "model": {"enabled": False}}
    >>> results = md.pipeline.run_pipeline(study, config, verbose="error")
    >>> dict(results.cube.all_lags.sizes), sorted(results.provenance["skipped"])
    ({'dyad': 4, 'session': 2, 'segment': 2}, ['chance', 'model', 'variance'])
    """
    config = _as_config(config)
    # every warning of the run is kept for its provenance and report, and shown
    # (again, once the recording has stopped) to the caller's filters
    caught = []
    with _recorded(caught), _dask_context(config.dask["scheduler"]) as client:
        results = _run_stages(study, config, alliance, client)
    # a study's sessions may have been read (and warned about) before the run, by
    # check_run: their warnings come first
    loaded = getattr(getattr(study, "raws", None), "warnings", {})
    messages = [m for key in loaded for m in loaded[key]] + [str(w.message) for w in caught]
    results.provenance["warnings"] = list(dict.fromkeys(messages))
    return results


def _diagnostics_of(chance, variance, fit):
    """Each sampler's divergences, max R-hat and min bulk ESS, by step."""
    out = {}
    if chance is not None and "mne_dyad_diagnostics" in chance.attrs:
        out["chance"] = json.loads(chance.attrs["mne_dyad_diagnostics"])
    if variance is not None:
        for name, step in (("summary", "variance"), ("noise_floor", "variance_noise_floor")):
            if name in variance and "mne_dyad_diagnostics" in variance[name].attrs:
                out[step] = json.loads(variance[name].attrs["mne_dyad_diagnostics"])
    if fit is not None and fit.diagnostics:
        keys = ("divergences", "max_rhat", "min_ess_bulk", "min_ess_required")
        out["model"] = {k: fit.diagnostics[k] for k in keys if k in fit.diagnostics}
    return out


def _cluster_record(client):
    """Describe the dask cluster a run used: its scheduler's address and workers."""
    workers = client.scheduler_info().get("workers", {})
    return {
        "scheduler": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
    }


def _rates_of(sessions):
    """Native and analysis rates of every session, ``{"dyad/session": {...}}``."""
    out = {}
    for dyad, session in sessions:
        facts = _facts(sessions, (dyad, session))
        out[f"{dyad}/{session}"] = {"analysis": facts["sfreq"], **facts["native"]}
    return out


def _run_stages(study, config, alliance, client=None):
    t0 = time.perf_counter()
    study = _with_options(study, config)
    sessions = _preprocessed(_at_rate(_as_mapping(study), study, config), config)
    sync = dict(config.synchrony)
    jobs = {}  # on a dask cluster, the parallel steps take its workers (n_jobs=None)
    if client is not None:
        sync["n_jobs"] = jobs["n_jobs"] = None
    n_dyads = _n_dyads(sessions)
    scores, scores_from = None, None
    if config.model["enabled"]:
        scores, scores_from = _alliance_of(study, alliance, config)
    skipped = _steps_left_out(config, n_dyads, scores is not None)
    logger.info(f"[1/4] Synchrony cube for {len(sessions)} sessions ...")
    cube = synchrony_cube(sessions, **sync)

    chance = variance = fit = comparison = None
    summaries = _summaries_run(config, skipped)
    if "chance" not in skipped:
        options = {k: v for k, v in config.chance.items() if k not in ("enabled", "correct")}
        options.update(jobs)
        logger.info(f"[2/4] Synchrony against {options['kind']} surrogates ...")
        # a method parameter that the chance test also takes (SUSY's own
        # n_surrogates and seed) is the chance test's: [chance] sets it
        own = inspect.signature(test_above_chance).parameters
        method_params = {k: sync[k] for k in METHODS[sync["method"]].defaults if k not in own}
        same = {k: sync[k] for k in _SAME_AS_SYNCHRONY}
        if config.chance["correct"]:
            # one set of surrogates for the test and the correction of every summary
            group = {k: options.pop(k) for k in ("ci_prob", "draws", "tune", "chains", "sampler")}
            scalars = _scalar_summaries(METHODS[sync["method"]])
            chance_summary = options.pop("summary")
            comparison = compare_with_surrogates(
                sessions, **same, **method_params, summary=scalars, **options
            )
            cube = chance_corrected(cube, comparison=comparison)
            chance = fit_chance_model(
                comparison.sel(summary=chance_summary), seed=options["seed"], **group
            )
            chance.attrs["summary"] = chance_summary
        else:
            chance = test_above_chance(sessions, **same, **method_params, **options)
    if "variance" not in skipped:
        logger.info("[3/4] Dyad and session shares of synchrony ...")
        options = {k: v for k, v in config.variance.items() if k != "enabled"}
        variance = variance_decomposition(cube, **{**options, **summaries["variance"]})
        if config.chance["correct"] and comparison is not None:
            # the noise floor: the same decomposition of a study with no coupling
            floor = {k: v for k, v in options.items() if k not in ("summary", "measurement_error")}
            base = _raw_summary(variance["summary"].attrs["summary"])
            if "therapist" in cube.coords:  # for a therapist level
                comparison = comparison.assign_coords(therapist=cube.therapist)
            noise = variance_decomposition(comparison, summary=base, **floor)
            variance["noise_floor"] = noise["summary"]
    if "model" not in skipped:
        logger.info("[4/4] Bayesian alliance model ...")
        options = {k: v for k, v in config.model.items() if k != "enabled"}
        fit = fit_alliance_model(cube, scores, **{**options, **summaries["model"]})
    for step, why in skipped.items():
        if "enabled = false" not in why:
            warn(f"No {step} step: {why}.")
    source = getattr(study, "source", None)
    provenance = {
        "mne_dyad_version": __version__,
        "versions": _package_versions(),
        "config": config.to_dict(),
        "config_source": config.source,
        "input": str(source) if source is not None else type(study).__name__,
        "alliance": scores_from,
        "n_sessions": len(sessions),
        "n_dyads": n_dyads,
        "skipped": skipped,
        "preprocessing": _preprocessing_record(sessions),
        "sfreq": _rates_of(sessions),
        "diagnostics": _diagnostics_of(chance, variance, fit),
        "dask": None if client is None else _cluster_record(client),
        "seconds": time.perf_counter() - t0,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return PipelineResults(
        cube=cube,
        chance=chance,
        variance=variance,
        fit=fit,
        alliance=scores,
        config=config,
        provenance=provenance,
        sessions=sessions,
    )


@verbose
@fill_doc
def check_run(study, config=None, *, verbose=None):
    """Check a run completely without computing it, and describe its plan.

    Every session is read and combined (so every file's columns, units and
    sampling rates are checked with the run's ``[readers]``, ``[combine]`` and
    ``[segments]`` options), its segments are counted, and the alliance file is
    read; every problem is collected rather than the first raised.

    Parameters
    ----------
    study : Study | SimulatedStudy | dict
        The sessions (see :func:`run_pipeline`).
    config : None | PipelineConfig | dict | path-like
        The configuration.
    %(verbose)s

    Returns
    -------
    plan : str
        The plan: the study, the segments found, each step with its options and
        the outputs.
    problems : list of str
        Each problem, naming the dyad, session or file; empty when the run can go.
    """
    config = _as_config(config)
    if isinstance(study, Study):
        study = _with_options(study, config)
        keys = study.keys()
        # through the study's cache: a run after the check reads no file twice; but a
        # run on a cluster reads the sessions on its workers, so the check reads each
        # here without keeping it (the calling process never holds the study)
        cluster = config.dask["scheduler"] is not None or _active_client() is not None
        load = study.raws._peek if cluster else study.raws.__getitem__
    else:
        sessions = _as_mapping(study)
        _validate_type(sessions, Mapping, "study")
        keys = list(sessions)
        load = sessions.__getitem__
    sync = config.synchrony
    labels = sync["segments"]
    problems = []
    found = {label: [0, 0, 0.0] for label in labels}  # sessions, spans, seconds
    spec = METHODS[sync["method"]]
    params = {k: sync[k] for k in spec.defaults}
    usable = dict.fromkeys(labels, 0)  # sessions with a span long enough for the method
    longest = dict.fromkeys(labels, 0.0)
    rates = set()
    by_message = {}  # the same problem in many sessions is listed once
    for key in keys:
        try:
            raw = load(key)
            roles = _session_roles(raw, sync["roles"])
        except (ValueError, TypeError, KeyError, OSError) as exc:
            message = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
            by_message.setdefault(message, []).append(key)
            continue
        rates.add(raw.info["sfreq"])
        signal = sync["signal"]
        channels = [r if signal == "raw" else f"{r}-{signal}" for r in roles]
        absent = [ch for ch in channels if ch not in raw.ch_names]
        step = _SIGNAL_STEP.get(signal)
        if absent and config.preprocessing[step] is False:  # made by [preprocessing] otherwise
            by_message.setdefault(
                f"no {absent} channel(s) for [synchrony] signal = {signal!r}: set "
                f"[preprocessing] {step} = true, or use signal = 'raw'",
                [],
            ).append(key)
        missing = []
        need = spec.min_samples(spec.samples(params, raw.info["sfreq"]))
        for label in labels:
            spans = _segment_spans(raw, label)
            if spans:
                found[label][0] += 1
                found[label][1] += len(spans)
                found[label][2] += sum(b - a for a, b in spans) / raw.info["sfreq"]
                most = max(b - a for a, b in spans)
                usable[label] += most >= need
                longest[label] = max(longest[label], most / raw.info["sfreq"])
            else:
                missing.append(label)
        if len(missing) == len(labels):
            present = sorted(set(raw.annotations.description))
            by_message.setdefault(
                f"none of the segments {list(labels)}; the annotations are {present} (map "
                "them with [segments] mapping)",
                [],
            ).append(key)
    for message, where in by_message.items():
        named = "; ".join(f"dyad {d}, session {s}" for d, s in where[:3])
        more = f" and {len(where) - 3} more sessions" if len(where) > 3 else ""
        problems.append(f"{named}{more}: {message}")
    for label in labels:
        if found[label][0] and not usable[label]:
            problems.append(
                f"no {label!r} segment is long enough for {sync['method']}: it needs "
                f"{spec.describe_min(params)}, and the longest {label!r} span lasts "
                f"{longest[label]:.1f} s; shorten [synchrony] window or lag"
            )
    if len(rates) > 1:
        problems.append(
            f"the sessions have different sampling rates {sorted(rates)} Hz; set [combine] "
            "sfreq to analyse them at one rate"
        )
    scores = scores_from = None
    if config.model["enabled"]:
        try:
            scores, scores_from = _alliance_of(study, None, config)
        except (ValueError, TypeError, KeyError, OSError) as exc:
            if isinstance(exc, ValueError):  # its advice, as the run's TOML key
                exc = _with_toml_keys(exc, "alliance", read_sai)
            problems.append(f"alliance file: {exc}")
    rated_line = None
    if scores is not None:
        absent = [o for o in config.model["outcomes"] if o not in scores.data_vars]
        if absent:
            problems.append(
                f"[model] outcomes {absent} are not among the alliance scales "
                f"{sorted(scores.data_vars)}"
            )
        id_problems, rated_line = _alliance_ids(keys, scores, scores_from)
        problems.extend(id_problems)
    n_dyads = len({k[0] for k in keys})
    lines = [f"Plan for {getattr(study, 'source', None) or type(study).__name__}:"]
    rate_text = f" at {sorted(rates)} Hz" if rates else ""
    lines.append(f"  {len(keys)} sessions of {n_dyads} dyads{rate_text}")
    read_warnings = getattr(getattr(study, "raws", None), "warnings", {})
    n_warned = sum(bool(read_warnings.get(key)) for key in keys)
    if n_warned:
        lines.append(
            f"  reading {n_warned} session(s) raised warnings (shown above; the run's "
            "report and provenance list them)"
        )
    for label, (n_sess, n_spans, secs) in found.items():
        short = n_sess - usable[label]
        lines.append(
            f"  segment {label!r}: in {n_sess} sessions, {n_spans} spans, {secs / 60:.1f} min"
            + (f"; too short for the method in {short} session(s) (NaN there)" if short else "")
        )
    if scores is not None:
        lines.append(f"  alliance scores: {scores_from} ({', '.join(scores.data_vars)})")
        if rated_line:
            lines.append(f"  {rated_line}")
    method = sync["method"]
    params = ", ".join(f"{k}={sync[k]}" for k in METHODS[method].defaults)
    lines.append(f"  1. synchrony: {method} ({params}) of the {sync['signal']} EDA")
    skipped = _steps_left_out(config, n_dyads, scores is not None)
    steps = (
        ("chance", "2. chance", lambda o: f"{o['n_surrogates']} {o['kind']} surrogates per cell"),
        ("variance", "3. variance", lambda o: f"dyad and session shares of {o['summary']}"),
        ("model", "4. model", lambda o: f"alliance {list(o['outcomes'])} on {o['summary']}"),
    )
    for table, name, text in steps:
        o = getattr(config, table)
        if table in skipped:
            lines.append(f"  {name}: off ({skipped[table]})")
        else:
            lines.append(
                f"  {name}: {text(o)}; {o['chains']} chains x {_draws(table, o)} draws "
                f"({o['sampler']})"
            )
    lines.append(f"  outputs: {', '.join(_output_names(skipped))}")
    return "\n".join(lines), problems


def _alliance_ids(keys, scores, source):
    """Problems with the alliance table's ids against the manifest's, and a plan line."""
    dyads = {str(d) for d, _ in keys}
    sessions = {s for _, s in keys}
    their_dyads = {str(d) for d in scores.dyad.values}
    their_sessions = set(scores.session.values.tolist())
    where = f"alliance data ({source})"
    if not dyads & their_dyads:
        return [
            f"{where}: its dyads {sorted(their_dyads)[:5]} are none of the manifest's "
            f"{sorted(dyads)[:5]}; write the ids as the manifest does ([alliance] dyad_col "
            "names the table's dyad column)"
        ], None
    if not sessions & their_sessions:
        return [
            f"{where}: its sessions {sorted(map(str, their_sessions))[:5]} are none of the "
            f"manifest's {sorted(sessions)[:5]} (for example 's1' against 1); write the "
            "sessions as the manifest does, as numbers ([alliance] session_col names the "
            "table's session column)"
        ], None
    problems = []
    for what, ours, theirs, col in (
        ("dyads", dyads, their_dyads, "dyad_col"),
        ("sessions", {str(s) for s in sessions}, {str(s) for s in their_sessions}, "session_col"),
    ):
        # an id of the table that is not the manifest's but looks like one of them
        # ("d2" for "D2", "02" for "2"): a spelling to fix, not a dyad to leave out
        folded = {_fold_id(o): o for o in ours - theirs}
        close = {t: folded[_fold_id(t)] for t in theirs - ours if _fold_id(t) in folded}
        if close:
            named = ", ".join(f"{t!r} (manifest: {o!r})" for t, o in sorted(close.items())[:5])
            problems.append(
                f"{where}: its {what} {named} are spelt otherwise in the manifest; write "
                f"them as the manifest does ([alliance] {col} names the table's column)"
            )
    if problems:
        return problems, None
    values = scores.to_dataarray("scale")
    rated = values.notnull().any([d for d in values.dims if d not in ("dyad", "session")])
    grid = rated.transpose("dyad", "session").values
    pairs = {(str(scores.dyad.values[i]), scores.session.values[j]) for i, j in np.argwhere(grid)}
    unrated = [(d, s) for d, s in keys if (str(d), s) not in pairs]
    line = f"alliance: {len(keys) - len(unrated)} of the {len(keys)} sessions are rated"
    if unrated:
        named = ", ".join(f"{d}/{s}" for d, s in unrated[:5])
        line += f" (not rated: {named}{' ...' if len(unrated) > 5 else ''})"
    extra = sorted(their_dyads - dyads)
    if extra:
        line += f"; the table's dyads {extra[:5]} are not in the manifest (not used)"
    return [], line


def _fold_id(value):
    """Return an id as compared for spelling slips (case, spaces, separators, leading zeros)."""
    text = re.sub(r"[\s_\-]", "", str(value)).lower()
    return re.sub(r"(?<!\d)0+(?=\d)", "", text)


def _demo_inputs(*, quick=False, seed=2019, sampler="nutpie"):
    """Return the demo's simulated study and configuration."""
    from .simulation import simulate_study

    sim = dict(n_dyads=12, n_sessions=4, n_usable=40, duration=1200.0) if quick else {}
    sampling = dict(draws=1000, tune=1000, chains=2, sampler=sampler)
    # the full demo: every core for the cube and the surrogates (the values of one
    # job: each session segment has its own seed; 0.69 of the time on 2 cores,
    # benchmarks/bench_demo_jobs.py); the quick one is too small to pay for starting
    # the workers (1.13 times as long with them, docs/scaling.rst)
    n_jobs = 1 if quick else -1
    config = PipelineConfig(
        {
            "seed": seed,
            "synchrony": {"n_jobs": n_jobs},
            "chance": {
                "n_surrogates": 50 if quick else 200,
                "n_jobs": n_jobs,
                **sampling,
            },
            # with sampling error modelled, the session SD is weakly identified when
            # the error dominates (about 70 % of the observed variance in the quick
            # demo): longer chains keep R-hat and the ESS clear of the warnings
            "variance": {**sampling, "draws": 2000, "tune": 1500},
            # the model's default draws (3,000 with its default random slopes); the
            # quick demo's 12 dyads want the longer tuning of the variance model
            "model": {**sampling, "draws": None, "tune": 1500},
        },
        source="the demo",
    )
    return simulate_study(seed=seed, verbose=False, **sim), config
