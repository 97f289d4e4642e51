# scripts/local.mk - entry points and helper scripts.
EXTRA_DIST += \
	scripts/setup \
	scripts/test \
	scripts/test-sanitize \
	scripts/run \
	scripts/make-demo-maildir \
	.ci/run

# the cron consistency check over every Maildir of a host
dist_bin_SCRIPTS = scripts/condstore-cron-check
# the systemd unit of the watch daemon (installed by packaging: its
# paths and user are the host's)
EXTRA_DIST += scripts/condstore-watch.service
