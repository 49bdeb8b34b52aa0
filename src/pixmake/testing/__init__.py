"""Test support shipped with pixmake: a fake Runware server for this project's tests and its
users' CI (`python -m pixmake.testing.fake_runware`)."""
