"""Stage 2: discriminator, VGG weight sources (incl. the restricted VGG16 pickle loader and a
download from a local server), GAN training with resume, and ``--stage both``."""

from __future__ import annotations

import functools
import http.server
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from train_helpers import tiny_config

from training.checkpoint import load_checkpoint
from training.discriminator import SRGANDiscriminator
from training.events import read_events
from training.loop import Hooks, train
from training.losses import (
    VGG16_CONV_INDICES,
    PerceptualSetupError,
    VGGFeatures,
    find_vgg,
    load_vgg16_pickle,
)


def test_discriminator_matches_the_paper_and_takes_any_size() -> None:
    d = SRGANDiscriminator()
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    bns = [m for m in d.features if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 7 and isinstance(d.features[1], nn.LeakyReLU)
    assert d.features[1].negative_slope == 0.2
    linears = [m for m in d.classifier if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [1024, 1]
    d.eval()
    for size in (16, 40, 96):
        assert d(torch.rand(2, 3, size, size)).shape == (2, 1)


def _fake_vgg16_pickle(path: Path, rng: np.random.Generator, widths=None) -> dict:
    widths = widths or [4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8]
    convs, cin = {}, 3
    for i, cout in enumerate(widths):
        convs[f"Conv_{i}"] = {
            "kernel": rng.standard_normal((3, 3, cin, cout)).astype(np.float32),
            "bias": rng.standard_normal(cout).astype(np.float32),
        }
        cin = cout
    with open(path, "wb") as f:
        pickle.dump({"VGG16_0": convs}, f)
    return convs


def test_vgg16_pickle_loader_maps_hwio_to_oihw_and_warns_on_hash(tmp_path: Path) -> None:
    convs = _fake_vgg16_pickle(tmp_path / "v.ckpt", np.random.default_rng(0))
    warnings_seen = []
    sd = load_vgg16_pickle(tmp_path / "v.ckpt", warn=warnings_seen.append)
    assert len(warnings_seen) == 1 and "sha256" in warnings_seen[0]
    assert sorted(sd) == sorted(f"features.{i}.{p}" for i in VGG16_CONV_INDICES for p in ("weight", "bias"))
    k = convs["Conv_1"]["kernel"]
    w = sd["features.2.weight"]
    assert w.shape == (k.shape[3], k.shape[2], 3, 3)
    assert np.array_equal(w[1, 2].numpy(), k[:, :, 2, 1])


def test_vgg16_pickle_loader_refuses_foreign_globals(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with open(tmp_path / "evil.ckpt", "wb") as f:
        pickle.dump({"VGG16_0": Evil()}, f)
    with pytest.raises(PerceptualSetupError, match="forbidden global"):
        load_vgg16_pickle(tmp_path / "evil.ckpt", warn=lambda m: None)
    assert not (tmp_path / "pwned").exists()


def test_real_vgg16_file_spot_check(shared_dir: Path) -> None:
    path = shared_dir / "weights" / "vgg16-imagenet-features.ckpt"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    seen = []
    sd = load_vgg16_pickle(path, warn=seen.append)
    assert seen == []  # the sha256 matches
    expected = [[-0.5537, 0.1427, 0.5290], [-0.5831, 0.3566, 0.7657], [-0.6902, -0.0480, 0.4841]]
    assert np.allclose(sd["features.0.weight"][0, 0].numpy(), expected, atol=1e-4)
    feats = VGGFeatures(find_vgg(vgg16_file=str(path), warn=seen.append), "relu4_3")
    assert "relu4_3" in feats.description and len(feats.features) == 23


def test_no_vgg_source_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(PerceptualSetupError) as err:
        find_vgg()
    text = str(err.value)
    assert "--vgg-weights" in text and "--allow-download" in text and "--vgg16-file" in text


def _serve(folder: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_vgg19_download_only_when_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in with VGG19's 16 conv layers (tiny tensors): enough for the source logic.
    idx = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    fake = {f"features.{i}.weight": torch.zeros(1, 1, 1, 1) for i in idx}
    (tmp_path / "www").mkdir()
    torch.save(fake, tmp_path / "www" / "vgg19.pth")
    server = _serve(tmp_path / "www")
    try:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        monkeypatch.setenv("SR_VGG19_URL", f"http://127.0.0.1:{server.server_port}/vgg19.pth")
        with pytest.raises(PerceptualSetupError):
            find_vgg()
        src = find_vgg(allow_download=True, progress=False)
        assert src.net == "vgg19" and "VGG19" in src.description
        cached = Path(torch.hub.get_dir()) / "checkpoints" / "vgg19-dcbb9e9d.pth"
        assert cached.is_file()
        assert find_vgg().net == "vgg19"  # now from the cache, without download permission
    finally:
        server.shutdown()


def _vgg16_weights_file(path: Path) -> Path:
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])  # VGG16's conv stack, without the big classifier
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path


def test_gan_stage_trains_resumes_exactly_and_records_features(hr_folder: Path, tmp_path: Path) -> None:
    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    pre = train(tiny_config(hr_folder, tmp_path / "pre", iters=2), echo=None).export_path
    common = dict(stage="gan", iters=4, ckpt_every=2, init_from=str(pre), vgg_weights=str(vgg), batch=2)
    a = train(tiny_config(hr_folder, tmp_path / "a", **common), echo=None)

    def crash(iteration):
        if iteration == 3:
            raise RuntimeError("simulated kill")

    cfg_b = tiny_config(hr_folder, tmp_path / "b", **common)
    with pytest.raises(RuntimeError):
        train(cfg_b, hooks=Hooks(after_step=crash), echo=None)
    train(cfg_b, resume=True, echo=None)
    sa, sb = (
        load_checkpoint(tmp_path / "a" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "b" / "checkpoint.pt"),
    )
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    for k in sa["stage"]["disc"]:
        assert torch.equal(sa["stage"]["disc"][k], sb["stage"]["disc"][k]), k
    losses = [e["losses"] for e in read_events(tmp_path / "a" / "events.jsonl") if e["type"] == "train"]
    assert set(losses[0]) == {"g", "content", "adv", "d"}

    from sr_desktop.core.modelfile import load_model

    card = load_model(a.export_path).card
    assert "vgg16" in card["perceptual_features"] and "relu5_3" in card["perceptual_features"]
    assert "adversarial x0.001" in card["losses"]


def test_stage_both_runs_pretrain_then_gan(hr_folder: Path, tmp_path: Path) -> None:
    from training.stages import run_both

    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    cfg = tiny_config(
        hr_folder, tmp_path / "both", stage="both", iters=2, vgg_weights=str(vgg), vgg_layer="relu2_2"
    )
    result = run_both(cfg, echo=None)
    assert (tmp_path / "both" / "pretrain" / "pretrained.safetensors").is_file()
    assert result.export_path == tmp_path / "both" / "model.safetensors"
    gan_start = read_events(tmp_path / "both" / "gan" / "events.jsonl")[0]
    assert "gan" in gan_start["message"] and "tensors copied" in gan_start["init"]


@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_gan_stage_runs_its_networks_in_the_chosen_precision(
    amp: str, hr_folder: Path, tmp_path: Path
) -> None:
    """--amp reaches the GAN stage: generator, VGG and discriminator compute in bf16 under
    --amp bf16 (fp32 otherwise), while the losses and the weights stay fp32."""
    from sr_desktop.core.archs.edsr import EDSR, EDSRConfig
    from training.distributed import DistInfo
    from training.events import EventLog
    from training.gan import GanStage

    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    cfg = tiny_config(hr_folder, tmp_path / "run", stage="gan", vgg_weights=str(vgg), amp=amp, init_from="x")
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(scale=2, n_resblocks=1, n_feats=8))
    stage = GanStage(cfg, model, torch.device("cpu"), DistInfo(), EventLog(None))
    seen: dict[str, torch.dtype] = {}

    def record(name):
        def hook(module, args, out) -> None:  # returns None: the output is left as it is
            seen.setdefault(name, out.dtype)

        return hook

    model.head.register_forward_hook(record("generator"))
    next(m for m in stage.perceptual.vgg.modules() if isinstance(m, nn.Conv2d)).register_forward_hook(
        record("vgg")
    )
    next(m for m in stage.disc_raw.modules() if isinstance(m, nn.Conv2d)).register_forward_hook(
        record("disc")
    )
    lr = torch.rand(2, 3, 12, 12)
    hr = torch.rand(2, 3, 24, 24)
    losses = stage.step(lr, hr, check=lambda loss: None)

    expected = torch.bfloat16 if amp == "bf16" else torch.float32
    assert seen == {"generator": expected, "vgg": expected, "disc": expected}
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    assert all(p.dtype == torch.float32 for p in model.parameters())


def _tiny_gan_stage(hr_folder: Path, tmp_path: Path, **overrides):
    from sr_desktop.core.archs.edsr import EDSR, EDSRConfig
    from training.distributed import DistInfo
    from training.events import EventLog
    from training.gan import GanStage

    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    cfg = tiny_config(
        hr_folder, tmp_path / "run", stage="gan", vgg_weights=str(vgg), init_from="x", **overrides
    )
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(scale=2, n_resblocks=1, n_feats=8))
    return GanStage(cfg, model, torch.device("cpu"), DistInfo(), EventLog(None)), model


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_discriminator_warmup_trains_only_the_discriminator(hr_folder: Path, tmp_path: Path) -> None:
    stage, model = _tiny_gan_stage(hr_folder, tmp_path, d_warmup=2)
    lr, hr = torch.rand(2, 3, 12, 12), torch.rand(2, 3, 24, 24)
    g0, d0 = _snapshot(model), _snapshot(stage.disc_raw)
    for _ in range(2):
        losses = stage.step(lr, hr, check=lambda loss: None)
        assert set(losses) == {"d"}
    assert not _changed(g0, model) and _changed(d0, stage.disc_raw)
    assert not stage.g_opt.state  # the generator's Adam has not taken a step either
    losses = stage.step(lr, hr, check=lambda loss: None)
    assert set(losses) == {"g", "content", "adv", "d"} and _changed(g0, model)


def test_portable_state_leaves_out_the_discriminator_and_resumes(hr_folder: Path, tmp_path: Path) -> None:
    """A GAN run saved with save_portable_state is several times smaller and resumes: the
    generator and its optimizer continue, and a new discriminator trains alone first."""
    from training.checkpoint import save_portable_state

    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    pre = train(tiny_config(hr_folder, tmp_path / "pre", iters=2), echo=None).export_path
    common = dict(
        stage="gan", iters=3, ckpt_every=1, init_from=str(pre), vgg_weights=str(vgg), batch=2, d_warmup=2
    )
    train(tiny_config(hr_folder, tmp_path / "a", **common), echo=None)
    full = tmp_path / "a" / "checkpoint.pt"
    dest = save_portable_state(tmp_path / "a", tmp_path / "state" / "srgan").parent
    assert full.stat().st_size > 3 * (dest / "checkpoint.pt").stat().st_size
    assert (dest / "config.json").read_text() == (tmp_path / "a" / "config.json").read_text()
    kept, saved = load_checkpoint(dest / "checkpoint.pt"), load_checkpoint(full)
    assert "disc" not in kept["stage"] and "g_opt" in kept["stage"]
    for k in saved["model"]:
        assert torch.equal(kept["model"][k], saved["model"][k]), k

    # resume the copy for 3 more iterations: 2 discriminator-only steps, then a full one
    from training.cli import main as sr_train

    assert sr_train(["--resume", str(dest), "--iters", "6", "--quiet"]) == 0
    events = read_events(dest / "events.jsonl")
    resumed = [e for e in events if e["type"] == "train" and e["iteration"] > 3]
    assert [set(e["losses"]) for e in resumed] == [{"d"}, {"d"}, {"g", "content", "adv", "d"}]
    assert any("no discriminator" in e.get("message", "") for e in events if e["type"] == "info")
    after = load_checkpoint(dest / "checkpoint.pt")
    assert after["iteration"] == 6 and "disc" in after["stage"]


def test_remove_fixed_pattern_removes_exactly_the_grid() -> None:
    from training.gan import remove_fixed_pattern

    torch.manual_seed(0)
    content = torch.rand(2, 3, 64, 80)
    grid = torch.randn(1, 3, 4, 4).repeat(1, 1, 16, 20)  # one fixed 4x4 pattern over the image
    grid = grid - grid.mean(dim=(2, 3), keepdim=True)
    cleaned = remove_fixed_pattern(content + grid, 4)
    assert torch.allclose(cleaned, remove_fixed_pattern(content, 4), atol=1e-6)
    # what it takes away from content without a grid is small, and it is idempotent
    assert (remove_fixed_pattern(content, 4) - content).abs().mean() < 0.1 * content.std()
    assert torch.allclose(remove_fixed_pattern(cleaned, 4), cleaned, atol=1e-6)
    # a gradient through it has no fixed-pattern component left
    x = torch.rand(1, 3, 64, 80, requires_grad=True)
    (remove_fixed_pattern(x, 4) * grid[:1]).sum().backward()
    assert x.grad.abs().max() < 1e-6
    # sizes that are not a multiple: the remainder passes unchanged
    odd = torch.rand(1, 3, 18, 21)
    assert torch.equal(remove_fixed_pattern(odd, 4)[..., 16:, :], odd[..., 16:, :])


def test_grid_guard_hides_the_grid_from_both_losses(hr_folder: Path, tmp_path: Path) -> None:
    """With --grid-guard, the VGG (and adversarial) losses see the output without its fixed
    scale-pixel pattern, so their gradients cannot ask for one."""
    for guard in (False, True):
        stage, _ = _tiny_gan_stage(hr_folder, tmp_path, grid_guard=guard, pixel_weight=0.0)
        seen: list[torch.Tensor] = []
        stage.perceptual.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(args[0]))
        stage.step(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 24, 24), check=lambda loss: None)
        x = seen[0]
        phase = x.reshape(2, 3, 12, 2, 12, 2).mean(dim=(2, 4))
        phase = phase - phase.mean(dim=(2, 3), keepdim=True)
        assert (phase.abs().max() < 1e-5) == guard


def test_grid_loss_measures_only_the_fixed_pattern() -> None:
    """grid_loss(hr + grid, hr) is the grid's own mean absolute value; changes that are not a
    fixed pattern (here, the same image shifted by a whole block) cost nothing; its gradient is
    a pure fixed pattern, as large per pixel as a pixel L1's."""
    from training.gan import grid_loss, remove_fixed_pattern

    torch.manual_seed(0)
    hr = torch.rand(2, 3, 64, 80)
    cell = torch.randn(1, 3, 4, 4)
    cell = cell - cell.mean(dim=(2, 3), keepdim=True)
    grid = cell.repeat(1, 1, 16, 20)
    assert torch.allclose(grid_loss(hr + grid, hr, 4), cell.abs().mean(), atol=1e-6)
    assert grid_loss(hr, hr, 4) == 0
    # a different image with the same (absent) grid: far apart in L1, near 0 in grid loss
    other = torch.roll(hr, shifts=(4, 8), dims=(2, 3))
    assert grid_loss(other, hr, 4) < 0.05 * nn.functional.l1_loss(other, hr)
    # the gradient: only a fixed pattern, each pixel's as large as a pixel L1's
    x = (hr + grid).requires_grad_(True)
    grid_loss(x, hr, 4).backward()
    assert remove_fixed_pattern(x.grad, 4).abs().max() < 1e-9
    # (sign - its mean over the cell) / numel: a pixel L1's 1 / numel, give or take the mean
    per_pixel = x.grad.abs() * x.numel()
    assert per_pixel.max() <= 2 + 1e-4 and 0.5 < per_pixel.mean() <= 1 + 1e-4


def test_grid_weight_adds_the_grid_loss_to_the_generator(hr_folder: Path, tmp_path: Path) -> None:
    stage, _ = _tiny_gan_stage(hr_folder, tmp_path, grid_weight=2.0, pixel_weight=0.0)
    losses = stage.step(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 24, 24), check=lambda loss: None)
    assert "grid" in losses and losses["grid"] > 0
    weights = stage.cfg.content_weight, stage.cfg.adv_weight
    rest = weights[0] * losses["content"] + weights[1] * losses["adv"]
    assert torch.allclose(losses["g"], rest + 2.0 * losses["grid"], rtol=1e-5)
    assert "grid-pattern L1 x2" in stage.card_extra["losses"]
    (tmp_path / "plain").mkdir()
    plain, _ = _tiny_gan_stage(hr_folder, tmp_path / "plain", pixel_weight=0.0)
    assert "grid" not in plain.step(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 24, 24), lambda loss: None)


def test_negative_grid_weight_is_refused(hr_folder: Path, tmp_path: Path) -> None:
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="--grid-weight must be 0 or more"):
        tiny_config(hr_folder, tmp_path / "run", stage="gan", grid_weight=-1.0).validate()


def test_gan_gradients_script_measures_each_loss(hr_folder: Path, tmp_path: Path, capsys) -> None:
    """scripts/gan_gradients.py on a GAN run: one gradient size per weighted loss; with the grid
    guard, the VGG and adversarial gradients hold no fixed pattern and the grid loss's is all
    pattern; a portable state (no discriminator) is refused clearly."""
    from helpers import load_script

    from training.checkpoint import save_portable_state

    script = load_script("gan_gradients")
    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    pre = train(tiny_config(hr_folder, tmp_path / "pre", iters=2), echo=None).export_path
    cfg = tiny_config(
        hr_folder, tmp_path / "a", stage="gan", iters=2, init_from=str(pre), vgg_weights=str(vgg),
        batch=2, freeze="tail", grid_guard=True, grid_weight=1.0, pixel_weight=0.1,
        ema=0.9, artefact_weight=1.0,
    )  # fmt: skip
    train(cfg, echo=None)
    report = script.measure(tmp_path / "a", batches=2)
    assert set(report) == {"discriminator", "content", "adv", "l1", "grid", "artefact"}
    d = report["discriminator"]
    assert d["iteration"] == 2 and 0 < d["p_real_original"] < 1 and 0 < d["p_real_output"] < 1
    assert all(report[k]["norm"] > 0 for k in ("content", "adv", "l1", "grid"))
    assert report["content"]["grid_share"] < 1e-6 and report["adv"]["grid_share"] < 1e-6
    assert report["grid"]["grid_share"] > 1 - 1e-6
    assert script.main([str(tmp_path / "a"), "--batches", "1"]) == 0
    assert "grid" in capsys.readouterr().out
    save_portable_state(tmp_path / "a", tmp_path / "portable")
    with pytest.raises(SystemExit, match="no discriminator"):
        script.measure(tmp_path / "portable")


def test_consistency_loss_holds_colour_and_lets_fine_detail_go() -> None:
    """consistency_loss: 0 for the original whose downscale is the LR; a colour shift costs its
    full size; fine detail of the same size (a 2-pixel checker) costs a small fraction of it."""
    from sr_desktop.core.resize import imresize_torch
    from training.gan import consistency_loss

    torch.manual_seed(0)
    hr = nn.functional.interpolate(torch.rand(2, 3, 12, 12), size=(96, 96), mode="bilinear")
    lr = imresize_torch(hr, 0.25)
    assert consistency_loss(hr, lr, 4) < 1e-6
    shift = torch.tensor([0.03, -0.02, 0.01]).view(1, 3, 1, 1)
    assert torch.allclose(consistency_loss(hr + shift, lr, 4), shift.abs().mean(), rtol=1e-3)
    checker = 0.02 * (torch.arange(96).view(-1, 1) // 2 + torch.arange(96).view(1, -1) // 2).remainder(2)
    fine = checker - checker.mean()
    assert consistency_loss(hr + fine, lr, 4) < 0.1 * fine.abs().mean()


def test_consistency_weight_adds_the_loss(hr_folder: Path, tmp_path: Path) -> None:
    stage, _ = _tiny_gan_stage(hr_folder, tmp_path, consistency_weight=0.5, pixel_weight=0.0)
    losses = stage.step(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 24, 24), check=lambda loss: None)
    rest = stage.cfg.content_weight * losses["content"] + stage.cfg.adv_weight * losses["adv"]
    assert losses["consistency"] > 0
    assert torch.allclose(losses["g"], rest + 0.5 * losses["consistency"], rtol=1e-5)
    assert "LR-consistency L1 x0.5" in stage.card_extra["losses"]


def test_artefact_map_marks_busy_errors_where_the_output_is_worse_than_the_ema() -> None:
    """artefact_map: a hatch on a smooth area is marked, a flat brightness offset of the same
    size is not (its error has no local variance), and nothing is marked where the EMA model's
    output is further from the original than the current one."""
    from training.gan import artefact_loss, artefact_map

    hr = torch.full((1, 3, 32, 32), 0.5)
    hatch = 0.05 * (torch.arange(32)[:, None] + torch.arange(32)[None, :]).remainder(2).float()
    hatched, offset = hr + hatch, hr + 0.05
    m = artefact_map(hatched, hr, sr_ema=hr)
    assert m.shape == (1, 1, 32, 32) and (m > 0).float().mean() > 0.9
    assert artefact_loss(offset, hr, sr_ema=hr) == 0
    assert artefact_loss(hatched, hr, sr_ema=hr) > 0
    # the EMA output is worse everywhere: the current output is trusted
    assert artefact_map(hatched, hr, sr_ema=hr - 0.1).abs().max() == 0
    # the map is a weight, not a path for gradients: d loss / d sr = map * sign(sr - hr) / numel
    sr = hatched.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(artefact_loss(sr, hr, sr_ema=hr), sr)
    expected = artefact_map(hatched, hr, hr) * torch.sign(hatched - hr) / hatched.numel()
    assert torch.allclose(grad, expected, atol=1e-12)


def test_artefact_weight_needs_ema_and_trains_with_the_loops_ema(hr_folder: Path, tmp_path: Path) -> None:
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="needs --ema"):
        tiny_config(hr_folder, tmp_path / "x", stage="gan", artefact_weight=1.0, ema=0.0).validate()
    with pytest.raises(ConfigError, match="--artefact-weight must be 0 or more"):
        tiny_config(hr_folder, tmp_path / "y", stage="gan", artefact_weight=-1.0, ema=0.9).validate()
    with pytest.raises(ValueError, match="compares with the EMA model: pass ema_model"):
        _tiny_gan_stage(hr_folder, tmp_path, artefact_weight=1.0, ema=0.9)
    vgg = _vgg16_weights_file(tmp_path / "vgg16.pth")
    pre = train(tiny_config(hr_folder, tmp_path / "pre", iters=2), echo=None).export_path
    cfg = tiny_config(
        hr_folder, tmp_path / "a", stage="gan", iters=3, init_from=str(pre), vgg_weights=str(vgg),
        batch=2, ema=0.9, artefact_weight=2.0, log_every=1,
    )  # fmt: skip
    result = train(cfg, echo=None)
    from sr_desktop.core.modelfile import load_model

    losses = [e["losses"] for e in read_events(tmp_path / "a" / "events.jsonl") if e["type"] == "train"]
    assert losses and all(e["artefact"] >= 0 for e in losses)
    card = load_model(result.export_path).card
    assert "artefact" in str(card)


def test_random_window_cuts_the_same_shifted_window_from_each_tensor() -> None:
    from training.gan import random_window

    a = torch.arange(2 * 3 * 20 * 22, dtype=torch.float32).reshape(2, 3, 20, 22)
    b = -a
    assert random_window(a, b, jitter=0)[0] is a
    gen = torch.Generator().manual_seed(0)
    offsets = set()
    for _ in range(200):
        wa, wb = random_window(a, b, jitter=4, generator=gen)
        assert wa.shape == (2, 3, 16, 18) and torch.equal(wb, -wa)
        # where the window starts in a: its first value is y * 22 + x
        start = int(wa[0, 0, 0, 0])
        dy, dx = divmod(start, 22)
        assert torch.equal(wa, a[..., dy : dy + 16, dx : dx + 18])
        offsets.add((dy, dx))
    # every offset 0..4 in each direction turns up, so every phase of a 4-pixel grid does
    assert offsets == {(y, x) for y in range(5) for x in range(5)}


def test_jitter_shows_the_vgg_and_discriminator_shifted_windows(hr_folder: Path, tmp_path: Path) -> None:
    stage, _ = _tiny_gan_stage(hr_folder, tmp_path, jitter=8, patch=16, pixel_weight=0.0)
    seen_vgg: list[tuple[torch.Tensor, torch.Tensor]] = []
    seen_disc: list[torch.Size] = []
    stage.perceptual.register_forward_pre_hook(lambda m, args: seen_vgg.append((args[0], args[1])))
    stage.disc.register_forward_pre_hook(lambda m, args: seen_disc.append(args[0].shape))
    hr = torch.rand(2, 3, 32, 32)
    torch.manual_seed(5)
    starts = set()
    for _ in range(6):
        stage.step(torch.rand(2, 3, 16, 16), hr, check=lambda loss: None)
        sr_window, hr_window = seen_vgg[-1]
        assert sr_window.shape == hr_window.shape == (2, 3, 24, 24)
        matches = [
            (y, x)
            for y in range(9)
            for x in range(9)
            if torch.equal(hr_window, hr[..., y : y + 24, x : x + 24])
        ]
        assert len(matches) == 1
        starts.add(matches[0])
    assert len(starts) > 1  # a new offset each step
    # the discriminator judges windows of that size, outputs and originals alike
    assert seen_disc and all(s[-2:] == (24, 24) for s in seen_disc)
    assert "jittered by 0-8 px" in stage.card_extra["losses"]


def test_jitter_must_leave_a_window_of_16_pixels(hr_folder: Path, tmp_path: Path) -> None:
    from training.config import ConfigError
    from training.export import recipe_text

    with pytest.raises(ConfigError, match="--jitter 10 leaves the losses a 6-pixel window"):
        tiny_config(hr_folder, tmp_path / "run", stage="gan", jitter=10).validate()
    with pytest.raises(ConfigError, match="--jitter must be 0 or more"):
        tiny_config(hr_folder, tmp_path / "run", stage="gan", jitter=-1).validate()
    cfg = tiny_config(hr_folder, tmp_path / "run", stage="gan", jitter=8, patch=16)
    cfg.validate()
    assert "jittered by 0-8 px" in recipe_text(cfg, "ema")
