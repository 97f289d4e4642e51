# indexer/cli.mk - the condstore command (placeholder until it lands).
