"""Training configuration: the schema (`Config` and its sections), validation of the settings
that depend on each other, loading from YAML with overrides, and the network's shape hash.

The machinery (fields with their meaning and constraint, strict loading, overrides) is
`shogi_jax.host.settings`; the network's own section is `shogi_jax.play.model.ModelConfig`, and
W&B's `shogi_jax.train.tracking.TrackingConfig`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from shogi_jax.arena import ladder
from shogi_jax.host.compilation_cache import DEFAULT_CACHE_DIR
from shogi_jax.host.paths import as_path, write_text_atomically
from shogi_jax.host.settings import (
    NON_NEGATIVE,
    NONE_OR_NON_NEGATIVE,
    NONE_OR_POSITIVE,
    NONE_OR_UNIT_INTERVAL,
    POSITIVE,
    POSITIVE_EVEN,
    UNIT_INTERVAL,
    ConfigError,
    apply_overrides,
    check_settings,
    config_yaml,
    one_of,
    read_mapping,
    section,
    section_from_mapping,
    setting,
    settings_reference,
)
from shogi_jax.play.model import ModelConfig
from shogi_jax.train.tracking import TrackingConfig

LR_SCHEDULES = ("constant", "linear", "cosine")
ALGORITHMS = ("ppo", "gumbel_az")
AZ_VALUE_TARGETS = ("bootstrap", "outcome")
IMITATION_MEANS = ("expert", "all")
POOL_SAMPLING = ("recency", "rating", "uniform")


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
    lr_schedule: str = setting("constant", "decay to 0 over the run's budget "
                                           "(train.iterations, or train.time_limit_minutes), "
                                           "or none", one_of(LR_SCHEDULES))
    warmup_iterations: int = setting(0, "linear warm-up from 0 over this many iterations",
                                     NON_NEGATIVE)
    epochs: int = setting(4, "passes over each iteration's B x T samples", POSITIVE)
    minibatches: int = setting(4, "minibatches per epoch, each T/M plies of all B games "
                                  "(T % M == 0)", POSITIVE)
    gamma: float = setting(0.99, "discount per ply", UNIT_INTERVAL)
    gae_lambda: float = setting(0.95, "GAE lambda", UNIT_INTERVAL)
    value_gamma: Optional[float] = setting(None, "the value head's discount per ply (None: "
                                                 "gamma); 1 predicts the game's result, as the "
                                                 "search backs terminal rewards up",
                                           NONE_OR_UNIT_INTERVAL)
    value_lambda: Optional[float] = setting(None, "the lambda of the value head's "
                                                  "lambda-returns (None: gae_lambda)",
                                            NONE_OR_UNIT_INTERVAL)
    clip_eps: float = setting(0.2, "PPO ratio clip", POSITIVE)
    value_clip_eps: Optional[float] = setting(None, "None: unclipped value loss",
                                              NONE_OR_POSITIVE)
    value_coef: float = setting(0.5, "weight of the value loss", NON_NEGATIVE)
    entropy_coef: float = setting(0.01, "weight of the entropy bonus", NON_NEGATIVE)
    max_grad_norm: float = setting(1.0, "global-norm gradient clip", POSITIVE)
    normalize_advantages: bool = setting(True, "per minibatch")
    target_kl: Optional[float] = setting(None, "None: no early stop", NONE_OR_POSITIVE)

    @property
    def value_discount(self) -> tuple[float, float]:
        """(gamma, lambda) of the value head's targets: value_gamma and value_lambda, each
        defaulting to the policy's gamma and gae_lambda."""
        return (self.gamma if self.value_gamma is None else self.value_gamma,
                self.gae_lambda if self.value_lambda is None else self.value_lambda)


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
    value_coef: float = setting(1.0, "weight of the value loss", NON_NEGATIVE)
    # gumbel_az's counterpart of PPO's shaping (docs/training.md); players search without it.
    material_weight: float = setting(0.0, "share of each self-play search value from material "
                                          "(tanh(points / 10)), annealed as reward_shaping "
                                          "says; 0: the value head alone", UNIT_INTERVAL)
    surprise_weight: float = setting(0.0, "policy-surprise weighting (KataGo): share of the policy "
                                          "loss weighed by KL(target || policy); 0: off",
                                     UNIT_INTERVAL)
    value_target: str = setting("bootstrap", "bootstrap: every ply gets a target, the outcome "
                                             "or the search's root values ahead in its game; "
                                             "outcome: only plies whose game ends within the "
                                             "rollout", one_of(AZ_VALUE_TARGETS))
    value_lambda: float = setting(1.0, "bootstrap's TD(lambda): 1 takes the outcome or the "
                                       "last root value in the rollout, 0 the next ply's",
                                  UNIT_INTERVAL)
    # Playout-cap randomization (KataGo, Wu 2019): most plies are searched cheaply and give
    # only their value target; a drawn share gets the full search and its policy target.
    cheap_simulations: int = setting(0, "0: off (every ply searched with `simulations`). N: "
                                        "plies not drawn for a full search are searched with N "
                                        "simulations and give no policy target", NON_NEGATIVE)
    full_search_share: float = setting(0.25, "with cheap_simulations: the share of plies that "
                                             "get the full search (drawn per ply, the same for "
                                             "all games)", UNIT_INTERVAL)


@dataclass(frozen=True)
class ExpertConfig:
    """Expert iteration inside self-play: a tactic chooses the move where it applies, and the
    policy learns that move by cross-entropy (PPO: instead of its surrogate; gumbel_az: as the
    policy target, instead of the search's improved policy)."""

    mate_in_one: bool = setting(False, "self-play plays a mate in one wherever there is one "
                                       "(every check tried), and the policy learns it")
    mate_share: float = setting(1.0, "the share of plies on which a mate in one that exists is "
                                     "played (drawn per game and ply); the others play the "
                                     "policy's or the search's move", UNIT_INTERVAL)
    imitation_coef: float = setting(1.0, "weight of the cross-entropy towards the expert's "
                                         "moves (ppo; gumbel_az's policy loss weighs every "
                                         "target alike)", NON_NEGATIVE)
    imitation_mean: str = setting("expert", "ppo: the imitation loss is the mean over the "
                                            "expert's moves (expert: each weighs 1 / their "
                                            "count) or over all the learner's samples (all: "
                                            "each weighs like any sample)",
                                  one_of(IMITATION_MEANS))


@dataclass(frozen=True)
class RewardShapingConfig:
    material_weight: float = setting(0.0, "0: off. Potential per point of the mover's material "
                                          "balance: potential-based shaping of the policy's "
                                          "advantages (value targets stay unshaped)",
                                     NON_NEGATIVE)
    anneal_env_steps: int = setting(0, "the weight falls linearly to 0 by this many env steps",
                                    NON_NEGATIVE)
    anneal_budget: Optional[float] = setting(None, "instead of anneal_env_steps: the weight "
                                                   "falls linearly to 0 by this share of the "
                                                   "run's budget (train.iterations, or "
                                                   "train.time_limit_minutes)",
                                             NONE_OR_POSITIVE)
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
    compilation_cache_dir: Optional[str] = setting(
        DEFAULT_CACHE_DIR, "where compiled programs are kept for the next start (a resume, "
                           "another run): a local directory or a URL such as gs://bucket/xla; "
                           "the default gives way to $JAX_COMPILATION_CACHE_DIR; null or '': off")


@dataclass(frozen=True)
class CheckpointConfig:
    every_iterations: int = setting(10, "save every N iterations (and always at the end)",
                                    POSITIVE)
    keep_latest: int = setting(3, "checkpoints kept (older ones deleted once a newer one is "
                                  "complete)", POSITIVE)


# evaluation.engine_rungs: the ladder's Fairy-Stockfish rungs (arena.ladder), each once.
ENGINE_RUNG_NAMES = (lambda names: set(names) <= set(ladder.ENGINE_RUNGS)
                     and len(set(names)) == len(names),
                     f"distinct rungs of {', '.join(ladder.ENGINE_RUNGS)}")


@dataclass(frozen=True)
class EvaluationConfig:
    every_iterations: int = setting(0, "0: off. Rate the network on the ladder's scale against "
                                       "random, greedy and engine_rungs, and play the best "
                                       "checkpoint", NON_NEGATIVE)
    games: int = setting(32, "games against random, greedy and the best (even: colours "
                             "alternate)", POSITIVE_EVEN)
    engine_rungs: tuple[str, ...] = setting(
        ("fairy_skill-5_d1", "fairy_skill-4_d1", "fairy_skill-3_d1", "fairy_skill-1_d1"),
        "ladder rungs played through Fairy-Stockfish at depth 1 where it is installed; []: "
        "random and greedy only", ENGINE_RUNG_NAMES)
    engine_games: int = setting(32, "games against each engine rung (even)", POSITIVE_EVEN)
    engine_command: str = setting("fairy-stockfish", "the Fairy-Stockfish program: a path, or "
                                                     "a name on PATH or in /usr/games")
    engine_concurrency: int = setting(8, "engine games at once: an engine process each, the "
                                         "network's moves in one batched call", POSITIVE)
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
    expert: ExpertConfig = section(ExpertConfig)
    reward_shaping: RewardShapingConfig = section(RewardShapingConfig)
    pool: PoolConfig = section(PoolConfig)
    train: TrainConfig = section(TrainConfig)
    checkpoint: CheckpointConfig = section(CheckpointConfig)
    evaluation: EvaluationConfig = section(EvaluationConfig)
    distributed: DistributedConfig = section(DistributedConfig)
    tracking: TrackingConfig = section(TrackingConfig)


def config_from_dict(raw: Mapping[str, Any]) -> Config:
    """Builds and validates a Config from nested mappings; missing keys take their defaults."""
    config = section_from_mapping(Config, raw, "")
    validate(config)
    return config



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
        stride = config.pool.stride  # every k-th game is a pool game (rollout.PoolGames)
        if config.pool.share > 0.5 or config.env.num_games % stride:
            raise ConfigError(
                f"pool.share = {config.pool.share} makes one game in {stride} a pool game: it "
                f"must be at most 0.5 (half the games stay self-play) and env.num_games = "
                f"{config.env.num_games} a multiple of {stride}")
    if config.algorithm == "gumbel_az" and config.reward_shaping.material_weight > 0:
        raise ConfigError(
            f"reward_shaping.material_weight = {config.reward_shaping.material_weight} is for "
            "algorithm: ppo only (gumbel_az's value targets are the game outcomes): set it to 0")
    az = config.gumbel_az
    if az.cheap_simulations >= az.simulations:
        raise ConfigError(f"gumbel_az.cheap_simulations = {az.cheap_simulations}: a cheap search "
                          f"has fewer simulations than the full one ({az.simulations}), or 0 "
                          "for off")
    if (config.algorithm == "gumbel_az" and config.gumbel_az.value_target == "bootstrap"
            and config.model.value_head == "wdl"):
        raise ConfigError(
            "gumbel_az.value_target = bootstrap gives scalar targets (the search's values), "
            "which a model.value_head = wdl cannot fit as win/draw/loss classes: use "
            "value_head scalar, or value_target outcome")
    shaping = config.reward_shaping
    if shaping.anneal_budget is not None and shaping.anneal_env_steps:
        raise ConfigError(
            f"reward_shaping.anneal_budget = {shaping.anneal_budget} and "
            f"reward_shaping.anneal_env_steps = {shaping.anneal_env_steps} both set when the "
            "anneal ends: keep one (set the other to null / 0)")
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


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Reads a YAML config file, applies "a.b=value" overrides, converts and validates."""
    return config_from_dict(apply_overrides(read_mapping(path), overrides))


def save_config(config: Config, path: str | os.PathLike[str]) -> None:
    """Writes the config as YAML (in schema order), creating the parent directory."""
    path = as_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, config_yaml(config))


# Model keys added after checkpoints existed, with the value every earlier network had.
_LATER_MODEL_KEYS = {"value_head": "scalar", "value_planes": 2, "value_layer_norm": False}


def config_hash_of_network(config: Config) -> str:
    """Short stable digest of the network shape, to refuse checkpoints of another network.

    `dtype` is left out: it is only the compute dtype, parameters are stored in float32 either way.
    So are the keys that came later while they hold the shape networks had before them
    (`value_head` scalar, `value_planes` 2, `value_layer_norm` false): checkpoints written
    before them keep their hash.
    """
    shape = {key: value for key, value in dataclasses.asdict(config.model).items()
             if key != "dtype" and _LATER_MODEL_KEYS.get(key, object()) != value}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def config_reference() -> list[str]:
    """`dotted.key = default  # meaning [constraint]` for every training setting, for --help."""
    return settings_reference(Config)
