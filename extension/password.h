/*-------------------------------------------------------------------------
 *
 * password.h
 *	  Password hashing (argon2id, legacy bcrypt), rules and generation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_PASSWORD_H
#define MACHI_PASSWORD_H

#include "postgres.h"

#define MACHI_PASSWORD_MAX_CHARS	1024
#define MACHI_GENERATED_PASSWORD_CHARS 20

typedef enum MachiPasswordStatus
{
	MACHI_PASSWORD_OK = 0,
	MACHI_PASSWORD_MISMATCH,	/* verify: wrong password */
	MACHI_PASSWORD_UNKNOWN_FORMAT,	/* verify: not a hash we know */
	MACHI_PASSWORD_TOO_SHORT,
	MACHI_PASSWORD_TOO_LONG,
	MACHI_PASSWORD_INVALID,		/* NUL or invalid UTF-8 */
	MACHI_PASSWORD_CONTAINS_LOGIN,
	MACHI_PASSWORD_TOO_WEAK,
	MACHI_PASSWORD_OUT_OF_MEMORY
} MachiPasswordStatus;

extern MachiPasswordStatus MachiPasswordHash(const char *pw, size_t len, char **hash);
extern MachiPasswordStatus MachiPasswordVerify(const char *hash, const char *pw, size_t len,
											   bool *needs_rehash);
extern void MachiPasswordDummyVerify(const char *pw, size_t len);
extern MachiPasswordStatus MachiPasswordCheck(const char *pw, size_t len, const char *login,
											  bool staff, int *limit, int *score);
extern char *MachiPasswordGenerate(void);

#endif							/* MACHI_PASSWORD_H */
