/*-------------------------------------------------------------------------
 *
 * apikey.h
 *	  Open311 API keys: issued per tenant, stored as SHA-256 only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_APIKEY_H
#define MACHI_APIKEY_H

#include "handle.h"

extern void MachiApiKeyAuthenticate(MachiHttpRequest *hr, Jsonb *data, Jsonb *query);

#endif							/* MACHI_APIKEY_H */
