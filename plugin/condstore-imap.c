/*
 * condstore-imap.c - the imap-side part of the plugin: QRESYNC is neither
 * advertised nor enabled for users the plugin serves.
 *
 * QRESYNC's VANISHED responses come from Dovecot's own transaction log
 * (mailbox_get_expunges()), which knows nothing of the index's modseqs, so
 * serving it would send wrong answers.  The capability is removed from the
 * client's capability string when the imap client is created (before the
 * login reply carries it), and ENABLE goes through our own implementation,
 * which enables everything ENABLE normally would except QRESYNC.
 *
 * The same shared object is loaded by every Dovecot process that has
 * mail_plugins (imap, lmtp, pop3, doveadm...), but only the imap binary
 * defines the symbols used here.  They are weak references: elsewhere they
 * resolve to NULL and this part stays off.
 */
#include "imap-common.h"
#include "str.h"
#include "imap-arg.h"
#include "imap-commands.h"
#include "imap-feature.h"

#include "condstore-plugin.h"

#pragma weak imap_client_created_hook_set
#pragma weak command_hook_register
#pragma weak command_hook_unregister
#pragma weak client_read_args
#pragma weak client_send_command_error
#pragma weak client_send_line
#pragma weak client_send_tagline
#pragma weak client_enable
#pragma weak imap_feature_lookup

#define CONDSTORE_HIDDEN_CAPABILITY "QRESYNC"

static imap_client_created_func_t *next_hook_client_created;
static bool condstore_imap_active;

static bool condstore_client_served(struct client *client)
{
	return client->user != NULL &&
		CONDSTORE_USER_CONTEXT(client->user) != NULL;
}

/* Remove every token equal to word from the space-separated list str. */
static void capability_string_remove(string_t *str, const char *word)
{
	const char *const *tokens;
	string_t *rest = t_str_new(str_len(str));

	tokens = t_strsplit_spaces(str_c(str), " ");
	for (; *tokens != NULL; tokens++) {
		if (strcasecmp(*tokens, word) == 0)
			continue;
		if (str_len(rest) > 0)
			str_append_c(rest, ' ');
		str_append(rest, *tokens);
	}
	str_truncate(str, 0);
	str_append_str(str, rest);
}

static void condstore_client_created(struct client **clientp)
{
	struct client *client = *clientp;

	if (condstore_client_served(client)) T_BEGIN {
		capability_string_remove(client->capability_string,
					 CONDSTORE_HIDDEN_CAPABILITY);
	} T_END;
	if (next_hook_client_created != NULL)
		next_hook_client_created(clientp);
}

/* ENABLE (RFC 5161) without QRESYNC: unknown and refused extensions are
   left out of the ENABLED response. */
static bool condstore_cmd_enable(struct client_command_context *cmd)
{
	const struct imap_arg *args;
	const char *name;
	unsigned int feature_idx;
	string_t *reply;

	if (!client_read_args(cmd, 0, 0, &args))
		return FALSE;

	reply = t_str_new(64);
	str_append(reply, "* ENABLED");
	for (; !IMAP_ARG_IS_EOL(args); args++) {
		if (!imap_arg_get_atom(args, &name)) {
			client_send_command_error(cmd, "Invalid arguments.");
			return TRUE;
		}
		if (strcasecmp(name, CONDSTORE_HIDDEN_CAPABILITY) == 0 ||
		    !imap_feature_lookup(name, &feature_idx))
			continue;
		client_enable(cmd->client, feature_idx);
		str_append_c(reply, ' ');
		str_append(reply, t_str_ucase(name));
	}
	if (str_len(reply) > strlen("* ENABLED"))
		client_send_line(cmd->client, str_c(reply));
	client_send_tagline(cmd, "OK Enabled.");
	return TRUE;
}

static void condstore_cmd_pre(struct client_command_context *cmd)
{
	if (cmd->name != NULL && strcasecmp(cmd->name, "ENABLE") == 0 &&
	    condstore_client_served(cmd->client))
		cmd->func = condstore_cmd_enable;
}

static void condstore_cmd_post(struct client_command_context *cmd ATTR_UNUSED)
{
}

void condstore_imap_init(void)
{
	if (imap_client_created_hook_set == NULL ||
	    command_hook_register == NULL)
		return;
	next_hook_client_created =
		imap_client_created_hook_set(condstore_client_created);
	command_hook_register(condstore_cmd_pre, condstore_cmd_post);
	condstore_imap_active = TRUE;
}

void condstore_imap_deinit(void)
{
	if (!condstore_imap_active)
		return;
	command_hook_unregister(condstore_cmd_pre, condstore_cmd_post);
	imap_client_created_hook_set(next_hook_client_created);
	condstore_imap_active = FALSE;
}
