# tests/cli.mk - integration tests of the condstore command (Python 3
# stdlib, real Maildirs in temporary directories, a real tdb).

TESTS += \
	tests/test_cli_format.py \
	tests/test_cli_reindex.py \
	tests/test_cli_modseq.py \
	tests/test_cli_race.py \
	tests/test_cli_hostile.py \
	tests/test_cli_fulldisk.py \
	tests/test_cli_scan_race.py \
	tests/test_cli_vanished.py \
	tests/test_cli_bounds.py \
	tests/test_cli_hostile_files.py \
	tests/test_cli_layout1.py

EXTRA_DIST += \
	tests/cstest.py \
	tests/test_cli_format.py \
	tests/test_cli_reindex.py \
	tests/test_cli_modseq.py \
	tests/test_cli_race.py \
	tests/test_cli_hostile.py \
	tests/test_cli_fulldisk.py \
	tests/test_cli_scan_race.py \
	tests/test_cli_vanished.py \
	tests/test_cli_bounds.py \
	tests/test_cli_hostile_files.py \
	tests/test_cli_layout1.py
