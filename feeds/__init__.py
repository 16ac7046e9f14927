"""Channel adapters and feeds: validated records for tickets/ (simulator, hotline, import, replay)."""
