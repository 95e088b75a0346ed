/*-------------------------------------------------------------------------
 *
 * test_image.c
 *	  Unit tests for the photo validation and metadata stripping module.
 *
 * Every image used here is assembled byte by byte in this file: small but
 * decodable baseline and progressive JPEGs, and PNGs with a stored zlib
 * stream.  The "dirty" variants carry EXIF with a GPS IFD, XMP, ICC, IPTC,
 * comments, PNG text/eXIf/tIME chunks and polyglot tails; the tests check
 * that none of it survives, that what remains is exactly the expected
 * image, and that truncated or mutated inputs are refused without any
 * out-of-bounds access (run under ASan/UBSan by the Makefile).
 *
 * Usage:
 *	test_image [FILE...]
 *		run the tests; also check each FILE, which must be a valid image
 *	test_image --write-seeds DIR
 *		write the hand-built sample images (fuzz seeds) to DIR
 *
 * IDENTIFICATION
 *	  tests/image/test_image.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static int	n_pass = 0;
static int	n_fail = 0;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

/*
 * Record one assertion and report it if it failed.
 *
 * Counting every assertion gives the PASS/FAIL summary.  No caller state.
 */
static void
check(bool ok, const char *what, const char *file, int line)
{
	if (ok)
		n_pass++;
	else
	{
		n_fail++;
		fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
	}
}

/* ---------------------------------------------------------------------
 * Growable byte buffer used to assemble images.
 * ---------------------------------------------------------------------
 */
typedef struct
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} buf;

/*
 * Append n bytes to b, growing it as needed.
 *
 * All image builders go through here.  Caller holds a zero-initialised or
 * previously used b; aborts on allocation failure (tests only).
 */
static void
put(buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		size_t		ncap = b->cap ? b->cap * 2 : 256;

		while (ncap < b->len + n)
			ncap *= 2;
		b->data = realloc(b->data, ncap);
		if (b->data == NULL)
			abort();
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/*
 * Append one byte.  Convenience for builders.  Caller holds b.
 */
static void
put8(buf *b, unsigned int v)
{
	unsigned char c = (unsigned char) v;

	put(b, &c, 1);
}

/*
 * Append a 16-bit value, big-endian unless little is set.
 *
 * JPEG is big-endian, TIFF either.  Caller holds b.
 */
static void
put16(buf *b, unsigned int v, bool little)
{
	if (little)
	{
		put8(b, v & 0xFF);
		put8(b, (v >> 8) & 0xFF);
	}
	else
	{
		put8(b, (v >> 8) & 0xFF);
		put8(b, v & 0xFF);
	}
}

/*
 * Append a 32-bit value, big-endian unless little is set.
 *
 * PNG is big-endian, TIFF either.  Caller holds b.
 */
static void
put32(buf *b, uint32_t v, bool little)
{
	if (little)
	{
		put16(b, v & 0xFFFF, true);
		put16(b, v >> 16, true);
	}
	else
	{
		put16(b, v >> 16, false);
		put16(b, v & 0xFFFF, false);
	}
}

/*
 * Append a NUL-terminated string without its terminator.  Caller holds b.
 */
static void
put_str(buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * Release a buffer.  Caller owns b.
 */
static void
buf_free(buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * Return true if needle occurs in the n bytes at hay.
 *
 * Used to prove that metadata bytes are gone.  Caller guarantees n readable
 * bytes at hay.
 */
static bool
contains(const unsigned char *hay, size_t n, const void *needle, size_t m)
{
	size_t		i;

	if (m == 0 || m > n)
		return m == 0;
	for (i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/*
 * Return true if string s occurs in the n bytes at hay.  See contains().
 */
static bool
contains_str(const unsigned char *hay, size_t n, const char *s)
{
	return contains(hay, n, s, strlen(s));
}

/* ---------------------------------------------------------------------
 * Allocator handed to machi_image_strip.
 * ---------------------------------------------------------------------
 */
typedef struct
{
	int			calls;
	size_t		last_size;
	bool		fail;
} alloc_ctx;

/*
 * malloc-backed allocator that records its use and can simulate failure.
 *
 * Lets the tests check that the module asks once for the exact size and
 * handles NULL.  ctx is an alloc_ctx owned by the test.
 */
static void *
test_alloc(void *ctx, size_t size)
{
	alloc_ctx  *a = ctx;

	a->calls++;
	a->last_size = size;
	if (a->fail)
		return NULL;
	return malloc(size ? size : 1);
}

/*
 * Strip in with a fresh allocator context and generous limit.
 *
 * Most tests need just this.  Caller frees *out when non-NULL.
 */
static machi_image_status
strip(const buf *in, unsigned char **out, size_t *out_len,
	  machi_image_info *info)
{
	alloc_ctx	a;
	machi_image_status st;

	memset(&a, 0, sizeof(a));
	st = machi_image_strip(in->data, in->len, 1u << 26, test_alloc, &a,
						   out, out_len, info);
	if (st == MACHI_IMG_OK)
	{
		CHECK(a.calls == 1);
		CHECK(a.last_size == *out_len);
	}
	else
	{
		CHECK(a.calls == 0);
		CHECK(*out == NULL && *out_len == 0);
	}
	return st;
}

/* ---------------------------------------------------------------------
 * CRC-32 for building PNGs: a bitwise implementation, independent of the
 * table-driven one in the module.
 * ---------------------------------------------------------------------
 */

/*
 * Return the CRC-32 (PNG) of n bytes at p, computed bit by bit.
 *
 * Being a different implementation, it cross-checks the module's.  Caller
 * guarantees n readable bytes.
 */
static uint32_t
slow_crc32(const unsigned char *p, size_t n)
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

/* ---------------------------------------------------------------------
 * JPEG builders.
 * ---------------------------------------------------------------------
 */

/*
 * Append a JPEG marker segment with the given body.
 *
 * Caller holds b; n + 2 must fit in 16 bits.
 */
static void
jseg(buf *b, unsigned int marker, const void *body, size_t n)
{
	put8(b, 0xFF);
	put8(b, marker);
	put16(b, (unsigned int) n + 2, false);
	put(b, body, n);
}

/*
 * Build a TIFF/EXIF structure with Make, Orientation and a GPS IFD.
 *
 * The GPS IFD (pointed to by tag 0x8825) holds latitude 35/1 39/1 1234/100
 * N and longitude 139/1 41/1 5678/100 E, so the tests can look for these
 * exact rational bytes in the output.  Caller holds t.
 */
static void
build_tiff(buf *t, bool little, unsigned int orientation)
{
	static const uint32_t lat[6] = {35, 1, 39, 1, 1234, 100};
	static const uint32_t lon[6] = {139, 1, 41, 1, 5678, 100};
	int			i;

	put(t, little ? "II" : "MM", 2);
	put16(t, 42, little);
	put32(t, 8, little);

	/* IFD0 at 8: 3 entries, ends at 50 */
	put16(t, 3, little);
	put16(t, 0x010F, little);	/* Make, ASCII, 11 bytes at 50 */
	put16(t, 2, little);
	put32(t, 11, little);
	put32(t, 50, little);
	put16(t, 0x0112, little);	/* Orientation, SHORT, 1 */
	put16(t, 3, little);
	put32(t, 1, little);
	put16(t, orientation, little);
	put16(t, 0, little);
	put16(t, 0x8825, little);	/* GPS IFD pointer, LONG, at 62 */
	put16(t, 4, little);
	put32(t, 1, little);
	put32(t, 62, little);
	put32(t, 0, little);		/* no IFD1 */

	put(t, "PhoneMaker\0", 11);
	put8(t, 0);					/* pad to 62 */

	/* GPS IFD at 62: 4 entries, ends at 116 */
	put16(t, 4, little);
	put16(t, 0x0001, little);	/* GPSLatitudeRef "N" */
	put16(t, 2, little);
	put32(t, 2, little);
	put(t, "N\0\0\0", 4);
	put16(t, 0x0002, little);	/* GPSLatitude, 3 RATIONAL at 116 */
	put16(t, 5, little);
	put32(t, 3, little);
	put32(t, 116, little);
	put16(t, 0x0003, little);	/* GPSLongitudeRef "E" */
	put16(t, 2, little);
	put32(t, 2, little);
	put(t, "E\0\0\0", 4);
	put16(t, 0x0004, little);	/* GPSLongitude, 3 RATIONAL at 140 */
	put16(t, 5, little);
	put32(t, 3, little);
	put32(t, 140, little);
	put32(t, 0, little);

	for (i = 0; i < 6; i++)
		put32(t, lat[i], little);
	for (i = 0; i < 6; i++)
		put32(t, lon[i], little);
}

/*
 * Return the bytes of the GPS latitude rationals as written by build_tiff.
 *
 * The tests search the output for them.  Caller frees the buffer.
 */
static buf
gps_latitude_bytes(bool little)
{
	buf			b = {0};

	put32(&b, 35, little);
	put32(&b, 1, little);
	put32(&b, 39, little);
	put32(&b, 1, little);
	put32(&b, 1234, little);
	put32(&b, 100, little);
	return b;
}

/* Options for build_jpeg. */
typedef struct
{
	bool		metadata;		/* add JFIF thumbnail, EXIF, XMP, ICC, IPTC,
								 * COM and fill bytes */
	bool		big_endian_exif;
	unsigned int orientation;
	bool		progressive;
	bool		restart;		/* DRI + RSTn in the entropy data */
	bool		expected;		/* build what the stripper should output */
} jpeg_opts;

/*
 * Append a JFIF APP0 segment, optionally with a 1x1 thumbnail.
 *
 * Caller holds b.
 */
static void
jfif(buf *b, bool thumbnail)
{
	buf			s = {0};

	put(&s, "JFIF\0", 5);
	put8(&s, 1);
	put8(&s, 2);
	put8(&s, 1);				/* dots per inch */
	put16(&s, 72, false);
	put16(&s, 72, false);
	put8(&s, thumbnail ? 1 : 0);
	put8(&s, thumbnail ? 1 : 0);
	if (thumbnail)
		put(&s, "\x12\x34\x56", 3);
	jseg(b, 0xE0, s.data, s.len);
	buf_free(&s);
}

/*
 * Append the DHT tables used by every test JPEG.
 *
 * DC table 0: "0" = category 0, "10" = category 8.  AC table 0: "0" = EOB
 * (EOB0 in progressive scans), "10" = run/size 0x01.  Block "A" is flat
 * ("0" "0"); block "B" has a DC difference of +255 ("10" "11111111" "0"),
 * whose eight one-bits, when byte aligned, must be stored as FF 00.  The
 * six blocks of the 48x8 image are A A A B A A.  Caller holds b.
 */
static void
dht(buf *b, bool dc, bool ac)
{
	buf			s = {0};
	int			i;

	if (dc)
	{
		put8(&s, 0x00);
		put8(&s, 1);
		put8(&s, 1);
		for (i = 2; i < 16; i++)
			put8(&s, 0);
		put8(&s, 0x00);
		put8(&s, 0x08);
	}
	if (ac)
	{
		put8(&s, 0x10);
		put8(&s, 1);
		put8(&s, 1);
		for (i = 2; i < 16; i++)
			put8(&s, 0);
		put8(&s, 0x00);
		put8(&s, 0x01);
	}
	jseg(b, 0xC4, s.data, s.len);
	buf_free(&s);
}

/*
 * Build a 48x8 greyscale JPEG (six 8x8 blocks, see dht()).
 *
 * The output decodes with libjpeg without warnings in all variants.
 *
 * With o->expected the exact output the stripper must produce is built
 * instead, so tests can compare byte for byte.  Caller frees the result.
 */
static buf
build_jpeg(const jpeg_opts *o)
{
	buf			b = {0};
	buf			s = {0};
	bool		meta = o->metadata && !o->expected;
	int			i;

	put8(&b, 0xFF);
	put8(&b, 0xD8);

	if (o->expected)
		jfif(&b, false);
	else
		jfif(&b, o->metadata);

	if (meta)
	{
		buf			t = {0};

		put(&s, "Exif\0\0", 6);
		build_tiff(&t, !o->big_endian_exif, o->orientation);
		put(&s, t.data, t.len);
		buf_free(&t);
		jseg(&b, 0xE1, s.data, s.len);
		s.len = 0;

		put_str(&s, "http://ns.adobe.com/xap/1.0/");
		put8(&s, 0);
		put_str(&s, "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:Description "
			  "exif:GPSLatitude='35,39.2N'/></x:xmpmeta>");
		jseg(&b, 0xE1, s.data, s.len);
		s.len = 0;

		put(&s, "ICC_PROFILE\0\1\1", 14);
		put_str(&s, "fake profile of Owner's Phone");
		jseg(&b, 0xE2, s.data, s.len);
		s.len = 0;

		put(&s, "Photoshop 3.0\0", 14);
		put_str(&s, "8BIM\x04\x04 IPTC city Tokyo");
		jseg(&b, 0xED, s.data, s.len);
		s.len = 0;

		put_str(&s, "secret comment: taken at 5 Home Street");
		jseg(&b, 0xFE, s.data, s.len);
		s.len = 0;

		/* fill bytes before the next marker */
		put8(&b, 0xFF);
		put8(&b, 0xFF);
	}

	/* DQT: one 8-bit table of ones */
	put8(&s, 0x00);
	for (i = 0; i < 64; i++)
		put8(&s, 1);
	jseg(&b, 0xDB, s.data, s.len);
	s.len = 0;

	/* SOF: 8-bit, 8 high, 48 wide, one component */
	put8(&s, 8);
	put16(&s, 8, false);
	put16(&s, 48, false);
	put8(&s, 1);
	put8(&s, 1);
	put8(&s, 0x11);
	put8(&s, 0);
	jseg(&b, o->progressive ? 0xC2 : 0xC0, s.data, s.len);
	s.len = 0;

	if (meta)
	{
		put_str(&s, "late comment");
		jseg(&b, 0xFE, s.data, s.len);
		s.len = 0;
	}

	if (o->restart)
	{
		put16(&s, 4, false);	/* restart every 4 MCUs */
		jseg(&b, 0xDD, s.data, s.len);
		s.len = 0;
	}

	if (!o->progressive)
	{
		dht(&b, true, true);
		/* SOS: component 1, tables 0/0, Ss 0, Se 63, Ah/Al 0 */
		put(&s, "\x01\x01\x00\x00\x3F\x00", 6);
		jseg(&b, 0xDA, s.data, s.len);
		s.len = 0;
		if (o->restart)
		{
			/* AAAB = 02 FF(00) 7F, RST0, AA padded with ones = 0F */
			put(&b, "\x02\xFF\x00\x7F\xFF\xD0\x0F", 7);
		}
		else
			put(&b, "\x02\xFF\x00\x07", 4);
	}
	else
	{
		/* DC first scan */
		dht(&b, true, false);
		put(&s, "\x01\x01\x00\x00\x00\x00", 6);
		jseg(&b, 0xDA, s.data, s.len);
		s.len = 0;
		if (o->restart)
			put(&b, "\x17\xFF\x00\xFF\xD0\x3F", 6);
		else
			put(&b, "\x17\xF9", 2);
		/* AC first scan, Ss 1, Se 63, its table defined between scans */
		dht(&b, false, true);
		put(&s, "\x01\x01\x00\x01\x3F\x00", 6);
		jseg(&b, 0xDA, s.data, s.len);
		s.len = 0;
		if (o->restart)
			put(&b, "\x0F\xFF\xD0\x3F", 4);
		else
			put(&b, "\x03", 1);
	}

	if (meta)
	{
		/* fill bytes inside the tail of the entropy-coded data */
		put8(&b, 0xFF);
		put8(&b, 0xFF);
	}
	put8(&b, 0xFF);
	put8(&b, 0xD9);
	buf_free(&s);
	return b;
}

/* ---------------------------------------------------------------------
 * PNG builders.
 * ---------------------------------------------------------------------
 */

/*
 * Append a PNG chunk with a correct CRC.  Caller holds b.
 */
static void
pchunk(buf *b, const char *type, const void *data, size_t n)
{
	size_t		start;

	put32(b, (uint32_t) n, false);
	start = b->len;
	put(b, type, 4);
	put(b, data, n);
	put32(b, slow_crc32(b->data + start, n + 4), false);
}

/*
 * Build a zlib stream holding raw in one stored (uncompressed) block.
 *
 * PNG needs a zlib stream and the tests have no zlib; a stored block is
 * valid and trivially produced.  Caller frees the result; n < 65536.
 */
static buf
zlib_stored(const unsigned char *raw, size_t n)
{
	buf			z = {0};
	uint32_t	s1 = 1;
	uint32_t	s2 = 0;
	size_t		i;

	put8(&z, 0x78);
	put8(&z, 0x01);
	put8(&z, 0x01);				/* BFINAL, stored */
	put16(&z, (unsigned int) n, true);
	put16(&z, (unsigned int) ~n & 0xFFFF, true);
	put(&z, raw, n);
	for (i = 0; i < n; i++)
	{
		s1 = (s1 + raw[i]) % 65521;
		s2 = (s2 + s1) % 65521;
	}
	put32(&z, (s2 << 16) | s1, false);
	return z;
}

/* Options for build_png. */
typedef struct
{
	bool		metadata;		/* text, eXIf, tIME, iCCP, pHYs, ... */
	bool		palette;		/* colour type 3 with PLTE and tRNS */
	bool		expected;		/* build what the stripper should output */
	bool		html_tail;		/* append HTML after IEND */
} png_opts;

/*
 * Build a 2x2 PNG, RGB or palette, with the IDAT split in two chunks.
 *
 * With o->expected the exact output the stripper must produce is built.
 * Caller frees the result.
 */
static buf
build_png(const png_opts *o)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n',
	0x1A, '\n'};
	buf			b = {0};
	buf			s = {0};
	buf			z;
	bool		meta = o->metadata && !o->expected;
	unsigned char raw[14];
	size_t		rawlen;

	put(&b, sig, 8);
	put32(&s, 2, false);
	put32(&s, 2, false);
	put8(&s, 8);
	put8(&s, o->palette ? 3 : 2);
	put8(&s, 0);
	put8(&s, 0);
	put8(&s, 0);
	pchunk(&b, "IHDR", s.data, s.len);
	s.len = 0;

	put32(&s, 45455, false);
	pchunk(&b, "gAMA", s.data, s.len);
	s.len = 0;

	if (meta)
	{
		buf			t = {0};

		put(&s, "GPS\0" "35.6,139.7", 14);
		pchunk(&b, "tEXt", s.data, s.len);
		s.len = 0;
		put(&s, "Comment\0\0xx-not-really-zlib", 27);
		pchunk(&b, "zTXt", s.data, s.len);
		s.len = 0;
		put(&s, "XML:com.adobe.xmp\0\0\0\0\0", 22);
		put_str(&s, "<x:xmpmeta xmlns:x='http://ns.adobe.com/xap/1.0/'/>");
		pchunk(&b, "iTXt", s.data, s.len);
		s.len = 0;
		build_tiff(&t, false, 6);
		pchunk(&b, "eXIf", t.data, t.len);
		buf_free(&t);
		put(&s, "\x07\xE6\x05\x11\x0C\x22\x38", 7);
		pchunk(&b, "tIME", s.data, s.len);
		s.len = 0;
		put(&s, "Owner ICC\0\0xx", 13);
		pchunk(&b, "iCCP", s.data, s.len);
		s.len = 0;
		put(&s, "\0\0\x0B\x13\0\0\x0B\x13\x01", 9);
		pchunk(&b, "pHYs", s.data, s.len);
		s.len = 0;
		put(&s, "private", 7);
		pchunk(&b, "prVt", s.data, s.len);
		s.len = 0;
		/* a second gAMA is ignored by decoders and dropped */
		put32(&s, 100000, false);
		pchunk(&b, "gAMA", s.data, s.len);
		s.len = 0;
	}

	if (o->palette)
	{
		put(&s, "\x00\x00\x00\xFF\x80\x00", 6);
		pchunk(&b, "PLTE", s.data, s.len);
		s.len = 0;
		put8(&s, 0x80);
		pchunk(&b, "tRNS", s.data, s.len);
		s.len = 0;
		/* rows: filter 0, two palette indices */
		memcpy(raw, "\x00\x00\x01\x00\x01\x00", 6);
		rawlen = 6;
	}
	else
	{
		memcpy(raw, "\x00\xFF\x00\x00\x00\xFF\x00"
			   "\x00\x00\x00\xFF\x80\x80\x80", 14);
		rawlen = 14;
	}

	z = zlib_stored(raw, rawlen);
	pchunk(&b, "IDAT", z.data, 5);
	pchunk(&b, "IDAT", z.data + 5, z.len - 5);
	buf_free(&z);

	if (meta)
	{
		put(&s, "Author\0Jane Citizen", 19);
		pchunk(&b, "tEXt", s.data, s.len);
		s.len = 0;
	}
	pchunk(&b, "IEND", NULL, 0);
	if (o->html_tail && !o->expected)
		put_str(&b, "<html><body><script>alert(1)</script></body></html>");
	buf_free(&s);
	return b;
}

/*
 * Return true if p/n is a sequence of PNG chunks with valid CRCs ending at
 * IEND, checked with the test's own CRC.
 *
 * Proves the stripper's output is well formed.  Caller guarantees n
 * readable bytes.
 */
static bool
png_chunks_valid(const unsigned char *p, size_t n)
{
	size_t		pos = 8;

	if (n < 8 || memcmp(p, "\x89PNG\r\n\x1A\n", 8) != 0)
		return false;
	while (n - pos >= 12)
	{
		uint32_t	clen = ((uint32_t) p[pos] << 24) | (p[pos + 1] << 16) |
		(p[pos + 2] << 8) | p[pos + 3];
		uint32_t	crc;
		const unsigned char *c;

		if (n - pos - 12 < clen)
			return false;
		c = p + pos + 8 + clen;
		crc = ((uint32_t) c[0] << 24) | (c[1] << 16) | (c[2] << 8) | c[3];
		if (slow_crc32(p + pos + 4, clen + 4) != crc)
			return false;
		if (memcmp(p + pos + 4, "IEND", 4) == 0)
			return pos + 12 + clen == n;
		pos += 12 + clen;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Generic properties.
 * ---------------------------------------------------------------------
 */

/*
 * Check the properties every successful output must have.
 *
 * Output starts with the right signature, ends at EOI/IEND, is no larger
 * than the input, and stripping it again is an identity with the same info.
 * Caller passes a successful result of machi_image_strip.
 */
static void
check_output(const unsigned char *in, size_t in_len,
			 const unsigned char *out, size_t out_len,
			 const machi_image_info *info)
{
	buf			o = {0};
	unsigned char *out2 = NULL;
	size_t		out2_len = 0;
	machi_image_info info2;

	CHECK(out_len <= in_len);
	(void) in;
	if (info->type == MACHI_IMG_JPEG)
	{
		CHECK(out_len >= 4 && memcmp(out, "\xFF\xD8\xFF", 3) == 0);
		CHECK(out_len >= 4 && memcmp(out + out_len - 2, "\xFF\xD9", 2) == 0);
	}
	else
	{
		CHECK(info->type == MACHI_IMG_PNG);
		CHECK(png_chunks_valid(out, out_len));
	}
	CHECK(info->width > 0 && info->height > 0);
	CHECK(info->orientation >= 1 && info->orientation <= 8);

	put(&o, out, out_len);
	CHECK(strip(&o, &out2, &out2_len, &info2) == MACHI_IMG_OK);
	CHECK(out2_len == out_len && out2 != NULL &&
		  memcmp(out2, out, out_len) == 0);
	CHECK(info2.type == info->type && info2.width == info->width &&
		  info2.height == info->height);
	free(out2);
	buf_free(&o);
}

/*
 * Assert that every proper prefix of a valid image is refused.
 *
 * A cut anywhere must give TRUNCATED or CORRUPT (UNKNOWN_TYPE for the empty
 * input), never OK, never a crash.  Caller passes an image without data
 * after its end marker.
 */
static void
check_truncations(const buf *img)
{
	size_t		cut;
	int			bad = 0;

	for (cut = 0; cut < img->len; cut++)
	{
		buf			t = {0};
		unsigned char *out = NULL;
		size_t		out_len = 0;
		machi_image_status st;

		put(&t, img->data, cut);
		st = strip(&t, &out, &out_len, NULL);
		if (cut == 0 ? st != MACHI_IMG_UNKNOWN_TYPE :
			(st != MACHI_IMG_TRUNCATED && st != MACHI_IMG_CORRUPT))
		{
			fprintf(stderr, "truncation at %zu gave %d\n", cut, (int) st);
			bad++;
		}
		free(out);
		buf_free(&t);
	}
	CHECK(bad == 0);
}

/*
 * Mutate every byte of a valid image (several values) and check outputs.
 *
 * Any input the module accepts must still satisfy check_output; the rest
 * must simply be refused.  Run under the sanitizers, this exercises every
 * bounds check along the valid paths.  Caller passes a valid image.
 */
static void
check_mutations(const buf *img)
{
	static const unsigned char vals[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xD9,
	0xDA, 0xFE, 0xFF};
	size_t		i;
	size_t		k;
	int			wrong = 0;

	for (i = 0; i < img->len; i++)
	{
		for (k = 0; k < sizeof(vals) + 1; k++)
		{
			buf			t = {0};
			unsigned char *out = NULL;
			size_t		out_len = 0;
			machi_image_info info;
			machi_image_status st;
			int			before = n_fail;

			put(&t, img->data, img->len);
			if (k < sizeof(vals))
				t.data[i] = vals[k];
			else
				t.data[i] ^= 0x01;
			st = strip(&t, &out, &out_len, &info);
			if (st == MACHI_IMG_OK)
				check_output(t.data, t.len, out, out_len, &info);
			else if (st < MACHI_IMG_UNKNOWN_TYPE || st > MACHI_IMG_TOO_LARGE)
				n_fail++;
			if (n_fail != before)
				wrong++;
			free(out);
			buf_free(&t);
		}
	}
	CHECK(wrong == 0);
}

/* ---------------------------------------------------------------------
 * Tests.
 * ---------------------------------------------------------------------
 */

/*
 * A JPEG full of metadata comes out exactly as the clean expected image.
 *
 * Covers EXIF (II and MM) with GPS IFD and orientation, XMP, ICC, IPTC, COM,
 * JFIF thumbnail and fill bytes.  No caller state.
 */
static void
test_jpeg_metadata(bool big_endian, unsigned int orientation,
				   int expect_orientation)
{
	jpeg_opts	o = {0};
	buf			in;
	buf			exp;
	buf			lat;
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;

	o.metadata = true;
	o.big_endian_exif = big_endian;
	o.orientation = orientation;
	in = build_jpeg(&o);
	o.expected = true;
	exp = build_jpeg(&o);
	lat = gps_latitude_bytes(!big_endian);

	/* the input really carries what we want to see removed */
	CHECK(contains_str(in.data, in.len, "Exif"));
	CHECK(contains(in.data, in.len, lat.data, lat.len));

	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(info.type == MACHI_IMG_JPEG);
	CHECK(info.width == 48 && info.height == 8);
	CHECK(info.orientation == expect_orientation);
	CHECK(out_len == exp.len && out != NULL &&
		  memcmp(out, exp.data, exp.len) == 0);
	CHECK(!contains_str(out, out_len, "Exif"));
	CHECK(!contains(out, out_len, lat.data, lat.len));
	CHECK(!contains_str(out, out_len, "PhoneMaker"));
	CHECK(!contains_str(out, out_len, "http://ns.adobe.com/xap"));
	CHECK(!contains_str(out, out_len, "GPSLatitude"));
	CHECK(!contains_str(out, out_len, "secret comment"));
	CHECK(!contains_str(out, out_len, "late comment"));
	CHECK(!contains_str(out, out_len, "ICC_PROFILE"));
	CHECK(!contains_str(out, out_len, "Photoshop"));
	CHECK(!contains(out, out_len, "\x12\x34\x56", 3));	/* thumbnail */
	CHECK(contains_str(out, out_len, "JFIF"));
	if (out != NULL)
		check_output(in.data, in.len, out, out_len, &info);
	free(out);
	buf_free(&in);
	buf_free(&exp);
	buf_free(&lat);
}

/*
 * Clean, progressive and restart-interval JPEGs pass through unchanged.
 *
 * Checks multi-scan walking, DHT between scans, stuffed bytes and RSTn in
 * entropy data, and that refusal of every truncation and survival of
 * byte mutations hold for each.  No caller state.
 */
static void
test_jpeg_variants(void)
{
	int			v;

	for (v = 0; v < 4; v++)
	{
		jpeg_opts	o = {0};
		buf			in;
		unsigned char *out = NULL;
		size_t		out_len = 0;
		machi_image_info info;

		o.progressive = (v == 1 || v == 3);
		o.restart = (v == 2 || v == 3);
		in = build_jpeg(&o);
		CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
		CHECK(out_len == in.len && out != NULL &&
			  memcmp(out, in.data, in.len) == 0);
		CHECK(info.width == 48 && info.height == 8 && info.orientation == 1);
		free(out);
		check_truncations(&in);
		check_mutations(&in);
		buf_free(&in);
	}
	{
		jpeg_opts	o = {0};
		buf			in;

		o.metadata = true;
		o.orientation = 3;
		in = build_jpeg(&o);
		check_truncations(&in);
		check_mutations(&in);
		buf_free(&in);
	}
}

/*
 * Fill bytes inside entropy-coded data are accepted and kept verbatim.
 *
 * A run of 0xFF before a stuffed zero or an RSTn marker is legal (the extra
 * bytes are fill) and libjpeg decodes it; refusing or rewriting it would
 * break such photos.  No caller state.
 */
static void
test_jpeg_entropy_fill(void)
{
	jpeg_opts	o = {0};
	buf			in;
	buf			t = {0};
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	static const unsigned char plain[] = {0x02, 0xFF, 0x00, 0x7F, 0xFF, 0xD0,
	0x0F};
	static const unsigned char filled[] = {0x02, 0xFF, 0xFF, 0x00, 0x7F,
	0xFF, 0xFF, 0xFF, 0xD0, 0x0F};
	size_t		i;
	size_t		at = 0;

	o.restart = true;
	in = build_jpeg(&o);
	for (i = 0; i + sizeof(plain) <= in.len; i++)
		if (memcmp(in.data + i, plain, sizeof(plain)) == 0)
			at = i;
	CHECK(at != 0);
	put(&t, in.data, at);
	put(&t, filled, sizeof(filled));
	put(&t, in.data + at + sizeof(plain), in.len - at - sizeof(plain));
	CHECK(strip(&t, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(out_len == t.len && out != NULL &&
		  memcmp(out, t.data, t.len) == 0);
	free(out);
	check_truncations(&t);
	buf_free(&t);
	buf_free(&in);
}

/*
 * Anything appended after EOI is cut off (JPEG+ZIP, JPEG+HTML).
 *
 * Polyglots must not survive in stored photos.  No caller state.
 */
static void
test_jpeg_polyglot(void)
{
	static const char *tails[] = {
		"PK\x03\x04\x14\0\0\0\0\0payload.txtPK\x05\x06",
		"<html><script>alert(document.cookie)</script></html>",
		"\xFF\xD8\xFF\xE1 second image",
	};
	size_t		i;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
	{
		jpeg_opts	o = {0};
		buf			in;
		buf			clean;
		unsigned char *out = NULL;
		size_t		out_len = 0;
		machi_image_info info;

		clean = build_jpeg(&o);
		in = build_jpeg(&o);
		put_str(&in, tails[i]);
		CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
		CHECK(out_len == clean.len && out != NULL &&
			  memcmp(out, clean.data, clean.len) == 0);
		CHECK(!contains_str(out, out_len, "PK"));
		CHECK(!contains_str(out, out_len, "<html>"));
		free(out);
		buf_free(&in);
		buf_free(&clean);
	}
}

/*
 * Replace bytes at offset off of a copy of a clean JPEG, strip, return
 * the status.
 *
 * Helper for the hand-written corruption cases.  off + n must lie inside
 * the clean image.
 */
static machi_image_status
jpeg_patched(size_t off, const void *bytes, size_t n)
{
	jpeg_opts	o = {0};
	buf			in = build_jpeg(&o);
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_status st;

	memcpy(in.data + off, bytes, n);
	st = strip(&in, &out, &out_len, NULL);
	free(out);
	buf_free(&in);
	return st;
}

/*
 * Locate a marker in the clean JPEG.
 *
 * The corruption cases patch specific segments.  Returns the offset of
 * the 0xFF, or 0 if absent.
 */
static size_t
jpeg_find(unsigned int marker)
{
	jpeg_opts	o = {0};
	buf			in = build_jpeg(&o);
	size_t		i;
	size_t		at = 0;

	for (i = 2; i + 1 < in.len; i++)
		if (in.data[i] == 0xFF && in.data[i + 1] == marker)
		{
			at = i;
			break;
		}
	buf_free(&in);
	return at;
}

/*
 * Hand-written malformed JPEGs are refused with the right status.
 *
 * Covers bad lengths, bad markers, bad frame and scan headers, missing
 * frame or scan, missing EOI.  No caller state.
 */
static void
test_jpeg_corrupt(void)
{
	size_t		dqt = jpeg_find(0xDB);
	size_t		sof = jpeg_find(0xC0);
	size_t		sos = jpeg_find(0xDA);
	size_t		dht_at = jpeg_find(0xC4);
	unsigned char *out = NULL;
	size_t		out_len = 0;
	buf			b = {0};

	CHECK(dqt && sof && sos && dht_at);
	/* segment length below 2, 0, and past the end */
	CHECK(jpeg_patched(dqt + 2, "\x00\x01", 2) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(dqt + 2, "\x00\x00", 2) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(dqt + 2, "\xFF\xFF", 2) == MACHI_IMG_TRUNCATED);
	/* DQT length that no longer matches its tables */
	CHECK(jpeg_patched(dqt + 2, "\x00\x44", 2) == MACHI_IMG_CORRUPT);
	/* DQT precision/table id out of range */
	CHECK(jpeg_patched(dqt + 4, "\x24", 1) == MACHI_IMG_CORRUPT);
	/* width 0, height 0 */
	CHECK(jpeg_patched(sof + 5, "\x00\x00", 2) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 7, "\x00\x00", 2) == MACHI_IMG_CORRUPT);
	/* precision 9, sampling factor 0, 0 components */
	CHECK(jpeg_patched(sof + 4, "\x09", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 11, "\x01", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 9, "\x00", 1) == MACHI_IMG_CORRUPT);
	/* SOF turned into DNL, JPG, DHP, JPG7 (JPEG-LS), reserved 0x02 */
	CHECK(jpeg_patched(sof + 1, "\xDC", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 1, "\xC8", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 1, "\xDE", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 1, "\xF7", 1) == MACHI_IMG_CORRUPT);
	/* differential (hierarchical-only) frames */
	CHECK(jpeg_patched(sof + 1, "\xC5", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 1, "\xCF", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sof + 1, "\x02", 1) == MACHI_IMG_CORRUPT);
	/* SOF dropped (turned into a COM): scan without frame */
	CHECK(jpeg_patched(sof + 1, "\xFE", 1) == MACHI_IMG_CORRUPT);
	/* SOS naming a component the frame lacks; Ns 0; Se 64 */
	CHECK(jpeg_patched(sos + 5, "\x07", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sos + 4, "\x00", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(sos + 8, "\x40", 1) == MACHI_IMG_CORRUPT);
	/* SOS turned into COM: EOI without scan */
	CHECK(jpeg_patched(sos + 1, "\xFE", 1) == MACHI_IMG_CORRUPT);
	/* DHT class 2, counts claiming more values than present */
	CHECK(jpeg_patched(dht_at + 4, "\x20", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(dht_at + 5, "\x09", 1) == MACHI_IMG_CORRUPT);
	/* a second SOI; a stray byte between segments; 0xFF00 as marker */
	CHECK(jpeg_patched(dqt + 1, "\xD8", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(dqt, "\x00", 1) == MACHI_IMG_CORRUPT);
	CHECK(jpeg_patched(dqt + 1, "\x00", 1) == MACHI_IMG_CORRUPT);

	/* two frames */
	{
		jpeg_opts	o = {0};
		buf			in = build_jpeg(&o);
		buf			t = {0};
		size_t		seglen;

		seglen = 2 + (((size_t) in.data[sof + 2] << 8) | in.data[sof + 3]);

		put(&t, in.data, sof + seglen);
		put(&t, in.data + sof, in.len - sof);
		CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
		buf_free(&t);
		/* EOI missing, replaced by another marker's prefix */
		put(&t, in.data, in.len - 2);
		CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_TRUNCATED);
		put(&t, "\xFF\xFF\xFF", 3);
		CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_TRUNCATED);
		buf_free(&t);
		buf_free(&in);
	}

	/* SOI followed directly by EOI */
	put(&b, "\xFF\xD8\xFF\xD9", 4);
	CHECK(strip(&b, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&b);
}

/*
 * EXIF orientation edge cases.
 *
 * Orientation out of range gives 1; broken EXIF is dropped without failing
 * the image; an image without EXIF has orientation 1.  No caller state.
 */
static void
test_jpeg_orientation(void)
{
	jpeg_opts	o = {0};
	buf			in;
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	size_t		i;
	size_t		exif = 0;

	test_jpeg_metadata(false, 6, 6);
	test_jpeg_metadata(true, 8, 8);
	test_jpeg_metadata(false, 1, 1);
	test_jpeg_metadata(true, 9, 1);
	test_jpeg_metadata(false, 0, 1);

	/* IFD0 offset pointing outside the TIFF data */
	o.metadata = true;
	o.orientation = 6;
	in = build_jpeg(&o);
	for (i = 0; i + 4 < in.len; i++)
		if (memcmp(in.data + i, "Exif", 4) == 0)
		{
			exif = i;
			break;
		}
	CHECK(exif != 0);
	in.data[exif + 6 + 4] = 0xF0;
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(info.orientation == 1);
	CHECK(!contains_str(out, out_len, "Exif"));
	free(out);
	out = NULL;
	/* huge IFD entry count */
	in.data[exif + 6 + 4] = 8;
	in.data[exif + 6 + 8] = 0xFF;
	in.data[exif + 6 + 9] = 0xFF;
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(info.orientation == 1);
	free(out);
	out = NULL;
	/* not a TIFF header */
	in.data[exif + 6] = 'X';
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(info.orientation == 1);
	free(out);
	buf_free(&in);
}

/*
 * A PNG full of metadata comes out exactly as the clean expected image.
 *
 * Covers tEXt, zTXt, iTXt, eXIf (orientation read), tIME, iCCP, pHYs,
 * private and duplicate chunks, text after IDAT and HTML after IEND.  No
 * caller state.
 */
static void
test_png_metadata(void)
{
	int			v;

	for (v = 0; v < 2; v++)
	{
		png_opts	o = {0};
		buf			in;
		buf			exp;
		unsigned char *out = NULL;
		size_t		out_len = 0;
		machi_image_info info;

		o.metadata = true;
		o.html_tail = true;
		o.palette = (v == 1);
		in = build_png(&o);
		o.expected = true;
		exp = build_png(&o);

		CHECK(contains_str(in.data, in.len, "GPS"));
		CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
		CHECK(info.type == MACHI_IMG_PNG);
		CHECK(info.width == 2 && info.height == 2);
		CHECK(info.orientation == 6);
		CHECK(out_len == exp.len && out != NULL &&
			  memcmp(out, exp.data, exp.len) == 0);
		CHECK(png_chunks_valid(out, out_len));
		CHECK(!contains_str(out, out_len, "GPS"));
		CHECK(!contains_str(out, out_len, "35.6"));
		CHECK(!contains_str(out, out_len, "tEXt"));
		CHECK(!contains_str(out, out_len, "zTXt"));
		CHECK(!contains_str(out, out_len, "iTXt"));
		CHECK(!contains_str(out, out_len, "eXIf"));
		CHECK(!contains_str(out, out_len, "tIME"));
		CHECK(!contains_str(out, out_len, "iCCP"));
		CHECK(!contains_str(out, out_len, "prVt"));
		CHECK(!contains_str(out, out_len, "PhoneMaker"));
		CHECK(!contains_str(out, out_len, "Jane Citizen"));
		CHECK(!contains_str(out, out_len, "<html>"));
		CHECK(contains_str(out, out_len, "gAMA"));
		CHECK(v == 0 || contains_str(out, out_len, "tRNS"));
		if (out != NULL)
			check_output(in.data, in.len, out, out_len, &info);
		free(out);

		/* truncations and mutations of the image without its tail */
		buf_free(&in);
		o.expected = false;
		o.html_tail = false;
		in = build_png(&o);
		check_truncations(&in);
		check_truncations(&exp);
		check_mutations(&exp);
		buf_free(&in);
		buf_free(&exp);
	}
}

/*
 * Return a copy of the clean RGB PNG with one chunk's bytes replaced.
 *
 * Offsets are relative to the start of the named chunk's length field; the
 * CRC is recomputed unless keep_crc.  Caller frees the result.
 */
static buf
png_patched(const char *type, size_t off, const void *bytes, size_t n,
			bool keep_crc)
{
	png_opts	o = {0};
	buf			in = build_png(&o);
	size_t		pos = 8;

	while (pos + 12 <= in.len)
	{
		uint32_t	clen = ((uint32_t) in.data[pos] << 24) |
		(in.data[pos + 1] << 16) | (in.data[pos + 2] << 8) | in.data[pos + 3];

		if (memcmp(in.data + pos + 4, type, 4) == 0)
		{
			memcpy(in.data + pos + off, bytes, n);
			if (!keep_crc)
			{
				uint32_t	crc = slow_crc32(in.data + pos + 4, clen + 4);
				unsigned char *c = in.data + pos + 8 + clen;

				c[0] = crc >> 24;
				c[1] = crc >> 16;
				c[2] = crc >> 8;
				c[3] = crc;
			}
			break;
		}
		pos += 12 + clen;
	}
	return in;
}

/*
 * Strip a patched PNG and return the status.  See png_patched.
 */
static machi_image_status
png_patched_status(const char *type, size_t off, const void *bytes, size_t n,
				   bool keep_crc)
{
	buf			in = png_patched(type, off, bytes, n, keep_crc);
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_status st;

	st = strip(&in, &out, &out_len, NULL);
	free(out);
	buf_free(&in);
	return st;
}

/*
 * Hand-written malformed PNGs are refused with the right status.
 *
 * Covers CRC, lengths, IHDR fields, chunk order, unknown critical chunks,
 * IEND contents and the zlib header.  No caller state.
 */
static void
test_png_corrupt(void)
{
	png_opts	o = {0};
	buf			in = build_png(&o);
	buf			t = {0};
	unsigned char *out = NULL;
	size_t		out_len = 0;
	size_t		first_idat;

	/* CRC wrong in a critical and in an ancillary (dropped) chunk */
	CHECK(png_patched_status("IHDR", 8, "\x00\x00\x00\x03", 4, true) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("gAMA", 8, "\x00\x00\x00\x01", 4, true) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IEND", 8, "\0\0\0\0", 4, true) ==
		  MACHI_IMG_CORRUPT);
	/* length above 2^31-1; length past the end */
	CHECK(png_patched_status("gAMA", 0, "\x80\x00\x00\x04", 4, true) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("gAMA", 0, "\x7F\xFF\xFF\xFF", 4, true) ==
		  MACHI_IMG_TRUNCATED);
	CHECK(png_patched_status("gAMA", 0, "\x00\x00\x00\x05", 4, true) ==
		  MACHI_IMG_CORRUPT);
	/* IHDR: width 0, height 0, too wide, depth 3, colour type 5, RGB 4-bit,
	 * compression 1, filter 1, interlace 2 */
	CHECK(png_patched_status("IHDR", 8, "\0\0\0\0", 4, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 12, "\0\0\0\0", 4, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 8, "\x00\x01\x00\x00", 4, false) ==
		  MACHI_IMG_TOO_LARGE);
	CHECK(png_patched_status("IHDR", 8, "\x80\x00\x00\x00", 4, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 16, "\x03", 1, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 17, "\x05", 1, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 16, "\x04", 1, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 18, "\x01", 1, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 19, "\x01", 1, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IHDR", 20, "\x02", 1, false) ==
		  MACHI_IMG_CORRUPT);
	/* palette colour type without PLTE */
	CHECK(png_patched_status("IHDR", 17, "\x03", 1, false) ==
		  MACHI_IMG_CORRUPT);
	/* IHDR not first (gAMA renamed to a second IHDR is also covered) */
	CHECK(png_patched_status("IHDR", 4, "IHDx", 4, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("gAMA", 4, "IHDR", 4, false) ==
		  MACHI_IMG_CORRUPT);
	/* unknown critical chunk; bad type characters */
	CHECK(png_patched_status("gAMA", 4, "GAMA", 4, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("gAMA", 4, "g4MA", 4, false) ==
		  MACHI_IMG_CORRUPT);
	/* zlib header: wrong method, wrong check bits, preset dictionary */
	CHECK(png_patched_status("IDAT", 8, "\x79\x01", 2, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IDAT", 8, "\x78\x02", 2, false) ==
		  MACHI_IMG_CORRUPT);
	CHECK(png_patched_status("IDAT", 8, "\x78\x20", 2, false) ==
		  MACHI_IMG_CORRUPT);

	/* no IDAT: IHDR, gAMA, IEND */
	first_idat = 8 + 25 + 16;
	put(&t, in.data, first_idat);
	put(&t, in.data + in.len - 12, 12);
	CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&t);

	/* IDAT chunks separated by another chunk */
	{
		size_t		idat1_len = 12 + 5;

		put(&t, in.data, first_idat + idat1_len);
		pchunk(&t, "tEXt", "a\0b", 3);
		put(&t, in.data + first_idat + idat1_len,
			in.len - first_idat - idat1_len);
		CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
		buf_free(&t);
	}

	/* IEND with data; IEND missing; PLTE in an RGB image after IDAT */
	put(&t, in.data, in.len - 12);
	pchunk(&t, "IEND", "x", 1);
	CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&t);
	put(&t, in.data, in.len - 12);
	CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_TRUNCATED);
	pchunk(&t, "PLTE", "\0\0\0", 3);
	CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&t);

	/* greyscale image with a PLTE */
	{
		buf			g = png_patched("IHDR", 17, "\x00", 1, false);

		put(&t, g.data, 8 + 25);
		pchunk(&t, "PLTE", "\0\0\0", 3);
		put(&t, g.data + 8 + 25, g.len - 8 - 25);
		CHECK(strip(&t, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
		buf_free(&t);
		buf_free(&g);
	}
	buf_free(&in);
}

/*
 * Start a 2x2 PNG of the given colour type and depth: signature and IHDR.
 *
 * Building blocks for the ancillary chunk tests; finish with png_finish.
 * Caller frees the result.
 */
static buf
png_start(unsigned int colour, unsigned int depth)
{
	buf			b = {0};
	buf			s = {0};

	put(&b, "\x89PNG\r\n\x1A\n", 8);
	put32(&s, 2, false);
	put32(&s, 2, false);
	put8(&s, depth);
	put8(&s, colour);
	put8(&s, 0);
	put8(&s, 0);
	put8(&s, 0);
	pchunk(&b, "IHDR", s.data, s.len);
	buf_free(&s);
	return b;
}

/*
 * Append IDAT holding 2x2 pixels of the given colour type and depth, then
 * IEND.
 *
 * The module does not inflate IDAT, but the seeds written from these
 * images are also decoded by decode_check, so the data must be right.
 * Palette images get index 0 everywhere.  Caller holds b.
 */
static void
png_finish(buf *b, unsigned int colour, unsigned int depth)
{
	static const unsigned int channels[7] = {1, 0, 3, 1, 2, 0, 4};
	unsigned char raw[2 * (1 + 16)];
	size_t		rowbytes = (2 * channels[colour] * depth + 7) / 8;
	size_t		n = 0;
	size_t		y;
	size_t		x;
	buf			z;

	for (y = 0; y < 2; y++)
	{
		raw[n++] = 0;			/* filter: none */
		for (x = 0; x < rowbytes; x++)
			raw[n++] = (colour == 3) ? 0 : (unsigned char) (0x10 * (x + 1) + y);
	}
	z = zlib_stored(raw, n);
	pchunk(b, "IDAT", z.data, z.len);
	pchunk(b, "IEND", NULL, 0);
	buf_free(&z);
}

/*
 * Rendering-relevant ancillary chunks are kept when valid, dropped when not.
 *
 * Checks sRGB, cHRM, sBIT and tRNS for several colour types, first-wins
 * for duplicates, and ordering rules relative to PLTE and IDAT.  No caller
 * state.
 */
static void
test_png_ancillary(void)
{
	static const unsigned char chrm[32] = {0, 0, 0x7A, 0x26};
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	buf			in;
	buf			exp;

	/* greyscale 8-bit: all kinds kept, broken and duplicate ones dropped */
	in = png_start(0, 8);
	exp = png_start(0, 8);
	pchunk(&in, "sRGB", "\x00", 1);
	pchunk(&exp, "sRGB", "\x00", 1);
	pchunk(&in, "sRGB", "\x01", 1);
	pchunk(&in, "cHRM", chrm, 31);
	pchunk(&in, "cHRM", chrm, 32);
	pchunk(&exp, "cHRM", chrm, 32);
	pchunk(&in, "gAMA", "\0\0\0\0", 4);
	pchunk(&in, "sBIT", "\x09", 1);
	pchunk(&in, "sBIT", "\x00", 1);
	pchunk(&in, "sBIT", "\x05", 1);
	pchunk(&exp, "sBIT", "\x05", 1);
	pchunk(&in, "sBIT", "\x06", 1);
	pchunk(&in, "tRNS", "\x00\x10\x00", 3);
	pchunk(&in, "tRNS", "\x00\x10", 2);
	pchunk(&exp, "tRNS", "\x00\x10", 2);
	pchunk(&in, "tRNS", "\x00\x20", 2);
	pchunk(&in, "bKGD", "\x00\x10", 2);
	png_finish(&in, 0, 8);
	png_finish(&exp, 0, 8);
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(out_len == exp.len && out != NULL &&
		  memcmp(out, exp.data, exp.len) == 0);
	free(out);
	out = NULL;
	buf_free(&in);
	buf_free(&exp);

	/* sRGB value out of range; RGB tRNS; RGBA tRNS is never allowed */
	in = png_start(2, 8);
	exp = png_start(2, 8);
	pchunk(&in, "sRGB", "\x04", 1);
	pchunk(&in, "sBIT", "\x08\x08\x08", 3);
	pchunk(&exp, "sBIT", "\x08\x08\x08", 3);
	pchunk(&in, "tRNS", "\0\1\0\2\0\3", 6);
	pchunk(&exp, "tRNS", "\0\1\0\2\0\3", 6);
	png_finish(&in, 2, 8);
	png_finish(&exp, 2, 8);
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(out_len == exp.len && out != NULL &&
		  memcmp(out, exp.data, exp.len) == 0);
	free(out);
	out = NULL;
	buf_free(&in);
	buf_free(&exp);

	in = png_start(6, 8);
	exp = png_start(6, 8);
	pchunk(&in, "tRNS", "\0\1\0\2\0\3", 6);
	png_finish(&in, 6, 8);
	png_finish(&exp, 6, 8);
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(out_len == exp.len && out != NULL &&
		  memcmp(out, exp.data, exp.len) == 0);
	free(out);
	out = NULL;
	buf_free(&in);
	buf_free(&exp);

	/*
	 * palette: gAMA after PLTE and tRNS longer than the palette are
	 * dropped, ancillary chunks after IDAT too
	 */
	in = png_start(3, 8);
	exp = png_start(3, 8);
	pchunk(&in, "PLTE", "\0\0\0\1\1\1", 6);
	pchunk(&exp, "PLTE", "\0\0\0\1\1\1", 6);
	pchunk(&in, "gAMA", "\0\0\xB1\x8F", 4);
	pchunk(&in, "tRNS", "\0\0\0", 3);
	png_finish(&exp, 3, 8);
	{
		buf			z;

		z = zlib_stored((const unsigned char *) "\0\0\1\0\1\0", 6);
		pchunk(&in, "IDAT", z.data, z.len);
		buf_free(&z);
	}
	pchunk(&in, "sRGB", "\x00", 1);
	pchunk(&in, "IEND", NULL, 0);
	CHECK(strip(&in, &out, &out_len, &info) == MACHI_IMG_OK);
	CHECK(out_len == exp.len && out != NULL &&
		  memcmp(out + out_len - 12, exp.data + exp.len - 12, 12) == 0);
	CHECK(!contains_str(out, out_len, "gAMA") &&
		  !contains_str(out, out_len, "tRNS") &&
		  !contains_str(out, out_len, "sRGB"));
	free(out);
	out = NULL;
	buf_free(&in);
	buf_free(&exp);

	/* 1-bit palette with three entries; IHDR of 12 bytes; two PLTEs */
	in = png_start(3, 1);
	pchunk(&in, "PLTE", "\0\0\0\1\1\1\2\2\2", 9);
	png_finish(&in, 3, 1);
	CHECK(strip(&in, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&in);
	in = png_start(3, 8);
	pchunk(&in, "PLTE", "\0\0\0", 3);
	pchunk(&in, "PLTE", "\0\0\0", 3);
	png_finish(&in, 3, 8);
	CHECK(strip(&in, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&in);
	put(&in, "\x89PNG\r\n\x1A\n", 8);
	pchunk(&in, "IHDR", "\0\0\0\2\0\0\0\2\x08\0\0\0", 12);
	png_finish(&in, 3, 8);
	CHECK(strip(&in, &out, &out_len, NULL) == MACHI_IMG_CORRUPT);
	buf_free(&in);
}

/*
 * Less common JPEG structures: DAC, lossless SOF3, 12-bit precision,
 * too many progressive components, duplicate component ids, tiny EXIF.
 *
 * Hand-assembled headers; entropy data is a token byte since the module
 * does not decode.  No caller state.
 */
static void
test_jpeg_structures(void)
{
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	buf			b = {0};
	size_t		i;
	static const struct
	{
		const char *hdr;		/* segments between SOI and SOS */
		size_t		len;
		machi_image_status st;
	}			cases[] = {
		/* DAC + arithmetic SOF9, kept */
		{"\xFF\xCC\x00\x04\x00\x10"
			"\xFF\xC9\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00",
		19, MACHI_IMG_OK},
		/* lossless SOF3, 16-bit */
		{"\xFF\xC3\x00\x0B\x10\x00\x08\x00\x08\x01\x01\x11\x00",
		13, MACHI_IMG_OK},
		/* 12-bit baseline-like SOF1 */
		{"\xFF\xC1\x00\x0B\x0C\x00\x08\x00\x08\x01\x01\x11\x00",
		13, MACHI_IMG_OK},
		/* DAC with odd length */
		{"\xFF\xCC\x00\x03\x00"
			"\xFF\xC9\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00",
		18, MACHI_IMG_CORRUPT},
		/* progressive with 5 components */
		{"\xFF\xC2\x00\x17\x08\x00\x08\x00\x08\x05\x01\x11\x00\x02\x11\x00"
			"\x03\x11\x00\x04\x11\x00\x05\x11\x00",
		25, MACHI_IMG_CORRUPT},
		/* two components with the same id */
		{"\xFF\xC0\x00\x0E\x08\x00\x08\x00\x08\x02\x01\x11\x00\x01\x11\x00",
		16, MACHI_IMG_CORRUPT},
		/* SOF shorter than its fixed part */
		{"\xFF\xC0\x00\x06\x08\x00\x08\x00", 8, MACHI_IMG_CORRUPT},
		/* DRI with wrong length */
		{"\xFF\xDD\x00\x03\x00"
			"\xFF\xC0\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00",
		18, MACHI_IMG_CORRUPT},
		/* EXIF too short for a TIFF header, then a frame */
		{"\xFF\xE1\x00\x0A" "Exif\0\0II"
			"\xFF\xC0\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00",
		25, MACHI_IMG_OK},
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		machi_image_status st;

		put(&b, "\xFF\xD8", 2);
		put(&b, cases[i].hdr, cases[i].len);
		put(&b, "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10);
		put(&b, "\x12\x34\xFF\xD9", 4);
		st = strip(&b, &out, &out_len, &info);
		if (st != cases[i].st)
			fprintf(stderr, "structure case %zu gave %d\n", i, (int) st);
		CHECK(st == cases[i].st);
		if (st == MACHI_IMG_OK)
		{
			CHECK(info.width == 8 && info.height == 8 &&
				  info.orientation == 1);
			check_output(b.data, b.len, out, out_len, &info);
			/* only the EXIF case loses bytes */
			CHECK(out_len == b.len || contains_str(b.data, b.len, "Exif"));
		}
		free(out);
		out = NULL;
		buf_free(&b);
	}
}

/*
 * Type detection, limits, allocator failure and the message functions.
 *
 * The content decides the type, never a name or header; size limits are
 * enforced before parsing.  No caller state.
 */
static void
test_api(void)
{
	static const struct
	{
		const char *data;
		size_t		len;
		machi_image_status st;
	}			cases[] = {
		{"", 0, MACHI_IMG_UNKNOWN_TYPE},
		{"GIF89a\x01\x00\x01\x00", 10, MACHI_IMG_UNKNOWN_TYPE},
		{"BM\x3A\0\0\0", 6, MACHI_IMG_UNKNOWN_TYPE},
		{"<svg xmlns='http://www.w3.org/2000/svg'/>", 41,
		MACHI_IMG_UNKNOWN_TYPE},
		{"\xFF\xD8\xFE", 3, MACHI_IMG_UNKNOWN_TYPE},
		{"\x89PNG\r\n\x1A\x0B", 8, MACHI_IMG_UNKNOWN_TYPE},
		{"\xFF", 1, MACHI_IMG_TRUNCATED},
		{"\xFF\xD8", 2, MACHI_IMG_TRUNCATED},
		{"\xFF\xD8\xFF", 3, MACHI_IMG_TRUNCATED},
		{"\x89PNG", 4, MACHI_IMG_TRUNCATED},
		{"\x89PNG\r\n\x1A\n", 8, MACHI_IMG_TRUNCATED},
	};
	size_t		i;
	jpeg_opts	jo = {0};
	buf			jpg = build_jpeg(&jo);
	unsigned char *out = (unsigned char *) "sentinel";
	size_t		out_len = 99;
	alloc_ctx	a;
	machi_image_info info;
	machi_image_status st;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		buf			b = {0};

		put(&b, cases[i].data, cases[i].len);
		CHECK(strip(&b, &out, &out_len, &info) == cases[i].st);
		CHECK(info.type == MACHI_IMG_NONE && info.orientation == 1);
		buf_free(&b);
	}

	/* caller errors: NULL input with a length, NULL out */
	memset(&a, 0, sizeof(a));
	CHECK(machi_image_strip(NULL, 5, 100, test_alloc, &a, &out, &out_len,
							NULL) == MACHI_IMG_CORRUPT);
	CHECK(machi_image_strip(jpg.data, jpg.len, 100, test_alloc, &a, NULL,
							&out_len, NULL) == MACHI_IMG_CORRUPT);

	/* NULL input with zero length */
	memset(&a, 0, sizeof(a));
	CHECK(machi_image_strip(NULL, 0, 100, test_alloc, &a, &out, &out_len,
							NULL) == MACHI_IMG_UNKNOWN_TYPE);

	/* max_len: exactly at the limit is fine, one byte over is not */
	memset(&a, 0, sizeof(a));
	st = machi_image_strip(jpg.data, jpg.len, jpg.len, test_alloc, &a,
						   &out, &out_len, NULL);
	CHECK(st == MACHI_IMG_OK && out_len == jpg.len);
	free(out);
	memset(&a, 0, sizeof(a));
	st = machi_image_strip(jpg.data, jpg.len, jpg.len - 1, test_alloc, &a,
						   &out, &out_len, &info);
	CHECK(st == MACHI_IMG_TOO_LARGE && a.calls == 0 && out == NULL);

	/* allocator failure */
	memset(&a, 0, sizeof(a));
	a.fail = true;
	st = machi_image_strip(jpg.data, jpg.len, jpg.len, test_alloc, &a,
						   &out, &out_len, &info);
	CHECK(st == MACHI_IMG_NOMEM && a.calls == 1 && out == NULL &&
		  out_len == 0 && info.type == MACHI_IMG_NONE);

	/* messages: present, lower-case start, distinct */
	for (i = MACHI_IMG_OK; i <= MACHI_IMG_NOMEM; i++)
	{
		const char *m = machi_image_status_message((machi_image_status) i);
		size_t		j;

		CHECK(m != NULL && m[0] >= 'a' && m[0] <= 'z');
		for (j = MACHI_IMG_OK; j < i; j++)
			CHECK(strcmp(m, machi_image_status_message((machi_image_status) j))
				  != 0);
	}
	CHECK(strcmp(machi_image_status_message(MACHI_IMG_TRUNCATED),
				 "truncated image data") == 0);
	CHECK(machi_image_status_message((machi_image_status) 42) != NULL);
	CHECK(strcmp(machi_image_media_type(MACHI_IMG_JPEG), "image/jpeg") == 0);
	CHECK(strcmp(machi_image_media_type(MACHI_IMG_PNG), "image/png") == 0);
	CHECK(strcmp(machi_image_media_type(MACHI_IMG_NONE),
				 "application/octet-stream") == 0);
	buf_free(&jpg);
}

/*
 * Write a buffer to dir/name.
 *
 * Used by --write-seeds.  Returns false on I/O error.
 */
static bool
write_file(const char *dir, const char *name, const buf *b)
{
	char		path[4096];
	FILE	   *f;
	bool		ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return false;
	ok = fwrite(b->data, 1, b->len, f) == b->len;
	return (fclose(f) == 0) && ok;
}

/*
 * Write every sample image into dir, for the fuzzing seed corpus.
 *
 * Keeps the committed corpus reproducible from this file.  Returns the
 * process exit code.
 */
static int
write_seeds(const char *dir)
{
	bool		ok = true;
	int			v;
	static const char *jnames[] = {"baseline.jpg", "progressive.jpg",
	"restart.jpg", "progressive-restart.jpg"};

	for (v = 0; v < 4; v++)
	{
		jpeg_opts	o = {0};
		buf			b;

		o.progressive = (v == 1 || v == 3);
		o.restart = (v == 2 || v == 3);
		b = build_jpeg(&o);
		ok &= write_file(dir, jnames[v], &b);
		buf_free(&b);
	}
	for (v = 0; v < 2; v++)
	{
		jpeg_opts	o = {0};
		buf			b;

		o.metadata = true;
		o.orientation = 6;
		o.big_endian_exif = (v == 1);
		b = build_jpeg(&o);
		if (v == 1)
			put_str(&b, "PK\x03\x04 trailing");
		ok &= write_file(dir, v ? "metadata-mm-tail.jpg" : "metadata.jpg", &b);
		buf_free(&b);
	}
	for (v = 0; v < 4; v++)
	{
		png_opts	o = {0};
		buf			b;
		static const char *pnames[] = {"rgb.png", "palette.png",
		"metadata.png", "metadata-palette-tail.png"};

		o.palette = (v % 2 == 1);
		o.metadata = (v >= 2);
		o.html_tail = (v == 3);
		b = build_png(&o);
		ok &= write_file(dir, pnames[v], &b);
		buf_free(&b);
	}
	{
		static const unsigned char chrm[32] = {0, 0, 0x7A, 0x26};
		buf			g = png_start(0, 8);
		buf			c = png_start(2, 16);

		pchunk(&g, "sRGB", "\x00", 1);
		pchunk(&g, "cHRM", chrm, 32);
		pchunk(&g, "sBIT", "\x05", 1);
		pchunk(&g, "tRNS", "\x00\x10", 2);
		png_finish(&g, 0, 8);
		ok &= write_file(dir, "ancillary-grey.png", &g);
		pchunk(&c, "sBIT", "\x0C\x0C\x0C", 3);
		pchunk(&c, "tRNS", "\0\1\0\2\0\3", 6);
		png_finish(&c, 2, 16);
		ok &= write_file(dir, "ancillary-rgb16.png", &c);
		buf_free(&g);
		buf_free(&c);
	}
	{
		buf			j = {0};

		/* arithmetic-coded frame with DAC, and a lossless frame */
		put(&j, "\xFF\xD8\xFF\xCC\x00\x04\x00\x10"
			"\xFF\xC9\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00"
			"\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\x34\xFF\xD9",
			36);
		ok &= write_file(dir, "arithmetic.jpg", &j);
		j.len = 0;
		put(&j, "\xFF\xD8"
			"\xFF\xC3\x00\x0B\x10\x00\x08\x00\x08\x01\x01\x11\x00"
			"\xFF\xDA\x00\x08\x01\x01\x00\x01\x00\x00\x12\x34\xFF\xD9",
			31);
		ok &= write_file(dir, "lossless.jpg", &j);
		buf_free(&j);
	}
	return ok ? 0 : 1;
}

/*
 * Check the sample files named on the command line (the seed corpus).
 *
 * Every sample is a valid image: it must be accepted, its output must
 * satisfy check_output and carry no metadata markers, and each of its
 * truncations must be refused.  This brings the encoder-made samples
 * written by decode_check into the dependency-free test run.  Unreadable
 * files count as failures.
 */
static void
test_files(int argc, char **argv)
{
	static const char *const leaks[] = {"Exif", "PhoneMaker", "GPS",
	"secret", "ns.adobe.com", "ICC_PROFILE", "tEXt", "iTXt", "zTXt", "tIME",
	"eXIf", "iCCP"};
	int			i;

	for (i = 0; i < argc; i++)
	{
		FILE	   *f = fopen(argv[i], "rb");
		buf			in = {0};
		buf			img = {0};
		unsigned char chunk[4096];
		size_t		n;
		unsigned char *out = NULL;
		size_t		out_len = 0;
		machi_image_info info;
		size_t		k;

		CHECK(f != NULL);
		if (f == NULL)
			continue;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			put(&in, chunk, n);
		fclose(f);

		if (strip(&in, &out, &out_len, &info) != MACHI_IMG_OK)
		{
			fprintf(stderr, "%s: not accepted\n", argv[i]);
			n_fail++;
			buf_free(&in);
			continue;
		}
		check_output(in.data, in.len, out, out_len, &info);
		for (k = 0; k < sizeof(leaks) / sizeof(leaks[0]); k++)
			CHECK(!contains_str(out, out_len, leaks[k]));

		/* truncate the stripped image, which has nothing after its end */
		put(&img, out, out_len);
		check_truncations(&img);
		free(out);
		buf_free(&img);
		buf_free(&in);
	}
}

/*
 * Run all tests, or write the seed corpus when asked to.
 *
 * Prints the PASS/FAIL counts and exits non-zero on any failure so that
 * make and CI notice.
 */
int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);

	test_api();
	test_jpeg_orientation();
	test_jpeg_variants();
	test_jpeg_polyglot();
	test_jpeg_entropy_fill();
	test_jpeg_corrupt();
	test_png_metadata();
	test_png_corrupt();
	test_png_ancillary();
	test_jpeg_structures();
	test_files(argc - 1, argv + 1);

	printf("PASS: %d\nFAIL: %d\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
