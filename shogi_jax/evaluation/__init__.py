"""Evaluation: players, tournaments, Elo."""
