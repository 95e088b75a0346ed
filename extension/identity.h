/*-------------------------------------------------------------------------
 *
 * identity.h
 *	  Who may read personal data, identity events for the audit trail, and
 *	  the dispatcher of trusted routes and mailer functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_IDENTITY_H
#define MACHI_IDENTITY_H

#include "postgres.h"
#include "utils/jsonb.h"

extern bool MachiMayReadPersonalData(int64 owner_account, int32 owner_tenant);
extern void MachiIdentityEvent(const char *type, Jsonb *detail);

#endif							/* MACHI_IDENTITY_H */
