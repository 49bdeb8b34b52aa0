"""`pixmake review`: the gallery served on 127.0.0.1, with pick, accept, reroll and approve."""
