/*
 * condstore-mailbox.c - mailbox vfuncs of the plugin (placeholder).
 */
#include "lib.h"
#include "condstore-plugin.h"

void condstore_mailbox_allocated(struct mailbox *box ATTR_UNUSED)
{
}
