import os
import pickle

import pytest
import torch

from sr_desktop.core import store
from sr_desktop.core.archs import EDSR, EDSRConfig, SRResNet, SRResNetConfig
from sr_desktop.core.modelfile import ModelFileError, load_model, save_model


def tiny_edsr(scale=2, **kw):
    torch.manual_seed(0)
    return EDSR(EDSRConfig(scale=scale, n_resblocks=2, n_feats=8, **kw))


def outputs_equal(a, b):
    x = torch.rand(1, 3, 9, 10)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_safetensors_round_trip_keeps_card_and_config(tmp_path):
    model = tiny_edsr(3, res_scale=0.1, rgb_range=1.0)
    path = save_model(
        tmp_path / "m.safetensors", model, "edsr", model.config, {"psnr_set5": "30.1", "recipe": "L1"}
    )
    d = load_model(path)
    assert d.config == model.config  # res_scale comes from metadata, not shapes
    assert d.card["psnr_set5"] == "30.1" and d.card["recipe"] == "L1"
    assert d.scale == 3 and d.name == "m"
    assert outputs_equal(model, d.module)
    assert not list(tmp_path.glob(".*tmp"))


def test_srresnet_round_trip(tmp_path):
    model = SRResNet(SRResNetConfig(scale=4, n_resblocks=2, n_feats=8))
    with torch.no_grad():  # non-default BN statistics must survive
        model.body[0].bn1.running_mean.uniform_()
    d = load_model(save_model(tmp_path / "s.safetensors", model, "srresnet", model.config))
    assert d.arch.name == "srresnet"
    assert outputs_equal(model, d.module)


@pytest.mark.parametrize("wrapper", [None, "params", "state_dict", "module."])
def test_official_style_pt_checkpoints_load(tmp_path, wrapper):
    model = tiny_edsr(4)
    sd = model.state_dict()
    if wrapper == "module.":
        obj = {"module." + k: v for k, v in sd.items()}
    elif wrapper:
        obj = {wrapper: sd}
    else:
        obj = sd
    torch.save(obj, tmp_path / "edsr_baseline_x4.pt")
    d = load_model(tmp_path / "edsr_baseline_x4.pt")
    assert d.scale == 4 and d.config.n_resblocks == 2
    assert outputs_equal(model, d.module)


def test_pt_without_mean_shift_loads(tmp_path):
    model = tiny_edsr(2)
    sd = {k: v for k, v in model.state_dict().items() if "mean" not in k}
    torch.save(sd, tmp_path / "nomean.pth")
    assert outputs_equal(model, load_model(tmp_path / "nomean.pth").module)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"head.0.weight": torch.zeros(1), "evil": Boom()}, tmp_path / "evil.pt")
    with open(tmp_path / "raw.pth", "wb") as f:
        pickle.dump(Boom(), f)
    for name in ("evil.pt", "raw.pth"):
        with pytest.raises(ModelFileError) as err:
            load_model(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_and_garbage_files(tmp_path):
    model = tiny_edsr()
    good = save_model(tmp_path / "good.safetensors", model, "edsr", model.config)
    data = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "text.pt").write_text("hello")
    torch.save(model.state_dict(), tmp_path / "full.pt")
    (tmp_path / "trunc.pt").write_bytes((tmp_path / "full.pt").read_bytes()[:300])
    for name in ("trunc.safetensors", "empty.safetensors", "text.pt", "trunc.pt", "missing.pt", "x.onnx"):
        with pytest.raises(ModelFileError) as err:
            load_model(tmp_path / name)
        assert "\n" not in str(err.value)


def test_unknown_architecture(tmp_path):
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="no known architecture"):
        load_model(tmp_path / "other.pt")


def test_store_lists_resolves_imports_and_deletes(tmp_path):
    model = tiny_edsr()
    src = save_model(tmp_path / "mine.safetensors", model, "edsr", model.config)
    entry = store.import_model(src)
    assert entry.path.parent == store.user_model_dir()
    assert [e.name for e in store.list_models() if not e.bundled] == ["mine"]
    assert store.resolve_model("mine").path == entry.path
    assert store.resolve_model(str(src)).path == src
    with pytest.raises(store.NoModelError, match="mine"):
        store.resolve_model("nope")
    with pytest.raises(ModelFileError):
        store.import_model(src)  # name taken
    bad = tmp_path / "bad.pt"
    bad.write_text("x")
    with pytest.raises(ModelFileError):
        store.import_model(bad)
    assert not (store.user_model_dir() / "bad.pt").exists()
    store.delete_model("mine")
    assert not entry.path.exists()
