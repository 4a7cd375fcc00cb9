"""Factor levels in the order R gives them, so the same table gives the same reference level.

R's ``factor()`` sorts the distinct values with ``sort()``: numbers numerically, logicals
``FALSE`` before ``TRUE``, and text in the collation of the session's locale. R built with
ICU (Debian/Ubuntu and CRAN builds for macOS and Linux; checked with ``Rscript`` under
``C.UTF-8`` and ``en_US.UTF-8``) uses the Unicode collation of the CLDR root locale, which
:func:`r_text_key` reproduces for Latin text:

1. characters compare by their base letter ignoring case and accents; white space and
   punctuation come first (in the order ``_ - , ; : ! ? . ' " ( ) [ ] { } @ * / \\ & # % `
   ^ + < = > | ~ $``), then digits, then letters — digits one at a time, so ``"10"`` sorts
   before ``"9"`` (as in R);
2. ties are broken by accents, compared from the left (``cote < coté < côte``);
3. then by case, lower case first (``high < High``), from the left.

So ``Low/Mid/high`` gives the levels ``high, Low, Mid`` and ``<=20/20-50/>50`` gives
``<=20, >50, 20-50``, exactly as ``levels(factor(x))`` in R. A pandas ``Categorical``
keeps its own category order (as an R factor keeps its levels). Characters outside Latin
script sort after Latin letters by code point (a documented local choice).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

# printable ASCII in the order R (ICU, CLDR root) sorts single characters; upper-case
# letters share the primary weight of their lower-case letter
_ASCII_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {ch: i + 1 for i, ch in enumerate(_ASCII_ORDER)}


def _primary(ch: str) -> int:
    low = ch.lower()
    if low in _PRIMARY:
        return _PRIMARY[low]
    if unicodedata.category(ch).startswith(("Z", "C")):
        return 0
    return 1000 + ord(low)


def r_text_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], str]:
    """Sort key of a string in R's (ICU root) collation; see the module docstring.

    Parameters
    ----------
    text : str
        A label.

    Returns
    -------
    tuple
        Primary, secondary (accents), tertiary (case) weights and the text itself.
    """
    prim: list[int] = []
    sec: list[int] = []
    ter: list[int] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            if sec:
                sec[-1] += ord(ch)
            continue
        prim.append(_primary(ch))
        sec.append(0)
        ter.append(1 if ch != ch.lower() else 0)
    return tuple(prim), tuple(sec), tuple(ter), text


def _value_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool | np.bool_):
        return (0, int(v))
    if isinstance(v, int | float | np.integer | np.floating):
        return (1, float(v))
    return (2, r_text_key(str(v)))


def r_sort(values: Iterable[Any]) -> list[Any]:
    """Distinct values in R's ``sort()`` order (numbers before text if both occur).

    Parameters
    ----------
    values : iterable
        Labels (numbers, booleans or text); missing values must be removed first.

    Returns
    -------
    list
        The distinct values, sorted.
    """
    return sorted(dict.fromkeys(values), key=_value_key)


def factor_levels(values: pd.Series | Sequence[Any] | np.ndarray) -> list[Any]:
    """Levels of a grouping or categorical column, as R's ``factor()`` orders them.

    A pandas ``Categorical`` keeps its category order (only categories that occur);
    anything else is sorted with :func:`r_sort`.

    Parameters
    ----------
    values : Series, sequence or ndarray
        The column (no missing values).

    Returns
    -------
    list
        The levels.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().tolist())
        return [c for c in values.cat.categories.tolist() if c in present]
    if isinstance(values, pd.Categorical):
        present = set(pd.Series(values).dropna().tolist())
        return [c for c in values.categories.tolist() if c in present]
    return r_sort(pd.Series(values, dtype=object).dropna().tolist())
