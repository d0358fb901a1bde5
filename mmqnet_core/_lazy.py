"""Lazy package exports (PEP 562), so that importing a light submodule does not import its heavy siblings.

The app imports e.g. ``mmqnet_core.features.missing`` and ``mmqnet_core.preprocessing.display_filter`` at
start-up; with eager ``from .extract import ...`` lines in the packages' ``__init__`` that pulled in
``scipy.signal`` (about 1.5 s) before the first paint.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``: name ``n`` comes from submodule ``exports[n]`` when first
    used, and is then kept in the package's ``namespace`` (its ``globals()``)."""

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
