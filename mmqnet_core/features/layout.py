"""Token layouts: which recording channel feeds which model token.

A *layout* is an ordered tuple of :class:`Token`. The model sees one token per layout entry and window, so a
fixed layout (e.g. :data:`DEAP_LAYOUT`) lets recordings with different montages share one model: tokens whose
channel is absent are marked missing everywhere.

Matching rules of :func:`bind_layout` (in this order):

1. a token whose ``channel`` names a channel of the recording with the token's modality takes that channel;
2. a token takes the channel whose normalised name equals the token's normalised name (case-insensitive;
   a leading "EEG"/"EOG"/... prefix and a trailing reference suffix such as "-REF" are ignored) if the
   modalities agree;
3. remaining non-EEG tokens take the remaining channels *of the same modality* in recording order (first GSR
   channel -> first unmatched GSR token). EEG tokens are matched by name only, since electrode positions matter.

Modalities are strict: an ECG channel never serves a PPG token although both give a heart rate, because the
waveform-level features (pulse amplitude) mean different things; map such a channel explicitly with
``Recording.with_modalities`` if that is what you want.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

from ..io.deap import DEAP_CHANNEL_NAMES  # the 40 DEAP channels in file order (defined once, by the reader)
from ..recording import PHYSIOLOGICAL, ChannelInfo, Modality

_DEAP_MODALITIES: tuple[Modality, ...] = (Modality.EEG,) * 32 + (
    Modality.EOG, Modality.EOG, Modality.EMG, Modality.EMG, Modality.GSR, Modality.RESP, Modality.PPG, Modality.TEMP,
)  # fmt: skip


@dataclass(frozen=True)
class Token:
    """One model token: a named slot fed by one recording channel."""

    name: str  # token label, e.g. "Fp1", "GSR"
    modality: Modality  # kind of signal (selects the feature extractor)
    channel: str | None = None  # recording channel bound to the token; None = absent from the recording (or unbound)


#: One token per DEAP channel, in DEAP order (32 EEG, hEOG, vEOG, zEMG, tEMG, GSR, Resp, Plet, Temp). The tokens
#: are unbound (``channel=None``); :func:`bind_layout` binds them to a recording's channels.
DEAP_LAYOUT: tuple[Token, ...] = tuple(Token(n, m, None) for n, m in zip(DEAP_CHANNEL_NAMES, _DEAP_MODALITIES))

_PREFIX = re.compile(r"^(EEG|EOG|EMG|ECG|EKG|GSR|EDA|RESP|PPG|TEMP)[\s_\-:]+", re.IGNORECASE)
_SUFFIX = re.compile(r"[\s_\-](REF|LE|RE|AVG|AR|CAR|A1|A2|M1|M2)$", re.IGNORECASE)


def normalise_name(name: str) -> str:
    """Channel name used for matching: 'EEG Fp1-REF' -> 'fp1'."""
    s = _PREFIX.sub("", name.strip())
    s = _SUFFIX.sub("", s)
    return s.strip().lower()


def layout_for(channels: Sequence[ChannelInfo]) -> tuple[Token, ...]:
    """One bound token per physiological channel (STIM and MISC channels are skipped), in channel order.

    Parameters
    ----------
    channels : sequence of ChannelInfo
        The recording's channels.

    Returns
    -------
    tuple of Token
        ``Token(name=channel name, modality, channel=channel name)`` for each physiological channel.
    """
    return tuple(Token(c.name, c.modality, c.name) for c in channels if c.modality in PHYSIOLOGICAL)


def bind_layout(layout: Sequence[Token], channels: Sequence[ChannelInfo]) -> tuple[Token, ...]:
    """Bind each token of ``layout`` to a channel of ``channels`` (see the module doc for the rules).

    Each channel feeds at most one token. Tokens with no matching channel get ``channel=None``.

    Parameters
    ----------
    layout : sequence of Token
        Template tokens (``channel`` may be None or a preferred channel name).
    channels : sequence of ChannelInfo
        The channels of the signals to featurise.

    Returns
    -------
    tuple of Token
        The tokens of ``layout`` in the same order with ``channel`` set to the bound channel name or None.
    """
    by_name = {c.name: c for c in channels}
    used: set[str] = set()
    bound: list[str | None] = [None] * len(layout)
    # 1. explicit channel names
    for i, tok in enumerate(layout):
        c = by_name.get(tok.channel) if tok.channel else None
        if c is not None and c.modality == tok.modality and c.name not in used:
            bound[i] = c.name
            used.add(c.name)
    # 2. normalised token name == normalised channel name
    norm = {}
    for c in channels:
        norm.setdefault((normalise_name(c.name), c.modality), c.name)
    for i, tok in enumerate(layout):
        if bound[i] is None:
            name = norm.get((normalise_name(tok.name), tok.modality))
            if name is not None and name not in used:
                bound[i] = name
                used.add(name)
    # 3. non-EEG: by modality, in order
    for i, tok in enumerate(layout):
        if bound[i] is None and tok.modality != Modality.EEG:
            for c in channels:
                if c.modality == tok.modality and c.name not in used:
                    bound[i] = c.name
                    used.add(c.name)
                    break
    return tuple(replace(tok, channel=ch) for tok, ch in zip(layout, bound))
