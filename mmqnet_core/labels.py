"""Channel labels as file formats can store them.

FIF and EDF/BDF store ASCII labels only, while EDF files in the wild carry Latin-1 labels ("C3\u00e9",
"Temp K\u00f6rper", "\u00b5EMG"); every writer of such files (``preprocess`` output, the EDF+ export of annotations)
passes its channel names through :func:`ascii_names` first.
"""

from __future__ import annotations

import unicodedata

__all__ = ["ascii_names"]


def ascii_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """Channel names as .fif/.edf/.bdf files can store them: ASCII, unique.

    Accents are dropped ("C3\u00e9" -> "C3e"), micro signs read "u", any other non-ASCII character becomes "_",
    and a name that then repeats gets "-2", "-3"... ASCII names are returned unchanged.
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        text = name.replace("\u00b5", "u").replace("\u03bc", "u")
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = "".join(c if c.isascii() else "_" for c in text) or "_"
        base, k = text, 2
        while text in seen:
            text, k = f"{base}-{k}", k + 1
        seen.add(text)
        out.append(text)
    return out
