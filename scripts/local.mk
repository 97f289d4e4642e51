# scripts/local.mk - entry points and helper scripts.
EXTRA_DIST += \
	scripts/setup \
	scripts/test \
	scripts/run \
	scripts/make-demo-maildir \
	.ci/run
