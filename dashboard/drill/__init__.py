"""Drill mode (演练): a real or simulated day replayed into an isolated training space."""
