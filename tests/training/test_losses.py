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
