import pytest
import torch

from sr_desktop.core.archs import (
    ARCHITECTURES,
    EDSR,
    EDSRConfig,
    SRResNet,
    SRResNetConfig,
    detect_architecture,
)
from sr_desktop.core.archs import edsr as edsr_module

CONFIGS = [EDSRConfig(scale=s, n_resblocks=2, n_feats=8) for s in (2, 3, 4)] + [
    SRResNetConfig(scale=s, n_resblocks=2, n_feats=8) for s in (2, 3, 4)
]


def _build(config):
    return EDSR(config) if isinstance(config, EDSRConfig) else SRResNet(config)


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_detect_round_trip(config):
    torch.manual_seed(0)
    model = _build(config)
    arch, found = detect_architecture(model.state_dict())
    assert found == config
    rebuilt = arch.build(found)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), rebuilt.eval()(x))


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
@pytest.mark.parametrize("size", [(1, 1), (7, 5), (16, 33)])
def test_output_size(config, size):
    model = _build(config).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, *size))
    assert y.shape == (1, 3, size[0] * config.scale, size[1] * config.scale)


def test_edsr_keys_are_the_official_ones():
    keys = set(EDSR(EDSRConfig(scale=4, n_resblocks=2, n_feats=8)).state_dict())
    expected = {
        "sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias",
        "head.0.weight", "head.0.bias",
        "body.0.body.0.weight", "body.0.body.2.weight", "body.1.body.2.bias", "body.2.weight",
        "tail.0.0.weight", "tail.0.2.weight", "tail.1.weight", "tail.1.bias",
    }  # fmt: skip
    assert expected <= keys
    assert not any("tail.0.1" in k for k in keys)  # pixel shuffles hold no tensors


def test_edsr_baseline_parameter_count_matches_the_paper():
    # EDSR paper, Table 1: the baseline has 1.5M parameters at x4 (1.37M at x2).
    n = sum(p.numel() for p in EDSR(EDSRConfig(scale=2)).parameters() if p.requires_grad)
    assert 1.35e6 < n < 1.40e6


def test_detect_rgb_range_from_mean_shift():
    model = EDSR(EDSRConfig(scale=2, n_resblocks=1, n_feats=8, rgb_range=1.0))
    assert detect_architecture(model.state_dict())[1].rgb_range == 1.0


def test_unknown_state_dict_is_not_detected():
    assert detect_architecture({"foo.weight": torch.zeros(3)}) is None


def test_banded_tail_equals_plain_tail(monkeypatch):
    torch.manual_seed(1)
    for scale in (2, 3, 4):
        model = EDSR(EDSRConfig(scale=scale, n_resblocks=1, n_feats=8)).eval()
        x = torch.rand(1, 3, 37, 29)
        with torch.inference_mode():
            plain = model(x)
            monkeypatch.setattr(edsr_module, "TAIL_BAND_PIXELS", 29 * 9)  # bands of 9 rows
            banded = model(x)
            monkeypatch.undo()
        assert torch.allclose(plain, banded, atol=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.name)
def test_receptive_margin_covers_the_real_receptive_field(arch):
    """A change to one input pixel must not reach output pixels beyond the margin."""
    torch.manual_seed(2)
    config = arch.config_cls(scale=2, n_resblocks=2, n_feats=8)
    model = arch.build(config).eval()
    margin = arch.margin(config)
    size = 2 * margin + 9
    x = torch.rand(1, 3, size, size)
    x2 = x.clone()
    c = size // 2
    x2[:, :, c, c] += 0.5
    with torch.no_grad():
        diff = (model(x) - model(x2)).abs().sum(dim=(0, 1))
    ys, xs = torch.nonzero(diff > 0, as_tuple=True)
    reach = max((ys // 2 - c).abs().max().item(), (xs // 2 - c).abs().max().item())
    assert 0 < reach <= margin
