"""Routes: each parses, calls one service function and returns its view."""
