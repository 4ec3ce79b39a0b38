"""USI adapters for engines that speak another protocol (GNU Shogi), so they join tournaments
as `usi` players."""
