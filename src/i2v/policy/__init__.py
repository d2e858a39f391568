"""The content policy: ratings, the always-refused kinds, mature grants, and the audit."""
