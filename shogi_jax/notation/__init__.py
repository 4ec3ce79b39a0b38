"""Text at the edge (host side): SFEN positions and USI moves."""
