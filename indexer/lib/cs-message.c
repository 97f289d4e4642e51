/*
 * cs-message.c - the terms a message adds to its mailbox's digest and
 * UID sum.  (Looking messages up is cs-msgstore.c's.)
 */
#include "config.h"

#include <string.h>

#include "cs-hash.h"
#include "cs-index-private.h"

uint64_t cs_msg_digest_term(const struct cs_mailbox *box,
			    const struct cs_message *msg)
{
	char name[CS_NAME_MAX + CS_SUFFIX_MAX + 1];
	size_t base_len = strlen(msg->base), suffix_len = msg->rec.suffix_len;
	uint64_t term;

	memcpy(name, msg->base, base_len);
	memcpy(name + base_len, msg->suffix, suffix_len);
	term = cs_digest_term(msg->rec.location, name, base_len + suffix_len);
	if (box->rec.uid_source == CS_UIDSRC_DOVECOT)
		term += cs_msg_uid_term(msg);
	return term;
}

uint64_t cs_msg_uid_term(const struct cs_message *msg)
{
	return cs_uid_term(cs_name_hash(msg->base, strlen(msg->base)),
			   msg->rec.uid);
}
