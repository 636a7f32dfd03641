"""Our VGG layer stacks for the perceptual loss."""

import pytest


def test_our_vgg_layers_match_torchvision_layout():
    """Our VGG stacks have torchvision's layer indices and shapes, so its weight files load."""
    torchvision = pytest.importorskip("torchvision")
    from training.losses import vgg_features

    for net in ("vgg16", "vgg19"):
        ours = vgg_features(net).state_dict()
        theirs = getattr(torchvision.models, net)(weights=None).features.state_dict()
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_vgg_layer_lists_parse_and_bad_ones_are_refused():
    from training.config import ConfigError, TrainConfig, parse_layers

    assert parse_layers("") == []
    assert parse_layers("relu5_3") == [("relu5_3", 1.0)]
    assert parse_layers("relu2_2:0.1, relu3_3 ,relu5_3:0.5") == [
        ("relu2_2", 0.1),
        ("relu3_3", 1.0),
        ("relu5_3", 0.5),
    ]
    for bad in (
        "pool3",
        "relu3_3:x",
        "relu3_3:-1",
        "relu3_3,relu3_3:2",
        "relu3_3:0",
        "relu3_3:nan",
        "relu3_3,",
    ):
        with pytest.raises(ValueError, match="--vgg-layer"):
            parse_layers(bad)
        with pytest.raises(ConfigError, match="--vgg-layer"):
            TrainConfig(dataset="d", iters=1, vgg_layer=bad).validate()


def _random_vgg16():
    import torch

    from training.losses import VGGSource, vgg_features

    torch.manual_seed(0)
    return VGGSource("vgg16", vgg_features("vgg16").state_dict(), "random VGG16")


def test_several_vgg_layers_give_each_layers_own_features_shallowest_first():
    import torch

    from training.losses import PerceptualSetupError, VGGFeatures

    source = _random_vgg16()
    x = torch.rand(2, 3, 40, 40)
    several = VGGFeatures(source, "relu4_3:0.5,relu1_2:0.1,relu3_3")
    assert [name for name, _ in several.layers] == ["relu1_2", "relu3_3", "relu4_3"]
    assert [w for _, w in several.layers] == [0.1, 1.0, 0.5]
    assert "relu1_2:0.1,relu3_3,relu4_3:0.5" in several.description
    feats = several(x)
    for (name, _), got in zip(several.layers, feats, strict=True):
        alone = VGGFeatures(source, name)(x)
        assert len(alone) == 1 and torch.equal(got, alone[0])
    assert [f.shape[1] for f in feats] == [64, 256, 512]
    with pytest.raises(PerceptualSetupError, match="relu6_1"):
        VGGFeatures(source, "relu2_2,relu6_1")
    assert VGGFeatures(source).layers == [("relu5_3", 1.0)]


def test_perceptual_loss_is_the_weighted_sum_over_layers():
    import torch

    from training.losses import FEATURE_SCALE, PerceptualLoss, VGGFeatures

    source = _random_vgg16()
    sr, hr = torch.rand(2, 3, 32, 32, requires_grad=True), torch.rand(2, 3, 32, 32)
    loss = PerceptualLoss(VGGFeatures(source, "relu2_2:0.1,relu3_3:2"))(sr, hr)
    expected = 0.0
    for name, weight in (("relu2_2", 0.1), ("relu3_3", 2.0)):
        vgg = VGGFeatures(source, name)
        a, b = vgg(sr)[0] * FEATURE_SCALE, vgg(hr)[0] * FEATURE_SCALE
        expected = expected + weight * ((a - b) ** 2).mean()
    assert torch.allclose(loss, expected, rtol=1e-5)
    loss.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0


def test_conv_layers_are_the_features_before_their_relu():
    import torch

    from training.losses import VGGFeatures

    source = _random_vgg16()
    x = torch.rand(1, 3, 32, 32)
    before, after = VGGFeatures(source, "conv3_3,relu3_3")(x)
    assert (before < 0).any()  # not yet through the ReLU
    assert torch.equal(torch.relu(before), after)
    assert len(VGGFeatures(source, "conv1_1").features) == 1
