"""Notifier: deliver each alert to each recipient once, by webhook and inbox (DESIGN §6)."""
