# scripts/local.mk - entry points and helper scripts.
EXTRA_DIST += \
	scripts/setup \
	scripts/test \
	scripts/test-debian13 \
	scripts/test-sanitize \
	scripts/run \
	scripts/make-demo-maildir \
	scripts/imap-demo \
	scripts/test-packages \
	.ci/run

# the cron consistency check over every Maildir of a host
dist_bin_SCRIPTS = scripts/condstore-cron-check
dist_man_MANS += man/condstore-cron-check.8
# the systemd unit of the watch daemon (installed by packaging: its
# paths and user are the host's)
EXTRA_DIST += scripts/condstore-watch.service
# the Debian packages (scripts/test-packages builds them)
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/rules \
	debian/source/format \
	debian/dovecot-abi \
	debian/condstore.install \
	debian/condstore.docs \
	debian/condstore.condstore-watch.service \
	debian/dovecot-maildir-condstore.install
