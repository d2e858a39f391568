"""The durable job engine: the DBOS workflow, worker start-up, heartbeats and recovery."""
