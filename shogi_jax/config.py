"""Training configuration: the schema, strict YAML loading, command-line overrides and validation.

A config is a tree of frozen dataclasses whose fields are `setting(default, meaning, check)`: the
meaning is the --help text and the check the constraint `check_settings` enforces. The loader is
driven by the fields and their type hints, so a new section (say `checkpoint`) needs only a
dataclass and a field on `Config`. The tournament schema uses the same machinery beside the
tournament code (`shogi_jax.evaluation.tournament`).
Loading is strict: an unknown key, a wrong type or an impossible value raises `ConfigError` naming
the dotted key, because a silently ignored typo in a long training run costs hours.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import os
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

import yaml

COMPUTE_DTYPES = ("float32", "bfloat16")
LR_SCHEDULES = ("constant", "linear", "cosine")
ALGORITHMS = ("ppo", "gumbel_az")
VALUE_HEADS = ("scalar", "wdl")
POOL_SAMPLING = ("recency", "rating", "uniform")


class ConfigError(ValueError):
    """A config that cannot be used: unreadable, unknown key, wrong type or impossible value."""


# --- the schema: every setting with its default, its meaning and its constraint -----------------

_Check = tuple[Callable[[Any], bool], str]  # (accepts the value, the requirement in words)
POSITIVE: _Check = (lambda v: v > 0, "> 0")
NON_NEGATIVE: _Check = (lambda v: v >= 0, ">= 0")
POSITIVE_EVEN: _Check = (lambda v: v > 0 and v % 2 == 0, "even and > 0")
NON_NEGATIVE_EVEN: _Check = (lambda v: v >= 0 and v % 2 == 0, "even and >= 0")
NONE_OR_POSITIVE: _Check = (lambda v: v is None or v > 0, "None or > 0")
NONE_OR_NON_NEGATIVE: _Check = (lambda v: v is None or v >= 0, "None or >= 0")
UNIT_INTERVAL: _Check = (lambda v: 0 <= v <= 1, "in [0, 1]")
NONE_OR_UNIT_INTERVAL: _Check = (lambda v: v is None or 0 <= v <= 1, "None or in [0, 1]")


def one_of(choices: Sequence[str]) -> _Check:
    return (lambda v: v in choices, f"one of {', '.join(choices)}")


def setting(default: Any, meaning: str, check: Optional[_Check] = None) -> Any:
    """A config field: its default, its meaning (the --help text) and the constraint `validate`
    enforces (None: any value of its type)."""
    return field(default=default, metadata={"help": meaning, "check": check})


def section(section_class: type) -> Any:
    """A nested section of a config, at its defaults."""
    return field(default_factory=section_class)


@dataclass(frozen=True)
class ModelConfig:
    blocks: int = setting(2, "residual blocks", POSITIVE)
    channels: int = setting(32, "channels per conv layer", POSITIVE)
    squeeze_excitation: bool = setting(False, "squeeze-excitation in each residual block")
    value_hidden: int = setting(64, "hidden units of the value head", POSITIVE)
    value_head: str = setting("scalar", "scalar: a tanh value, squared error; wdl: win/draw/loss "
                                        "logits (value = P(win) - P(loss)), cross-entropy",
                              one_of(VALUE_HEADS))
    dtype: str = setting("float32", "compute dtype (params always float32)",
                         one_of(COMPUTE_DTYPES))


@dataclass(frozen=True)
class EnvConfig:
    num_games: int = setting(256, "B: games played side by side", POSITIVE)
    rollout_length: int = setting(32, "T: plies per game per iteration", POSITIVE)
    max_plies: int = setting(512, "move limit (a draw, truncated)", POSITIVE)
    impasse: bool = setting(True, "CSA 27-point impasse declaration")
    stagger_plies: int = setting(0, "0: all games start together. N: before training, each game "
                                    "plays a random number in [0, N) of uniformly random plies, "
                                    "so the games do not move through their phases in lockstep",
                                 NON_NEGATIVE)


@dataclass(frozen=True)
class PPOConfig:
    learning_rate: float = setting(3e-4, "Adam step size (peak, after warm-up)", POSITIVE)
    lr_schedule: str = setting("constant", "decay to 0 over train.iterations, or none",
                               one_of(LR_SCHEDULES))
    warmup_iterations: int = setting(0, "linear warm-up from 0 over this many iterations",
                                     NON_NEGATIVE)
    epochs: int = setting(4, "passes over each iteration's B x T samples", POSITIVE)
    minibatches: int = setting(4, "minibatches per epoch, each T/M plies of all B games "
                                  "(T % M == 0)", POSITIVE)
    gamma: float = setting(0.99, "discount per ply", UNIT_INTERVAL)
    gae_lambda: float = setting(0.95, "GAE lambda", UNIT_INTERVAL)
    clip_eps: float = setting(0.2, "PPO ratio clip", POSITIVE)
    value_clip_eps: Optional[float] = setting(None, "None: unclipped value loss",
                                              NONE_OR_POSITIVE)
    value_coef: float = setting(0.5, "weight of the value loss", NON_NEGATIVE)
    entropy_coef: float = setting(0.01, "weight of the entropy bonus", NON_NEGATIVE)
    max_grad_norm: float = setting(1.0, "global-norm gradient clip", POSITIVE)
    normalize_advantages: bool = setting(True, "per minibatch")
    target_kl: Optional[float] = setting(None, "None: no early stop", NONE_OR_POSITIVE)


@dataclass(frozen=True)
class GumbelAZConfig:
    """Search-improved self-play (algorithm: gumbel_az). The optimizer is the `ppo` section's:
    learning_rate, lr_schedule, warmup_iterations, epochs, minibatches and max_grad_norm."""

    simulations: int = setting(16, "Gumbel MuZero simulations per self-play move", POSITIVE)
    max_considered_actions: int = setting(16, "root actions sampled for sequential halving",
                                          POSITIVE)
    gumbel_scale: float = setting(1.0, "0: no root noise", NON_NEGATIVE)
    # 0.1 as in the paper and mctx: the improved policy then moves up to ~(50 + N) * 0.1 logits
    # from the prior. At 1.0 (the search players' default, which plays mates it finds) it is
    # nearly one-hot: no exploration to sample, and a target as sharp as an argmax.
    value_scale: float = setting(0.1, "weight of the searched values in the improved policy "
                                      "(mctx's qtransform value_scale)", POSITIVE)
    sampled_plies: int = setting(30, "the first plies of each game sample their move from the "
                                     "improved policy; later plies play the search's choice "
                                     "(its argmax under the root's Gumbel noise)",
                                 NON_NEGATIVE)
    value_coef: float = setting(1.0, "weight of the value loss (outcome targets)", NON_NEGATIVE)


@dataclass(frozen=True)
class RewardShapingConfig:
    material_weight: float = setting(0.0, "0: off. Potential per point of the mover's material "
                                          "balance: potential-based shaping of the policy's "
                                          "advantages (value targets stay unshaped)",
                                     NON_NEGATIVE)
    anneal_env_steps: int = setting(0, "the weight falls linearly to 0 by this many env steps",
                                    NON_NEGATIVE)
    count_promotions: bool = setting(False, "false: promoted pieces score as unpromoted "
                                            "(captures only)")


@dataclass(frozen=True)
class PoolConfig:
    """Frozen earlier networks a share of the self-play games is played against (pool.py)."""

    share: float = setting(0.0, "0: off. The share of the env.num_games games in which the "
                                "learner plays a pool member (only its own moves train): every "
                                "k-th game, k = round(1 / share)", UNIT_INTERVAL)
    size: int = setting(8, "networks the pool holds on the device (a ring)", POSITIVE)
    add_every_iterations: int = setting(50, "the current network joins the pool every N "
                                            "iterations", POSITIVE)
    sampling: str = setting("recency", "how an iteration's member is drawn: recency (newer "
                                       "likelier), rating (those the learner scores least "
                                       "against), uniform", one_of(POOL_SAMPLING))

    @property
    def stride(self) -> int:
        """k: every k-th game is a pool game, k = round(1 / share) (0 without a pool)."""
        return round(1.0 / self.share) if self.share > 0 else 0


@dataclass(frozen=True)
class TrainConfig:
    seed: int = setting(0, "parameters, games and sampling all follow from it")
    iterations: int = setting(100, "total iterations (of B x T env steps each)", POSITIVE)
    iterations_per_dispatch: int = setting(1, "iterations compiled into one call (a lax.scan)",
                                           POSITIVE)
    run_dir: str = setting("runs/default", "must not exist yet or be empty (unless --resume)")
    time_limit_minutes: float = setting(0.0, "0: none. Else save and stop after this many "
                                             "minutes", NON_NEGATIVE)


@dataclass(frozen=True)
class CheckpointConfig:
    every_iterations: int = setting(10, "save every N iterations (and always at the end)",
                                    POSITIVE)
    keep_latest: int = setting(3, "checkpoints kept (older ones deleted once a newer one is "
                                  "complete)", POSITIVE)


@dataclass(frozen=True)
class EvaluationConfig:
    every_iterations: int = setting(0, "0: off. Evaluate vs random, greedy and the best "
                                       "checkpoint", NON_NEGATIVE)
    games: int = setting(32, "games per opponent (even: colours alternate)", POSITIVE_EVEN)
    max_plies: int = setting(256, "evaluation games end as draws here", POSITIVE)
    random_opening_plies: int = setting(4, "uniformly random first plies, shared by each colour "
                                           "pair", NON_NEGATIVE)
    temperature: float = setting(0.0, "0: the policy plays its argmax", NON_NEGATIVE)
    simulations: int = setting(0, "0: the raw policy plays; N: the network searches (Gumbel "
                                  "MuZero over the rules) with N simulations a move",
                               NON_NEGATIVE)


@dataclass(frozen=True)
class DistributedConfig:
    devices: int = setting(0, "devices the games are split over; 0: all devices of all "
                              "processes", NON_NEGATIVE)
    initialize: bool = setting(False, "multi-host: join the other processes "
                                      "(jax.distributed.initialize)")
    coordinator_address: Optional[str] = setting(None, "host:port of process 0; None: JAX "
                                                       "finds it")
    num_processes: Optional[int] = setting(None, "None: $JAX_COORDINATOR_ADDRESS / Cloud TPU / "
                                                 "Slurm", NONE_OR_POSITIVE)
    process_id: Optional[int] = setting(None, "this process, 0 .. num_processes - 1 (None: "
                                              "detected)", NONE_OR_NON_NEGATIVE)


@dataclass(frozen=True)
class Config:
    algorithm: str = setting("ppo", "ppo: the policy samples self-play moves, PPO on GAE "
                                    "advantages; gumbel_az: a Gumbel MuZero search plays them, "
                                    "its improved policy and the game outcomes are the targets",
                             one_of(ALGORITHMS))
    model: ModelConfig = section(ModelConfig)
    env: EnvConfig = section(EnvConfig)
    ppo: PPOConfig = section(PPOConfig)
    gumbel_az: GumbelAZConfig = section(GumbelAZConfig)
    reward_shaping: RewardShapingConfig = section(RewardShapingConfig)
    pool: PoolConfig = section(PoolConfig)
    train: TrainConfig = section(TrainConfig)
    checkpoint: CheckpointConfig = section(CheckpointConfig)
    evaluation: EvaluationConfig = section(EvaluationConfig)
    distributed: DistributedConfig = section(DistributedConfig)


# --- YAML -------------------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float.

    YAML 1.1 (PyYAML) only treats exponent numbers with a dot (`1.0e-4`) as floats, so
    `ppo.learning_rate=1e-4` would otherwise arrive as the string "1e-4".
    """


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 (a SafeLoader subclass)


# --- dict -> Config ---------------------------------------------------------------------------


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(value: Any) -> str:
    return "None" if value is None else f"{type(value).__name__} {value!r}"


def _optional_inner(hint: Any) -> Any | None:
    """X for Optional[X] (or `X | None`), None for any other hint."""
    if get_origin(hint) not in (Union, types.UnionType):
        return None
    members = [member for member in get_args(hint) if member is not type(None)]
    if len(members) != 1 or len(members) == len(get_args(hint)):
        raise TypeError(f"config schema: only Optional[X] unions are supported, got {hint!r}")
    return members[0]


def _tuple_item(hint: Any) -> Any | None:
    """X for tuple[X, ...], None for any other hint."""
    if get_origin(hint) is tuple and len(get_args(hint)) == 2 and get_args(hint)[1] is Ellipsis:
        return get_args(hint)[0]
    return None


def _type_name(hint: Any) -> str:
    if _tuple_item(hint) is not None:
        return f"a list of {_type_name(_tuple_item(hint))}"
    inner = _optional_inner(hint)
    if inner is not None:
        return f"{_type_name(inner)} or None"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return hint.__name__


def _convert(value: Any, hint: Any, key: str) -> Any:
    """Checks `value` against the type hint of `key` and returns it in the field's type."""
    if dataclasses.is_dataclass(hint):
        return section_from_mapping(hint, value, key)
    item_hint = _tuple_item(hint)
    if item_hint is not None:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected {_type_name(hint)}, got {_describe(value)}")
        return tuple(_convert(item, item_hint, f"{key}[{i}]") for i, item in enumerate(value))
    scalar_hint = _optional_inner(hint)
    if scalar_hint is None:
        scalar_hint = hint
    elif value is None:
        return None
    if scalar_hint not in (bool, int, float, str):
        raise TypeError(f"config schema: unsupported type {hint!r} for {key}")
    # bool is a subclass of int, but `epochs: true` is a mistake, not the number 1.
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if scalar_hint is bool and isinstance(value, bool):
        return value
    if scalar_hint is int and is_number and isinstance(value, int):
        return value
    if scalar_hint is float and is_number:
        return float(value)
    if scalar_hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key}: expected {_type_name(hint)}, got {_describe(value)}")


def section_from_mapping(section_class: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {_describe(raw)}")
    field_names = [f.name for f in dataclasses.fields(section_class) if f.init]
    for key in raw:
        if key not in field_names:
            raise ConfigError(_unknown_key_message(str(key), field_names, prefix))
    hints = get_type_hints(section_class)
    values = {
        name: _convert(raw[name], hints[name], _dotted(prefix, name))
        for name in field_names
        if name in raw
    }
    return section_class(**values)


def _unknown_key_message(key: str, valid_names: Sequence[str], prefix: str) -> str:
    message = f"unknown config key '{_dotted(prefix, key)}'"
    close = difflib.get_close_matches(key, valid_names, n=1)
    if close:
        return f"{message} (did you mean '{_dotted(prefix, close[0])}'?)"
    return f"{message}; valid keys{f' in {prefix}' if prefix else ''}: {', '.join(valid_names)}"


def config_from_dict(raw: Mapping[str, Any]) -> Config:
    """Builds and validates a Config from nested mappings; missing keys take their defaults."""
    config = section_from_mapping(Config, raw, "")
    validate(config)
    return config


# --- validation -------------------------------------------------------------------------------

def check_settings(config: Any, prefix: str = "") -> None:
    """ConfigError naming the first setting (in schema order, sections and list items included)
    whose value breaks its constraint."""
    for f in dataclasses.fields(config):
        value, key = getattr(config, f.name), _dotted(prefix, f.name)
        if dataclasses.is_dataclass(value):
            check_settings(value, key)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                check_settings(item, f"{key}[{i}]")
        elif f.metadata.get("check") is not None:
            accepts, requirement = f.metadata["check"]
            if not accepts(value):
                raise ConfigError(f"{key} must be {requirement}, got {value!r}")


def validate(config: Config) -> None:
    """Raises ConfigError naming the key of the first impossible value or inconsistent pair."""
    check_settings(config)
    # Each epoch splits every game's T plies evenly over the minibatches (all B games are in
    # each minibatch: the game axis is what is split over devices).
    if config.env.rollout_length % config.ppo.minibatches:
        raise ConfigError(
            f"env.rollout_length = {config.env.rollout_length} must be divisible by "
            f"ppo.minibatches = {config.ppo.minibatches} (each minibatch takes "
            f"env.rollout_length / ppo.minibatches plies of every one of the env.num_games "
            f"= {config.env.num_games} games)"
        )
    if config.model.value_head == "wdl" and config.ppo.value_clip_eps is not None:
        raise ConfigError(
            f"ppo.value_clip_eps = {config.ppo.value_clip_eps} clips a scalar value's squared "
            "error; model.value_head = wdl is trained by cross-entropy: set it to null")
    if config.pool.share > 0:
        if config.algorithm != "ppo":
            raise ConfigError(f"pool.share = {config.pool.share}: the opponent pool plays "
                              f"algorithm: ppo only so far, not {config.algorithm}")
        stride = config.pool.stride  # every k-th game is a pool game (iteration.PoolGames)
        if config.pool.share > 0.5 or config.env.num_games % stride:
            raise ConfigError(
                f"pool.share = {config.pool.share} makes one game in {stride} a pool game: it "
                f"must be at most 0.5 (half the games stay self-play) and env.num_games = "
                f"{config.env.num_games} a multiple of {stride}")
    if config.algorithm == "gumbel_az" and config.reward_shaping.material_weight > 0:
        raise ConfigError(
            f"reward_shaping.material_weight = {config.reward_shaping.material_weight} is for "
            "algorithm: ppo only (gumbel_az's value targets are the game outcomes): set it to 0")
    distributed = config.distributed
    explicit = [key for key in ("coordinator_address", "num_processes", "process_id")
                if getattr(distributed, key) is not None]
    if explicit and not distributed.initialize:
        raise ConfigError(f"distributed.{explicit[0]} is set but distributed.initialize is false "
                          "(set distributed.initialize=true to join a multi-process job)")
    if (distributed.process_id is not None and distributed.num_processes is not None
            and not 0 <= distributed.process_id < distributed.num_processes):
        raise ConfigError(f"distributed.process_id = {distributed.process_id} must be in "
                          f"[0, distributed.num_processes = {distributed.num_processes})")
    # The schedule is built from these two when training starts: a warm-up that does not end
    # before the run does would never reach ppo.learning_rate (and leaves no decay to a
    # decaying schedule), so it is refused here, before a run directory is written.
    if config.ppo.warmup_iterations and config.ppo.warmup_iterations >= config.train.iterations:
        raise ConfigError(
            f"ppo.warmup_iterations = {config.ppo.warmup_iterations} must be less than "
            f"train.iterations = {config.train.iterations} (the warm-up would outlast the run)")
    # Iterations run in whole compiled dispatches; a remainder would need a second compile.
    if config.train.iterations % config.train.iterations_per_dispatch:
        raise ConfigError(
            f"train.iterations = {config.train.iterations} must be divisible by "
            f"train.iterations_per_dispatch = {config.train.iterations_per_dispatch}"
        )


# --- overrides, files, hashing ----------------------------------------------------------------


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Returns a deep copy of `raw` with each "a.b=value" override set (value read as YAML).

    Unknown keys are left for config_from_dict, so they get the same message as in a file.
    """
    result = copy.deepcopy(dict(raw))
    for override in overrides:
        path, separator, value_text = override.partition("=")
        keys = path.strip().split(".")
        if not separator or not all(keys):
            raise ConfigError(f"malformed override '{override}': expected 'section.key=value'")
        try:
            value = _parse_yaml(value_text)
        except yaml.YAMLError as error:
            raise ConfigError(f"override '{override}': value is not valid YAML: {error}") from None
        section = result
        for depth, key in enumerate(keys[:-1]):
            if isinstance(section, list):  # "players.0.kind": an item of a list, by index
                section = section[_list_index(section, key, override, keys[:depth])]
            else:
                section = section.setdefault(key, {})
            if not isinstance(section, (dict, list)):
                parent = ".".join(keys[: depth + 1])
                raise ConfigError(f"override '{override}': '{parent}' is not a section")
        if isinstance(section, list):
            section[_list_index(section, keys[-1], override, keys[:-1])] = value
        else:
            section[keys[-1]] = value
    return result


def _list_index(items: list, key: str, override: str, parents: Sequence[str]) -> int:
    if not key.isdigit() or int(key) >= len(items):
        raise ConfigError(f"override '{override}': '{'.'.join(parents)}' is a list of "
                          f"{len(items)}; '{key}' is not an index into it (0..{len(items) - 1})")
    return int(key)


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Reads a YAML config file, applies "a.b=value" overrides, converts and validates."""
    return config_from_dict(apply_overrides(read_mapping(path), overrides))


def read_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid YAML in config file {path}: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {_describe(raw)}")
    return raw


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict (lists for tuples) of a config dataclass (training or tournament);
    config_from_dict(config_to_dict(c)) == c, and likewise for tournaments."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    return plain(dataclasses.asdict(config))


def config_differences(old: Any, new: Any, prefix: str = ""):
    """(dotted key, old value, new value) for every setting in which two plain configs (as from
    config_to_dict) differ; keys in sorted order, list items as key[i]."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from config_differences(old.get(key), new.get(key), _dotted(prefix, key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            yield from config_differences(a, b, f"{prefix}[{i}]")
    elif old != new:
        yield prefix, old, new


def config_yaml(config: Any) -> str:
    """The config as YAML, in schema order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def save_config(config: Config, path: str | os.PathLike[str]) -> None:
    """Writes the config as YAML (in schema order), creating the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_yaml(config), encoding="utf-8")


def config_hash_of_network(config: Config) -> str:
    """Short stable digest of the network shape, to refuse checkpoints of another network.

    `dtype` is left out: it is only the compute dtype, parameters are stored in float32 either way.
    So is `value_head` while it is the default scalar head: the key came later, and checkpoints
    written before it keep their hash.
    """
    shape = {key: value for key, value in dataclasses.asdict(config.model).items()
             if key != "dtype" and not (key == "value_head" and value == "scalar")}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def config_reference(section_class: type = Config, prefix: str = "") -> list[str]:
    """`dotted.key = default  # meaning [constraint]` for every setting, from the schema, for
    --help."""
    lines = []
    hints = get_type_hints(section_class)
    for f in dataclasses.fields(section_class):
        key = _dotted(prefix, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            lines += config_reference(hints[f.name], key)
            continue
        check = f.metadata["check"]
        constraint = f" [{check[1]}]" if check else ""
        lines.append(f"{key} = {f.default!r}  # {f.metadata['help']}{constraint}")
    return lines
