# tests/watch.mk - integration tests of "condstore watch" and "condstore
# sync" (real inotify, real directories; included from tests/local.mk).

WATCH_TESTS = \
	tests/test_watch_events.py \
	tests/test_watch_overflow.py \
	tests/test_watch_crash.py \
	tests/test_watch_scale.py \
	tests/test_watch_race.py \
	tests/test_watch_cron.py \
	tests/test_watch_prune.py \
	tests/test_watch_valgrind.py \
	tests/test_watch_ready.py \
	tests/test_watch_status.py \
	tests/test_watch_bounds.py \
	tests/test_watch_hostile.py \
	tests/test_root_owner.py \
	tests/test_watch_hostile_users.py \
	tests/test_watch_fulldisk.py

TESTS += $(WATCH_TESTS)
EXTRA_DIST += tests/watchtest.py tests/usertest.py tests/hostile_attacks.py \
	$(WATCH_TESTS)
