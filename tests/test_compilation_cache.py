"""Compiled programs kept on disk (host/compilation_cache.py): where they go, that null turns the
cache off, that training writes its programs where train.compilation_cache_dir says, and that a
resume raising train.iterations asks for the program already compiled."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental.compilation_cache import compilation_cache

from shogi_jax.cli import train as train_cli
from shogi_jax.host.compilation_cache import DEFAULT_CACHE_DIR, keep_compiled_programs
from shogi_jax.train import budget
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import make_train_step
from shogi_jax.train.state import init_train_state, make_trainer

CACHE_SETTINGS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                  "jax_persistent_cache_min_entry_size_bytes")


@pytest.fixture(autouse=True)
def session_cache_restored():
    """Every test here moves JAX's cache; the session's (conftest.py) comes back after it."""
    before = {name: getattr(jax.config, name) for name in CACHE_SETTINGS}
    yield
    compilation_cache.reset_cache()
    for name, value in before.items():
        jax.config.update(name, value)


def compile_a_new_program(constant: float):
    """A program no test has compiled before (its constant differs), so the cache is asked."""
    return jax.jit(lambda x: x * constant + 1.0)(np.arange(4, dtype=np.float32)).block_until_ready()


def kept(directory) -> set[str]:
    return {path.name for path in directory.glob("jit_*-cache")}


def test_programs_are_kept_in_the_directory_given_and_a_later_call_moves_them(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert keep_compiled_programs(str(first)) == str(first)
    compile_a_new_program(3.0)
    assert len(kept(first)) == 1
    keep_compiled_programs(str(second))  # JAX opened the first at the compilation above
    compile_a_new_program(5.0)
    assert len(kept(first)) == 1 and len(kept(second)) == 1


def test_null_or_empty_turns_the_cache_off(tmp_path):
    directory = tmp_path / "xla"
    keep_compiled_programs(str(directory))  # a cache in use, then turned off
    compile_a_new_program(7.0)
    before = kept(directory)
    for off, constant in ((None, 9.0), ("", 11.0)):
        assert keep_compiled_programs(off) is None
        assert jax.config.jax_compilation_cache_dir is None
        compile_a_new_program(constant)
    assert kept(directory) == before


def test_the_default_is_the_users_cache_unless_jax_compilation_cache_dir_says(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    assert keep_compiled_programs() == str(tmp_path / "home" / ".cache" / "shogi_jax" / "xla")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "shared"))
    assert keep_compiled_programs() == str(tmp_path / "shared")
    # A directory named in the config is used as it is.
    assert keep_compiled_programs(str(tmp_path / "mine")) == str(tmp_path / "mine")


def test_the_config_key_defaults_to_the_users_cache_and_takes_null():
    assert load_config("configs/smoke.yaml").train.compilation_cache_dir == DEFAULT_CACHE_DIR
    for off in ("null", "''"):
        config = load_config("configs/smoke.yaml", [f"train.compilation_cache_dir={off}"])
        assert not config.train.compilation_cache_dir


@pytest.mark.slow  # two smoke runs, each compiling its iteration into an empty cache
def test_a_training_run_keeps_its_programs_where_the_config_says(tmp_path):
    def smoke_run(name, cache_dir):
        argv = ["--config", "configs/smoke.yaml", "--quiet", "--run-dir", str(tmp_path / name),
                "--set", "train.iterations=1", "--set", f"train.compilation_cache_dir={cache_dir}"]
        assert train_cli.main(argv) == 0

    smoke_run("on", tmp_path / "xla")
    # The iteration (jit of `run`) and the initial state's program.
    assert len(kept(tmp_path / "xla")) >= 2

    earlier = tmp_path / "earlier"
    keep_compiled_programs(str(earlier))  # a cache in use before the run turns it off
    compile_a_new_program(13.0)
    smoke_run("off", "null")
    assert len(kept(earlier)) == 1


@pytest.mark.slow  # compiles a smoke iteration
def test_the_iteration_program_does_not_depend_on_the_number_of_iterations():
    """The budget reaches the compiled iteration at run time (budget.Clock): a run resumed with
    more train.iterations lowers to the same program, so the compilation cache has it, and
    that program decays the learning rate over the budget its clock tells."""
    lowered = []
    for iterations in (10, 20):
        config = load_config("configs/smoke.yaml", [f"train.iterations={iterations}",
                                                    "ppo.lr_schedule=linear"])
        trainer = make_trainer(config)
        state = init_train_state(config, trainer)
        lowered.append(make_train_step(config, trainer).lower(state, budget.clock(config)))
    assert lowered[0].as_text() == lowered[1].as_text()
    step = lowered[0].compile()
    at_five = state._replace(iteration=jnp.int32(5))
    for iterations, spent in ((10, 0.5), (20, 0.25)):
        clock = budget.Clock(np.float32(iterations), np.float32(0))
        _, metrics = step(jax.tree_util.tree_map(jnp.copy, at_five), clock)  # donated
        assert float(metrics["train/budget_spent"][0]) == pytest.approx(spent)
        assert float(metrics["optim/learning_rate"][0]) == pytest.approx(
            config.ppo.learning_rate * (1 - spent))
