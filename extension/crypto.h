/*-------------------------------------------------------------------------
 *
 * crypto.h
 *	  Encryption of personal data: the master key, per-tenant data keys,
 *	  AEAD sealing of fields and HMAC blind indexes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_CRYPTO_H
#define MACHI_CRYPTO_H

#include "postgres.h"

#define MACHI_KEY_BYTES			32
#define MACHI_BLIND_INDEX_BYTES	32

/* Scope of the data key that seals a row: a tenant id, or the citizen pool. */
#define MACHI_SCOPE_CITIZENS	0

/* Result codes of the crypto module; MachiCryptoThrow maps them to ereport. */
typedef enum MachiCryptoStatus
{
	MACHI_CRYPTO_OK = 0,
	MACHI_CRYPTO_NO_KEY_FILE,	/* machi.master_key_file is not set */
	MACHI_CRYPTO_KEY_FILE_PATH,	/* not absolute, or inside the data directory */
	MACHI_CRYPTO_KEY_FILE_UNREADABLE,
	MACHI_CRYPTO_KEY_FILE_PERMS,	/* group/other may read it, or wrong owner */
	MACHI_CRYPTO_KEY_FILE_FORMAT,	/* not 32 raw bytes nor 64 hex digits */
	MACHI_CRYPTO_WRONG_MASTER,	/* a data key is wrapped by another master key */
	MACHI_CRYPTO_UNWRAP_FAILED,	/* a wrapped data key does not authenticate */
	MACHI_CRYPTO_UNKNOWN_KEY,	/* a ciphertext names a key id that is gone */
	MACHI_CRYPTO_BAD_FORMAT,	/* a ciphertext too short or of another version */
	MACHI_CRYPTO_AUTH_FAILED	/* a ciphertext does not authenticate */
} MachiCryptoStatus;

extern void MachiCryptoInit(void);
extern void MachiCryptoForgetKeys(void);
extern bytea *MachiSeal(int scope, const char *table, int64 row_id,
						const char *column, const char *plain, size_t len);
extern char *MachiOpen(const char *table, int64 row_id, const char *column,
					   bytea *sealed);
extern void MachiBlindIndex(const char *kind, const char *normalised,
							uint8 out[MACHI_BLIND_INDEX_BYTES]);
extern char *MachiNormaliseLogin(const char *kind, const char *value);

#endif							/* MACHI_CRYPTO_H */
