"""Object storage for artifacts: the BlobStore contract, a local-disk store and an S3 store."""
