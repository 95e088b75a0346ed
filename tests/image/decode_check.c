/*-------------------------------------------------------------------------
 *
 * decode_check.c
 *	  Check with real decoders that stripping leaves the pixels unchanged.
 *
 * For every file given, the image is stripped with machi_image_strip, then
 * the input and the output are both decoded, with libjpeg for JPEG and
 * libpng's simplified API (to 8-bit RGBA) for PNG, and the decoded pixels
 * must be identical.  This proves that what the module keeps is enough to
 * render the photo, which the structural unit tests cannot show.  Inputs
 * the decoder itself cannot decode cleanly (seeds with placeholder entropy
 * data, lossless JPEG) are counted as skipped.
 *
 * Needs the Debian packages libjpeg62-turbo-dev and libpng-dev; run with
 * "make -C tests/image test-decode" (on the fuzz seed corpus).
 *
 * IDENTIFICATION
 *	  tests/image/decode_check.c
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "image.h"

/* Decoded image: 8-bit samples, row after row. */
typedef struct
{
	unsigned int width;
	unsigned int height;
	unsigned int channels;
	unsigned char *pixels;
} pixels;

/* libjpeg error manager that longjmps back instead of exiting. */
typedef struct
{
	struct jpeg_error_mgr pub;
	jmp_buf		jump;
} jpeg_err;

/*
 * libjpeg error_exit hook: return to decode_jpeg.
 *
 * The default handler calls exit(); a failed decode must be reported as a
 * failure of this file only.  cinfo->err is a jpeg_err.
 */
static void
jpeg_err_exit(j_common_ptr cinfo)
{
	jpeg_err   *e = (jpeg_err *) cinfo->err;

	longjmp(e->jump, 1);
}

/*
 * Decode a JPEG held in memory; returns false on any decoder error.
 *
 * Warnings (corrupt data the decoder recovered from) also count as failure,
 * since our inputs are all clean.  Caller frees px->pixels on success.
 */
static bool
decode_jpeg(const unsigned char *data, size_t len, pixels *px)
{
	struct jpeg_decompress_struct cinfo;
	jpeg_err	err;
	size_t		stride;
	unsigned char *volatile buf = NULL;

	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = jpeg_err_exit;
	if (setjmp(err.jump))
	{
		jpeg_destroy_decompress(&cinfo);
		free(buf);
		return false;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long) len);
	jpeg_read_header(&cinfo, TRUE);
	jpeg_start_decompress(&cinfo);
	stride = (size_t) cinfo.output_width * cinfo.output_components;
	buf = malloc(stride * cinfo.output_height);
	if (buf == NULL)
		abort();
	while (cinfo.output_scanline < cinfo.output_height)
	{
		JSAMPROW	row = buf + stride * cinfo.output_scanline;

		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	px->width = cinfo.output_width;
	px->height = cinfo.output_height;
	px->channels = (unsigned int) cinfo.output_components;
	px->pixels = buf;
	if (err.pub.num_warnings != 0)
	{
		jpeg_destroy_decompress(&cinfo);
		free(buf);
		return false;
	}
	jpeg_destroy_decompress(&cinfo);
	return true;
}

/*
 * Decode a PNG held in memory to 8-bit RGBA; returns false on error.
 *
 * The simplified API applies tRNS, PLTE and gAMA, so all kept ancillary
 * chunks take part in the comparison.  Caller frees px->pixels on success.
 */
static bool
decode_png(const unsigned char *data, size_t len, pixels *px)
{
	png_image	img;
	unsigned char *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		return false;
	img.format = PNG_FORMAT_RGBA;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (buf == NULL)
		abort();
	if (!png_image_finish_read(&img, NULL, buf, 0, NULL))
	{
		free(buf);
		png_image_free(&img);
		return false;
	}
	px->width = img.width;
	px->height = img.height;
	px->channels = 4;
	px->pixels = buf;
	return true;
}

/*
 * malloc-backed allocator for machi_image_strip.  ctx is unused.
 */
static void *
check_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size ? size : 1);
}

typedef enum
{
	CHECK_PASS,
	CHECK_FAIL,
	CHECK_SKIP
} check_result;

/*
 * Strip one image held in memory and compare decoded input and output.
 *
 * Shared by the file and the generated-image checks.  expect_orientation
 * is checked when positive.  Returns CHECK_PASS if both decode to the same
 * pixels, CHECK_SKIP if the input itself does not decode cleanly; problems
 * are reported on stderr under name.  Caller guarantees len readable bytes.
 */
static check_result
check_buffer(const char *name, const unsigned char *in, size_t len,
			 int expect_orientation)
{
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	machi_image_status st;
	pixels		a = {0};
	pixels		b = {0};
	bool		ok_a;
	bool		ok_b;
	check_result result = CHECK_FAIL;
	static const char *const leaks[] = {"Exif", "PhoneMaker", "GPS",
	"secret", "ns.adobe.com", "ICC_PROFILE", "tEXt", "iTXt", "zTXt", "tIME",
	"eXIf", "iCCP"};
	size_t		i;

	st = machi_image_strip(in, len, len, check_alloc, NULL, &out, &out_len,
						   &info);
	if (st != MACHI_IMG_OK)
	{
		fprintf(stderr, "%s: %s\n", name, machi_image_status_message(st));
		return CHECK_FAIL;
	}
	if (info.type == MACHI_IMG_JPEG)
	{
		ok_a = decode_jpeg(in, len, &a);
		ok_b = decode_jpeg(out, out_len, &b);
	}
	else
	{
		ok_a = decode_png(in, len, &a);
		ok_b = decode_png(out, out_len, &b);
	}
	if (!ok_a)
	{
		fprintf(stderr, "%s: skipped, input does not decode cleanly\n", name);
		result = CHECK_SKIP;
	}
	else if (!ok_b)
		fprintf(stderr, "%s: stripped output does not decode cleanly\n",
				name);
	else if (a.width != b.width || a.height != b.height ||
			 a.channels != b.channels ||
			 memcmp(a.pixels, b.pixels,
					(size_t) a.width * a.height * a.channels) != 0)
		fprintf(stderr, "%s: decoded pixels differ\n", name);
	else if ((int) b.width != info.width || (int) b.height != info.height)
		fprintf(stderr, "%s: reported size differs from decoder's\n", name);
	else if (expect_orientation > 0 && info.orientation != expect_orientation)
		fprintf(stderr, "%s: orientation %d, expected %d\n", name,
				info.orientation, expect_orientation);
	else
		result = CHECK_PASS;

	for (i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
	{
		size_t		m = strlen(leaks[i]);
		size_t		j;

		for (j = 0; j + m <= out_len; j++)
			if (memcmp(out + j, leaks[i], m) == 0)
			{
				fprintf(stderr, "%s: output still contains \"%s\"\n", name,
						leaks[i]);
				result = CHECK_FAIL;
				break;
			}
	}
	free(a.pixels);
	free(b.pixels);
	free(out);
	return result;
}

/*
 * Read a file and run check_buffer on it.
 *
 * Used for the seed corpus given on the command line.  Returns the check
 * result; unreadable files fail.
 */
static check_result
check_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *in;
	long		size;
	check_result result;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "%s: cannot read\n", path);
		if (f)
			fclose(f);
		return CHECK_FAIL;
	}
	in = malloc((size_t) size + 1);
	if (in == NULL || fread(in, 1, (size_t) size, f) != (size_t) size)
		abort();
	fclose(f);
	result = check_buffer(path, in, (size_t) size, 0);
	free(in);
	return result;
}

/*
 * TIFF structure (little-endian) with Make "PhoneMaker", Orientation 6 and
 * a GPS IFD (35/1 39/1 1234/100 N, 139/1 41/1 5678/100 E), the same layout
 * as build_tiff in test_image.c.
 */
static const unsigned char tiff_gps[164] = {
	0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x00, 0x0F, 0x01,
	0x02, 0x00, 0x0B, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x12, 0x01,
	0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x25, 0x88,
	0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3E, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x50, 0x68, 0x6F, 0x6E, 0x65, 0x4D, 0x61, 0x6B, 0x65, 0x72,
	0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x4E, 0x00, 0x00, 0x00, 0x02, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00,
	0x74, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
	0x45, 0x00, 0x00, 0x00, 0x04, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00,
	0x8C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0xD2, 0x04, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x8B, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x2E, 0x16, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00,
};

#define GEN_W 61
#define GEN_H 45

/*
 * Return sample c of pixel (x, y) of the synthetic test picture.
 *
 * A deterministic mix of gradients and texture, so that every coefficient
 * class appears in the encoded data.  No caller state.
 */
static unsigned char
picture(unsigned int x, unsigned int y, unsigned int c)
{
	return (unsigned char) ((x * 4 + y * (c + 1) * 3 + ((x ^ y) & 7) * 9 +
							 c * 40) & 0xFF);
}

/* JPEG encoder variants exercised by check_generated_jpeg. */
typedef struct
{
	const char *name;
	int			components;		/* 1 or 3 */
	bool		progressive;
	bool		arithmetic;
	bool		optimize;
	int			restart_rows;
	int			h_samp;			/* luma sampling factors */
	int			v_samp;
	bool		metadata;
} jpeg_variant;

/*
 * Encode the test picture with libjpeg, with metadata, and check it.
 *
 * Real encoder output (Huffman-optimised tables, progressive scan scripts,
 * restart markers, arithmetic coding, chroma subsampling) is what citizens
 * upload; the metadata is written the way cameras do (APP1 Exif, APP1 XMP,
 * APP2 ICC, COM).  Returns the check result; with seed_dir the image is
 * also written there.
 */
static check_result
check_generated_jpeg(const jpeg_variant *v, const char *seed_dir)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	unsigned char *mem = NULL;
	unsigned long mem_len = 0;
	unsigned char row[GEN_W * 3];
	unsigned char exif[6 + sizeof(tiff_gps)];
	static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0"
		"<x:xmpmeta xmlns:x='adobe:ns:meta/'>GPSLatitude 35.6</x:xmpmeta>";
	static const char comment[] = "secret: 5 Home Street";
	unsigned char icc[128];
	check_result result;
	unsigned int x;

	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &mem, &mem_len);
	cinfo.image_width = GEN_W;
	cinfo.image_height = GEN_H;
	cinfo.input_components = v->components;
	cinfo.in_color_space = v->components == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, 80, TRUE);
	if (v->components == 3)
	{
		cinfo.comp_info[0].h_samp_factor = v->h_samp;
		cinfo.comp_info[0].v_samp_factor = v->v_samp;
	}
	if (v->progressive)
		jpeg_simple_progression(&cinfo);
	cinfo.arith_code = v->arithmetic ? TRUE : FALSE;
	cinfo.optimize_coding = v->optimize ? TRUE : FALSE;
	cinfo.restart_in_rows = v->restart_rows;
	jpeg_start_compress(&cinfo, TRUE);

	if (v->metadata)
	{
		memcpy(exif, "Exif\0\0", 6);
		memcpy(exif + 6, tiff_gps, sizeof(tiff_gps));
		jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif, sizeof(exif));
		jpeg_write_marker(&cinfo, JPEG_APP0 + 1, (const JOCTET *) xmp,
						  sizeof(xmp) - 1);
		memset(icc, 0, sizeof(icc));
		icc[0] = 0;
		icc[1] = 0;
		icc[2] = 0;
		icc[3] = sizeof(icc);
		memcpy(icc + 48, "PhoneMaker", 10);
		jpeg_write_icc_profile(&cinfo, icc, sizeof(icc));
		jpeg_write_marker(&cinfo, JPEG_COM, (const JOCTET *) comment,
						  sizeof(comment) - 1);
	}
	while (cinfo.next_scanline < cinfo.image_height)
	{
		JSAMPROW	r = row;

		for (x = 0; x < GEN_W * (unsigned int) v->components; x++)
			row[x] = picture(x / v->components, cinfo.next_scanline,
							 x % v->components);
		jpeg_write_scanlines(&cinfo, &r, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);

	result = check_buffer(v->name, mem, mem_len, v->metadata ? 6 : 1);
	if (seed_dir != NULL)
	{
		char		path[4096];
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/%s", seed_dir, v->name);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(mem, 1, mem_len, f) != mem_len ||
			fclose(f) != 0)
			result = CHECK_FAIL;
	}
	free(mem);
	return result;
}

/* Growable memory sink for libpng's write callback. */
typedef struct
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} png_mem;

/*
 * libpng write callback appending to a png_mem.
 *
 * libpng has no memory destination of its own for the full writer, which
 * is needed to add text, eXIf and tIME chunks.  The io pointer is a
 * png_mem.
 */
static void
png_mem_write(png_structp png, png_bytep data, size_t n)
{
	png_mem    *m = png_get_io_ptr(png);

	if (m->len + n > m->cap)
	{
		m->cap = (m->len + n) * 2;
		m->data = realloc(m->data, m->cap);
		if (m->data == NULL)
			abort();
	}
	memcpy(m->data + m->len, data, n);
	m->len += n;
}

/*
 * libpng flush callback; nothing to do for memory.  No caller state.
 */
static void
png_mem_flush(png_structp png)
{
	(void) png;
}

/* PNG encoder variants exercised by check_generated_png. */
typedef struct
{
	const char *name;
	int			colour;			/* PNG_COLOR_TYPE_* */
	int			depth;
	bool		interlace;
} png_variant;

/*
 * Encode the test picture with libpng, with metadata, and check it.
 *
 * Adds tEXt, zTXt, iTXt, tIME, eXIf, pHYs and iCCP chunks the way
 * applications do, plus tRNS/gAMA/sRGB where meaningful.  Returns the
 * check result; with seed_dir the image is also written there.
 */
static check_result
check_generated_png(const png_variant *v, const char *seed_dir)
{
	png_structp png;
	png_infop	info;
	png_mem		m = {0};
	png_text	text[3];
	png_time	when = {2024, 5, 17, 12, 34, 56};
	png_color	palette[16];
	png_byte	trans[16];
	png_color_16 trans_colour;
	unsigned char icc[132];
	int			channels;
	size_t		rowbytes;
	unsigned char *row;
	int			pass;
	int			passes;
	unsigned int y;
	check_result result;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	if (png == NULL || info == NULL || setjmp(png_jmpbuf(png)))
		abort();
	png_set_write_fn(png, &m, png_mem_write, png_mem_flush);
	png_set_IHDR(png, info, GEN_W, GEN_H, v->depth, v->colour,
				 v->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
				 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_gAMA(png, info, 1.0 / 2.2);
	if (v->colour == PNG_COLOR_TYPE_PALETTE)
	{
		int			i;

		for (i = 0; i < 16; i++)
		{
			palette[i].red = (png_byte) (i * 16);
			palette[i].green = (png_byte) (255 - i * 16);
			palette[i].blue = (png_byte) (i * 7);
			trans[i] = (png_byte) (255 - i * 8);
		}
		png_set_PLTE(png, info, palette, 16);
		png_set_tRNS(png, info, trans, 16, NULL);
	}
	else if (v->colour == PNG_COLOR_TYPE_RGB)
	{
		memset(&trans_colour, 0, sizeof(trans_colour));
		trans_colour.red = 4;
		png_set_tRNS(png, info, NULL, 0, &trans_colour);
	}

	memset(text, 0, sizeof(text));
	text[0].compression = PNG_TEXT_COMPRESSION_NONE;
	text[0].key = "GPS";
	text[0].text = "35.6,139.7";
	text[1].compression = PNG_TEXT_COMPRESSION_zTXt;
	text[1].key = "Comment";
	text[1].text = "secret: 5 Home Street";
	text[2].compression = PNG_ITXT_COMPRESSION_NONE;
	text[2].key = "XML:com.adobe.xmp";
	text[2].text = "<x:xmpmeta xmlns:x='http://ns.adobe.com/xap/1.0/'/>";
	png_set_text(png, info, text, 3);
	png_set_tIME(png, info, &when);
	png_set_eXIf_1(png, info, sizeof(tiff_gps), (png_bytep) tiff_gps);
	png_set_pHYs(png, info, 2835, 2835, PNG_RESOLUTION_METER);
	if (v->colour == PNG_COLOR_TYPE_GRAY)
	{
		/* a minimal grey profile header; libpng only checks the header */
		memset(icc, 0, sizeof(icc));
		icc[3] = sizeof(icc);
		memcpy(icc + 12, "mntrGRAYXYZ ", 12);
		memcpy(icc + 36, "acsp", 4);
		icc[68 + 2] = 0xF6;
		icc[68 + 3] = 0xD6;
		icc[68 + 5] = 0x01;
		icc[68 + 10] = 0xD3;
		icc[68 + 11] = 0x2D;
		png_set_iCCP(png, info, "PhoneMaker profile", 0, icc, sizeof(icc));
	}
	png_write_info(png, info);

	channels = png_get_channels(png, info);
	rowbytes = png_get_rowbytes(png, info);
	row = malloc(rowbytes);
	if (row == NULL)
		abort();
	passes = png_set_interlace_handling(png);
	for (pass = 0; pass < passes; pass++)
		for (y = 0; y < GEN_H; y++)
		{
			size_t		i;

			for (i = 0; i < rowbytes; i++)
				row[i] = picture((unsigned int) (i / channels), y,
								 (unsigned int) (i % channels));
			if (v->colour == PNG_COLOR_TYPE_PALETTE && v->depth == 8)
				for (i = 0; i < rowbytes; i++)
					row[i] &= 0x0F;	/* 16-entry palette */
			png_write_row(png, row);
		}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);

	result = check_buffer(v->name, m.data, m.len, 6);
	if (seed_dir != NULL)
	{
		char		path[4096];
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/%s", seed_dir, v->name);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(m.data, 1, m.len, f) != m.len ||
			fclose(f) != 0)
			result = CHECK_FAIL;
	}
	free(m.data);
	return result;
}

static const jpeg_variant jpeg_variants[] = {
	{"gen-baseline-420.jpg", 3, false, false, false, 0, 2, 2, true},
	{"gen-progressive-420.jpg", 3, true, false, false, 0, 2, 2, true},
	{"gen-restart-422-optimized.jpg", 3, false, false, true, 1, 2, 1, true},
	{"gen-progressive-restart-444.jpg", 3, true, false, false, 1, 1, 1, true},
	{"gen-arithmetic.jpg", 3, false, true, false, 0, 2, 2, true},
	{"gen-arithmetic-progressive.jpg", 3, true, true, false, 2, 2, 2, true},
	{"gen-grey.jpg", 1, false, false, false, 0, 1, 1, false},
};

static const png_variant png_variants[] = {
	{"gen-rgb8.png", PNG_COLOR_TYPE_RGB, 8, false},
	{"gen-rgba16-interlaced.png", PNG_COLOR_TYPE_RGB_ALPHA, 16, true},
	{"gen-palette4.png", PNG_COLOR_TYPE_PALETTE, 4, false},
	{"gen-palette8-interlaced.png", PNG_COLOR_TYPE_PALETTE, 8, true},
	{"gen-grey1.png", PNG_COLOR_TYPE_GRAY, 1, false},
	{"gen-grey-alpha8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, false},
};

/*
 * Count one check result.
 *
 * Keeps main short.  Caller holds the three counters.
 */
static void
tally(check_result r, int *pass, int *fail, int *skip)
{
	switch (r)
	{
		case CHECK_PASS:
			(*pass)++;
			break;
		case CHECK_FAIL:
			(*fail)++;
			break;
		case CHECK_SKIP:
			(*skip)++;
			break;
	}
}

/*
 * Check the generated images and every file named on the command line.
 *
 * With "--write-seeds DIR" as first arguments the generated images are
 * also written to DIR.  Prints PASS/FAIL/SKIP counts and exits non-zero on
 * any failure or if nothing passed.
 */
int
main(int argc, char **argv)
{
	int			pass = 0;
	int			fail = 0;
	int			skip = 0;
	int			first = 1;
	const char *seed_dir = NULL;
	size_t		k;
	int			i;

	if (argc >= 3 && strcmp(argv[1], "--write-seeds") == 0)
	{
		seed_dir = argv[2];
		first = 3;
	}
	for (k = 0; k < sizeof(jpeg_variants) / sizeof(jpeg_variants[0]); k++)
		tally(check_generated_jpeg(&jpeg_variants[k], seed_dir),
			  &pass, &fail, &skip);
	for (k = 0; k < sizeof(png_variants) / sizeof(png_variants[0]); k++)
		tally(check_generated_png(&png_variants[k], seed_dir),
			  &pass, &fail, &skip);
	for (i = first; i < argc; i++)
		tally(check_file(argv[i]), &pass, &fail, &skip);

	printf("PASS: %d\nFAIL: %d\nSKIP: %d\n", pass, fail, skip);
	return (fail == 0 && pass > 0) ? 0 : 1;
}
