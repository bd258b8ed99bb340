"""Writing settings as TOML (the standard library reads TOML but cannot write it)."""

import json
import math
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name):
    name = str(name)
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _value(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v, where)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"{where}: {type(value).__name__} {value!r} has no TOML form.")


def _dumps(settings):
    """Return ``{key: value | {table...}}`` as TOML text that ``tomllib`` reads back.

    Scalars and lists come first, then each nested dict as a ``[table]`` (and
    ``[table.sub]``); ``None`` has no TOML form and raises ``TypeError``.
    """
    lines = []

    def table(d, path):
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in d.items() if isinstance(v, dict)}
        if path and (scalars or not tables):
            lines.append(f"\n[{'.'.join(_key(p) for p in path)}]")
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {_value(v, '.'.join([*map(str, path), str(k)]))}")
        for k, v in tables.items():
            table(v, [*path, k])

    table(settings, [])
    return "\n".join(lines).lstrip("\n") + "\n"
