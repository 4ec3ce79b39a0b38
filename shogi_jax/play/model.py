"""The actor-critic network: a ResNet over the observation planes with a policy and a value head.

One network plays both sides: it sees the position from the side to move (`shogi_jax.observe`)
and returns 2187 policy logits in the dlshogi/pgx 27 x 81 layout (action = plane * 81 + square,
square = 9 * file_index + rank_index, matching the observation's [file, rank] axes) and a value in
[-1, 1] for the side to move: a tanh, or P(win) - P(loss) of a win/draw/loss head
(`model.value_head: wdl`, see wdl.py). Mixed precision: parameters in float32 (`param_dtype`),
activations in the config's compute dtype for the trunk, float32 in the policy and value heads
(so logits and values, which the softmax, the PPO ratio and the losses read, are float32
throughout).
"""
from __future__ import annotations

from dataclasses import dataclass

import chex
import flax.linen as nn
import jax.numpy as jnp

from shogi_jax.host.settings import POSITIVE, one_of, setting
from shogi_jax.play import wdl
from shogi_jax.rules.board import NUM_ACTION_PLANES, NUM_ACTIONS

COMPUTE_DTYPES = ("float32", "bfloat16")
VALUE_HEADS = ("scalar", "wdl")

_SE_REDUCTION = 4  # squeeze-excitation bottleneck: channels // 4


@dataclass(frozen=True)
class ModelConfig:
    blocks: int = setting(2, "residual blocks", POSITIVE)
    channels: int = setting(32, "channels per conv layer", POSITIVE)
    squeeze_excitation: bool = setting(False, "squeeze-excitation in each residual block")
    value_hidden: int = setting(64, "hidden units of the value head", POSITIVE)
    value_planes: int = setting(2, "1x1 conv channels the value head reads from the trunk",
                                POSITIVE)
    value_layer_norm: bool = setting(False, "layer normalisation (over the squares and planes "
                                            "of a position) before the value head's first ReLU, "
                                            "so its units cannot all die")
    value_head: str = setting("scalar", "scalar: a tanh value, squared error; wdl: win/draw/loss "
                                        "logits (value = P(win) - P(loss)), cross-entropy",
                              one_of(VALUE_HEADS))
    dtype: str = setting("float32", "compute dtype (params always float32)",
                         one_of(COMPUTE_DTYPES))


class SqueezeExcitation(nn.Module):
    """Channel gates from global average pooling (Hu et al.): cheap global context."""

    channels: int
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x):  # x: [B, 9, 9, C]
        pooled = jnp.mean(x, axis=(1, 2))
        hidden = nn.relu(nn.Dense(max(self.channels // _SE_REDUCTION, 1), dtype=self.dtype,
                                  param_dtype=jnp.float32)(pooled))
        gates = nn.sigmoid(nn.Dense(self.channels, dtype=self.dtype,
                                    param_dtype=jnp.float32)(hidden))
        return x * gates[:, None, None, :]


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with layer normalisation (batch-independent, so PPO minibatches and
    single-position play see the same function) and a skip connection."""

    channels: int
    squeeze_excitation: bool
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x):
        y = x
        for layer in range(2):
            y = nn.Conv(self.channels, (3, 3), dtype=self.dtype, param_dtype=jnp.float32)(y)
            y = nn.LayerNorm(dtype=self.dtype, param_dtype=jnp.float32)(y)
            if layer == 0:
                y = nn.relu(y)
        if self.squeeze_excitation:
            y = SqueezeExcitation(self.channels, self.dtype)(y)
        return nn.relu(x + y)


class ActorCritic(nn.Module):
    """observation bool[B, 9, 9, C] -> (logits float32[B, 2187], value float32[B] in [-1, 1]);
    with `with_wdl` (a `wdl` value head only) also the win/draw/loss logits float32[B, 3]."""

    blocks: int
    channels: int
    squeeze_excitation: bool
    value_hidden: int
    dtype: jnp.dtype
    value_head: str = "scalar"
    value_planes: int = 2
    value_layer_norm: bool = False

    @nn.compact
    def __call__(self, observation, with_wdl: bool = False):
        if with_wdl and self.value_head != "wdl":
            raise ValueError("with_wdl needs a wdl value head, this network's is "
                             f"{self.value_head!r}")
        chex.assert_rank(observation, 4)  # [B, 9, 9, C]
        chex.assert_shape(observation, (None, 9, 9, None))
        x = observation.astype(self.dtype)
        x = nn.Conv(self.channels, (3, 3), dtype=self.dtype, param_dtype=jnp.float32)(x)
        x = nn.relu(nn.LayerNorm(dtype=self.dtype, param_dtype=jnp.float32)(x))
        for _ in range(self.blocks):
            x = ResidualBlock(self.channels, self.squeeze_excitation, self.dtype)(x)

        # The heads compute in float32 whatever the trunk's dtype: bfloat16 logits carry 8
        # bits of mantissa, so a position's log-probability would move with the batch it was
        # computed in (rollout vs minibatch) and PPO's first ratio would not be 1.
        x = x.astype(jnp.float32)
        policy = nn.relu(nn.Conv(self.channels, (3, 3), dtype=jnp.float32,
                                 param_dtype=jnp.float32)(x))
        policy = nn.Conv(NUM_ACTION_PLANES, (1, 1), dtype=jnp.float32,
                         param_dtype=jnp.float32)(policy)  # [B, 9, 9, 27]
        # [B, file, rank, plane] -> [B, plane, file, rank] -> action = plane * 81 + 9 * file + rank
        logits = jnp.transpose(policy, (0, 3, 1, 2)).reshape(policy.shape[0], NUM_ACTIONS)

        value = nn.Conv(self.value_planes, (1, 1), dtype=jnp.float32,
                        param_dtype=jnp.float32)(x)  # [B, 9, 9, P]
        if self.value_layer_norm:
            # Without it the 1x1 convolution's ReLUs can all go dark: the value is then one
            # constant for every position and learns nothing more (docs/findings.md). Over the
            # whole [9, 9, P] of a position, since P is a few planes (LN over 2 channels
            # would leave only their order).
            value = nn.LayerNorm(reduction_axes=(1, 2, 3), dtype=jnp.float32,
                                 param_dtype=jnp.float32)(value)
        value = nn.relu(value)
        value = value.reshape(value.shape[0], -1)
        value = nn.relu(nn.Dense(self.value_hidden, dtype=jnp.float32,
                                 param_dtype=jnp.float32)(value))
        if self.value_head == "wdl":
            wdl_logits = nn.Dense(wdl.NUM_OUTCOMES, dtype=jnp.float32,
                                  param_dtype=jnp.float32)(value)  # [B, 3]
            value = wdl.value_of(wdl_logits)
        else:
            value = jnp.tanh(nn.Dense(1, dtype=jnp.float32, param_dtype=jnp.float32)(value)[:, 0])
        chex.assert_shape([logits, value], [(observation.shape[0], NUM_ACTIONS),
                                            (observation.shape[0],)])
        if with_wdl:
            return logits, value, wdl_logits
        return logits, value


def make_model(config: ModelConfig) -> ActorCritic:
    return ActorCritic(blocks=config.blocks, channels=config.channels,
                       squeeze_excitation=config.squeeze_excitation,
                       value_hidden=config.value_hidden, dtype=jnp.dtype(config.dtype),
                       value_head=config.value_head, value_planes=config.value_planes,
                       value_layer_norm=config.value_layer_norm)
