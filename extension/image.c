/*-------------------------------------------------------------------------
 *
 * image.c
 *	  Photo validation and metadata stripping for uploaded report photos.
 *
 * Citizens upload raw JPEG or PNG bodies.  Before a photo is stored we
 * identify it by content, walk its whole structure with bounds checks, and
 * rebuild it keeping only what a decoder needs to render the pixels.  All
 * metadata is dropped: EXIF (with its GPS IFD), XMP, IPTC, ICC profiles,
 * comments, PNG text chunks, timestamps and embedded thumbnails, together
 * with anything appended after the end of the image (JPEG+ZIP or PNG+HTML
 * polyglots).  The EXIF orientation is read before EXIF is dropped so the
 * caller can store it next to the photo.
 *
 * This file deliberately includes no PostgreSQL header: it is built alone
 * for the unit tests in tests/image and the fuzz target in fuzz/.  It never
 * prints and never allocates except through the caller's allocator.
 *
 * Decisions (see also machi_image_strip):
 *
 * JPEG
 *	- Data after EOI is discarded, not rejected: cameras append maker data
 *	  there and refusing such photos would help nobody.  The output always
 *	  ends at EOI.
 *	- APP1..APP15 and COM are all dropped, including APP2 ICC_PROFILE and
 *	  APP14 Adobe.  An ICC profile can name the device and its owner, and
 *	  report photos of potholes do not need colour management; phone
 *	  cameras write sRGB or Display P3 JPEGs that render acceptably as sRGB.
 *	  Without APP14, decoders treat 3-component JPEGs as YCbCr and
 *	  4-component ones as plain CMYK, so RGB or inverted-CMYK JPEGs saved
 *	  by Adobe software lose their colours; cameras never write those.
 *	- APP0 JFIF is kept only when it is the first segment and well formed,
 *	  and is rewritten without its thumbnail (a thumbnail may show the
 *	  uncropped original).  Other APP0 segments (JFXX, AVI1) are dropped.
 *	- Exactly one frame, SOF0..3 or SOF9..11; hierarchical images (DHP,
 *	  EXP, differential SOFs), DNL, JPGn (including JPEG-LS) and reserved
 *	  markers are refused as corrupt, as are extraneous bytes between
 *	  segments.  Fill bytes and standalone RSTn/TEM between segments are
 *	  dropped; fill bytes inside entropy-coded data are kept verbatim.
 *	- Malformed EXIF does not make the photo invalid (it is dropped
 *	  anyway); orientation then stays 1.
 *
 * PNG
 *	- Kept: IHDR, PLTE, IDAT, IEND, and tRNS, gAMA, cHRM, sRGB, sBIT when
 *	  valid and in their proper place (invalid or duplicate ancillary
 *	  chunks are dropped, as a decoder would ignore them).  Everything else
 *	  is dropped: tEXt, zTXt, iTXt, eXIf, tIME, iCCP, pHYs, bKGD, APNG
 *	  animation chunks (leaving the default image) and unknown ancillary
 *	  chunks.  Unknown critical chunks are refused.
 *	- Every chunk CRC is verified, kept chunks are copied with their CRC.
 *	- The zlib stream inside IDAT is not inflated; only its two-byte header
 *	  is checked.
 *
 * IDENTIFICATION
 *	  extension/image.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "image.h"

/* JPEG marker codes used below (the byte after 0xFF). */
#define M_SOF0	0xC0
#define M_DHT	0xC4
#define M_JPG	0xC8
#define M_DAC	0xCC
#define M_RST0	0xD0
#define M_RST7	0xD7
#define M_SOI	0xD8
#define M_EOI	0xD9
#define M_SOS	0xDA
#define M_DQT	0xDB
#define M_DNL	0xDC
#define M_DRI	0xDD
#define M_APP0	0xE0
#define M_APP1	0xE1
#define M_APP15 0xEF
#define M_COM	0xFE
#define M_TEM	0x01

#define PNG_UINT31_MAX 0x7FFFFFFFu	/* largest chunk length or dimension */

static const unsigned char png_signature[8] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'
};

static const unsigned char jpeg_magic[3] = {0xFF, 0xD8, 0xFF};

/*
 * Output sink shared by both passes of machi_image_strip.
 *
 * The first pass runs with buf == NULL and only counts, so that the caller's
 * allocator is asked once for the exact size; the second pass writes.  cap
 * guards the second pass against ever writing past the buffer.
 */
typedef struct
{
	unsigned char *buf;			/* NULL while sizing */
	size_t		cap;			/* size of buf */
	size_t		len;			/* bytes emitted so far */
	bool		overflow;		/* a write would have exceeded cap */
} emitter;

/*
 * Append n bytes to the output, or just count them in the sizing pass.
 *
 * Writing and counting go through one function so both passes emit exactly
 * the same sequence.  The caller must hold an emitter initialised by
 * machi_image_strip and p must point to n readable bytes.
 */
static void
emit(emitter *e, const unsigned char *p, size_t n)
{
	if (e->buf != NULL)
	{
		if (n > e->cap - e->len)
		{
			e->overflow = true;
			return;
		}
		if (n > 0)
			memcpy(e->buf + e->len, p, n);
	}
	e->len += n;
}

/*
 * Append a two-byte JPEG marker (0xFF, code).
 *
 * Markers are re-emitted without the fill bytes that may have preceded them
 * in the input, which keeps the output canonical.  Caller holds an emitter.
 */
static void
emit_marker(emitter *e, unsigned char code)
{
	unsigned char m[2];

	m[0] = 0xFF;
	m[1] = code;
	emit(e, m, 2);
}

/*
 * Read a big-endian 16-bit value.
 *
 * Used for JPEG lengths and TIFF "MM" data.  Caller guarantees 2 readable
 * bytes at p.
 */
static unsigned int
rd16be(const unsigned char *p)
{
	return ((unsigned int) p[0] << 8) | p[1];
}

/*
 * Read a big-endian 32-bit value.
 *
 * Used for PNG chunk lengths, dimensions and CRCs.  Caller guarantees 4
 * readable bytes at p.
 */
static uint32_t
rd32be(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

/*
 * Read a 16-bit TIFF value in the file's byte order.
 *
 * EXIF data may be little ("II") or big ("MM") endian.  Caller guarantees 2
 * readable bytes at p.
 */
static unsigned int
tiff16(const unsigned char *p, bool little)
{
	if (little)
		return ((unsigned int) p[1] << 8) | p[0];
	return rd16be(p);
}

/*
 * Read a 32-bit TIFF value in the file's byte order.
 *
 * Same reason as tiff16.  Caller guarantees 4 readable bytes at p.
 */
static uint32_t
tiff32(const unsigned char *p, bool little)
{
	if (little)
		return ((uint32_t) p[3] << 24) | ((uint32_t) p[2] << 16) |
			((uint32_t) p[1] << 8) | (uint32_t) p[0];
	return rd32be(p);
}

/*
 * Return the EXIF orientation (1..8) found in a TIFF structure, or 1.
 *
 * The orientation is the only piece of EXIF worth keeping: the extension
 * stores it so that clients can rotate the stripped photo.  Only IFD0 is
 * looked at, every offset and count is bounds-checked against len, and
 * anything unexpected yields 1 rather than an error because the EXIF block
 * is discarded in any case.  Caller guarantees len readable bytes at tiff
 * (the TIFF header starts at tiff[0]).
 */
static int
tiff_orientation(const unsigned char *tiff, size_t len)
{
	bool		little;
	uint32_t	ifd;
	unsigned int count;
	unsigned int i;

	if (len < 8)
		return 1;
	if (tiff[0] == 'I' && tiff[1] == 'I')
		little = true;
	else if (tiff[0] == 'M' && tiff[1] == 'M')
		little = false;
	else
		return 1;
	if (tiff16(tiff + 2, little) != 42)
		return 1;

	ifd = tiff32(tiff + 4, little);
	if (ifd < 8 || ifd > len || len - ifd < 2)
		return 1;
	count = tiff16(tiff + ifd, little);
	if ((len - ifd - 2) / 12 < count)
		return 1;

	for (i = 0; i < count; i++)
	{
		const unsigned char *entry = tiff + ifd + 2 + (size_t) i * 12;

		if (tiff16(entry, little) == 0x0112)
		{
			unsigned int value;

			/* SHORT, count 1: the value sits in the first two bytes */
			if (tiff16(entry + 2, little) != 3 ||
				tiff32(entry + 4, little) != 1)
				return 1;
			value = tiff16(entry + 8, little);
			return (value >= 1 && value <= 8) ? (int) value : 1;
		}
	}
	return 1;
}

/*
 * Validate a JPEG DQT segment body.
 *
 * Requiring the tables to fill the segment exactly leaves no room for
 * smuggled bytes.  Caller guarantees n readable bytes at p.
 */
static bool
jpeg_dqt_ok(const unsigned char *p, size_t n)
{
	size_t		off = 0;

	if (n == 0)
		return false;
	while (off < n)
	{
		unsigned int pq = p[off] >> 4;
		unsigned int tq = p[off] & 0x0F;
		size_t		tsize;

		if (pq > 1 || tq > 3)
			return false;
		tsize = (pq == 0) ? 64 : 128;
		if (n - off - 1 < tsize)
			return false;
		off += 1 + tsize;
	}
	return true;
}

/*
 * Validate a JPEG DHT segment body.
 *
 * Same reason as jpeg_dqt_ok: every table must be well formed and the
 * tables must fill the segment exactly.  Caller guarantees n readable bytes
 * at p.
 */
static bool
jpeg_dht_ok(const unsigned char *p, size_t n)
{
	size_t		off = 0;

	if (n == 0)
		return false;
	while (off < n)
	{
		unsigned int tc = p[off] >> 4;
		unsigned int th = p[off] & 0x0F;
		size_t		nvals = 0;
		size_t		i;

		if (tc > 1 || th > 3)
			return false;
		if (n - off < 17)
			return false;
		for (i = 0; i < 16; i++)
			nvals += p[off + 1 + i];
		if (nvals > 256 || n - off - 17 < nvals)
			return false;
		off += 17 + nvals;
	}
	return true;
}

/*
 * Per-image state of the JPEG walk: the single frame's components.
 */
typedef struct
{
	bool		have_frame;
	int			ncomp;
	unsigned char comp_id[255];
	int			nscans;
	bool		have_exif;
	int			width;
	int			height;
	int			orientation;
} jpeg_state;

/*
 * Validate a SOFn segment body and record the frame in st.
 *
 * The frame gives the dimensions and the component ids that later scans
 * must refer to.  Caller holds st for this image and guarantees n readable
 * bytes at p; marker is the SOFn code.
 */
static machi_image_status
jpeg_sof(jpeg_state *st, unsigned char marker, const unsigned char *p,
		 size_t n)
{
	unsigned int precision;
	unsigned int nf;
	bool		lossless = (marker & 0x03) == 0x03;
	bool		progressive = (marker & 0x03) == 0x02;
	unsigned int i;

	if (st->have_frame || n < 6)
		return MACHI_IMG_CORRUPT;
	precision = p[0];
	st->height = (int) rd16be(p + 1);
	st->width = (int) rd16be(p + 3);
	nf = p[5];
	if (nf == 0 || n != 6 + 3 * (size_t) nf)
		return MACHI_IMG_CORRUPT;
	if (progressive && nf > 4)
		return MACHI_IMG_CORRUPT;
	if (lossless ? (precision < 2 || precision > 16) :
		(precision != 8 && precision != 12))
		return MACHI_IMG_CORRUPT;
	/* a zero height would need DNL, which we refuse */
	if (st->width == 0 || st->height == 0)
		return MACHI_IMG_CORRUPT;

	for (i = 0; i < nf; i++)
	{
		unsigned int id = p[6 + 3 * i];
		unsigned int h = p[7 + 3 * i] >> 4;
		unsigned int v = p[7 + 3 * i] & 0x0F;
		unsigned int tq = p[8 + 3 * i];
		int			j;

		if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3)
			return MACHI_IMG_CORRUPT;
		for (j = 0; j < st->ncomp; j++)
			if (st->comp_id[j] == id)
				return MACHI_IMG_CORRUPT;
		st->comp_id[st->ncomp++] = (unsigned char) id;
	}
	st->have_frame = true;
	return MACHI_IMG_OK;
}

/*
 * Validate a SOS segment body against the frame in st.
 *
 * A scan header must follow the frame and name only its components.
 * Caller holds st and guarantees n readable bytes at p.
 */
static machi_image_status
jpeg_sos(jpeg_state *st, const unsigned char *p, size_t n)
{
	unsigned int ns;
	unsigned int i;

	if (!st->have_frame || n < 1)
		return MACHI_IMG_CORRUPT;
	ns = p[0];
	if (ns < 1 || ns > 4 || n != 4 + 2 * (size_t) ns)
		return MACHI_IMG_CORRUPT;
	for (i = 0; i < ns; i++)
	{
		unsigned int cs = p[1 + 2 * i];
		unsigned int td = p[2 + 2 * i] >> 4;
		unsigned int ta = p[2 + 2 * i] & 0x0F;
		bool		found = false;
		int			j;

		for (j = 0; j < st->ncomp; j++)
			if (st->comp_id[j] == cs)
				found = true;
		if (!found || td > 3 || ta > 3)
			return MACHI_IMG_CORRUPT;
	}
	/* Ss, Se, Ah/Al */
	if (p[1 + 2 * ns] > 63 || p[2 + 2 * ns] > 63 ||
		(p[3 + 2 * ns] >> 4) > 13 || (p[3 + 2 * ns] & 0x0F) > 13)
		return MACHI_IMG_CORRUPT;
	st->nscans++;
	return MACHI_IMG_OK;
}

/*
 * Return true if an APP0 body is a well-formed JFIF header.
 *
 * Only such a header is carried over (see file header).  Caller guarantees n
 * readable bytes at p.
 */
static bool
jpeg_jfif_ok(const unsigned char *p, size_t n)
{
	if (n < 14 || memcmp(p, "JFIF\0", 5) != 0)
		return false;
	if (p[5] != 1 || p[7] > 2)
		return false;
	if (rd16be(p + 8) == 0 || rd16be(p + 10) == 0)
		return false;
	return n == 14 + 3 * (size_t) p[12] * (size_t) p[13];
}

/*
 * Emit a JFIF APP0 segment copied from p without its thumbnail.
 *
 * Keeps version, density units and density; drops the thumbnail pixels,
 * which may show an earlier, uncropped state of the photo.  Caller has
 * checked p with jpeg_jfif_ok.
 */
static void
jpeg_emit_jfif(emitter *e, const unsigned char *p)
{
	unsigned char seg[16];

	seg[0] = 0x00;
	seg[1] = 16;
	memcpy(seg + 2, p, 12);
	seg[14] = 0;
	seg[15] = 0;
	emit_marker(e, M_APP0);
	emit(e, seg, sizeof(seg));
}

/*
 * Return true if a marker code is one of the SOFn frame markers we accept.
 *
 * The non-differential frames: baseline, extended, progressive and lossless
 * in Huffman (SOF0..SOF3) and arithmetic (SOF9..SOF11) coding.  The
 * differential SOF5..7 and SOF13..15 only occur in hierarchical images,
 * which need DHP and are refused.  Caller passes the byte after 0xFF.
 */
static bool
jpeg_is_sof(unsigned char m)
{
	return (m >= M_SOF0 && m <= 0xC3) || (m >= 0xC9 && m <= 0xCB);
}

/*
 * Skip the entropy-coded data that follows a SOS header.
 *
 * Entropy-coded data ends at the first run of 0xFF bytes that is followed
 * by neither 0x00 (a stuffed 0xFF data byte) nor an RSTn marker; the extra
 * 0xFF bytes of a run are fill bytes, which decoders (libjpeg among them)
 * skip both before markers and before a stuffed zero.  Runs followed by
 * 0x00 or RSTn stay part of the data and are copied verbatim.  Returns the
 * offset of the first 0xFF of the terminating run, or len if the data runs
 * to the end of the input (the caller then reports truncation).  Each
 * iteration moves past at least one byte, so the scan is linear.  Caller
 * guarantees len readable bytes at in and pos <= len.
 */
static size_t
jpeg_skip_entropy(const unsigned char *in, size_t len, size_t pos)
{
	while (pos < len)
	{
		const unsigned char *ff = memchr(in + pos, 0xFF, len - pos);
		size_t		run_start;
		unsigned char next;

		if (ff == NULL)
			return len;
		run_start = (size_t) (ff - in);
		pos = run_start;
		while (pos < len && in[pos] == 0xFF)
			pos++;
		if (pos >= len)
			return len;
		next = in[pos];
		if (next == 0x00 || (next >= M_RST0 && next <= M_RST7))
			pos++;
		else
			return run_start;
	}
	return len;
}

/*
 * Walk a whole JPEG stream and emit its metadata-free equivalent.
 *
 * Every marker segment is bounds-checked and either validated and copied,
 * or dropped; entropy-coded data is copied verbatim.  The walk stops at EOI,
 * so whatever follows it never reaches the output.  The loop advances by at
 * least one byte per iteration and is therefore bounded by len.  Caller
 * guarantees len >= 3 readable bytes starting with FF D8 FF, and holds an
 * emitter and a zeroed st.
 */
static machi_image_status
jpeg_walk(const unsigned char *in, size_t len, emitter *e, jpeg_state *st)
{
	size_t		pos = 2;
	bool		first = true;

	emit_marker(e, M_SOI);
	st->orientation = 1;

	for (;;)
	{
		unsigned char marker;
		size_t		seglen;
		const unsigned char *body;
		size_t		body_len;
		machi_image_status rc;
		bool		was_first = first;

		if (pos >= len)
			return MACHI_IMG_TRUNCATED;
		if (in[pos] != 0xFF)
			return MACHI_IMG_CORRUPT;
		while (pos < len && in[pos] == 0xFF)
			pos++;
		if (pos >= len)
			return MACHI_IMG_TRUNCATED;
		marker = in[pos++];
		first = false;

		if (marker == M_EOI)
		{
			if (!st->have_frame || st->nscans == 0)
				return MACHI_IMG_CORRUPT;
			emit_marker(e, M_EOI);
			return MACHI_IMG_OK;
		}
		if (marker == M_TEM || (marker >= M_RST0 && marker <= M_RST7))
			continue;			/* standalone, carries nothing: dropped */
		if (marker == 0x00 || marker == M_SOI)
			return MACHI_IMG_CORRUPT;

		/* everything else has a length field */
		if (len - pos < 2)
			return MACHI_IMG_TRUNCATED;
		seglen = rd16be(in + pos);
		if (seglen < 2)
			return MACHI_IMG_CORRUPT;
		if (len - pos < seglen)
			return MACHI_IMG_TRUNCATED;
		body = in + pos + 2;
		body_len = seglen - 2;
		pos += seglen;

		if (jpeg_is_sof(marker))
		{
			rc = jpeg_sof(st, marker, body, body_len);
			if (rc != MACHI_IMG_OK)
				return rc;
		}
		else if (marker == M_SOS)
		{
			size_t		end;

			rc = jpeg_sos(st, body, body_len);
			if (rc != MACHI_IMG_OK)
				return rc;
			end = jpeg_skip_entropy(in, len, pos);
			if (end >= len)
				return MACHI_IMG_TRUNCATED;
			emit_marker(e, marker);
			emit(e, body - 2, seglen);
			emit(e, in + pos, end - pos);
			pos = end;
			continue;
		}
		else if (marker == M_DQT)
		{
			if (!jpeg_dqt_ok(body, body_len))
				return MACHI_IMG_CORRUPT;
		}
		else if (marker == M_DHT)
		{
			if (!jpeg_dht_ok(body, body_len))
				return MACHI_IMG_CORRUPT;
		}
		else if (marker == M_DAC)
		{
			if (body_len == 0 || body_len % 2 != 0)
				return MACHI_IMG_CORRUPT;
		}
		else if (marker == M_DRI)
		{
			if (body_len != 2)
				return MACHI_IMG_CORRUPT;
		}
		else if (marker == M_APP0)
		{
			if (was_first && jpeg_jfif_ok(body, body_len))
				jpeg_emit_jfif(e, body);
			continue;
		}
		else if (marker == M_APP1)
		{
			if (!st->have_exif && body_len >= 6 &&
				memcmp(body, "Exif\0", 5) == 0)
			{
				st->have_exif = true;
				st->orientation = tiff_orientation(body + 6, body_len - 6);
			}
			continue;
		}
		else if ((marker > M_APP1 && marker <= M_APP15) || marker == M_COM)
			continue;
		else
		{
			/* DNL, DHP, EXP, JPGn, JPG and reserved codes */
			return MACHI_IMG_CORRUPT;
		}

		emit_marker(e, marker);
		emit(e, body - 2, seglen);
	}
}

/*
 * Table-driven CRC-32 (ISO-HDLC, as used by PNG).
 *
 * PNG needs the CRC of every chunk checked; building the table per image on
 * the stack keeps the module free of global state.
 */
typedef struct
{
	uint32_t	table[256];
} crc32_ctx;

/*
 * Fill the CRC-32 table for the reflected polynomial 0xEDB88320.
 *
 * Called once per PNG before the chunk walk.  Caller holds c.
 */
static void
crc32_init(crc32_ctx *c)
{
	uint32_t	n;

	for (n = 0; n < 256; n++)
	{
		uint32_t	v = n;
		int			k;

		for (k = 0; k < 8; k++)
			v = (v & 1) ? (0xEDB88320u ^ (v >> 1)) : (v >> 1);
		c->table[n] = v;
	}
}

/*
 * Return the CRC-32 of n bytes at p.
 *
 * PNG chunk CRCs cover the type and data.  Caller holds an initialised c and
 * guarantees n readable bytes at p.
 */
static uint32_t
crc32_buf(const crc32_ctx *c, const unsigned char *p, size_t n)
{
	uint32_t	crc = 0xFFFFFFFFu;
	size_t		i;

	for (i = 0; i < n; i++)
		crc = c->table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/*
 * Per-image state of the PNG walk.
 */
typedef struct
{
	crc32_ctx	crc;
	bool		seen_ihdr;
	bool		seen_plte;
	bool		seen_idat;
	bool		idat_done;		/* a chunk other than IDAT followed IDAT */
	bool		seen_trns;
	bool		seen_gama;
	bool		seen_chrm;
	bool		seen_srgb;
	bool		seen_sbit;
	bool		have_exif;
	unsigned int depth;
	unsigned int colour;
	unsigned int palette_entries;
	unsigned char zhdr[2];		/* first two bytes of the zlib stream */
	int			nzhdr;
	int			width;
	int			height;
	int			orientation;
} png_state;

/*
 * Validate an IHDR body and record the image parameters in st.
 *
 * Every later chunk is judged against the colour type and bit depth.
 * Caller holds st and guarantees n readable bytes at p.
 */
static machi_image_status
png_ihdr(png_state *st, const unsigned char *p, size_t n)
{
	uint32_t	w;
	uint32_t	h;
	unsigned int d;
	unsigned int ct;
	bool		depth_ok;

	if (n != 13)
		return MACHI_IMG_CORRUPT;
	w = rd32be(p);
	h = rd32be(p + 4);
	d = p[8];
	ct = p[9];
	if (w == 0 || h == 0 || w > PNG_UINT31_MAX || h > PNG_UINT31_MAX)
		return MACHI_IMG_CORRUPT;
	switch (ct)
	{
		case 0:
			depth_ok = (d == 1 || d == 2 || d == 4 || d == 8 || d == 16);
			break;
		case 3:
			depth_ok = (d == 1 || d == 2 || d == 4 || d == 8);
			break;
		case 2:
		case 4:
		case 6:
			depth_ok = (d == 8 || d == 16);
			break;
		default:
			depth_ok = false;
			break;
	}
	if (!depth_ok || p[10] != 0 || p[11] != 0 || p[12] > 1)
		return MACHI_IMG_CORRUPT;
	if (w > MACHI_IMG_MAX_DIMENSION || h > MACHI_IMG_MAX_DIMENSION)
		return MACHI_IMG_TOO_LARGE;
	st->width = (int) w;
	st->height = (int) h;
	st->depth = d;
	st->colour = ct;
	st->seen_ihdr = true;
	return MACHI_IMG_OK;
}

/*
 * Decide whether an ancillary chunk is kept.
 *
 * Only chunks that affect rendering and carry no personal data are kept,
 * and only if valid, first of their kind and before IDAT (and before PLTE
 * where the specification says so); a decoder would ignore the others, so
 * dropping them changes nothing visible.  Caller holds st, type points to
 * the 4-byte chunk type and n bytes of data are readable at p.
 */
static bool
png_keep_ancillary(png_state *st, const unsigned char *type,
				   const unsigned char *p, size_t n)
{
	if (st->seen_idat)
		return false;

	if (memcmp(type, "tRNS", 4) == 0)
	{
		bool		ok;

		if (st->seen_trns)
			return false;
		switch (st->colour)
		{
			case 0:
				ok = (n == 2);
				break;
			case 2:
				ok = (n == 6);
				break;
			case 3:
				ok = st->seen_plte && n >= 1 && n <= st->palette_entries;
				break;
			default:
				ok = false;
				break;
		}
		if (ok)
			st->seen_trns = true;
		return ok;
	}

	if (st->seen_plte)
		return false;			/* the rest must precede PLTE */

	if (memcmp(type, "gAMA", 4) == 0)
	{
		if (st->seen_gama || n != 4 || rd32be(p) == 0)
			return false;
		st->seen_gama = true;
		return true;
	}
	if (memcmp(type, "cHRM", 4) == 0)
	{
		if (st->seen_chrm || n != 32)
			return false;
		st->seen_chrm = true;
		return true;
	}
	if (memcmp(type, "sRGB", 4) == 0)
	{
		if (st->seen_srgb || n != 1 || p[0] > 3)
			return false;
		st->seen_srgb = true;
		return true;
	}
	if (memcmp(type, "sBIT", 4) == 0)
	{
		static const size_t sbit_len[7] = {1, 0, 3, 3, 2, 0, 4};
		unsigned int maxbits = (st->colour == 3) ? 8 : st->depth;
		size_t		i;

		if (st->seen_sbit || n != sbit_len[st->colour])
			return false;
		for (i = 0; i < n; i++)
			if (p[i] == 0 || p[i] > maxbits)
				return false;
		st->seen_sbit = true;
		return true;
	}
	return false;
}

/*
 * Walk a whole PNG stream and emit its metadata-free equivalent.
 *
 * Each chunk's length, type and CRC are checked before its data is looked
 * at; critical chunks must follow the ordering rules, kept chunks are copied
 * whole (length, type, data, CRC) and the walk stops at IEND, so trailing
 * data never reaches the output.  Each iteration consumes at least 12 bytes.
 * Caller guarantees len >= 8 readable bytes starting with the signature,
 * and holds an emitter and a zeroed st.
 */
static machi_image_status
png_walk(const unsigned char *in, size_t len, emitter *e, png_state *st)
{
	size_t		pos = sizeof(png_signature);

	crc32_init(&st->crc);
	st->orientation = 1;
	emit(e, png_signature, sizeof(png_signature));

	for (;;)
	{
		uint32_t	clen;
		const unsigned char *type;
		const unsigned char *data;
		bool		critical;
		bool		keep = false;
		int			i;

		if (len - pos < 12)
			return MACHI_IMG_TRUNCATED;
		clen = rd32be(in + pos);
		if (clen > PNG_UINT31_MAX)
			return MACHI_IMG_CORRUPT;
		if (len - pos - 12 < clen)
			return MACHI_IMG_TRUNCATED;
		type = in + pos + 4;
		data = in + pos + 8;
		for (i = 0; i < 4; i++)
		{
			unsigned char c = type[i];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
				return MACHI_IMG_CORRUPT;
		}
		if (crc32_buf(&st->crc, type, (size_t) clen + 4) !=
			rd32be(data + clen))
			return MACHI_IMG_CORRUPT;
		critical = (type[0] & 0x20) == 0;

		if (!st->seen_ihdr && memcmp(type, "IHDR", 4) != 0)
			return MACHI_IMG_CORRUPT;
		if (st->seen_idat && memcmp(type, "IDAT", 4) != 0)
			st->idat_done = true;

		if (memcmp(type, "IHDR", 4) == 0)
		{
			machi_image_status rc;

			if (st->seen_ihdr)
				return MACHI_IMG_CORRUPT;
			rc = png_ihdr(st, data, clen);
			if (rc != MACHI_IMG_OK)
				return rc;
			keep = true;
		}
		else if (memcmp(type, "PLTE", 4) == 0)
		{
			if (st->seen_plte || st->seen_idat ||
				st->colour == 0 || st->colour == 4 ||
				clen == 0 || clen % 3 != 0 || clen / 3 > 256)
				return MACHI_IMG_CORRUPT;
			st->palette_entries = clen / 3;
			if (st->colour == 3 && st->palette_entries > (1u << st->depth))
				return MACHI_IMG_CORRUPT;
			st->seen_plte = true;
			keep = true;
		}
		else if (memcmp(type, "IDAT", 4) == 0)
		{
			uint32_t	j;

			if (st->idat_done || (st->colour == 3 && !st->seen_plte))
				return MACHI_IMG_CORRUPT;
			st->seen_idat = true;
			for (j = 0; j < clen && st->nzhdr < 2; j++)
				st->zhdr[st->nzhdr++] = data[j];
			keep = true;
		}
		else if (memcmp(type, "IEND", 4) == 0)
		{
			unsigned int cmf = st->zhdr[0];
			unsigned int flg = st->zhdr[1];

			if (clen != 0 || !st->seen_idat || st->nzhdr < 2)
				return MACHI_IMG_CORRUPT;
			/* deflate, window <= 32K, check bits, no preset dictionary */
			if ((cmf & 0x0F) != 8 || (cmf >> 4) > 7 ||
				(cmf * 256 + flg) % 31 != 0 || (flg & 0x20) != 0)
				return MACHI_IMG_CORRUPT;
			emit(e, in + pos, 12);
			return MACHI_IMG_OK;
		}
		else if (critical)
			return MACHI_IMG_CORRUPT;	/* unknown critical chunk */
		else if (memcmp(type, "eXIf", 4) == 0)
		{
			if (!st->have_exif)
			{
				st->have_exif = true;
				st->orientation = tiff_orientation(data, clen);
			}
		}
		else
			keep = png_keep_ancillary(st, type, data, clen);

		if (keep)
			emit(e, in + pos, (size_t) clen + 12);
		pos += (size_t) clen + 12;
	}
}

/*
 * Identify the image type from its first bytes.
 *
 * The declared content type of the upload is never trusted.  Returns
 * MACHI_IMG_OK with *type set, MACHI_IMG_TRUNCATED if the input is a proper
 * prefix of a signature, or MACHI_IMG_UNKNOWN_TYPE.  Caller guarantees len
 * readable bytes at in.
 */
static machi_image_status
detect_type(const unsigned char *in, size_t len, machi_image_type *type)
{
	*type = MACHI_IMG_NONE;
	if (len >= sizeof(jpeg_magic) &&
		memcmp(in, jpeg_magic, sizeof(jpeg_magic)) == 0)
		*type = MACHI_IMG_JPEG;
	else if (len >= sizeof(png_signature) &&
			 memcmp(in, png_signature, sizeof(png_signature)) == 0)
		*type = MACHI_IMG_PNG;
	else if (len > 0 &&
			 ((len < sizeof(jpeg_magic) && memcmp(in, jpeg_magic, len) == 0) ||
			  (len < sizeof(png_signature) &&
			   memcmp(in, png_signature, len) == 0)))
		return MACHI_IMG_TRUNCATED;
	else
		return MACHI_IMG_UNKNOWN_TYPE;
	return MACHI_IMG_OK;
}

/*
 * Run the walk for the detected type once, emitting into e.
 *
 * Factored out so that the sizing pass and the writing pass are the same
 * code.  Caller holds e and info; type is JPEG or PNG and in/len satisfy the
 * matching walk's requirements.
 */
static machi_image_status
walk_once(machi_image_type type, const unsigned char *in, size_t len,
		  emitter *e, machi_image_info *info)
{
	machi_image_status rc;

	if (type == MACHI_IMG_JPEG)
	{
		jpeg_state st;

		memset(&st, 0, sizeof(st));
		rc = jpeg_walk(in, len, e, &st);
		info->width = st.width;
		info->height = st.height;
		info->orientation = st.orientation;
	}
	else
	{
		png_state	st;

		memset(&st, 0, sizeof(st));
		rc = png_walk(in, len, e, &st);
		info->width = st.width;
		info->height = st.height;
		info->orientation = st.orientation;
	}
	return rc;
}

/*
 * Validate an uploaded photo and return a copy without metadata.
 *
 * This is the module's single entry point; see image.h for the contract.
 * The input is walked twice: once to validate and measure, once to write
 * into exactly-sized memory from the caller's allocator, so a PostgreSQL
 * caller gets a palloc'd result in its own context and nothing is leaked on
 * failure.  Caller must hold: in readable for len bytes (may be NULL only
 * if len is 0), non-NULL alloc, out and out_len.
 */
machi_image_status
machi_image_strip(const unsigned char *in, size_t len, size_t max_len,
				  void *(*alloc) (void *ctx, size_t size), void *ctx,
				  unsigned char **out, size_t *out_len,
				  machi_image_info *info)
{
	machi_image_info local;
	machi_image_info found;
	machi_image_type type;
	machi_image_status rc;
	emitter		e;
	unsigned char *buf;
	size_t		size;

	if (info == NULL)
		info = &local;
	info->type = MACHI_IMG_NONE;
	info->width = 0;
	info->height = 0;
	info->orientation = 1;
	if (out == NULL || out_len == NULL || alloc == NULL ||
		(in == NULL && len > 0))
		return MACHI_IMG_CORRUPT;
	*out = NULL;
	*out_len = 0;

	if (len > max_len)
		return MACHI_IMG_TOO_LARGE;
	if (in == NULL)
		return MACHI_IMG_UNKNOWN_TYPE;
	rc = detect_type(in, len, &type);
	if (rc != MACHI_IMG_OK)
		return rc;

	/* pass 1: validate and measure */
	memset(&e, 0, sizeof(e));
	rc = walk_once(type, in, len, &e, &found);
	if (rc != MACHI_IMG_OK)
		return rc;

	size = e.len;
	buf = alloc(ctx, size);
	if (buf == NULL)
		return MACHI_IMG_NOMEM;

	/* pass 2: write; the walk is deterministic, so it cannot differ */
	memset(&e, 0, sizeof(e));
	e.buf = buf;
	e.cap = size;
	rc = walk_once(type, in, len, &e, &found);
	if (rc != MACHI_IMG_OK || e.overflow || e.len != size)
		return MACHI_IMG_CORRUPT;	/* cannot happen; buf is the caller's */

	*out = buf;
	*out_len = size;
	info->type = type;
	info->width = found.width;
	info->height = found.height;
	info->orientation = found.orientation;
	return MACHI_IMG_OK;
}

/*
 * Return the lower-case message for a status code.
 *
 * The extension uses it as the errmsg of the error it raises, so messages
 * follow the PostgreSQL message style.  No caller state is needed.
 */
const char *
machi_image_status_message(machi_image_status st)
{
	switch (st)
	{
		case MACHI_IMG_OK:
			return "image is valid";
		case MACHI_IMG_UNKNOWN_TYPE:
			return "unrecognized image type, only JPEG and PNG are accepted";
		case MACHI_IMG_TRUNCATED:
			return "truncated image data";
		case MACHI_IMG_CORRUPT:
			return "corrupt image data";
		case MACHI_IMG_TOO_LARGE:
			return "image is too large";
		case MACHI_IMG_NOMEM:
			return "out of memory while processing image";
	}
	return "unknown image status";
}

/*
 * Return the media type for an image type.
 *
 * Stored with the photo and sent as Content-Type when it is served.  No
 * caller state is needed.
 */
const char *
machi_image_media_type(machi_image_type t)
{
	switch (t)
	{
		case MACHI_IMG_JPEG:
			return "image/jpeg";
		case MACHI_IMG_PNG:
			return "image/png";
		case MACHI_IMG_NONE:
			break;
	}
	return "application/octet-stream";
}
