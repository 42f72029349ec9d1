"""Notifications: ``[[notify]]`` targets, events from the daemon's ticks, and delivery from the ledger's outbox."""
