/*-------------------------------------------------------------------------
 *
 * image_fuzz.c
 *	  libFuzzer target for the photo validation and metadata stripping
 *	  module (extension/image.c).
 *
 * Beyond "no crash, no sanitizer report", every accepted input must give an
 * output that starts with the right signature, ends at EOI/IEND, is no
 * larger than the input, and is a fixed point: stripping it again returns
 * OK with identical bytes and information.  Idempotence also proves that no
 * droppable segment or chunk survived, since it would be removed the second
 * time.
 *
 * PNG chunk CRCs defeat most random mutations, so each PNG input is also
 * tried with every CRC recomputed by the harness; the module itself is
 * fuzzed exactly as built for production.
 *
 * IDENTIFICATION
 *	  fuzz/image_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/*
 * malloc-backed allocator for machi_image_strip.
 *
 * Stands in for palloc.  ctx is unused.
 */
static void *
fuzz_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size ? size : 1);
}

/*
 * Return the PNG CRC-32 of n bytes, bit by bit.
 *
 * Independent of the module's table so a shared bug cannot hide.  Caller
 * guarantees n readable bytes at p.
 */
static uint32_t
bit_crc32(const unsigned char *p, size_t n)
{
	uint32_t	crc = 0xFFFFFFFFu;
	size_t		i;
	int			k;

	for (i = 0; i < n; i++)
	{
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/*
 * Rewrite the CRC of every complete chunk of a PNG in place.
 *
 * Lets mutations reach the chunk-specific checks.  Caller owns n writable
 * bytes at p, which start with the PNG signature.
 */
static void
fix_png_crcs(unsigned char *p, size_t n)
{
	size_t		pos = 8;

	while (n - pos >= 12)
	{
		uint32_t	clen = ((uint32_t) p[pos] << 24) |
		((uint32_t) p[pos + 1] << 16) | ((uint32_t) p[pos + 2] << 8) |
		(uint32_t) p[pos + 3];
		uint32_t	crc;
		unsigned char *c;

		if (n - pos - 12 < clen)
			break;
		c = p + pos + 8 + clen;
		crc = bit_crc32(p + pos + 4, (size_t) clen + 4);
		c[0] = (unsigned char) (crc >> 24);
		c[1] = (unsigned char) (crc >> 16);
		c[2] = (unsigned char) (crc >> 8);
		c[3] = (unsigned char) crc;
		pos += (size_t) clen + 12;
	}
}

/*
 * Strip one input and check the invariants; abort() on any violation.
 *
 * Shared by the raw and the CRC-fixed passes.  Caller guarantees n
 * readable bytes at data.
 */
static void
run_one(const unsigned char *data, size_t n)
{
	unsigned char *out = NULL;
	size_t		out_len = 0;
	unsigned char *out2 = NULL;
	size_t		out2_len = 0;
	machi_image_info info;
	machi_image_info info2;
	machi_image_status st;

	st = machi_image_strip(data, n, n, fuzz_alloc, NULL, &out, &out_len,
						   &info);
	if (st < MACHI_IMG_OK || st > MACHI_IMG_NOMEM ||
		machi_image_status_message(st) == NULL)
		abort();
	if (st != MACHI_IMG_OK)
	{
		if (out != NULL || out_len != 0 || info.type != MACHI_IMG_NONE)
			abort();
		return;
	}

	if (out == NULL || out_len > n || info.width <= 0 || info.height <= 0 ||
		info.width > MACHI_IMG_MAX_DIMENSION ||
		info.height > MACHI_IMG_MAX_DIMENSION ||
		info.orientation < 1 || info.orientation > 8)
		abort();
	if (info.type == MACHI_IMG_JPEG)
	{
		if (out_len < 4 || memcmp(out, "\xFF\xD8\xFF", 3) != 0 ||
			memcmp(out + out_len - 2, "\xFF\xD9", 2) != 0)
			abort();
	}
	else if (info.type == MACHI_IMG_PNG)
	{
		if (out_len < 8 + 12 ||
			memcmp(out, "\x89PNG\r\n\x1A\n", 8) != 0 ||
			memcmp(out + out_len - 12,
				   "\0\0\0\0IEND\xAE\x42\x60\x82", 12) != 0)
			abort();
	}
	else
		abort();

	st = machi_image_strip(out, out_len, out_len, fuzz_alloc, NULL,
						   &out2, &out2_len, &info2);
	if (st != MACHI_IMG_OK || out2_len != out_len ||
		memcmp(out, out2, out_len) != 0 || info2.type != info.type ||
		info2.width != info.width || info2.height != info.height)
		abort();
	free(out);
	free(out2);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libFuzzer entry point.
 *
 * Runs the raw input, and for PNG input also a copy with CRCs fixed.
 * libFuzzer owns data.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_one(data, size);
	if (size >= 8 && memcmp(data, "\x89PNG\r\n\x1A\n", 8) == 0)
	{
		unsigned char *copy = malloc(size);

		if (copy == NULL)
			return 0;
		memcpy(copy, data, size);
		fix_png_crcs(copy, size);
		run_one(copy, size);
		free(copy);
	}
	return 0;
}
