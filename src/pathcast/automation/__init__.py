"""Automation: the intent language (plain zh/en rules → typed, versioned IR) and the durable
engine that runs them. See docs/automation.md."""
