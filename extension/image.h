/*-------------------------------------------------------------------------
 *
 * image.h
 *	  Photo validation and metadata stripping for uploaded report photos.
 *
 * This module is plain C with no PostgreSQL dependency so that it can be
 * unit-tested and fuzzed on its own; the extension wraps it and maps the
 * status codes below to ereport() calls.
 *
 * Accepted inputs are baseline/progressive JPEG and PNG, identified by their
 * content only.  The output is a structurally equivalent image from which
 * every metadata segment or chunk (EXIF including GPS, XMP, IPTC, ICC
 * profiles, comments, text chunks, timestamps, thumbnails) and any data
 * after the end-of-image marker have been removed.
 *
 * IDENTIFICATION
 *	  extension/image.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_IMAGE_H
#define MACHI_IMAGE_H

#include <stddef.h>

/* Largest width or height accepted, for JPEG and PNG alike. */
#define MACHI_IMG_MAX_DIMENSION 65535

typedef enum
{
	MACHI_IMG_OK = 0,
	MACHI_IMG_UNKNOWN_TYPE,
	MACHI_IMG_TRUNCATED,
	MACHI_IMG_CORRUPT,
	MACHI_IMG_TOO_LARGE,
	MACHI_IMG_NOMEM
} machi_image_status;

typedef enum
{
	MACHI_IMG_NONE = 0,
	MACHI_IMG_JPEG,
	MACHI_IMG_PNG
} machi_image_type;

typedef struct
{
	machi_image_type type;
	int			width;
	int			height;
	int			orientation;	/* EXIF 1..8, 1 if none */
} machi_image_info;

/*
 * Validates `in` by content (magic bytes and a full structural walk) and
 * writes a copy with all metadata removed to a buffer obtained from
 * alloc(ctx, size); *out and *out_len receive it.  The buffer is requested
 * exactly once, only when the input is valid, and is exactly *out_len bytes
 * (never more than len).  The allocator is the caller's (the extension
 * passes a palloc wrapper for its memory context); it may return NULL,
 * which is reported as MACHI_IMG_NOMEM.
 *
 * Inputs longer than max_len are refused with MACHI_IMG_TOO_LARGE before
 * anything else is looked at, as are images wider or higher than
 * MACHI_IMG_MAX_DIMENSION.  Outputs are fixed points: stripping an output
 * again returns identical bytes.
 *
 * On any status other than MACHI_IMG_OK, *out is NULL, *out_len is 0 and
 * nothing needs freeing.  info may be NULL; when given it is always filled
 * (type NONE, sizes 0 and orientation 1 on failure).
 */
extern machi_image_status machi_image_strip(const unsigned char *in,
											size_t len, size_t max_len,
											void *(*alloc) (void *ctx,
															size_t size),
											void *ctx,
											unsigned char **out,
											size_t *out_len,
											machi_image_info *info);

/* Lower-case human-readable message for a status; never NULL. */
extern const char *machi_image_status_message(machi_image_status st);

/* "image/jpeg" or "image/png"; "application/octet-stream" otherwise. */
extern const char *machi_image_media_type(machi_image_type t);

#endif							/* MACHI_IMAGE_H */
