"""One module per command, each a few dozen lines over session, planner and executor."""
