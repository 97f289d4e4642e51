/*
 * cli-args.c - parsing the arguments of a subcommand: long options,
 * positional arguments, modseqs and UID sets.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static struct cli_option *
cli_option_find(struct cli_option *opts, const char *name, size_t len)
{
	for (; opts->name != NULL; opts++) {
		if (strlen(opts->name) == len &&
		    strncmp(opts->name, name, len) == 0)
			return opts;
	}
	return NULL;
}

/* Handle argv[*i], which starts with "--" and is not "--".  Returns 0 or
   -1 (error printed). */
static int cli_option_take(const struct cli_global *g,
			   const struct cli_command *cmd, int argc,
			   char **argv, int *i, struct cli_option *opts)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	struct cli_option *opt = cli_option_find(opts, arg, len);

	if (opt == NULL) {
		cli_error(g, "%s: unknown option --%.*s (see condstore %s "
			  "--help)", cmd->name, (int)len, arg, cmd->name);
		return -1;
	}
	if (!opt->has_arg) {
		if (eq != NULL) {
			cli_error(g, "%s: option --%s takes no value",
				  cmd->name, opt->name);
			return -1;
		}
	} else if (eq != NULL) {
		opt->value = eq + 1;
	} else if (opt->arg_optional) {
		opt->value = NULL;
	} else if (*i + 1 < argc) {
		opt->value = argv[++*i];
	} else {
		cli_error(g, "%s: option --%s needs a value", cmd->name,
			  opt->name);
		return -1;
	}
	if (opt->seen) {
		cli_error(g, "%s: option --%s given twice", cmd->name,
			  opt->name);
		return -1;
	}
	opt->seen = true;
	return 0;
}

int cli_args_parse(const struct cli_global *g, const struct cli_command *cmd,
		   int argc, char **argv, struct cli_option *opts,
		   int min_pos, int max_pos)
{
	bool options_done = false;
	int i, npos = 0;

	for (i = 1; i < argc; i++) {
		if (!options_done && strcmp(argv[i], "--") == 0) {
			options_done = true;
		} else if (!options_done && strncmp(argv[i], "--", 2) == 0) {
			if (cli_option_take(g, cmd, argc, argv, &i, opts) < 0)
				return -1;
		} else {
			/* i >= 1 + npos: moving down never overwrites an
			   argument not read yet */
			argv[1 + npos++] = argv[i];
		}
	}
	if (npos < min_pos) {
		cli_error(g, "%s: missing argument (usage: condstore %s %s)",
			  cmd->name, cmd->name, cmd->usage);
		return -1;
	}
	if (max_pos >= 0 && npos > max_pos) {
		cli_error(g, "%s: unexpected argument '%s' (usage: "
			  "condstore %s %s)", cmd->name, argv[1 + max_pos],
			  cmd->name, cmd->usage);
		return -1;
	}
	return npos;
}

int cli_parse_modseq(const struct cli_global *g, const char *opt_name,
		     const char *str, uint64_t *modseq_r)
{
	unsigned long long value;
	char *end;

	if (str[0] < '0' || str[0] > '9')
		goto invalid;
	errno = 0;
	value = strtoull(str, &end, 10);
	if (errno != 0 || *end != '\0' || value > CS_MODSEQ_MAX)
		goto invalid;
	*modseq_r = value;
	return 0;
invalid:
	cli_error(g, "--%s %s: not a mod-sequence (a number from 0 to "
		  "9223372036854775807)", opt_name, str);
	return -1;
}

int cli_required_modseq(const struct cli_global *g,
			const struct cli_command *cmd,
			const struct cli_option *opt, uint64_t *modseq_r)
{
	if (!opt->seen) {
		cli_error(g, "%s: --%s is required (usage: condstore %s %s)",
			  cmd->name, opt->name, cmd->name, cmd->usage);
		return -1;
	}
	return cli_parse_modseq(g, opt->name, opt->value, modseq_r);
}

int cli_parse_uidset(const struct cli_global *g, const char *str,
		     struct cs_uidset *set_r)
{
	struct cs_error err;

	cs_uidset_init(set_r);
	if (cs_uidset_parse(str, set_r, &err) < 0) {
		cli_error(g, "%s: not a UID set: %s", str, err.text);
		cs_uidset_free(set_r);
		return -1;
	}
	return 0;
}

int cli_parse_age(const struct cli_global *g, const char *opt_name,
		  const char *str, uint64_t *usec_r)
{
	unsigned long long n;
	uint64_t unit = 86400;
	char *end;

	errno = 0;
	n = strtoull(str, &end, 10);
	if (end == str || str[0] < '0' || str[0] > '9' || errno != 0)
		end = NULL;
	else if (*end == 's')
		unit = 1, end++;
	else if (*end == 'm')
		unit = 60, end++;
	else if (*end == 'h')
		unit = 3600, end++;
	else if (*end == 'd')
		end++;
	if (end == NULL || *end != '\0' || n > UINT64_MAX / 1000000 / unit) {
		cli_error(g, "bad --%s age '%s' (a number with a unit s, m, h "
			  "or d)", opt_name, str);
		return -1;
	}
	*usec_r = (uint64_t)n * unit * 1000000;
	return 0;
}
