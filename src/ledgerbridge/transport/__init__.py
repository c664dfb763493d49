"""Connector plumbing shared by the HubSpot and QBO clients (tokens, OAuth, budgets)."""
