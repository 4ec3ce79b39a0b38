"""Games between players: matches on the device, external USI engines, tournaments, Elo."""
