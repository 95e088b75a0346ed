/*-------------------------------------------------------------------------
 *
 * auth.h
 *	  Establishing the caller of an api.handle() request.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_AUTH_H
#define MACHI_AUTH_H

#include "handle.h"

extern void MachiAuthenticate(MachiHttpRequest *hr, const char *route_auth);
extern void MachiAuthRestoreAfterError(MachiHttpRequest *hr);

#endif							/* MACHI_AUTH_H */
