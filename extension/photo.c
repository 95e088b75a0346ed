/*-------------------------------------------------------------------------
 *
 * photo.c
 *	  machi.strip_photo(): the SQL face of the image module (image.c).
 *
 * Citizens' photos arrive as raw request bodies.  The image module decides
 * the type by content, walks the whole structure and writes a copy without
 * any metadata (EXIF with GPS, XMP, comments, PNG text chunks...); this file
 * maps its status codes to errors that api.handle turns into 413/415/422,
 * and returns the clean bytes with their type, size, orientation and
 * SHA-256 (the ETag of the served photo).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include <sodium.h>

#include "image.h"
#include "machi.h"

/*
 * PallocAlloc: the allocator the image module calls (once) for the output;
 * memory of the current (per-call) context.
 */
static void *
PallocAlloc(void *ctx, size_t size)
{
	return palloc(size == 0 ? 1 : size);
}

/*
 * ReportImageError: the one place where image statuses become errors.
 */
static void
ReportImageError(machi_image_status st, size_t max_len)
{
	switch (st)
	{
		case MACHI_IMG_OK:
			return;
		case MACHI_IMG_UNKNOWN_TYPE:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNSUPPORTED_MEDIA),
					 errmsg("a photo must be a JPEG or PNG image"),
					 errdetail("The content is neither, whatever the Content-Type says.")));
			break;
		case MACHI_IMG_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_TOO_LARGE),
					 errmsg("the photo is too large"),
					 errdetail("At most %zu bytes and 65535 pixels in each direction.", max_len)));
			break;
		case MACHI_IMG_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while processing a photo")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("the photo is damaged: %s", machi_image_status_message(st)),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "corrupt_image")));
	}
}

PG_FUNCTION_INFO_V1(machi_strip_photo);

/*
 * machi.strip_photo(data bytea, max_bytes int)
 *	  -> (media_type text, data bytea, width int, height int,
 *		  orientation int, sha256 bytea)
 *
 * Validates a JPEG or PNG by content and returns it without metadata.
 */
Datum
machi_strip_photo(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	int32		max_bytes = PG_GETARG_INT32(1);
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	machi_image_status st;
	bytea	   *clean;
	bytea	   *hash;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "machi.strip_photo must return a record");
	if (max_bytes <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_bytes must be positive")));

	st = machi_image_strip((const unsigned char *) VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in),
						   (size_t) max_bytes, PallocAlloc, NULL, &out, &out_len, &info);
	ReportImageError(st, (size_t) max_bytes);

	clean = palloc(VARHDRSZ + out_len);
	SET_VARSIZE(clean, VARHDRSZ + out_len);
	memcpy(VARDATA(clean), out, out_len);
	hash = palloc(VARHDRSZ + crypto_hash_sha256_BYTES);
	SET_VARSIZE(hash, VARHDRSZ + crypto_hash_sha256_BYTES);
	crypto_hash_sha256((unsigned char *) VARDATA(hash), out, out_len);

	values[0] = CStringGetTextDatum(machi_image_media_type(info.type));
	values[1] = PointerGetDatum(clean);
	values[2] = Int32GetDatum(info.width);
	values[3] = Int32GetDatum(info.height);
	values[4] = Int32GetDatum(info.orientation);
	values[5] = PointerGetDatum(hash);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
