"""Config loading: shipped files, strict keys and types, range rules, overrides, files, hashing."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from shogi_jax.host.settings import ConfigError, apply_overrides, config_to_dict
from shogi_jax.play.model import ModelConfig
from shogi_jax.train.config import (
    Config,
    PPOConfig,
    config_from_dict,
    config_hash_of_network,
    load_config,
    save_config,
    validate,
)
from shogi_jax.train.state import make_trainer

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
EXPERIMENTS_DIR = CONFIG_DIR.parent / "experiments"
SHIPPED = ["cpu.yaml", "cpu_az.yaml", "smoke.yaml", "gpu.yaml", "gpu_8x.yaml", "tpu_pod.yaml"]


def raises_naming(*fragments: str):
    """pytest.raises(ConfigError) whose message must contain every fragment literally."""
    every = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(ConfigError, match="(?s)" + every)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load_and_validate(name):
    config = load_config(CONFIG_DIR / name)
    assert isinstance(config, Config)
    validate(config)
    assert config.train.run_dir == f"runs/{name.removesuffix('.yaml')}"


def test_shipped_configs_hold_the_documented_numbers():
    smoke = load_config(CONFIG_DIR / "smoke.yaml")
    assert (smoke.model.blocks, smoke.model.channels, smoke.env.num_games) == (1, 8, 8)
    gpu = load_config(CONFIG_DIR / "gpu.yaml")
    assert gpu.ppo.learning_rate == pytest.approx(1e-4)
    assert isinstance(gpu.ppo.learning_rate, float)
    assert (gpu.model.dtype, gpu.ppo.lr_schedule, gpu.ppo.warmup_iterations) == (
        "bfloat16", "cosine", 10)
    tpu = load_config(CONFIG_DIR / "tpu_pod.yaml")
    assert (tpu.env.num_games, tpu.ppo.minibatches, tpu.train.iterations) == (16384, 64, 5000)
    assert tpu.distributed.initialize and tpu.distributed.coordinator_address is None
    gpu_8x = load_config(CONFIG_DIR / "gpu_8x.yaml")
    assert (gpu_8x.env.num_games % 8, gpu_8x.distributed.devices) == (0, 0)
    # The two laptop learners share the network, so they compare at equal wall clock.
    cpu, cpu_az = load_config(CONFIG_DIR / "cpu.yaml"), load_config(CONFIG_DIR / "cpu_az.yaml")
    assert (cpu.algorithm, cpu_az.algorithm) == ("ppo", "gumbel_az")
    assert cpu_az.model == cpu.model and cpu_az.reward_shaping.material_weight == 0
    # Every shipped training config staggers its games' starts.
    assert {load_config(CONFIG_DIR / name).env.stagger_plies for name in SHIPPED
            if name != "smoke.yaml"} == {128}


def test_the_search_measurement_tournament_loads():
    from shogi_jax.arena.tournament_config import load_tournament_config

    config = load_tournament_config(EXPERIMENTS_DIR / "search" / "search_vs_policy.yaml")
    kinds = {player.name: (player.kind, player.simulations) for player in config.players}
    assert kinds == {"policy": ("policy", None), "search32": ("search", 32),
                     "search128": ("search", 128)}
    # The rows played alone, in batches: the same openings (seed, opening plies, rules).
    for name, searcher in (("search128_vs_policy.yaml", ("search128", 128, None)),
                           ("search32_considered8_vs_policy.yaml", ("search32_c8", 32, 8))):
        batched = load_tournament_config(EXPERIMENTS_DIR / "search" / name)
        policy, search = batched.players
        assert (policy.name, policy.kind, policy.temperature) == ("policy", "policy", 0.0), name
        assert (search.name, search.simulations, search.max_considered_actions) == searcher, name
        assert batched.games_at_once == 64, name
        same = ("seed", "random_opening_plies", "max_plies", "impasse", "games_per_pairing")
        assert [getattr(batched, k) for k in same] == [getattr(config, k) for k in same], name


def test_the_gauntlets_on_the_ladder_play_its_rungs_as_rated():
    """A gauntlet that places a player on the ladder (docs/ladder.md) must play each rung under
    the ladder's own name with the ladder's own settings, or the ladder's Elo does not apply."""

    from shogi_jax.arena.tournament_config import load_tournament_config

    ladder = {p.name: p for p in load_tournament_config(CONFIG_DIR / "ladder.yaml").players}
    for name in ("ladder_pretrained.yaml", "search/search_ladder.yaml",
                 "search/search128_ladder.yaml", "mate_defence/mate_defence_ladder.yaml",
                 "learning_bar/bar_on_ladder.yaml"):
        directory = CONFIG_DIR if name == "ladder_pretrained.yaml" else EXPERIMENTS_DIR
        config = load_tournament_config(directory / name)
        hub, *rungs = config.players
        assert config.pairing == "gauntlet" and hub.name not in ladder, name
        assert config.max_plies == 320 and config.random_opening_plies == 4, name  # as rated
        on_ladder = [rung for rung in rungs if rung.name in ladder]
        assert len(on_ladder) >= 3, name
        for rung in on_ladder:  # the same settings, the USI options in any order
            assert dataclasses.replace(rung, options=tuple(sorted(rung.options))) == \
                dataclasses.replace(ladder[rung.name],
                                    options=tuple(sorted(ladder[rung.name].options))), rung.name
    search_dir = EXPERIMENTS_DIR / "search"
    for name, simulations in (("search_ladder.yaml", 32), ("search128_ladder.yaml", 128)):
        search = load_tournament_config(search_dir / name).players[0]
        assert (search.kind, search.simulations, search.pretrained) == (
            "search", simulations, True), name
    defence = EXPERIMENTS_DIR / "mate_defence" / "mate_defence_ladder.yaml"
    defending = load_tournament_config(defence).players[0]
    assert (defending.kind, defending.mate_in_one, defending.avoid_mate_in_one,
            defending.pretrained) == ("policy", True, True, True)
    # The bar placed on the ladder is the engine usi_bar.py plays: Skill Level 0, 50 ms.
    bar = load_tournament_config(EXPERIMENTS_DIR / "learning_bar" / "bar_on_ladder.yaml")
    assert (bar.players[0].byoyomi_ms, sorted(bar.players[0].options), bar.concurrency) == (
        50, ["Skill Level=0", "Threads=1"], 1)
    usi_bar = (EXPERIMENTS_DIR / "learning_bar" / "usi_bar.py").read_text()
    assert 'FSF_OPTIONS = "Skill Level:0,Threads:1"' in usi_bar
    assert 'FSF_BYOYOMI = ["--byoyomi", "1000", "50"]' in usi_bar


def test_missing_keys_take_defaults():
    assert config_from_dict({}) == Config()
    config = config_from_dict({"ppo": {"epochs": 2}})
    assert config.ppo == PPOConfig(epochs=2)
    assert config.model == ModelConfig()


def test_dict_round_trip():
    config = load_config(CONFIG_DIR / "gpu.yaml", ["ppo.target_kl=0.02", "ppo.value_clip_eps=0.2"])
    as_dict = config_to_dict(config)
    assert as_dict["ppo"]["target_kl"] == 0.02
    assert config_from_dict(as_dict) == config
    assert config_to_dict(config_from_dict(as_dict)) == as_dict


def test_save_then_load(tmp_path):
    config = load_config(CONFIG_DIR / "cpu.yaml", ["ppo.learning_rate=1e-10", "train.seed=7"])
    path = tmp_path / "run" / "config.yaml"
    save_config(config, path)
    assert load_config(path) == config


@pytest.mark.parametrize(
    "raw, dotted, suggestion",
    [
        ({"ppo": {"learnin_rate": 1e-3}}, "ppo.learnin_rate", "ppo.learning_rate"),
        ({"modle": {}}, "modle", "model"),
        ({"model": {"chanels": 16}}, "model.chanels", "model.channels"),
    ],
)
def test_unknown_key_is_named_with_a_suggestion(raw, dotted, suggestion):
    with raises_naming(f"unknown config key '{dotted}'", f"did you mean '{suggestion}'"):
        config_from_dict(raw)


def test_unknown_key_without_close_match_lists_valid_keys():
    with raises_naming("unknown config key 'train.zzz'", "run_dir", "iterations"):
        config_from_dict({"train": {"zzz": 1}})


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ({"ppo": {"epochs": "four"}}, ["ppo.epochs", "expected int", "str 'four'"]),
        ({"ppo": {"epochs": True}}, ["ppo.epochs", "expected int", "bool True"]),
        ({"ppo": {"gamma": False}}, ["ppo.gamma", "expected float", "bool False"]),
        ({"ppo": {"epochs": 2.0}}, ["ppo.epochs", "expected int", "float 2.0"]),
        ({"ppo": [1, 2]}, ["ppo", "expected a mapping", "list [1, 2]"]),
        ({"env": None}, ["env", "expected a mapping", "None"]),
        ({"model": {"channels": None}}, ["model.channels", "expected int", "None"]),
        ({"model": {"squeeze_excitation": "yes"}}, ["model.squeeze_excitation", "expected bool"]),
        ({"train": {"run_dir": 5}}, ["train.run_dir", "expected str", "int 5"]),
        ({"ppo": {"target_kl": "big"}}, ["ppo.target_kl", "expected float or None", "str 'big'"]),
    ],
)
def test_wrong_type_is_named(raw, fragments):
    with raises_naming(*fragments):
        config_from_dict(raw)


def test_non_mapping_top_level_is_rejected():
    with raises_naming("expected a mapping"):
        config_from_dict([1, 2])


def test_int_accepted_for_float_and_none_for_optional():
    config = config_from_dict({"ppo": {"learning_rate": 1, "target_kl": None, "value_clip_eps": 1}})
    assert config.ppo.learning_rate == 1.0 and isinstance(config.ppo.learning_rate, float)
    assert isinstance(config.ppo.value_clip_eps, float)
    assert config.ppo.target_kl is None


@pytest.mark.parametrize(
    "dotted, bad_value",
    [
        ("model.blocks", 0),
        ("model.channels", -8),
        ("model.value_hidden", 0),
        ("model.dtype", "float16"),
        ("env.num_games", 0),
        ("env.rollout_length", 0),
        ("env.max_plies", 0),
        ("ppo.learning_rate", 0.0),
        ("ppo.lr_schedule", "exponential"),
        ("ppo.warmup_iterations", -1),
        ("ppo.epochs", 0),
        ("ppo.minibatches", 0),
        ("ppo.gamma", 1.5),
        ("ppo.gamma", -0.1),
        ("ppo.gae_lambda", 1.01),
        ("ppo.clip_eps", 0.0),
        ("ppo.value_clip_eps", 0.0),
        ("ppo.value_coef", -0.5),
        ("ppo.entropy_coef", -0.01),
        ("ppo.max_grad_norm", 0.0),
        ("ppo.target_kl", -0.01),
        ("reward_shaping.material_weight", -0.1),
        ("reward_shaping.anneal_env_steps", -1),
        ("train.iterations", 0),
        ("train.iterations_per_dispatch", 0),
        ("train.time_limit_minutes", -1.0),
        ("distributed.devices", -1),
        ("distributed.num_processes", 0),
        ("distributed.process_id", -1),
    ],
)
def test_impossible_value_is_named(dotted, bad_value):
    section, key = dotted.split(".")
    with raises_naming(dotted, repr(bad_value)):
        config_from_dict({section: {key: bad_value}})


def test_range_edges_are_accepted():
    config = config_from_dict({
        "ppo": {"gamma": 1.0, "gae_lambda": 0.0, "value_coef": 0, "entropy_coef": 0,
                "warmup_iterations": 0},
        "reward_shaping": {"material_weight": 0.0, "anneal_env_steps": 0},
    })
    assert config.ppo.gamma == 1.0


def test_multi_process_settings_need_initialize_and_a_valid_process_id():
    with raises_naming("distributed.coordinator_address", "distributed.initialize"):
        config_from_dict({"distributed": {"coordinator_address": "10.0.0.1:1234"}})
    with raises_naming("distributed.process_id", "2", "distributed.num_processes"):
        config_from_dict({"distributed": {"initialize": True, "num_processes": 2,
                                          "process_id": 2}})
    ok = config_from_dict({"distributed": {"initialize": True, "num_processes": 2,
                                           "process_id": 1}})
    assert (ok.distributed.num_processes, ok.distributed.process_id) == (2, 1)


def test_validate_checks_directly_built_configs():
    with raises_naming("model.blocks"):
        validate(Config(model=ModelConfig(blocks=0)))


def test_each_games_plies_must_split_into_minibatches():
    # 6 x 4 = 24 samples would split into 3 minibatches of 8, but each minibatch takes an equal
    # share of every game's 4 plies.
    raw = {"env": {"num_games": 6, "rollout_length": 4}, "ppo": {"minibatches": 3}}
    with raises_naming("env.rollout_length", "ppo.minibatches", "4", "3"):
        config_from_dict(raw)
    raw["ppo"]["minibatches"] = 2
    assert config_from_dict(raw).ppo.minibatches == 2


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_warm_up_must_end_before_the_run_does(schedule):
    raw = {"ppo": {"lr_schedule": schedule, "warmup_iterations": 10}, "train": {"iterations": 10}}
    with raises_naming("ppo.warmup_iterations", "train.iterations", "10"):
        config_from_dict(raw)
    raw["train"]["iterations"] = 11
    config = config_from_dict(raw)
    # The accepted pair builds its schedule (the refused one crashed there, after the run
    # directory was written).
    schedule_fn = make_trainer(config).schedule  # the warm-up
    assert float(schedule_fn(10 * config.ppo.epochs * config.ppo.minibatches)) == pytest.approx(
        config.ppo.learning_rate)


def test_a_wdl_head_refuses_value_clipping():
    with raises_naming("ppo.value_clip_eps", "model.value_head"):
        config_from_dict({"model": {"value_head": "wdl"}, "ppo": {"value_clip_eps": 0.2}})
    assert config_from_dict({"model": {"value_head": "wdl"}}).model.value_head == "wdl"
    with raises_naming("model.value_head"):
        config_from_dict({"model": {"value_head": "categorical"}})


def test_iterations_must_split_into_dispatches():
    with raises_naming("train.iterations", "train.iterations_per_dispatch", "10", "3"):
        config_from_dict({"train": {"iterations": 10, "iterations_per_dispatch": 3}})
    five = config_from_dict({"train": {"iterations": 10, "iterations_per_dispatch": 5}})
    assert five.train.iterations == 10


def test_overrides_parse_values_as_yaml():
    raw = {"ppo": {"epochs": 2}}
    overridden = apply_overrides(raw, [
        "ppo.learning_rate=1e-4",
        "model.squeeze_excitation=true",
        "env.num_games=64",
        "ppo.target_kl=null",
        "train.run_dir=runs/x=y",
    ])
    assert raw == {"ppo": {"epochs": 2}}, "the input must not be modified"
    assert overridden["ppo"] == {"epochs": 2, "learning_rate": 1e-4, "target_kl": None}
    assert isinstance(overridden["ppo"]["learning_rate"], float)
    assert overridden["model"]["squeeze_excitation"] is True
    assert overridden["env"]["num_games"] == 64 and isinstance(overridden["env"]["num_games"], int)
    assert overridden["train"]["run_dir"] == "runs/x=y"
    config = config_from_dict(overridden)
    assert config.ppo.learning_rate == 1e-4 and config.model.squeeze_excitation is True


def test_override_replaces_file_value():
    config = load_config(CONFIG_DIR / "smoke.yaml", ["env.num_games=16", "ppo.gamma=1"])
    assert config.env.num_games == 16
    assert config.ppo.gamma == 1.0


def test_override_of_unknown_key_gives_unknown_key_error():
    with raises_naming("unknown config key 'ppo.learnin_rate'", "ppo.learning_rate"):
        load_config(CONFIG_DIR / "smoke.yaml", ["ppo.learnin_rate=1e-3"])


@pytest.mark.parametrize("override", ["ppo.learning_rate", "=3", "ppo..epochs=2"])
def test_malformed_override_is_quoted(override):
    with raises_naming(f"'{override}'"):
        apply_overrides({}, [override])


def test_override_through_a_scalar_is_rejected():
    with raises_naming("'ppo.epochs'", "not a section"):
        apply_overrides({"ppo": {"epochs": 2}}, ["ppo.epochs.x=1"])


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "absent.yaml"
    with raises_naming(str(path), "not found"):
        load_config(path)


def test_invalid_yaml_names_the_path(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("ppo:\n  epochs: [1, 2\n")
    with raises_naming(str(path), "invalid YAML"):
        load_config(path)


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    path = tmp_path / "flat.yaml"
    path.write_text(text)
    with raises_naming(str(path), "top level must be a mapping"):
        load_config(path)


def test_network_hash_follows_network_shape_only():
    base = Config()
    base_hash = config_hash_of_network(base)
    assert re.fullmatch(r"[0-9a-f]+", base_hash)
    assert config_hash_of_network(Config()) == base_hash

    def with_model(**changes):
        return dataclasses.replace(base, model=dataclasses.replace(base.model, **changes))

    assert config_hash_of_network(with_model(blocks=3)) != base_hash
    assert config_hash_of_network(with_model(channels=64)) != base_hash
    assert config_hash_of_network(with_model(dtype="bfloat16")) == base_hash
    assert config_hash_of_network(with_model(value_head="wdl")) != base_hash
    assert config_hash_of_network(with_model(value_planes=8)) != base_hash
    different_training = dataclasses.replace(base, ppo=PPOConfig(learning_rate=1e-3, epochs=9))
    assert config_hash_of_network(different_training) == base_hash


def test_the_shipped_checkpoint_keeps_its_network_hash():
    """A model key added later must not change the hash of networks written before it (their
    runs could no longer resume)."""
    import json

    from shogi_jax.play.network import PRETRAINED_RUN

    meta = json.loads(next((PRETRAINED_RUN / "checkpoints").glob("*/meta/metadata")).read_text())
    assert meta["network_hash"] == config_hash_of_network(
        load_config(PRETRAINED_RUN / "config.yaml"))


def test_help_lists_every_config_key_with_its_meaning(capsys):
    import dataclasses as dc

    from shogi_jax.cli import train as train_cli
    from shogi_jax.train.config import Config

    with pytest.raises(SystemExit):
        train_cli.parse_args(["--help"])
    text = capsys.readouterr().out
    keys = []
    for top in dc.fields(Config):
        value = getattr(Config(), top.name)
        if dc.is_dataclass(value):  # a section: its settings
            keys += [f"{top.name}.{field_.name}" for field_ in dc.fields(value)]
        else:  # a top-level setting (algorithm)
            keys.append(top.name)
    assert "algorithm" in keys and "gumbel_az.simulations" in keys
    for key in keys:
        line = next(row for row in text.splitlines() if row.strip().startswith(f"{key} = "))
        assert "  # " in line, line  # every key documented
    for flag in ("--resume", "--run-dir", "--set", "SIGTERM", "kill -9", "exit code"):
        assert flag in text


def test_the_commands_help_names_what_they_do(capsys):
    """Each command's --help names every way it works: both learners, the three pairings, the
    shipped network, and the --resume that continues a directory that is not empty."""
    from shogi_jax.cli import tournament as tournament_cli
    from shogi_jax.cli import train as train_cli

    def shown(parse_args) -> str:
        with pytest.raises(SystemExit):
            parse_args(["--help"])
        return " ".join(capsys.readouterr().out.split())

    training = shown(train_cli.parse_args)
    assert "self-play training (PPO or Gumbel AlphaZero)" in training
    assert "must not exist yet or be empty, unless --resume continues it" in training
    tournament = shown(tournament_cli.parse_args)
    assert "a round robin, gauntlet or neighbours match" in tournament
    assert "must not exist yet or be empty, unless --resume continues it" in tournament
    assert "pretrained = False # policy and search: true plays the network shipped" in tournament
    assert "a relative one is read from the config file's directory" in tournament


def test_tournament_anchor_must_be_a_player_and_defaults_to_random_or_the_first():
    from shogi_jax.arena.tournament_config import tournament_config_from_dict

    players = [{"name": "a", "kind": "greedy"}, {"name": "random", "kind": "random"}]
    assert tournament_config_from_dict({"players": players}).anchor == "random"
    assert tournament_config_from_dict({"players": players[:1] + [
        {"name": "b", "kind": "random"}]}).anchor == "a"
    assert tournament_config_from_dict({"players": players, "anchor": "a"}).anchor == "a"
    with raises_naming("anchor: 'nobody' is not one of the players (a, random)"):
        tournament_config_from_dict({"players": players, "anchor": "nobody"})


def test_overrides_reach_list_items_by_index():
    raw = {"players": [{"name": "a", "kind": "random"}, {"name": "b", "kind": "random"}]}
    assert apply_overrides(raw, ["players.1.kind=greedy"])["players"][1]["kind"] == "greedy"
    assert raw["players"][1]["kind"] == "random"  # a copy was changed
    with raises_naming("override 'players.2.kind=greedy'", "'players' is a list of 2",
                       "'2' is not an index into it (0..1)"):
        apply_overrides(raw, ["players.2.kind=greedy"])
    with raises_naming("'x' is not an index"):
        apply_overrides(raw, ["players.x=1"])


def test_tournament_search_players_need_a_run_and_take_search_settings_alone():
    from shogi_jax.arena.tournament_config import tournament_config_from_dict

    other = {"name": "r", "kind": "random"}
    searcher = {"name": "s", "kind": "search", "run_dir": "runs/x", "simulations": 64,
                "value_scale": 1.0}
    config = tournament_config_from_dict({"players": [other, searcher]})
    assert config.players[1].search_settings() == {"simulations": 64, "value_scale": 1.0}
    with raises_naming("players[1].run_dir: policy and search players need a network"):
        tournament_config_from_dict({"players": [other, {"name": "s", "kind": "search"}]})
    with raises_naming("players[1]: simulations only go with kind search"):
        tournament_config_from_dict({"players": [other, {"name": "p", "kind": "policy",
                                                         "run_dir": "runs/x",
                                                         "simulations": 8}]})
    with raises_naming("players[1]: simulations must be >= 1, got 0"):
        tournament_config_from_dict({"players": [other, dict(searcher, simulations=0)]})
    weighing = tournament_config_from_dict({"players": [other, dict(searcher,
                                                                    material_weight=0.5)]})
    assert weighing.players[1].search_settings()["material_weight"] == 0.5
    with raises_naming("players[1]: material_weight must be in [0, 1], got 1.5"):
        tournament_config_from_dict({"players": [other, dict(searcher, material_weight=1.5)]})
    with raises_naming("players[1]: material_weight only go with kind search"):
        tournament_config_from_dict({"players": [other, {"name": "p", "kind": "policy",
                                                         "run_dir": "runs/x",
                                                         "material_weight": 0.5}]})
    checking = tournament_config_from_dict({"players": [other, dict(searcher, mate_in_one=True)]})
    assert checking.players[1].mate_in_one is True
    policy = {"name": "p", "kind": "policy", "run_dir": "runs/x", "mate_in_one": True}
    assert tournament_config_from_dict({"players": [other, policy]}).players[1].mate_in_one
    with raises_naming("players[0]: mate_in_one only goes with kinds policy and search"):
        tournament_config_from_dict({"players": [dict(other, mate_in_one=True), policy]})
    with raises_naming("players[1].mate_in_one", "expected"):
        tournament_config_from_dict({"players": [other, dict(searcher, mate_in_one="yes")]})
    defending = dict(policy, avoid_mate_in_one=True)
    assert tournament_config_from_dict({"players": [other, defending]}).players[1].avoid_mate_in_one
    assert tournament_config_from_dict({"players": [other, dict(
        searcher, avoid_mate_in_one=True)]}).players[1].avoid_mate_in_one
    with raises_naming("players[0]: avoid_mate_in_one only goes with kinds policy and search"):
        tournament_config_from_dict({"players": [dict(other, avoid_mate_in_one=True), policy]})
    looking = dict(policy, material_lookahead=True)
    assert tournament_config_from_dict({"players": [other, looking]}).players[1].material_lookahead
    with raises_naming("players[0]: material_lookahead only goes with kinds policy and search"):
        tournament_config_from_dict({"players": [dict(other, material_lookahead=True), policy]})
    threes = dict(policy, avoid_mate_in_three=True)
    assert tournament_config_from_dict({"players": [other, threes]}).players[1].avoid_mate_in_three


def _tournament_file(path: Path, network: str, extra: str = "") -> Path:
    """A two-player tournament config at `path` whose second player is `network`'s settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"players:\n  - {{name: r, kind: random}}\n  - {{name: n, kind: policy, "
                    f"{network}}}\noutput_dir: tournaments/out\n{extra}", encoding="utf-8")
    return path


def test_a_tournament_config_reads_its_paths_from_its_own_directory(tmp_path, monkeypatch):
    """Run directories and the openings file are read from the config file's directory, so the
    config runs from anywhere; --set paths from the working directory; output_dir, written, stays
    relative to the working directory. The stored config (absolute paths) loads the same."""
    from shogi_jax.arena.tournament_config import load_tournament_config
    from shogi_jax.host.settings import config_yaml

    (tmp_path / "runs" / "a").mkdir(parents=True)
    spec = _tournament_file(tmp_path / "configs" / "t.yaml", "run_dir: ../runs/a",
                            "opening_sfen_file: openings.sfen\n")
    (spec.parent / "openings.sfen").write_text("startpos\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "runs" / "b").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    config = load_tournament_config(Path("..") / "configs" / "t.yaml")
    assert config.players[1].run_dir == str(tmp_path / "runs" / "a")
    assert config.opening_sfen_file == str(spec.parent / "openings.sfen")
    assert config.output_dir == "tournaments/out"
    overridden = load_tournament_config(spec, ["players.1.run_dir=runs/b"])
    assert overridden.players[1].run_dir == str(elsewhere / "runs" / "b")
    stored = elsewhere / "stored" / "tournament.yaml"
    stored.parent.mkdir()
    stored.write_text(config_yaml(config), encoding="utf-8")
    assert load_tournament_config(stored) == config


def test_a_tournament_path_that_names_nothing_says_where_it_looked(tmp_path, monkeypatch):
    from shogi_jax.arena.tournament_config import load_tournament_config

    spec = _tournament_file(tmp_path / "configs" / "t.yaml", "run_dir: runs/a")
    looked_at = str(tmp_path / "configs" / "runs" / "a")
    with raises_naming("players[1].run_dir: 'runs/a' names nothing", f"looked at {looked_at}",
                       f"relative to the config file's directory, {spec.parent}"):
        load_tournament_config(spec)
    # Written relative to the working directory, as before: the error says so.
    (tmp_path / "runs" / "a").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with raises_naming(f"{tmp_path / 'runs' / 'a'} exists, relative to the working directory"):
        load_tournament_config(spec)
    with raises_naming("players[1].run_dir: 'runs/b' names nothing",
                       f"looked at {tmp_path / 'runs' / 'b'}", "relative to the working directory"):
        load_tournament_config(spec, ["players.1.run_dir=runs/b"])
    unchecked = load_tournament_config(spec, check_paths=False)  # a run still to be trained
    assert unchecked.players[1].run_dir == looked_at


def test_a_tournament_network_player_can_be_the_shipped_network(tmp_path):
    """`pretrained: true` is the network `usi --pretrained` plays, found in the package from
    any directory; it and run_dir are one choice, and only network players make it."""
    from shogi_jax.arena.tournament import load_player
    from shogi_jax.arena.tournament_config import load_tournament_config
    from shogi_jax.play.network import PRETRAINED_RUN

    spec = _tournament_file(tmp_path / "t.yaml", "pretrained: true")
    player = load_tournament_config(spec).players[1]
    assert player.network_dir() == str(PRETRAINED_RUN) and player.run_dir is None
    loaded = load_player(player)
    assert (loaded.spec.step, loaded.source) == (996, "the shipped network iteration 996")
    with raises_naming("players[1]: run_dir and pretrained: true both name the network",
                       "keep one"):
        load_tournament_config(_tournament_file(tmp_path / "both.yaml",
                                                "pretrained: true, run_dir: runs/a"))
    with raises_naming("players[1].run_dir: policy and search players need a network",
                       "pretrained: true"):
        load_tournament_config(_tournament_file(tmp_path / "neither.yaml", "temperature: 0.0"))
    with raises_naming("players[0]: kind random plays no network"):
        load_tournament_config(spec, ["players.0.pretrained=true"])
