/*
 * condstore.h - the maildir-condstore library: everything a host (the
 * condstore command, the watch daemon, the Dovecot plugin) needs.
 */
#ifndef CONDSTORE_H
#define CONDSTORE_H

#include "cs-array.h"
#include "cs-error.h"
#include "cs-escape.h"
#include "cs-name.h"
#include "cs-uidset.h"
#include "cs-record.h"
#include "cs-index.h"
#include "cs-horizon.h"
#include "cs-maildir.h"
#include "cs-check.h"
#include "cs-sync.h"
#include "cs-owner.h"

#endif
