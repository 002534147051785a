"""Users, teams, roles, sessions and API tokens."""
