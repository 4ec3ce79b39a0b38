"""Elo ratings by maximum likelihood from a tournament's results: Bradley-Terry with draws after
Davidson (1970). With strengths pi_i = 10**(r_i / 400) and a draw parameter nu >= 0,

    P(i beats j) = pi_i / Z,   P(draw) = nu * sqrt(pi_i * pi_j) / Z,
    Z = pi_i + pi_j + nu * sqrt(pi_i * pi_j).

In natural parameters x = (s, theta), s_i = r_i / ELO_PER_NAT and nu = exp(theta), each outcome's
log-probability is f . x - log Z with a fixed feature vector f (i wins: e_i; j wins: e_j; draw:
(e_i + e_j) / 2 + e_theta). The model is log-linear, so the log-likelihood is concave, its Hessian
is minus the games-weighted covariance of f, and Newton's method with a line search finds the top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ELO_PER_NAT = 400 / math.log(10)  # r = ELO_PER_NAT * s
CI95_Z = 1.96
MAX_NEWTON_STEPS = 100
STEP_TOL = 1e-10  # a Newton step (natural units) this small leaves the gradient at roundoff


@dataclass(frozen=True)
class EloFit:
    """Fitted ratings of N players; arrays are float64[N] in the order of `names`."""
    names: tuple[str, ...]
    anchor: str
    ratings: np.ndarray  # Elo, the anchor exactly 0
    stderr: np.ndarray  # Elo, 0 for the anchor
    ci95_low: np.ndarray  # ratings - 1.96 * stderr
    ci95_high: np.ndarray
    draw_nu: float  # Davidson nu; exactly 0 when no real game was drawn
    log_likelihood: float  # of the real results (no virtual draws) at the fit, up to a constant

    def as_dict(self) -> dict:
        columns = zip(self.names, self.ratings, self.stderr, self.ci95_low, self.ci95_high)
        players = [{"name": name, "elo": float(r), "stderr": float(se),
                    "ci95": [float(low), float(high)]} for name, r, se, low, high in columns]
        return {"anchor": self.anchor, "draw_nu": self.draw_nu, "players": players}


def fit_elo(names, wins, draws, anchor, *, prior_draws: float = 1.0) -> EloFit:
    """Maximum-likelihood Elo of N players, `anchor` fixed at 0, the draw parameter fitted jointly.

    wins: int[N, N], wins[i, j] = games i won against j. draws: int[N, N], symmetric.
    prior_draws: virtual draws added to every pair that played at least one game (BayesElo-style),
      so a player winning every game still gets a finite rating. Each scores half a win for each
      side rather than counting as a Davidson draw: with nu free, extra Davidson draws only raise nu
      and leave separation infinite (two players: the MLE ratio is W / L whatever D is). nu is
      fitted from the real draws. prior_draws=0 gives the pure MLE, or a ValueError naming the
      players whose ratings diverge.
    With no real draws the MLE of nu is 0: nu is fixed at 0 and theta dropped (plain Bradley-Terry)
    rather than chased to -inf. Standard errors: the inverse observed information over the free
    ratings and theta jointly, rating block.
    """
    names = tuple(names)
    n_players = len(names)
    wins, draws = np.asarray(wins), np.asarray(draws)
    _validate(names, wins, draws, anchor, prior_draws)
    games = wins + wins.T + draws  # int[N, N], symmetric
    _require(games.sum(1) > 0, names, "have no games")
    a = names.index(anchor)
    _require(_reach(games > 0)[a], names, f"have no chain of games to the anchor {anchor!r}")
    # Existence of the maximum, on the counts as fitted (virtual draws as half-wins both ways).
    virtual_wins = wins + prior_draws / 2 * (games > 0)  # f64[N, N]
    reach = _reach((virtual_wins.T + draws) > 0)  # i -> j when j scored against i
    # Players who never concede a point (loss or draw) to the rest run off to +inf, and vice versa.
    _require(reach[a] & reach[:, a], names, "have ratings that diverge (the results are not "
             "strongly connected); use prior_draws > 0")
    direction = _nu_recession(virtual_wins, draws) if draws.any() else None
    if direction is not None:
        culprits = [name for name, d in zip(names, direction) if d != direction[a]]
        also = f", and the ratings of players {culprits}" if culprits else ""
        raise ValueError(f"the draw parameter nu diverges{also}: no cycle of results pins it; "
                         "use prior_draws > 0")

    # One row per pair i < j that played, outcomes (i wins, j wins, draw): features f64[M, 3, N+1].
    first, second = np.nonzero(np.triu(games > 0, k=1))
    unit = np.eye(n_players + 1)  # the last unit vector is theta's
    features = np.stack([unit[first], unit[second], (unit[first] + unit[second]) / 2 + unit[-1]], 1)
    real = np.stack([wins[first, second], wins[second, first], draws[first, second]], 1) * 1.0
    counts = real + np.array([prior_draws / 2, prior_draws / 2, 0.0])  # f64[M, 3]
    fit_nu = bool(draws.any())
    free = [p for p in range(n_players) if p != a] + ([n_players] if fit_nu else [])
    outcomes = slice(None) if fit_nu else slice(0, 2)
    features = features[:, outcomes][..., free]  # f64[M, K, P]
    counts, real = counts[:, outcomes], real[:, outcomes]

    x = np.zeros(len(free))
    for _ in range(MAX_NEWTON_STEPS):
        ll, grad, hess = _log_likelihood(x, features, counts)
        step = np.linalg.solve(-hess, grad)
        if np.abs(step).max(initial=0.0) < STEP_TOL:
            x = x + step
            break
        # Backtrack to an Armijo increase, measured from just below ll so that the last full
        # steps, whose increase is below the roundoff of the sum, are taken.
        t, floor = 1.0, ll - 1e-12 * (1.0 + abs(ll))
        while _log_likelihood(x + t * step, features, counts)[0] < floor + 1e-4 * t * grad @ step:
            t /= 2
        x = x + t * step
    else:  # unreachable once the checks above pass: the maximum then exists and is unique
        raise ValueError(f"Elo fit did not converge in {MAX_NEWTON_STEPS} Newton steps")

    covariance = np.linalg.inv(-_log_likelihood(x, features, counts)[2])
    rated = free[: n_players - 1]
    ratings, stderr = np.zeros(n_players), np.zeros(n_players)
    ratings[rated] = ELO_PER_NAT * x[: n_players - 1]
    stderr[rated] = ELO_PER_NAT * np.sqrt(np.diag(covariance)[: n_players - 1])
    return EloFit(names=names, anchor=anchor, ratings=ratings, stderr=stderr,
                  ci95_low=ratings - CI95_Z * stderr, ci95_high=ratings + CI95_Z * stderr,
                  draw_nu=float(np.exp(x[-1])) if fit_nu else 0.0,
                  log_likelihood=_log_likelihood(x, features, real)[0])


def _log_likelihood(x, features, counts):
    """x: f64[P], features: f64[M, K, P], counts: f64[M, K] -> (log-likelihood, grad: f64[P],
    hess: f64[P, P])."""
    logits = features @ x  # [M, K]
    top = logits.max(1, keepdims=True)
    log_p = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
    p = np.exp(log_p)
    mean_f = np.einsum("mk,mkp->mp", p, features)  # E_p[f] per pair
    # Centring first keeps Cov(f) accurate where p is near 1 (E[ff] - E[f]E[f] would cancel).
    centred = (features - mean_f[:, None, :]).reshape(-1, x.size)  # [M * K, P]
    grad = counts.reshape(-1) @ centred
    weight = (counts.sum(1, keepdims=True) * p).reshape(-1)
    hess = -centred.T @ (centred * weight[:, None])  # -sum over pairs of n Cov_p(f)
    return float((counts * log_p).sum()), grad, hess


def _nu_recession(wins, draws):
    """A direction x: f64[N] along which nu -> inf and the likelihood keeps rising, or None.

    Moving (s, theta) by t * (x, 1) keeps every observed outcome among its pair's likeliest as t
    grows iff x_i - x_j >= 2 where i beat j and |x_i - x_j| <= 2 where they drew. These difference
    constraints are feasible iff their graph has no negative cycle (Floyd-Warshall). Directions
    with theta fixed are the strong-connectivity check; theta -> -inf is excluded by any draw.
    """
    bound = np.full(wins.shape, np.inf)  # bound[u, v]: x_v - x_u <= bound
    bound[draws > 0] = 2.0
    bound[wins > 0] = -2.0
    np.fill_diagonal(bound, 0.0)
    for k in range(len(bound)):
        bound = np.minimum(bound, bound[:, k, None] + bound[None, k, :])
    feasible = (np.diagonal(bound) >= 0).all()
    return bound.min(0) if feasible else None  # a solution: distances from a virtual source


def _reach(adjacent):
    """bool[N, N] -> bool[N, N]: reach[i, j] iff a path i -> j (transitive closure by squaring)."""
    reach = adjacent | np.eye(len(adjacent), dtype=bool)
    for _ in range(len(adjacent).bit_length()):
        reach = (reach.astype(float) @ reach.astype(float)) > 0
    return reach


def _require(ok, names, problem):
    if not ok.all():
        raise ValueError(f"players {[n for n, good in zip(names, ok) if not good]} {problem}")


def _validate(names, wins, draws, anchor, prior_draws):
    n = len(names)
    if len(set(names)) != n:
        raise ValueError(f"names must be unique, got {names}")
    for label, table in (("wins", wins), ("draws", draws)):
        if table.shape != (n, n):
            raise ValueError(f"{label} must have shape {(n, n)} for {n} names, got {table.shape}")
        if not np.issubdtype(table.dtype, np.integer):
            raise ValueError(f"{label} must hold integer game counts, got dtype {table.dtype}")
        if (table < 0).any():
            raise ValueError(f"{label} has negative counts")
        if np.diagonal(table).any():
            raise ValueError(f"{label} has a non-zero diagonal (games of a player against itself)")
    if (draws != draws.T).any():
        raise ValueError("draws must be symmetric (draws[i, j] == draws[j, i])")
    if anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not one of the names {names}")
    if not (math.isfinite(prior_draws) and prior_draws >= 0):
        raise ValueError(f"prior_draws must be finite and >= 0, got {prior_draws}")


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% (z = 1.96) Wilson score interval of a rate: honest near 0 and 1, where the normal
    approximation is not (a win rate of 400/400 still gets a lower bound below 1)."""
    if trials <= 0:
        return 0.0, 1.0
    rate = successes / trials
    spread = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    centre = rate + z * z / (2 * trials)
    scale = 1 + z * z / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


@dataclass(frozen=True)
class MatchElo:
    """The Elo difference of one side of a match from its score alone, draws as half points: the
    convention of engine testers (cutechess-cli, shogiarena). A shut-out has elo and stderr inf
    and only a lower bound: the Wilson interval's lower end of its score."""
    wins: int
    draws: int
    losses: int
    elo: float  # -400 log10(1 / score - 1); +-inf when one side scored nothing
    stderr: float  # Elo, by the delta method from the per-game score's standard deviation
    ci95_low: float  # the 95% interval of the score mapped to Elo (asymmetric, as cutechess's)
    ci95_high: float

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + self.draws / 2) / self.games


def elo_of_score(score: float) -> float:
    """The Elo difference whose logistic expectation is `score` (0 and 1 map to -inf and inf)."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -ELO_PER_NAT * math.log(1.0 / score - 1.0)


def _score_spread(wins, draws, losses, score):
    """Sum over the games of (a game's points - score)^2: wins 1, draws 1/2, losses 0."""
    return wins * (1 - score) ** 2 + draws * (0.5 - score) ** 2 + losses * score ** 2


def match_elo(wins: int, draws: int, losses: int) -> MatchElo:
    """The Elo difference of the side that won `wins`, drew `draws` and lost `losses` games.

    Draws are half points, so a match the weaker side can only draw (random play against any
    engine: it never mates, but reaches the move limit) still has a finite difference, where the
    Davidson model of fit_elo, which reads draws as evidence of closeness only through nu, has
    none for the two alone. The interval is the score's normal 95% interval mapped through the
    logistic curve, as cutechess-cli computes its error margin."""
    if min(wins, draws, losses) < 0 or wins + draws + losses == 0:
        raise ValueError(f"need non-negative counts and at least one game, got W-D-L "
                         f"{wins}-{draws}-{losses}")
    games = wins + draws + losses
    score = (wins + draws / 2) / games
    variance = _score_spread(wins, draws, losses, score) / games
    score_se = math.sqrt(variance / games)
    if score in (0.0, 1.0):  # no spread to measure: the interval of the score as a rate instead
        low, high = wilson_interval(round(score * games), games, CI95_Z)
        low, high = (elo_of_score(low), math.inf) if score else (-math.inf, elo_of_score(high))
        return MatchElo(wins, draws, losses, elo_of_score(score), math.inf, low, high)
    stderr = score_se * ELO_PER_NAT / (score * (1 - score))
    return MatchElo(wins, draws, losses, elo_of_score(score), stderr,
                    elo_of_score(score - CI95_Z * score_se),
                    elo_of_score(score + CI95_Z * score_se))


def performance_rating(opponent_elo, wins, draws, losses) -> tuple[float, float]:
    """(Elo, its standard error) of a player from its W-D-L against opponents of known Elo
    (arrays over opponents), draws as half points: the rating whose expected score against them
    equals the score it made (the maximum-likelihood estimate of the logistic model). The error
    is the sandwich estimate: the spread of each game's points about the fitted expectation
    against that opponent, over the slope of the expected total. Taken about the fit, not about
    each opponent's own mean score, so a player that won every game against one opponent and
    lost every game against another still has the error those results leave (about each
    opponent's mean it would be 0). Against one opponent the two coincide: match_elo's error.
    Opponents' own errors are not in it. Raises ValueError when it won or lost every point (no
    finite rating)."""
    opponent_elo = np.asarray(opponent_elo, float)
    wins, draws, losses = (np.asarray(a, float) for a in (wins, draws, losses))
    games = wins + draws + losses
    points = wins + draws / 2
    if points.sum() in (0.0, games.sum()):
        raise ValueError(f"no finite rating: it scored {points.sum():g} of {games.sum():g} points")

    def expected(rating):  # f64[opponents]: expected score per game
        return 1.0 / (1.0 + np.exp((opponent_elo - rating) / ELO_PER_NAT))

    low, high = opponent_elo.min() - 4000.0, opponent_elo.max() + 4000.0
    for _ in range(200):  # the expected total rises with the rating: bisection
        middle = (low + high) / 2
        below = (games * expected(middle)).sum() < points.sum()
        low, high = (middle, high) if below else (low, middle)
    rating = (low + high) / 2
    spread = _score_spread(wins, draws, losses, expected(rating)).sum()
    slope = (games * expected(rating) * (1 - expected(rating))).sum() / ELO_PER_NAT
    return rating, math.sqrt(spread) / slope
