"""Configuration of MMQ-Net: one frozen dataclass, saved as JSON beside the weights.

The token layout (which modality each token carries, which feature columns it defines) is part of the
configuration: a model only makes sense for the feature layout it was trained on, and
:func:`mmqnet_core.model.checkpoint.check_compatible` compares the two before analysis.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np

from ..check import check_int, check_option, invalid
from ..errors import ConfigError
from ..recording import Modality

#: How the query families are combined (see the model docstring): "mmq" (reconstructions feed the category
#: read-out, interference queries compete for tokens) or "legacy" (format of checkpoints written before: the
#: prediction comes from the category queries alone).
FUSION_MODES: tuple[str, ...] = ("mmq", "legacy")

#: Artifact types the interference head predicts (the synthetic corpus injects these, "ART_<type>").
ARTIFACT_TYPES: tuple[str, ...] = ("blink", "emg", "motion", "pop", "flat", "line")


def _as_tuple(value: Any) -> tuple:
    """Lists from JSON back to tuples (frozen dataclasses keep tuples only)."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def check_long_readout_options(config: Any) -> None:
    """Refuse ``evidence_long_gate`` / ``evidence_long_fill`` without ``evidence_long`` (both act on the long-context
    read-out); shared by :class:`MMQNetConfig` and the training configuration, which carries the same options."""
    for name, verb in (("evidence_long_gate", "scales"), ("evidence_long_fill", "weights")):
        value = getattr(config, name)
        if value and not config.evidence_long:
            raise invalid(name, f"{verb} the long-context read-out: set evidence_long too", value)


@dataclass(frozen=True)
class MMQNetConfig:
    """Everything needed to build an :class:`~mmqnet_core.model.MMQNet` (shapes, widths, switches).

    Build it from a feature layout with :meth:`for_layout`; save it with :meth:`to_json` and rebuild the
    model with ``MMQNet.from_config(MMQNetConfig.from_json(text))``.
    """

    # --- token layout (from features.FeatureSet) ----------------------------------------------------------
    token_groups: tuple[str, ...]  # N entries: modality name of each token ("EEG", "GSR", ...); tokens of one
    #                                modality share the embedding / reconstruction weights and modality query
    feature_valid: tuple[tuple[bool, ...], ...]  # (N, F): feature column f is defined for token n
    token_names: tuple[str, ...] = ()  # N names (features.Token.name) for compatibility checks; () = "t0".."tN-1"
    n_windows: int = 8  # T: windows per sample (the context the model sees at once)
    # --- widths -------------------------------------------------------------------------------------------
    d_model: int = 64  # D: width of every token and query
    n_heads: int = 4  # attention heads (d_model must be divisible by it)
    n_enc_layers: int = 2  # pre-norm self-attention layers over the L = T*N tokens
    n_dec_layers: int = 1  # query-decoder layers (cross-attention + in-window self-attention) per family
    mlp_ratio: float = 2.0  # hidden width of the feed-forward blocks = mlp_ratio * d_model
    dropout: float = 0.1  # element-wise dropout on residual branches during training (0-0.9)
    drop_path: float = 0.0  # stochastic depth: whole residual branches dropped per sample in training (0-0.9)
    # --- queries and heads --------------------------------------------------------------------------------
    targets: tuple[str, ...] = ("valence", "arousal")  # emotion dimensions, one binary (high/low) head each
    n_queries_per_target: int = 2  # category queries per target (their outputs are averaged)
    n_interference_queries: int = 2  # interference queries per window (their outputs are averaged)
    artifact_types: tuple[str, ...] = ARTIFACT_TYPES  # multi-label artifact classes of the interference head
    context_windows: int = 1  # category/interference queries of window t see tokens of windows t-k..t+k
    recon_context_windows: int | None = None  # same for modality queries; None = all T windows
    regression: bool = False  # also regress the 1-9 score of each target (besides the binary logits)
    label_threshold: float = 5.0  # a score >= this is the "high" class (index 1) of the binary heads
    # --- ablation switches --------------------------------------------------------------------------------
    use_modality_queries: bool = True  # False: no reconstruction; missing tokens stay the learned mask token
    use_category_queries: bool = True  # False: heads read the mean of the window's visible encoder tokens
    use_interference_queries: bool = True  # False: no interference family (no interference outputs / loss)
    # --- fusion and calibration ---------------------------------------------------------------------------
    fusion: str = "mmq"  # "mmq": the families interact (model docstring); "legacy": checkpoints from before
    #                      (configs without this field are read as "legacy", see from_dict)
    channel_embedding: bool = True  # True: each token (channel) also has its own Linear(F -> D) input map, added
    #                                 to its modality's; lets the read-out weigh one feature with opposite signs on
    #                                 different channels (frontal alpha asymmetry). Configs without it: False
    modality_evidence: bool = True  # True: each modality group also has its own linear evidence read-out whose
    #                                 logits are added to the fused read-out's (product of experts; EEG reads
    #                                 left/right channel-pair differences). Configs without it: False
    evidence_gate: bool = True  # with modality_evidence: the fused read-out's logits are scaled by a learned
    #                             reliability of the modalities present (2 * sigmoid(a + w . present share)); 1 at
    #                             initialisation. Configs without it: False
    evidence_common: tuple[str, ...] = ()  # with modality_evidence: targets whose EEG evidence read-out also reads
    #   the mean over the EEG channels of each feature (common mode; e.g. ("arousal",): arousal lowers alpha and
    #   raises beta/gamma on every channel, which the left/right pair differences cancel). () = pair differences
    #   only (configs without the field)
    evidence_long: tuple[str, ...] = ()  # with modality_evidence: targets whose evidence read-outs also read every
    #   token's features averaged over a longer span of the recording, windows t-h..t+h with h =
    #   long_context_windows (measured values only; MMQNet.forward's ``long_context``), e.g. ("arousal",).
    #   () = off (configs without the field)
    long_context_windows: int = 30  # h: half-width in windows of that span (30 windows of 1 s: about a minute)
    evidence_long_gate: bool = False  # with evidence_long: the long-context logits are scaled by a learned
    #   2 * sigmoid(a + w . share), share the visible share of each modality group in the window's short context
    #   (like evidence_gate), so the long span can count more where the short context lacks data; 1 at
    #   initialisation. Configs without it: False
    evidence_long_fill: bool = False  # with evidence_long: each token's long-context logit is weighted by the share
    #   of the window's short context (t-k..t+k) in which that token is hidden, so the long span speaks only for what
    #   the short context lacks (0 with the short context complete; session 10). Configs without it: False
    temperature: tuple[float, ...] = ()  # K: logits of target k are divided by temperature[k] (fitted on
    #                                      validation subjects after training); () = 1 for every target
    evidence_spread: tuple[tuple[float, ...], ...] = ()  # (G, K): what hiding each modality group changes in the
    #   logit (before temperature scaling) on the validation subjects beyond its restoration with reconstructions
    #   (``modality_evidence``; ``training.fit_evidence_spread``), fitted after training; the missing-evidence
    #   term of the uncertainty adds it for a hidden group (``inference/evidence.py``). () = not fitted (the term
    #   counts restoration only)

    def __post_init__(self) -> None:
        for f in fields(self):  # JSON gives lists: store tuples (hashable, immutable)
            object.__setattr__(self, f.name, _as_tuple(getattr(self, f.name)))
        object.__setattr__(self, "feature_valid", tuple(tuple(bool(v) for v in row) for row in self.feature_valid))
        groups = []
        for g in self.token_groups:
            try:
                groups.append(Modality.parse(g).value)
            except ConfigError as exc:
                raise ConfigError(f"Invalid token group {g!r} in 'token_groups': {exc}") from None
        object.__setattr__(self, "token_groups", tuple(groups))
        object.__setattr__(self, "token_names", tuple(str(n) for n in self.token_names))

        n = len(self.token_groups)
        if n < 1:
            raise invalid("token_groups", "at least one token is needed", self.token_groups)
        if len(self.feature_valid) != n:
            raise ConfigError(
                f"'feature_valid' must have one row per token (N={n}), got {len(self.feature_valid)} rows."
            )
        widths = {len(row) for row in self.feature_valid}
        if len(widths) != 1 or 0 in widths:
            raise invalid("feature_valid", "every row must have the same number F >= 1 of columns",
                          sorted(widths))
        if self.token_names and len(self.token_names) != n:
            raise invalid("token_names", f"must have N={n} entries (or none)", self.token_names)
        if self.token_names and len(set(self.token_names)) != n:
            dup = sorted({t for t in self.token_names if self.token_names.count(t) > 1})
            raise ConfigError(f"'token_names' must be unique, got duplicates {dup}.")
        for name in ("n_windows", "d_model", "n_heads", "n_enc_layers", "n_dec_layers", "n_queries_per_target",
                     "n_interference_queries"):
            check_int(name, getattr(self, name), min=1)
        if self.d_model % self.n_heads:
            raise invalid("n_heads", f"d_model={self.d_model} must be divisible by it", self.n_heads)
        for name in ("dropout", "drop_path"):
            if not 0.0 <= getattr(self, name) < 0.9:
                raise invalid(name, f"allowed 0 <= {name} < 0.9", getattr(self, name))
        if not self.mlp_ratio > 0:
            raise invalid("mlp_ratio", "must be > 0", self.mlp_ratio)
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise invalid("targets", "need one or more distinct names", self.targets)
        if len(set(self.artifact_types)) != len(self.artifact_types) or not self.artifact_types:
            raise invalid("artifact_types", "need one or more distinct names", self.artifact_types)
        if not isinstance(self.context_windows, int) or self.context_windows < 0:
            raise invalid("context_windows", "must be an integer >= 0", self.context_windows)
        if self.recon_context_windows is not None and (
            not isinstance(self.recon_context_windows, int) or self.recon_context_windows < 0
        ):
            raise invalid("recon_context_windows", "must be None (all windows) or an integer >= 0",
                          self.recon_context_windows)
        check_option("fusion", self.fusion, FUSION_MODES)
        object.__setattr__(self, "temperature", tuple(float(v) for v in self.temperature))
        if self.temperature and (len(self.temperature) != len(self.targets)
                                 or not all(0.05 <= v <= 20.0 for v in self.temperature)):
            raise invalid("temperature", f"expected () or one value in 0.05-20 per target ({len(self.targets)})",
                          self.temperature)
        object.__setattr__(self, "evidence_spread", tuple(tuple(float(v) for v in row) for row in self.evidence_spread))
        if self.evidence_spread and (len(self.evidence_spread) != len(self.groups)
                                     or any(len(row) != len(self.targets) for row in self.evidence_spread)
                                     or not all(math.isfinite(v) and v >= 0 for row in self.evidence_spread
                                                for v in row)):
            raise invalid("evidence_spread", f"expected () or one row per modality group ({len(self.groups)}) of one "
                          f"finite value >= 0 per target ({len(self.targets)})", self.evidence_spread)
        object.__setattr__(self, "evidence_common", tuple(str(v) for v in self.evidence_common))
        unknown = [v for v in self.evidence_common if v not in self.targets]
        if unknown or len(set(self.evidence_common)) != len(self.evidence_common):
            raise invalid("evidence_common", f"expected distinct target names from {list(self.targets)}",
                          self.evidence_common)
        if self.evidence_common and not self.modality_evidence:
            raise invalid("evidence_common", "needs modality_evidence=True (it extends the EEG evidence read-out)",
                          self.evidence_common)
        object.__setattr__(self, "evidence_long", tuple(str(v) for v in self.evidence_long))
        unknown = [v for v in self.evidence_long if v not in self.targets]
        if unknown or len(set(self.evidence_long)) != len(self.evidence_long):
            raise invalid("evidence_long", f"expected distinct target names from {list(self.targets)}",
                          self.evidence_long)
        if self.evidence_long and not self.modality_evidence:
            raise invalid("evidence_long", "needs modality_evidence=True (it extends the evidence read-outs)",
                          self.evidence_long)
        check_long_readout_options(self)
        if not isinstance(self.long_context_windows, int) or self.long_context_windows < 1:
            raise invalid("long_context_windows", "must be an integer >= 1 (windows each side)",
                          self.long_context_windows)
        if not 1.0 < float(self.label_threshold) < 9.0:
            raise invalid("label_threshold", "must lie inside the 1-9 scale", self.label_threshold)

    # --- derived shapes -----------------------------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        """N, tokens per window."""
        return len(self.token_groups)

    @property
    def n_features(self) -> int:
        """F, feature columns per token."""
        return len(self.feature_valid[0])

    @property
    def groups(self) -> tuple[str, ...]:
        """Distinct modality groups in order of first appearance."""
        return tuple(dict.fromkeys(self.token_groups))

    @property
    def group_index(self) -> tuple[int, ...]:
        """Index into :attr:`groups` of every token."""
        lookup = {g: i for i, g in enumerate(self.groups)}
        return tuple(lookup[g] for g in self.token_groups)

    @property
    def names(self) -> tuple[str, ...]:
        """Token names (``token_names`` or "t0".."tN-1")."""
        return self.token_names or tuple(f"t{i}" for i in range(self.n_tokens))

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def n_category_queries(self) -> int:
        """Category queries per window (n_targets * n_queries_per_target)."""
        return self.n_targets * self.n_queries_per_target

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def for_layout(
        cls, tokens: Sequence[Any], feature_valid: np.ndarray | Sequence[Sequence[bool]], **kwargs: Any
    ) -> "MMQNetConfig":
        """Config for a feature layout: ``tokens`` are ``features.Token`` objects (``name``, ``modality``).

        Parameters
        ----------
        tokens
            One entry per token, with ``.name`` and ``.modality`` (a :class:`Modality` or its name).
        feature_valid
            (N, F) bool, ``FeatureSet.valid``.
        **kwargs
            Any other field of :class:`MMQNetConfig` (``n_windows``, ``d_model``...).
        """
        groups = tuple(Modality.parse(t.modality).value for t in tokens)
        names = tuple(str(t.name) for t in tokens)
        valid = tuple(tuple(bool(v) for v in row) for row in np.asarray(feature_valid, dtype=bool))
        return cls(token_groups=groups, feature_valid=valid, token_names=names, **kwargs)

    @classmethod
    def for_feature_set(cls, features: Any, **kwargs: Any) -> "MMQNetConfig":
        """Config for the layout of a ``features.FeatureSet`` (its ``tokens`` and ``valid``)."""
        return cls.for_layout(features.tokens, features.valid, **kwargs)

    # --- serialisation ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MMQNetConfig":
        """Rebuild from :meth:`to_dict`; unknown keys are an error (a config from another program)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"A model config must be a JSON object, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown model config field(s) {unknown}; known fields are {sorted(known)}.")
        # configs written before the fields existed were trained with the legacy fusion and no calibration
        data = {"fusion": "legacy", "channel_embedding": False, "modality_evidence": False, "evidence_gate": False, **data}
        try:
            return cls(**data)
        except TypeError as exc:  # a required field missing
            raise ConfigError(f"Incomplete model config: {exc}.") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "MMQNetConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Model config is not valid JSON: {exc}.") from None
        return cls.from_dict(data)
