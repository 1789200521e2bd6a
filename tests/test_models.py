"""Models, presets and config validation: shapes, reparameterization variants, one-batch overfitting."""
from __future__ import annotations

import math

import pytest
import torch

from trainer.config import ConfigError, ModelConfig, RunConfig, TrainConfig, config_from_dict, replace_config
from trainer.models.losses import reconstruction_loss
from trainer.models.networks import FaceModel, build_model
from trainer.models.presets import PRESETS, preset_config


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_shapes(name: str, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(preset_config(name, image_size=size))
    config = PRESETS[name]
    x = _images(2, size)
    mean, logvar = model.encode(x)
    assert mean.shape == (2, config.latent_dim)
    assert model.latent_dim == config.latent_dim
    if config.family == "vae":
        assert model.is_variational
        assert logvar is not None and logvar.shape == mean.shape
    else:
        assert not model.is_variational
        assert logvar is None
    images = model.decode(torch.randn(3, config.latent_dim))
    assert images.shape == (3, 3, size, size)
    assert images.min() >= 0 and images.max() <= 1
    out = model(x)
    assert out.logits.shape == x.shape
    assert out.z.shape == mean.shape
    assert (out.logvar is None) == (config.family == "ae")


@pytest.mark.parametrize("name", ["default", "study-ae-02"])
def test_parameter_count_is_sum_of_numel(name: str) -> None:
    model = build_model(preset_config(name, image_size=32))
    expected = sum(p.numel() for p in model.parameters())
    assert model.parameter_count() == expected
    assert expected > 1000


def test_shuffle_output_convolves_nothing_at_full_size() -> None:
    """output='shuffle': the last up-sampling is a pixel shuffle, so no decoder conv runs at the image size."""
    sizes = []
    model = build_model(preset_config("default", image_size=32, base_channels=4, depth=3, output="shuffle"))
    hooks = [m.register_forward_hook(lambda mod, inp, out: sizes.append(inp[0].shape[-1]))
             for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    images = model.decode(torch.randn(2, model.latent_dim))
    for hook in hooks:
        hook.remove()
    assert images.shape == (2, 3, 32, 32) and sizes and max(sizes) == 16
    with pytest.raises(ConfigError, match="skip"):
        preset_config("study-ae-02", output="shuffle")


def test_a_channels_last_decoder_starts_channels_last_and_decodes_the_same() -> None:
    torch.manual_seed(0)
    model = build_model(preset_config("photo", image_size=32, depth=3, latent_dim=8)).eval()
    fast = build_model(model.config).eval()
    fast.load_state_dict(model.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    assert not model.decoder.channels_last and fast.decoder.channels_last
    seen = []
    fast.decoder.stages[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    z = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(fast.decode(z), model.decode(z), rtol=1e-4, atol=1e-5)
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()


def test_every_preset_names_itself() -> None:
    for name, config in PRESETS.items():
        assert config.preset == name
        config.validate()


# ---------------------------------------------------------------- reparameterization

def _reparam_noise(reparam: str, logvar_value: float, n: int = 20000) -> torch.Tensor:
    """(z - mean) for many draws of one study variant, with mean 3 and a fixed logvar."""
    config = preset_config("default", image_size=32, base_channels=4, depth=2, latent_dim=4, reparam=reparam)
    model = build_model(config)
    torch.manual_seed(1)
    mean = torch.full((n, 4), 3.0)
    logvar = torch.full((n, 4), logvar_value)
    return model.reparameterize(mean, logvar) - mean


def test_reparam_normal_has_std_exp_half_logvar() -> None:
    noise = _reparam_noise("normal", math.log(4.0))       # variance 4 -> std 2
    assert abs(noise.mean().item()) < 0.05
    assert noise.std().item() == pytest.approx(2.0, rel=0.03)
    assert (noise < 0).any()


def test_reparam_uniform01_never_lowers_the_mean() -> None:
    noise = _reparam_noise("uniform01", math.log(4.0))    # std 2 -> noise in [0, 2)
    assert (noise >= 0).all()
    assert noise.max().item() < 2.0
    assert noise.mean().item() == pytest.approx(1.0, abs=0.05)    # biased by +std/2


def test_reparam_uniform_pm1_is_bounded_and_centred() -> None:
    noise = _reparam_noise("uniform_pm1", math.log(4.0))  # std 2 -> noise in [-2, 2)
    assert noise.min().item() >= -2.0 and noise.max().item() < 2.0
    assert abs(noise.mean().item()) < 0.05
    assert (noise < -1.5).any() and (noise > 1.5).any()


def test_reparam_exp_logvar_uses_exp_logvar_as_std() -> None:
    noise = _reparam_noise("exp_logvar", math.log(2.0))   # the variant's std: exp(log 2) = 2, not sqrt(2)
    assert noise.std().item() == pytest.approx(2.0, rel=0.03)
    correct = _reparam_noise("normal", math.log(2.0))
    assert correct.std().item() == pytest.approx(math.sqrt(2.0), rel=0.03)


def test_training_mode_samples_and_eval_mode_uses_the_mean() -> None:
    torch.manual_seed(0)
    model = build_model(preset_config("default", image_size=32, base_channels=8, depth=3, latent_dim=6))
    x = _images(4, 32)
    model.train()
    sampled = model(x)
    assert not torch.equal(sampled.z, sampled.mean)
    model.eval()
    with torch.no_grad():
        out = model(x)
        assert torch.equal(out.z, out.mean)
        assert torch.allclose(out.logits, model.decode_logits(out.mean))


def test_autoencoder_decodes_its_code_in_training_mode() -> None:
    model = build_model(preset_config("default-ae", image_size=32, base_channels=8, depth=3, latent_dim=6))
    model.train()
    out = model(_images(4, 32))
    assert out.logvar is None
    assert torch.equal(out.z, out.mean)


def test_skip_model_decodes_codes_without_skips() -> None:
    torch.manual_seed(0)
    model = build_model(preset_config("study-ae-02", image_size=32, base_channels=8, max_channels=32,
                                      latent_dim=16)).eval()
    x = _images(2, 32)
    with torch.no_grad():
        out = model(x)
        alone = model.decode_logits(out.mean)
        images = model.decode(out.mean)
    assert images.shape == (2, 3, 32, 32)
    assert torch.allclose(images, torch.sigmoid(alone))
    # forward adds the encoder's skips, so its reconstruction differs from decoding the code alone
    assert not torch.allclose(out.logits, alone, atol=1e-4)


def test_odd_channel_counts_build() -> None:
    """GroupNorm needs a group count that divides the channels; 12 or 20 channels must still work."""
    for base in (12, 20, 6, 3):
        model = build_model(preset_config("default", image_size=32, base_channels=base, depth=3, latent_dim=4))
        assert model(_images(2, 32)).logits.shape == (2, 3, 32, 32)


@pytest.mark.slow
def test_tiny_model_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = build_model(preset_config("default-ae", image_size=32, base_channels=8, depth=3, latent_dim=8))
    # smooth, distinct images: a colour per image plus a gradient
    ramp = torch.linspace(0, 1, 32)
    colours = torch.rand(8, 3, 1, 1, generator=torch.Generator().manual_seed(3))
    x = (0.6 * colours + 0.4 * ramp[None, None, None, :] * ramp[None, None, :, None]).clamp(0, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        loss = reconstruction_loss(model(x).logits, x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[-10:]) < losses[0] / 5, (losses[0], losses[-10:])


# ---------------------------------------------------------------- config validation

def test_unknown_family_is_a_readable_config_error() -> None:
    with pytest.raises(ConfigError, match=r"family must be one of ae, vae; got 'gan'"):
        FaceModel(ModelConfig(family="gan"))


def test_depth_that_does_not_fit_the_image_size() -> None:
    with pytest.raises(ConfigError, match="depth 6 does not fit image size 32"):
        preset_config("default", image_size=32, depth=6)
    with pytest.raises(ConfigError, match="depth 0"):
        ModelConfig(depth=0).validate()


def test_other_model_field_errors() -> None:
    with pytest.raises(ConfigError, match="image_size"):
        ModelConfig(image_size=48).validate()
    with pytest.raises(ConfigError, match="reparam"):
        ModelConfig(reparam="gumbel").validate()
    with pytest.raises(ConfigError, match="latent_dim must be between 1 and"):
        ModelConfig(latent_dim=0).validate()


def test_unknown_preset_and_unknown_override() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*default"):
        preset_config("huge")
    with pytest.raises(ConfigError, match="latent_size"):
        preset_config("default", latent_size=4)


def test_run_config_checks_image_sizes_agree() -> None:
    config = RunConfig()
    config.model = preset_config("default", image_size=32)
    with pytest.raises(ConfigError, match="model image size 32 differs from data image size 64"):
        config.validate()


def test_train_config_errors() -> None:
    with pytest.raises(ConfigError, match="lr must be between 0 and 1"):
        TrainConfig(lr=0).validate()
    with pytest.raises(ConfigError, match="plain folder name"):
        TrainConfig(run_name="a/b").validate()


def test_config_from_dict_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="unknown ModelConfig key.*colour, laten_dim"):
        config_from_dict(ModelConfig, {"laten_dim": 8, "colour": True})


def test_config_from_dict_refuses_wrong_types() -> None:
    with pytest.raises(ConfigError, match=r"latent_dim must be an? int, got '8'"):
        config_from_dict(ModelConfig, {"latent_dim": "8"})
    with pytest.raises(ConfigError, match="skip_connections must be a bool"):
        config_from_dict(ModelConfig, {"skip_connections": 1})
    with pytest.raises(ConfigError, match="epochs"):
        config_from_dict(TrainConfig, {"epochs": True})
    with pytest.raises(ConfigError, match="family"):
        config_from_dict(ModelConfig, {"family": 3})


def test_config_from_dict_accepts_ints_for_floats_and_round_trips() -> None:
    train = config_from_dict(TrainConfig, {"lr": 1, "beta": 2})
    assert train.lr == 1.0 and isinstance(train.beta, float)
    config = RunConfig(model=preset_config("study-vae-04", image_size=32))
    config.data.image_size = 32
    assert RunConfig.from_dict(config.to_dict()) == config


def test_run_config_from_dict_refuses_unknown_sections() -> None:
    with pytest.raises(ConfigError, match="modle"):
        RunConfig.from_dict({"modle": {}})
    with pytest.raises(ConfigError, match="model"):
        RunConfig.from_dict({"model": 5})


def test_replace_config_checks_types() -> None:
    config = preset_config("default")
    assert replace_config(config, latent_dim=4).latent_dim == 4
    with pytest.raises(ConfigError):
        replace_config(config, latent_dim=4.5)
