"""Outbound HTTP to user-supplied URLs: SSRF-guarded fetching and signed webhooks."""
