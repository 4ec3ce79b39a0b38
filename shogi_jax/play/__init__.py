"""How a move is chosen: the network (model, value head), policy functions, the search (mctx),
play-time tactics and the players built from them; a network loads from its parameters alone."""
