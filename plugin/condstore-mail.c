/*
 * condstore-mail.c - mail vfuncs of the plugin (placeholder).
 */
#include "lib.h"
#include "condstore-plugin.h"

void condstore_mail_allocated(struct mail *mail ATTR_UNUSED)
{
}
