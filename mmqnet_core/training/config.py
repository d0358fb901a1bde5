"""Training configuration: one frozen dataclass, saved as ``config.json`` in the run folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..check import check_option, invalid
from ..errors import ConfigError
from ..model.config import check_long_readout_options

IMPUTE_MODES = ("none", "zero", "mean")
LR_SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """How to train MMQ-Net (or one of its ablations / baselines) on a :class:`~mmqnet_core.datasets.corpus.Corpus`."""

    # --- model (see mmqnet_core.model.MMQNetConfig) -------------------------------------------------------------
    n_windows: int = 8  # T: windows per training sample (a random crop of T consecutive windows of a trial)
    d_model: int = 64  # width of tokens and queries
    n_heads: int = 4  # attention heads
    n_enc_layers: int = 2  # encoder layers
    n_dec_layers: int = 1  # query-decoder layers per family
    dropout: float = 0.0  # element-wise dropout on the model's residual branches during training
    drop_path: float = 0.1  # stochastic depth (whole residual branches per sample): same regularisation, far cheaper
    context_windows: int = 1  # category/interference queries of window t see windows t-k..t+k
    use_modality_queries: bool = True  # ablation switch: reconstruction family
    use_category_queries: bool = True  # ablation switch: category family (False = mean-pooled tokens)
    use_interference_queries: bool = True  # ablation switch: interference family
    regression: bool = False  # also regress the 1-9 score of each target (beside the binary high/low heads)
    fusion: str = "mmq"  # how the query families interact (MMQNetConfig.fusion): "mmq" or "legacy"
    evidence_gate: bool = True  # learned reliability scale of the fused read-out (MMQNetConfig.evidence_gate)
    modality_evidence: bool = True  # per-modality evidence read-outs added to the fused logits (MMQNetConfig)
    # targets whose EEG read-out also reads the EEG channels' mean (MMQNetConfig.evidence_common), e.g. ("arousal",)
    evidence_common: tuple[str, ...] = ()
    # targets whose evidence read-outs also read every token's mean over windows t-h..t+h of the trial
    # (MMQNetConfig.evidence_long), e.g. ("arousal",); h = long_context_windows
    evidence_long: tuple[str, ...] = ()
    long_context_windows: int = 30
    # the long-context logits scaled by a learned function of the short context's visible shares
    # (MMQNetConfig.evidence_long_gate); needs evidence_long
    evidence_long_gate: bool = False
    # each token's long-context logit weighted by its hidden share of the short context (MMQNetConfig.evidence_long_fill)
    evidence_long_fill: bool = False
    # features z-scored with each subject's own statistics ("subject", the default: held-out subjects and analysed
    # recordings use their own, transductive but unsupervised; +5 points arousal on held-out synthetic subjects),
    # one global Normalizer of the training subjects ("global") or each trial's own statistics ("recording")
    normalization: str = "subject"
    impute: str = "none"  # baselines: "zero" / "mean" fill masked tokens and feed them as present (missing=False)
    # --- optimisation ---------------------------------------------------------------------------------------------
    epochs: int = 30  # maximum number of epochs
    batch_size: int = 64  # samples per step (per process under DDP)
    lr: float = 1e-3  # peak learning rate of AdamW
    weight_decay: float = 0.05  # AdamW weight decay
    warmup_steps: int = 100  # linear warm-up steps before the cosine decay
    grad_clip: float = 1.0  # max gradient norm (0 = no clipping)
    crops_per_trial: int | None = None  # samples drawn per training trial and epoch; None = windows // n_windows
    patience: int = 5  # early stopping: epochs without a better validation loss before stopping (0 = never)
    lr_schedule: str = "cosine"  # after the warm-up: "cosine" decay to 5 % of lr, or "constant"
    # warm start: a checkpoint folder whose weights are copied where name and shape match (e.g. a legacy-fusion
    # checkpoint into fusion "mmq": the new parts keep their initialisation); None = train from scratch
    init_from: str | None = None
    # frozen fine-tune: only the parameters whose names match one of these fnmatch patterns learn (e.g.
    # ("evidence_long_weight",)); every other weight keeps ``init_from``'s value and the whole model runs in eval mode
    # (no drop-path / dropout), the normaliser is ``init_from``'s, and the calibration refits the temperature and
    # evidence spread only of the targets whose logits the trained parameters reach (training.loop.freeze_except)
    train_only: tuple[str, ...] = ()
    # --- augmentation ---------------------------------------------------------------------------------------------
    mask_rate_max: float = 0.7  # each sample's simulated missing rate ~ U(0, mask_rate_max) (masking.random_token_mask)
    dropout_share: float = 0.3  # share of the simulated missing data as whole-modality drop-outs
    extra_mask_rate: float = 0.15  # extra random masking of visible tokens, reconstructed (masked-autoencoder style)
    # share of samples that also lose whole modalities: all EEG, all peripheral channels or one random modality,
    # over the whole sample (half of them) or a long span of at least half its windows (training.loop)
    modality_dropout: float = 0.5
    # curriculum: the modality drop-outs and the consistency weight ramp linearly from 0 to their values over the
    # first this many steps (0 = from the first step)
    augment_ramp_steps: int = 0
    feature_drop_rate: float = 0.05  # share of visible tokens that lose a random half of their features (one by one)
    # the reconstruction loss of a sample uses at most this many of its hidden tokens, drawn at random (0 = all):
    # an unbiased estimate of the loss over all of them, and the modality decoder only runs on those tokens
    recon_tokens_max: int = 64
    # --- loss weights ----------------------------------------------------------------------------------------------
    w_classification: float = 1.0  # cross-entropy of binary valence / arousal
    w_reconstruction: float = 1.0  # MSE on masked tokens that have ground truth
    w_interference: float = 0.5  # BCE of the per-window interference score
    w_artifact: float = 0.5  # multi-label BCE of the artifact types (trials with known artifacts only)
    w_decorrelation: float = 0.1  # decorrelation of interference and category query outputs
    w_gate: float = 0.0  # supervised interference gate: the window's largest token gate vs "artifact in the window"
    #                      (training.loop.gate_loss; fusion "mmq", trials with known artifacts); 0 = off
    w_regression: float = 0.5  # MSE of the 1-9 scores / 16 (only with ``regression``)
    # consistency: half of every batch is the other half with one more modality hidden (all EEG, all peripheral or
    # one modality); KL(prediction with it || prediction without it), the former not back-propagated (0 = off)
    w_consistency: float = 1.0
    # auxiliary unimodal loss: each modality's evidence read-out must predict the labels alone where the modality
    # is present (cross-entropy averaged over the groups; only with ``modality_evidence``)
    w_unimodal: float = 0.5
    # the evidence read-outs (linear, started at zero) learn at this multiple of ``lr``
    evidence_lr_scale: float = 10.0
    calibrate: bool = True  # fit a temperature per target on the validation subjects after training (stored)
    # --- data split --------------------------------------------------------------------------------------------------
    split: str = "subject"  # "subject" (leave-subjects-out) or "trial" (subject-dependent)
    folds: int = 5  # K of the split
    fold: int = 0  # which fold's test side is held out (0..folds-1)
    val_subjects: int | None = None  # validation subjects per fold (subject split); None = about 10 %
    split_seed: int = 0  # seed of the subject / trial shuffle
    # --- run ---------------------------------------------------------------------------------------------------------
    seed: int = 0  # seed of torch, numpy and the augmentation
    device: str | None = None  # "cpu", "cuda", "cuda:1", "mps" or None (best available)
    num_threads: int | None = None  # torch CPU threads (None = torch's default)

    def __post_init__(self) -> None:
        for name in ("n_windows", "d_model", "n_heads", "n_enc_layers", "n_dec_layers", "epochs", "batch_size",
                     "folds"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise invalid(name, "must be an integer >= 1", v)
        from ..model.normalization import check_mode

        check_mode(self.normalization)
        check_option("impute", self.impute, IMPUTE_MODES)
        if self.impute != "none" and self.use_modality_queries:
            raise ConfigError(
                f"impute={self.impute!r} feeds filled-in tokens as present, so there is nothing to reconstruct: "
                "set use_modality_queries=False for imputation baselines."
            )
        check_option("split", self.split, ("subject", "trial"))
        if not 0 <= self.fold < self.folds:
            raise invalid("fold", f"allowed 0..{self.folds - 1}", self.fold)
        if not self.lr > 0:
            raise invalid("lr", "must be > 0", self.lr)
        from ..model.config import FUSION_MODES

        check_option("fusion", self.fusion, FUSION_MODES)
        for name in ("mask_rate_max", "dropout_share", "extra_mask_rate", "modality_dropout", "feature_drop_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 0.9:
                raise invalid(name, "allowed 0 to 0.9", v)
        for f in fields(self):
            if f.name.startswith("w_") and not getattr(self, f.name) >= 0:
                raise invalid(f.name, "loss weights must be >= 0", getattr(self, f.name))
        for name in ("dropout", "drop_path"):
            if not 0.0 <= getattr(self, name) < 0.9:
                raise invalid(name, f"allowed 0 <= {name} < 0.9", getattr(self, name))
        if not isinstance(self.recon_tokens_max, int) or self.recon_tokens_max < 0:
            raise invalid("recon_tokens_max", "must be an integer >= 0", self.recon_tokens_max)
        if self.crops_per_trial is not None and self.crops_per_trial < 1:
            raise invalid("crops_per_trial", "must be None or >= 1", self.crops_per_trial)
        check_option("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.init_from is not None and not (isinstance(self.init_from, str) and self.init_from.strip()):
            raise invalid("init_from", "must be a checkpoint folder path or None", self.init_from)
        if not self.evidence_lr_scale > 0:
            raise invalid("evidence_lr_scale", "must be > 0", self.evidence_lr_scale)
        object.__setattr__(self, "train_only", tuple(str(v) for v in self.train_only))
        if self.train_only and self.init_from is None:
            raise invalid("train_only", "freezes every other weight at init_from's value: set init_from (a checkpoint "
                          "folder) too", self.train_only)
        if any(not v.strip() for v in self.train_only):
            raise invalid("train_only", "patterns must be non-empty parameter names or fnmatch patterns",
                          self.train_only)
        object.__setattr__(self, "evidence_common", tuple(str(v) for v in self.evidence_common))
        if self.evidence_common and not self.modality_evidence:
            raise invalid("evidence_common", "needs the evidence read-outs (modality_evidence=True)",
                          self.evidence_common)
        object.__setattr__(self, "evidence_long", tuple(str(v) for v in self.evidence_long))
        if self.evidence_long and not self.modality_evidence:
            raise invalid("evidence_long", "needs the evidence read-outs (modality_evidence=True)",
                          self.evidence_long)
        check_long_readout_options(self)
        if not isinstance(self.long_context_windows, int) or self.long_context_windows < 1:
            raise invalid("long_context_windows", "must be an integer >= 1", self.long_context_windows)
        for name in ("patience", "warmup_steps", "grad_clip", "augment_ramp_steps"):
            if getattr(self, name) < 0:
                raise invalid(name, "must be >= 0", getattr(self, name))

    @property
    def variant(self) -> str:
        """Name of the model variant as in the evaluation table: "MMQ-Net", "w/o modality queries",
        "zero-fill encoder", "mean-impute encoder"..."""
        off = [n for n, on in (("modality", self.use_modality_queries), ("category", self.use_category_queries),
                                ("interference", self.use_interference_queries)) if not on]
        if self.impute != "none":
            name = {"zero": "zero-fill encoder", "mean": "mean-impute encoder"}[self.impute]
            off = [n for n in off if n != "modality"]
            return name if not off else f"{name} w/o " + "+".join(off) + " queries"
        return "MMQ-Net" if not off else "w/o " + "+".join(off) + " queries"

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``MMQNetConfig.for_layout``."""
        return {
            "n_windows": self.n_windows, "d_model": self.d_model, "n_heads": self.n_heads,
            "n_enc_layers": self.n_enc_layers, "n_dec_layers": self.n_dec_layers, "dropout": self.dropout,
            "drop_path": self.drop_path,
            "context_windows": self.context_windows, "use_modality_queries": self.use_modality_queries,
            "use_category_queries": self.use_category_queries,
            "use_interference_queries": self.use_interference_queries, "regression": self.regression,
            "fusion": self.fusion, "modality_evidence": self.modality_evidence,
            "evidence_gate": self.evidence_gate and self.modality_evidence,
            **({"evidence_common": tuple(self.evidence_common)} if self.evidence_common else {}),
            **({"evidence_long": tuple(self.evidence_long), "long_context_windows": self.long_context_windows}
               if self.evidence_long else {}),
            **({"evidence_long_gate": True} if self.evidence_long_gate else {}),
            **({"evidence_long_fill": True} if self.evidence_long_fill else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown training option(s) {unknown}; known options are {sorted(known)}.")
        # configurations written before an option existed were trained with one global normaliser, element-wise
        # dropout 0.1 and no stochastic depth, and reconstructed every hidden token; before the interacting
        # families, with the legacy fusion, no modality dropout, feature dropout, consistency or calibration
        return cls(**{"normalization": "global", "dropout": 0.1, "drop_path": 0.0, "recon_tokens_max": 0,
                      "fusion": "legacy", "modality_dropout": 0.0, "feature_drop_rate": 0.0, "w_consistency": 0.0,
                      "calibrate": False, "modality_evidence": False, "w_unimodal": 0.0, "evidence_gate": False, **data})
