"""``mmqnet info FILE``: describe a recording (channels, rates, duration, annotations, labels, loader notes)."""

from __future__ import annotations

import argparse
import json

from ..recording import Recording
from ._recording_args import add_modality_option, parse_modalities, print_warnings

#: Annotations listed in the text output (all are counted).
_SHOWN_ANNOTATIONS = 10


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command to ``sub``."""
    p = sub.add_parser(
        "info",
        help="describe a recording",
        description="Describe a recording: channels (name, modality, rate, unit), duration, annotations, labels "
        "and what the loader noticed. Reads only the header (and trigger channels), never the whole file.",
    )
    p.add_argument("path", metavar="FILE", help="EDF/BDF file, DEAP sNN.dat file or MAHNOB-HCI session folder")
    p.add_argument("--json", action="store_true", help="print a JSON document instead of text")
    p.add_argument("--trial", type=int, default=None, metavar="N", help="DEAP trial to describe (0-39)")
    add_modality_option(p)
    p.set_defaults(func=run)


def summary(rec: Recording) -> dict:
    """Plain summary of ``rec``: :meth:`Recording.describe` plus the channel table and annotations."""
    out = rec.describe()
    meas = rec.raw.info.get("meas_date")
    # clock time of the first sample (EDF+/BDF+: the header's start plus the first record's onset), no time zone
    out["start"] = None if meas is None else meas.replace(tzinfo=None).isoformat(sep=" ")
    out["subject"] = rec.subject
    out["trial"] = rec.trial
    out["channels"] = [
        {"name": c.name, "modality": c.modality.value, "sfreq": c.sfreq, "unit": c.unit} for c in rec.channels
    ]
    out["annotations"] = [
        {"onset": round(a.onset, 6), "duration": round(a.duration, 6), "description": a.description,
         "ch_names": list(a.ch_names)}
        for a in rec.annotations
    ]
    out["source"] = str(rec.source) if rec.source is not None else None
    return out


def _recorded_units(rec: Recording) -> list[str] | None:
    """Each channel's physical dimension as the EDF/BDF header writes it ("uV", "mV", "uS"), None for other
    sources. The values the library returns are in SI units (volts: ``unit`` in ``--json``), but a reader of
    ``info`` wants to see what the file holds (an EEG in "V" reads as a mistake)."""
    if rec.source_format not in ("edf", "bdf"):
        return None
    from ..io.header_info import recording_header

    try:
        return [c.unit for c in recording_header(rec).channels]
    except Exception:  # noqa: BLE001 - the header was read once already; the SI unit is a fine fallback
        return None


def run(args: argparse.Namespace) -> int:
    """Load ``args.path`` and print its summary; errors propagate to :func:`mmqnet_core.cli.main`."""
    from ..io import load_recording

    rec = load_recording(args.path, trial=args.trial, modalities=parse_modalities(args.modality))
    print_warnings(rec)
    info = summary(rec)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=True))  # escapes every control and non-ASCII character
        return 0
    lines = [
        f"{info['title']}  [{info['format']}]" + ("  SYNTHETIC DATA" if info["synthetic"] else ""),
        f"duration: {info['duration_s']:g} s at {info['sfreq']:g} Hz, {info['n_channels']} channels",
        f"start: {info['start'] or 'unknown'}",
    ]
    if rec.subject or rec.trial:
        lines.append(f"subject: {rec.subject or '-'}  trial: {rec.trial or '-'}")
    recorded = _recorded_units(rec)
    lines.append("channels (unit as recorded):" if recorded else "channels:")
    width = max((len(c["name"]) for c in info["channels"]), default=4)
    for k, c in enumerate(info["channels"]):
        unit = recorded[k] if recorded else c["unit"]
        lines.append(f"  {c['name']:<{width}}  {c['modality']:<4}  {c['sfreq']:>8g} Hz  {unit or '-'}")
    anns = info["annotations"]
    lines.append(f"annotations: {len(anns)}")
    for a in anns[:_SHOWN_ANNOTATIONS]:
        lines.append(f"  {a['onset']:10.3f} s  +{a['duration']:.3f} s  {a['description']}")
    if len(anns) > _SHOWN_ANNOTATIONS:
        lines.append(f"  ... {len(anns) - _SHOWN_ANNOTATIONS} more")
    if info["labels"]:
        lines.append("labels: " + ", ".join(f"{k}={v:g}" for k, v in info["labels"].items()))
    if info["stim_span"]:
        lines.append(f"stimulus: {info['stim_span'][0]:.3f} s to {info['stim_span'][1]:.3f} s")
    if info["warnings"]:
        lines.append("warnings (damaged file):")
        lines += [f"  ! {w}" for w in info["warnings"]]
    if info["notes"]:
        lines.append("notes:")
        lines += [f"  - {n}" for n in info["notes"]]
    print("\n".join(lines))
    return 0
