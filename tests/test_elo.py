"""Elo fit (`shogi_jax.arena.elo`): closed forms, an independent scipy fit of the same model,
CI coverage by simulation, anchoring and input errors."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import scipy.differentiate
import scipy.optimize

from shogi_jax.arena.elo import ELO_PER_NAT, fit_elo, match_elo, performance_rating, wilson_interval


def two_player(won: int, drawn: int, lost: int) -> tuple[np.ndarray, np.ndarray]:
    """wins, draws for players (A, B) where A won `won`, drew `drawn` and lost `lost` games."""
    return np.array([[0, won], [lost, 0]]), np.array([[0, drawn], [drawn, 0]])


def round_robin(ratings, nu, games_per_pair, rng) -> tuple[np.ndarray, np.ndarray]:
    """Davidson-model results of every pair: wins int[N, N], draws int[N, N]."""
    n = len(ratings)
    wins, draws = np.zeros((n, n), dtype=int), np.zeros((n, n), dtype=int)
    for i, j in itertools.combinations(range(n), 2):
        pi_i, pi_j = 10 ** (ratings[i] / 400), 10 ** (ratings[j] / 400)
        tie = nu * math.sqrt(pi_i * pi_j)
        z = pi_i + pi_j + tie
        outcome_p = [pi_i / z, pi_j / z, tie / z]
        wins[i, j], wins[j, i], draws[i, j] = rng.multinomial(games_per_pair, outcome_p)
        draws[j, i] = draws[i, j]
    return wins, draws


def reference_nll(params, wins, draws, anchor_index, prior_draws):
    """Negative log-likelihood written straight from the Davidson probabilities.

    params: [N - 1 ratings in Elo (anchor left out), log nu], each entry possibly an array (the
    trailing dimensions scipy.differentiate vectorises over). Virtual draws score half a win each
    way for every pair that played, as in fit_elo.
    """
    ratings = list(params[:-1])
    ratings.insert(anchor_index, np.zeros_like(params[0]))
    nu = np.exp(params[-1])
    nll = 0.0
    for i, j in itertools.combinations(range(len(wins)), 2):
        if wins[i, j] + wins[j, i] + draws[i, j] == 0:
            continue
        pi_i, pi_j = 10.0 ** (ratings[i] / 400), 10.0 ** (ratings[j] / 400)
        tie = nu * np.sqrt(pi_i * pi_j)
        z = pi_i + pi_j + tie
        nll = nll - ((wins[i, j] + prior_draws / 2) * np.log(pi_i / z)
                     + (wins[j, i] + prior_draws / 2) * np.log(pi_j / z)
                     + draws[i, j] * np.log(tie / z))
    return nll


# --- closed forms -----------------------------------------------------------------------------

def test_two_players_without_draws_is_plain_bradley_terry():
    wins, draws = two_player(75, 0, 25)
    fit = fit_elo(["A", "B"], wins, draws, "B", prior_draws=0)
    assert fit.ratings[0] == pytest.approx(400 * math.log10(3), abs=1e-6)  # ~190.85
    assert fit.ratings[1] == 0.0
    assert fit.draw_nu == 0.0  # nu's MLE with no draws: fixed at 0, not fitted towards -inf
    # Saturated model: Var(log(W / L)) = 1 / W + 1 / L.
    assert fit.stderr[0] == pytest.approx(ELO_PER_NAT * math.sqrt(1 / 75 + 1 / 25), rel=1e-9)
    assert fit.log_likelihood == pytest.approx(75 * math.log(0.75) + 25 * math.log(0.25), abs=1e-9)


@pytest.mark.parametrize("won, drawn, lost", [(50, 30, 20), (7, 90, 3), (1, 1, 1)])
def test_two_players_with_draws_has_closed_form(won, drawn, lost):
    wins, draws = two_player(won, drawn, lost)
    fit = fit_elo(["A", "B"], wins, draws, "B", prior_draws=0)
    assert fit.ratings[0] == pytest.approx(400 * math.log10(won / lost), abs=1e-6)
    assert fit.draw_nu == pytest.approx(drawn / math.sqrt(won * lost), rel=1e-9)
    assert fit.stderr[0] == pytest.approx(ELO_PER_NAT * math.sqrt(1 / won + 1 / lost), rel=1e-9)


def test_prior_draws_score_half_a_win_each_way():
    """A trained policy winning every game against random: finite with the prior, closed form."""
    wins, draws = two_player(100, 0, 0)
    fit = fit_elo(["policy", "random"], wins, draws, "random", prior_draws=1.0)
    assert fit.ratings[0] == pytest.approx(400 * math.log10(100.5 / 0.5), abs=1e-6)
    wins, draws = two_player(10, 4, 0)
    fit = fit_elo(["policy", "random"], wins, draws, "random", prior_draws=2.0)
    assert fit.ratings[0] == pytest.approx(400 * math.log10(11 / 1), abs=1e-6)
    assert fit.draw_nu == pytest.approx(4 / math.sqrt(11 * 1), rel=1e-9)


def test_symmetric_results_give_equal_ratings():
    wins = np.array([[0, 6, 3], [6, 0, 9], [3, 9, 0]])
    draws = np.array([[0, 2, 5], [2, 0, 0], [5, 0, 0]])
    fit = fit_elo(["a", "b", "c"], wins, draws, "a", prior_draws=0)
    np.testing.assert_allclose(fit.ratings, 0.0, atol=1e-9)


def test_cycle_without_two_way_wins_still_has_a_maximum():
    """a > b > c > a once each, one draw per pair: no pair has wins both ways, yet the cycle pins
    nu. By symmetry the ratings are equal; per pair log(1 / (2 + nu)) + log(nu / (2 + nu)) peaks at
    nu = 2."""
    wins = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    draws = np.ones((3, 3), dtype=int) - np.eye(3, dtype=int)
    fit = fit_elo(["a", "b", "c"], wins, draws, "a", prior_draws=0)
    np.testing.assert_allclose(fit.ratings, 0.0, atol=1e-9)
    assert fit.draw_nu == pytest.approx(2.0, rel=1e-9)


# --- against an independent fit ----------------------------------------------------------------

@pytest.mark.parametrize("prior_draws", [0.0, 1.0])
def test_matches_scipy_fit_of_reference_likelihood(prior_draws):
    names = ["random", "p1", "p2", "p3", "p4"]
    wins, draws = round_robin([0, 150, -100, 300, 60], nu=0.6, games_per_pair=40,
                              rng=np.random.default_rng(7))
    anchor_index = 0
    fit = fit_elo(names, wins, draws, "random", prior_draws=prior_draws)

    def nll(params):
        return reference_nll(params, wins, draws, anchor_index, prior_draws)

    # BFGS on ratings in hundreds of Elo, so finite-difference gradients stay accurate.
    scale = np.array([100.0] * (len(names) - 1) + [1.0])
    result = scipy.optimize.minimize(lambda y: nll(y * scale), np.zeros(len(names)), method="BFGS",
                                     jac="3-point", options={"gtol": 1e-10, "maxiter": 1000})
    best = result.x * scale
    np.testing.assert_allclose(fit.ratings[1:], best[:-1], atol=0.01)
    assert fit.ratings[anchor_index] == 0.0
    assert fit.draw_nu == pytest.approx(math.exp(best[-1]), rel=1e-4)
    # Our own optimum is at least as good as scipy's, and the reported log-likelihood is the real
    # results' (virtual draws excluded).
    ours = np.append(np.delete(fit.ratings, anchor_index), math.log(fit.draw_nu))
    assert nll(ours) <= result.fun + 1e-9
    assert fit.log_likelihood == pytest.approx(
        -reference_nll(ours, wins, draws, anchor_index, 0.0), abs=1e-8)

    # Standard errors: inverse of the numerical Hessian of the reference NLL (ratings and log nu).
    hessian = scipy.differentiate.hessian(nll, best, initial_step=1.0).ddf
    stderr = np.sqrt(np.diag(np.linalg.inv(hessian)))[:-1]
    np.testing.assert_allclose(fit.stderr[1:], stderr, rtol=0.01)
    np.testing.assert_allclose(fit.ci95_low, fit.ratings - 1.96 * fit.stderr)
    np.testing.assert_allclose(fit.ci95_high, fit.ratings + 1.96 * fit.stderr)


def test_ci95_covers_truth():
    """Wald intervals from the observed information cover the true rating about 95% of the time."""
    rng = np.random.default_rng(2024)
    true_diff, tournaments = 100.0, 300
    covered = 0
    for _ in range(tournaments):
        wins, draws = round_robin([true_diff, 0.0], nu=0.5, games_per_pair=100, rng=rng)
        fit = fit_elo(["A", "B"], wins, draws, "B")
        covered += fit.ci95_low[0] <= true_diff <= fit.ci95_high[0]
    assert 0.90 <= covered / tournaments <= 0.99


# --- anchoring and output -----------------------------------------------------------------------

def test_anchor_is_zero_and_moving_it_shifts_all_ratings():
    names = ["random", "p1", "p2", "p3"]
    wins, draws = round_robin([0, 200, 350, 400], nu=0.3, games_per_pair=20,
                              rng=np.random.default_rng(1))
    by_random = fit_elo(names, wins, draws, "random")
    by_p2 = fit_elo(names, wins, draws, "p2")
    assert by_random.ratings[0] == 0.0 and by_random.stderr[0] == 0.0
    assert by_p2.ratings[2] == 0.0 and by_p2.stderr[2] == 0.0
    np.testing.assert_allclose(by_p2.ratings, by_random.ratings - by_random.ratings[2], atol=1e-8)
    assert by_p2.draw_nu == pytest.approx(by_random.draw_nu, rel=1e-10)
    assert by_p2.log_likelihood == pytest.approx(by_random.log_likelihood, abs=1e-9)


def test_as_dict_is_json_ready():
    wins, draws = two_player(30, 10, 20)
    record = json.loads(json.dumps(fit_elo(["policy", "random"], wins, draws, "random").as_dict()))
    assert record["anchor"] == "random"
    assert record["draw_nu"] > 0
    assert [p["name"] for p in record["players"]] == ["policy", "random"]
    assert record["players"][1] == {"name": "random", "elo": 0.0, "stderr": 0.0, "ci95": [0.0, 0.0]}
    low, high = record["players"][0]["ci95"]
    assert low < record["players"][0]["elo"] < high


# --- errors -------------------------------------------------------------------------------------

def _case(wins, draws=None, names=("a", "b"), anchor="a", prior_draws=1.0):
    """fit_elo's arguments (names, wins, draws, anchor, prior_draws); no draws unless given."""
    draws = np.zeros_like(np.asarray(wins)) if draws is None else draws
    return names, np.asarray(wins), np.asarray(draws), anchor, prior_draws


@pytest.mark.parametrize("case, message", [
    (_case([[0, 1, 0], [1, 0, 0], [0, 0, 0]]), r"wins must have shape \(2, 2\)"),
    (_case([[0, -1], [1, 0]]), "wins has negative counts"),
    (_case([[0, 1], [1, 0]], [[0, 2], [1, 0]]), "draws must be symmetric"),
    (_case([[1, 1], [1, 0]]), "wins has a non-zero diagonal"),
    (_case([[0, 1], [1, 0]], [[3, 0], [0, 0]]), "draws has a non-zero diagonal"),
    (_case([[0.0, 1.0], [1.0, 0.0]]), "wins must hold integer game counts"),
    (_case([[0, 1], [1, 0]], anchor="z"), "anchor 'z' is not one of the names"),
    (_case([[0, 1], [1, 0]], names=("a", "a")), "names must be unique"),
    (_case([[0, 1], [1, 0]], prior_draws=-1.0), "prior_draws must be finite and >= 0"),
    (_case([[0, 1, 0], [1, 0, 0], [0, 0, 0]], names=("a", "b", "idle")),
     r"players \['idle'\] have no games"),
    (_case([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 2], [0, 0, 2, 0]], names=("a", "b", "c", "d")),
     r"players \['c', 'd'\] have no chain of games to the anchor 'a'"),
    (_case([[0, 0], [5, 0]], prior_draws=0.0), r"players \['b'\] have ratings that diverge"),
    (_case([[0, 0], [5, 0]], [[0, 3], [3, 0]], prior_draws=0.0),
     r"nu diverges, and the ratings of players \['b'\]"),
    (_case([[0, 0], [0, 0]], [[0, 3], [3, 0]], prior_draws=0.0),
     "the draw parameter nu diverges:"),
])
def test_bad_inputs_raise_naming_the_problem(case, message):
    names, wins, draws, anchor, prior_draws = case
    with pytest.raises(ValueError, match=message):
        fit_elo(names, wins, draws, anchor, prior_draws=prior_draws)


def test_separation_three_players_names_only_the_diverging_one():
    """b beats everyone every game; a and c trade wins: only b's rating runs off."""
    wins = np.array([[0, 0, 4], [6, 0, 6], [3, 0, 0]])
    with pytest.raises(ValueError, match=r"players \['b'\] have ratings that diverge"):
        fit_elo(["a", "b", "c"], wins, np.zeros((3, 3), dtype=int), "a", prior_draws=0)
    with_prior = fit_elo(["a", "b", "c"], wins, np.zeros((3, 3), dtype=int), "a", prior_draws=1.0)
    assert np.isfinite(with_prior.ratings).all()


@pytest.mark.parametrize("wins, games, low, high", [
    (5, 10, 0.2366, 0.7634),   # the textbook example
    (0, 10, 0.0, 0.2775),      # upper bound z^2 / (n + z^2)
    (10, 10, 0.7225, 1.0),
])
def test_wilson_interval_against_hand_computed_values(wins, games, low, high):
    from shogi_jax.arena.elo import wilson_interval

    got = wilson_interval(wins, games)
    assert got == pytest.approx((low, high), abs=1e-4)


@pytest.mark.parametrize("wins, games", [(380, 400), (241, 400), (3, 64)])
def test_wilson_interval_matches_scipy(wins, games):
    from scipy.stats import binomtest

    from shogi_jax.arena.elo import wilson_interval

    reference = binomtest(wins, games).proportion_ci(confidence_level=0.95, method="wilson")
    # scipy uses the exact normal quantile 1.95996...; ours 1.96.
    assert wilson_interval(wins, games) == pytest.approx((reference.low, reference.high),
                                                         abs=2e-4)


def test_results_never_print_minus_zero_elo():
    from shogi_jax.arena.standings import elo_text

    assert [elo_text(x) for x in (-0.4, 0.4, -0.6, 1234.5, -17.2)] == [
        "0", "0", "-1", "1234", "-17"]


def test_match_elo_against_hand_computed_cutechess_margin():
    # 81-19-0 (greedy against random, the ladder's first pass): score 0.905, Elo 400 lg(.905/.095)
    # = 391.57; per-game score deviation sqrt(.81 * .095^2 + .19 * .405^2) = 0.19614, so the
    # score's 95% interval is .905 +- 1.96 * 0.019614 = [0.86656, 0.94344] -> Elo [325.0, 488.9].
    match = match_elo(81, 19, 0)
    assert match.score == pytest.approx(0.905)
    assert match.elo == pytest.approx(391.57, abs=0.01)
    assert (match.ci95_low, match.ci95_high) == pytest.approx((325.0, 488.9), abs=0.1)
    # The delta method: 0.019614 * (400 / ln 10) / (.905 * .095) = 39.63.
    assert match.stderr == pytest.approx(39.63, abs=0.01)
    # The other side of the same match is its mirror image.
    mirror = match_elo(0, 19, 81)
    assert (mirror.elo, mirror.ci95_low, mirror.ci95_high) == pytest.approx(
        (-match.elo, -match.ci95_high, -match.ci95_low))


def test_match_elo_even_match_is_zero_and_narrows_with_games():
    assert match_elo(30, 40, 30).elo == 0.0
    tenfold = match_elo(300, 400, 300)
    assert tenfold.stderr == pytest.approx(match_elo(30, 40, 30).stderr / 10 ** 0.5)


def test_match_elo_shut_out_has_only_a_lower_bound():
    match = match_elo(100, 0, 0)
    low, _ = wilson_interval(100, 100)
    assert (match.elo, match.stderr, match.ci95_high) == (math.inf, math.inf, math.inf)
    assert match.ci95_low == pytest.approx(ELO_PER_NAT * math.log(low / (1 - low)))
    assert match_elo(0, 0, 64).ci95_low == -math.inf
    with pytest.raises(ValueError, match="at least one game"):
        match_elo(0, 0, 0)


def test_performance_rating_solves_the_expected_score():
    opponents = np.array([0.0, 200.0, 350.0])
    wins, draws, losses = np.array([15, 8, 2]), np.array([3, 4, 6]), np.array([2, 8, 12])
    rating, stderr = performance_rating(opponents, wins, draws, losses)
    expected = 1 / (1 + 10 ** ((opponents - rating) / 400))
    assert ((wins + draws + losses) * expected).sum() == pytest.approx((wins + draws / 2).sum())
    assert 0 < stderr < 100
    # Against one opponent it is that opponent's rating plus the match's Elo and stderr.
    rating, stderr = performance_rating([250.0], [12], [5], [3])
    assert rating == pytest.approx(250.0 + match_elo(12, 5, 3).elo)
    assert stderr == pytest.approx(match_elo(12, 5, 3).stderr)
    with pytest.raises(ValueError, match="no finite rating"):
        performance_rating([0.0, 100.0], [4, 2], [0, 0], [0, 0])


def test_performance_rating_error_when_each_opponent_gives_one_result():
    """All wins against a 0-rated opponent, all losses against a 400-rated one, 10 games each:
    by symmetry the rating is 200 with expected scores e = 1 / (1 + 10**-0.5) and 1 - e, and the
    sandwich error, worked by hand, is sqrt(20 (1 - e)^2) / (20 e (1 - e) / ELO_PER_NAT) = 51.1
    Elo, not the 0 of each opponent's own (spreadless) mean."""
    rating, stderr = performance_rating([0.0, 400.0], [10, 0], [0, 0], [0, 10])
    e = 1 / (1 + 10 ** -0.5)
    assert rating == pytest.approx(200.0)
    assert stderr == pytest.approx(math.sqrt(20 * (1 - e) ** 2) / (20 * e * (1 - e) / ELO_PER_NAT))
    assert stderr == pytest.approx(51.1, abs=0.1)
