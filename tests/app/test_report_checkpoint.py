"""The report and the views name the checkpoint (name, version, fusion), never its absolute path (issue 11)."""

import dataclasses
import logging

from app.analysis import UNTRAINED_DESCRIPTION, checkpoint_summary

from .conftest import wait_analysis
from .test_analysis_outputs import _painted_text


def _as_checkpoint(tiny_model, folder):
    """The tiny model as if it had been loaded from a checkpoint folder trained on synthetic data."""
    extra = {"training_data": "synthetic", "synthetic": True}
    meta = dataclasses.replace(tiny_model.meta, path=folder, extra=extra, mmqnet_version="9.8.7")
    return dataclasses.replace(tiny_model, meta=meta)


def test_checkpoint_summary_names_the_checkpoint_not_its_path(tiny_model, tmp_path):
    model = _as_checkpoint(tiny_model, tmp_path / "valence_v3")
    text = checkpoint_summary(model)
    assert text.startswith("MMQ-Net checkpoint 'valence_v3' (format 1, MMQ-Net Studio 9.8.7), fusion ")
    assert f"fusion {model.model.config.fusion}," in text and "SYNTHETIC training data" in text
    assert str(tmp_path) not in text and "/" not in text
    # a checkpoint given as its model.safetensors file is named by its folder
    as_file = _as_checkpoint(tiny_model, tmp_path / "valence_v3" / "model.safetensors")
    assert "'valence_v3'" in checkpoint_summary(as_file)
    assert checkpoint_summary(tiny_model) == UNTRAINED_DESCRIPTION


def test_report_shows_the_checkpoint_name_and_the_log_its_path(window, recording, tmp_path, qtbot, tiny_model,
                                                                caplog):
    folder = tmp_path / "private" / "valence_v3"
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(_as_checkpoint(tiny_model, folder))
    with caplog.at_level(logging.INFO):
        window.run_analysis()
        wait_analysis(qtbot, window)
    info = window.report_info()
    assert info.model_description == checkpoint_summary(_as_checkpoint(tiny_model, folder))
    painted = "\n".join(_painted_text(info))
    assert "Model: MMQ-Net checkpoint 'valence_v3'" in painted and "fusion" in painted
    assert str(tmp_path) not in painted and "private" not in painted
    assert any(str(folder) in r.getMessage() for r in caplog.records)  # the path is in the log only
